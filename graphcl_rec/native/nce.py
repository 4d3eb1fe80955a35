r"""The softmax terms of an all-candidate InfoNCE by the fused kernel ``info_nce.c``.

For anchors :math:`a_b` (already divided by the temperature), candidates
:math:`c_j` and weights :math:`w_b`, with :math:`p_{bj} = e^{a_b^\top c_j}` and
:math:`Z_b = \sum_j p_{bj}`:

.. math::
    \mathrm{lse}_b = \log Z_b, \qquad
    g^a_b = \frac{w_b}{Z_b} \sum_j p_{bj}\, c_j, \qquad
    g^c_j = \sum_b \frac{w_b}{Z_b}\, p_{bj}\, a_b .

The ``[B, M]`` logits are made in registers and never stored; the kernel runs the
products at close to the sgemm rate where torch's thin per-block products do not
(``benchmarks/PERF.md``). The exponentials are unshifted, so the logits must be
bounded (``|a_b^T c_j| <= 40``, as cosines over a temperature of 0.025 or more are).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from graphcl_rec.native.build import FLAGS, load

ROWS = 4
"""Anchors per register tile: the kernel takes a multiple of it (zero-padded)."""


def supports(a: Tensor, c: Tensor) -> bool:
    """Whether the SIMD kernel takes these operands: float32 CPU, ``d % 64 == 0``."""
    return (a.dtype == c.dtype == torch.float32 and a.is_cpu and c.is_cpu
            and a.size(1) % 64 == 0)


def softmax_terms(a: Tensor, c: Tensor, weight: Tensor | None, need_grad: bool,
                  threads: int | None = None, flags: tuple[str, ...] = FLAGS
                  ) -> tuple[Tensor, Tensor | None, Tensor | None]:
    r"""Log-normalisers and the softmax parts of both gradients.

    Shapes:
        - a: ``[B, d]`` float32 anchors, c: ``[M, d]`` float32 candidates (CPU).
        - weight: ``[B]`` or ``None`` (all 1).
        - returns: ``lse [B]``, ``g_a [B, d]`` and ``g_c [M, d]`` (the last two
          ``None`` unless ``need_grad``).

    Args:
        a: Anchors divided by the temperature.
        c: Candidates.
        weight: Anchor weights.
        need_grad: Whether to form the gradient terms (the second pass).
        threads: Worker threads (default :func:`torch.get_num_threads`), each
            taking a contiguous share of the candidates; the kernel releases the
            GIL.
        flags: The build to use (:func:`~graphcl_rec.native.build.load`).

    Returns:
        ``(lse, g_a, g_c)`` as defined in the module docstring.
    """
    lib = load(flags)
    if not (a.dtype == c.dtype == torch.float32 and a.is_cpu and c.is_cpu):
        raise ValueError("the native InfoNCE takes float32 CPU tensors")
    if a.dim() != 2 or c.dim() != 2 or a.size(1) != c.size(1) or c.size(0) == 0:
        raise ValueError(f"'a' and 'c' must be [B, d] and [M, d], M > 0 (got "
                         f"{tuple(a.shape)} and {tuple(c.shape)})")
    (rows, dim), num = a.shape, c.size(0)
    padded_rows = -(-rows // ROWS) * ROWS
    groups = -(-num // 64)
    a_pad = torch.zeros(padded_rows, dim)
    a_pad[:rows] = a
    c_pad = torch.zeros(groups * 64, dim)
    c_pad[:num] = c
    slabs = c_pad.view(groups, 64, dim).transpose(1, 2).contiguous()
    last_mask = torch.zeros(64)
    last_mask[: num - (groups - 1) * 64] = 1.0
    threads = max(1, min(threads or torch.get_num_threads(), groups))
    cuts = [groups * t // threads for t in range(threads + 1)]

    def run(fn) -> None:  # noqa: ANN001
        if threads == 1:
            fn(0)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(fn, range(threads)))

    norms = torch.zeros(threads, padded_rows)
    run(lambda t: lib.nce_norm(a_pad.data_ptr(), padded_rows, slabs.data_ptr(),
                               cuts[t], cuts[t + 1], groups, last_mask.data_ptr(),
                               dim, norms[t].data_ptr()))
    norm = norms.sum(0)[:rows]
    if not need_grad:
        return norm.log(), None, None
    coef = torch.zeros(padded_rows)
    coef[:rows] = norm.reciprocal() if weight is None else weight / norm
    partial = torch.zeros(threads, padded_rows, dim)
    scratch = torch.empty(threads, padded_rows, 64)
    g_c = torch.empty(groups * 64, dim)
    run(lambda t: lib.nce_grads(a_pad.data_ptr(), padded_rows, slabs.data_ptr(),
                                c_pad.data_ptr(), cuts[t], cuts[t + 1], groups,
                                last_mask.data_ptr(), dim, coef.data_ptr(),
                                scratch[t].data_ptr(), partial[t].data_ptr(),
                                g_c.data_ptr()))
    return norm.log(), partial.sum(0)[:rows], g_c[:num]
