r"""Contrastive losses on normalised embeddings."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def info_nce(
    anchor: Tensor,
    candidates: Tensor,
    target: Tensor,
    tau: float,
    reduction: str = "mean",
) -> Tensor:
    r"""InfoNCE (NT-Xent) on cosine similarities, via ``cross_entropy``.

    .. math::
        \mathcal{L} = -\sum_b \log \frac{\exp(\cos(a_b, c_{t_b}) / \tau)}
                                   {\sum_j \exp(\cos(a_b, c_j) / \tau)}

    SGL-faithful: ``candidates`` are all users (or items) of the second view and
    ``target`` the batch ids. In-batch: ``candidates`` are the batch rows of the second
    view and ``target = arange(B)``.

    Args:
        anchor: ``[B, d]`` first-view embeddings.
        candidates: ``[M, d]`` second-view embeddings.
        target: ``[B]`` index of each anchor's positive among ``candidates``.
        tau: Temperature (> 0).
        reduction: ``"mean"`` or ``"sum"`` over the batch.

    Returns:
        Scalar loss.

    Examples:
        >>> import torch
        >>> x = torch.eye(3)
        >>> info_nce(x, x, torch.arange(3), tau=1.0).item() < 1.0986
        True
    """
    if tau <= 0:
        raise ValueError(f"'tau' must be positive (got {tau})")
    if reduction not in ("mean", "sum"):
        raise ValueError(
            f"Could not resolve reduction '{reduction}' among choices ['mean', 'sum']"
        )
    logits = F.normalize(anchor, dim=-1) @ F.normalize(candidates, dim=-1).T
    return F.cross_entropy(logits / tau, target, reduction=reduction)


def cosine_alignment(online: Tensor, target: Tensor) -> Tensor:
    r"""BYOL-style alignment loss, no negatives.

    .. math::
        \mathcal{L} = \frac{1}{B} \sum_b \left(2 - 2 \cos(p_b, z_b)\right)

    Args:
        online: ``[B, d]`` predictions of the online network.
        target: ``[B, d]`` target-network embeddings (treated as constants).

    Returns:
        Scalar loss in ``[0, 4]``.

    Examples:
        >>> import torch
        >>> x = torch.randn(4, 8)
        >>> abs(cosine_alignment(x, x).item()) < 1e-6
        True
    """
    cos = (F.normalize(online, dim=-1) * F.normalize(target.detach(), dim=-1)).sum(-1)
    return (2 - 2 * cos).mean()
