r"""Ranking losses and the batch L2 regulariser."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def bpr_loss(pos: Tensor, neg: Tensor) -> Tensor:
    r"""Bayesian personalised ranking loss, averaged over the batch.

    .. math::
        \mathcal{L}_{BPR} = -\frac{1}{B} \sum_{b} \log \sigma(s^+_b - s^-_b)

    computed with ``logsigmoid`` (stable for large margins).

    Args:
        pos: ``[B]`` scores of the positive items.
        neg: ``[B]`` (or ``[B, n]``, broadcast against ``pos[:, None]``) scores of
            the negatives.

    Returns:
        Scalar loss.

    Examples:
        >>> import torch
        >>> round(bpr_loss(torch.tensor([0.0]), torch.tensor([0.0])).item(), 4)
        0.6931
    """
    if neg.dim() == pos.dim() + 1:
        pos = pos.unsqueeze(-1)
    return -F.logsigmoid(pos - neg).mean()


def l2_reg(*tensors: Tensor, batch_size: int | None = None) -> Tensor:
    r"""Half squared L2 norm of the given (ego) embeddings, per batch element.

    .. math::
        R = \frac{1}{2B} \sum_{t} \lVert t \rVert_2^2

    This is the form of the LightGCN and SGL reference code, where the weight
    ``reg_weight`` (1e-4 in the papers) multiplies ``R``.

    Args:
        *tensors: Embedding rows gathered for the batch.
        batch_size: ``B``; defaults to the first tensor's number of rows.

    Returns:
        Scalar regulariser.

    Examples:
        >>> import torch
        >>> l2_reg(torch.ones(2, 3)).item()
        1.5
    """
    if not tensors:
        raise ValueError("l2_reg() needs at least one tensor")
    b = batch_size if batch_size is not None else max(int(tensors[0].shape[0]), 1)
    total = tensors[0].pow(2).sum()
    for t in tensors[1:]:
        total = total + t.pow(2).sum()
    return 0.5 * total / b
