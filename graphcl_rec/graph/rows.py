r"""Row gathers ``x[index]`` with the cheaper backward on CPU."""

from __future__ import annotations

import torch
from torch import Tensor


def take_rows(x: Tensor, index: Tensor) -> Tensor:
    r"""Rows ``index`` of ``x``: the value of ``x[index]``, a cheaper backward on CPU.

    Advanced indexing's backward is ``index_put_(accumulate=True)``; on CPU,
    :func:`torch.index_select`, whose backward is ``index_add_``, is the cheaper of
    the two (timings in ``benchmarks/PERF.md``). Off the CPU ``x[index]`` is kept:
    CUDA's ``index_add_`` accumulates with atomics, so its sums are not
    reproducible, while ``index_put_`` sorts the indices first.

    .. math::
        Y_{j} = X_{\mathrm{index}_j}, \qquad
        \frac{\partial L}{\partial X_r} = \sum_{j : \mathrm{index}_j = r}
        \frac{\partial L}{\partial Y_j}

    Shapes:
        - x: ``[N, *]``, index: any shape ``S`` of int64 row ids.
        - returns: ``[*S, *]``.

    Args:
        x: The table.
        index: Row ids (repeats allowed).

    Returns:
        The gathered rows.

    Examples:
        >>> take_rows(torch.arange(6.0).view(3, 2), torch.tensor([[2], [0]])).tolist()
        [[[4.0, 5.0]], [[0.0, 1.0]]]
    """
    if x.device.type != "cpu":
        return x[index]
    if index.dim() == 1:
        return torch.index_select(x, 0, index)
    return torch.index_select(x, 0, index.reshape(-1)).view(*index.shape,
                                                            *x.shape[1:])
