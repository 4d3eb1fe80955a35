r"""Beyond-accuracy metrics of top-K lists: diversity, novelty, coverage.

Like the accuracy metrics, each takes ranked lists ``[B, K]`` of item indices and
returns one value per list (coverage: one for all lists). An optional ``valid``
mask ``[B, K]`` marks real recommendations (``False``: padding, e.g. ``-1``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.eval.groups import coverage

__all__ = ["beyond_accuracy", "catalogue_coverage", "intra_list_diversity", "novelty"]


def _valid(topk_idx: Tensor, valid: Tensor | None) -> Tensor:
    mask = topk_idx >= 0
    return mask if valid is None else mask & valid


def intra_list_diversity(topk_idx: Tensor, item_emb: Tensor,
                         valid: Tensor | None = None) -> Tensor:
    r"""Mean pairwise cosine distance of each list's items.

    .. math::
        \mathrm{ILD}(R) = \frac{2}{n(n-1)} \sum_{i < j \in R}
        \left(1 - \frac{e_i^\top e_j}{\lVert e_i\rVert \lVert e_j\rVert}\right)

    over the :math:`n` valid items of list :math:`R`; a list with fewer than two
    items scores 0.

    Shapes:
        - topk_idx: ``[B, K]`` int64; item_emb: ``[I, d]``; valid: ``[B, K]`` bool.
        - returns: ``[B]`` float64.

    Args:
        topk_idx: Ranked item indices (negative entries are padding).
        item_emb: Item embeddings.
        valid: Optional mask of real entries.

    Examples:
        >>> emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
        >>> intra_list_diversity(torch.tensor([[0, 1], [0, 2]]), emb).tolist()
        [1.0, 0.0]
    """
    mask = _valid(topk_idx, valid)
    emb = F.normalize(item_emb[topk_idx.clamp(min=0)].to(torch.float64), dim=-1)
    emb = emb * mask.unsqueeze(-1)
    sim = emb @ emb.transpose(1, 2)  # [B, K, K]
    n = mask.sum(1).to(torch.float64)
    pairs = n * (n - 1)
    off_diag = sim.sum((1, 2)) - torch.diagonal(sim, dim1=1, dim2=2).sum(1)
    dist = (pairs - off_diag) / pairs.clamp(min=1)
    return torch.where(n >= 2, dist, torch.zeros_like(dist))


def novelty(topk_idx: Tensor, item_degree: Tensor, num_users: int,
            valid: Tensor | None = None) -> Tensor:
    r"""Mean self-information of each list's items.

    .. math::
        \mathrm{Nov}(R) = \frac{1}{n} \sum_{i \in R} -\log_2
        \frac{\max(d_i, 1)}{U}

    with :math:`d_i` the number of training users of item :math:`i` (an item no one
    has seen counts as seen once) and :math:`U` the number of users; an empty list
    scores 0.

    Shapes:
        - topk_idx: ``[B, K]``; item_degree: ``[I]``; returns ``[B]`` float64.

    Args:
        topk_idx: Ranked item indices (negative entries are padding).
        item_degree: Training users per item.
        num_users: :math:`U`.
        valid: Optional mask of real entries.

    Examples:
        >>> novelty(torch.tensor([[0, 1]]), torch.tensor([8, 2]), 8).tolist()
        [1.0]
    """
    if num_users < 1:
        raise ValueError(f"'num_users' must be positive (got {num_users})")
    mask = _valid(topk_idx, valid)
    share = item_degree.to(torch.float64).clamp(min=1) / num_users
    info = -torch.log2(share)[topk_idx.clamp(min=0)] * mask
    return info.sum(1) / mask.sum(1).clamp(min=1)


def catalogue_coverage(topk_idx: Tensor, num_items: int,
                       valid: Tensor | None = None) -> float:
    r"""Fraction of the catalogue in at least one list (see :func:`coverage`).

    Examples:
        >>> catalogue_coverage(torch.tensor([[0, -1], [1, 0]]), num_items=4)
        0.5
    """
    return coverage(topk_idx.clamp(min=0), num_items, _valid(topk_idx, valid))


def beyond_accuracy(topk_idx: Tensor, item_emb: Tensor, item_degree: Tensor,
                    num_users: int, valid: Tensor | None = None) -> dict[str, float]:
    """Mean diversity and novelty over the lists, and their catalogue coverage.

    Args:
        topk_idx: ``[B, K]`` ranked item indices.
        item_emb: ``[I, d]`` item embeddings (for diversity).
        item_degree: ``[I]`` training users per item (for novelty).
        num_users: Number of users (for novelty).
        valid: Optional ``[B, K]`` mask of real entries.

    Returns:
        ``{"diversity": ..., "novelty": ..., "coverage": ...}``.

    Examples:
        >>> emb = torch.eye(3)
        >>> out = beyond_accuracy(torch.tensor([[0, 1]]), emb, torch.ones(3), 4)
        >>> out["diversity"], out["novelty"], round(out["coverage"], 3)
        (1.0, 2.0, 0.667)
    """
    return {
        "diversity": float(intra_list_diversity(topk_idx, item_emb, valid).mean()),
        "novelty": float(novelty(topk_idx, item_degree, num_users, valid).mean()),
        "coverage": catalogue_coverage(topk_idx, item_emb.size(0), valid),
    }
