r"""Beyond-accuracy metrics of top-K lists: diversity, novelty, coverage.

Like the accuracy metrics, each takes ranked lists ``[B, K]`` of item indices and
returns one value per list (coverage: one for all lists). An optional ``valid``
mask ``[B, K]`` marks real recommendations (``False``: padding, e.g. ``-1``).
:func:`beyond_from_topk` gives diversity and novelty at several cut-offs at once,
as :func:`~graphcl_rec.eval.ranking.evaluate_embeddings` reports them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.eval.groups import coverage

__all__ = ["beyond_accuracy", "beyond_from_topk", "catalogue_coverage",
           "intra_list_diversity", "novelty", "self_information", "unit_rows"]


def _valid(topk_idx: Tensor, valid: Tensor | None) -> Tensor:
    mask = topk_idx >= 0
    return mask if valid is None else mask & valid


def unit_rows(item_emb: Tensor) -> Tensor:
    """``[I, d]`` float64 item embeddings scaled to unit length (zero rows stay 0)."""
    return F.normalize(item_emb.to(torch.float64), dim=-1)


def self_information(item_degree: Tensor, num_users: int) -> Tensor:
    r"""``[I]`` float64 :math:`-\log_2(\max(d_i, 1) / U)` of every item.

    Raises:
        ValueError: If ``num_users < 1``.
    """
    if num_users < 1:
        raise ValueError(f"'num_users' must be positive (got {num_users})")
    share = item_degree.to(torch.float64).clamp(min=1) / num_users
    return -torch.log2(share)


def _diversity(index: Tensor, weight: Tensor, unit_items: Tensor) -> Tensor:
    r"""ILD of the lists ``index [B, K]`` of unit rows, ``weight`` 1 (valid) or 0.

    Uses :math:`\sum_{i \ne j} \hat e_i^\top \hat e_j = \lVert \sum_i \hat e_i
    \rVert^2 - \sum_i \lVert \hat e_i \rVert^2`: one weighted row sum per list
    (``embedding_bag``, no ``[B, K, d]`` copy), :math:`O(Kd)` per list, not
    :math:`O(K^2 d)`.
    """
    index, weight = index.contiguous(), weight.contiguous()
    total = F.embedding_bag(index, unit_items, mode="sum", per_sample_weights=weight)
    self_sim = ((unit_items * unit_items).sum(-1)[index] * weight).sum(1)
    off_diag = (total * total).sum(-1) - self_sim
    n = weight.sum(1)
    pairs = n * (n - 1)
    dist = (pairs - off_diag) / pairs.clamp(min=1)
    return torch.where(n >= 2, dist, torch.zeros_like(dist))


def intra_list_diversity(topk_idx: Tensor, item_emb: Tensor,
                         valid: Tensor | None = None) -> Tensor:
    r"""Mean pairwise cosine distance of each list's items.

    .. math::
        \mathrm{ILD}(R) = \frac{2}{n(n-1)} \sum_{i < j \in R}
        \left(1 - \frac{e_i^\top e_j}{\lVert e_i\rVert \lVert e_j\rVert}\right)

    over the :math:`n` valid items of list :math:`R`; a list with fewer than two
    items scores 0 (a zero embedding has cosine 0 with every item).

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
    weight = _valid(topk_idx, valid).to(torch.float64)
    return _diversity(topk_idx.clamp(min=0), weight, unit_rows(item_emb))


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
    info = self_information(item_degree, num_users)
    mask = _valid(topk_idx, valid)
    picked = info[topk_idx.clamp(min=0)] * mask
    return picked.sum(1) / mask.sum(1).clamp(min=1)


def beyond_from_topk(topk_idx: Tensor, valid: Tensor, unit_items: Tensor,
                     info: Tensor, ks: Sequence[int]) -> dict[str, Tensor]:
    """Per-list diversity and novelty of the top-``K`` prefixes, every ``K`` of ``ks``.

    The :func:`intra_list_diversity` and :func:`novelty` of ``topk_idx[:, :K]``.
    Lists shorter than ``K`` (fewer rankable
    items) score their valid entries.

    Shapes:
        - topk_idx, valid: ``[B, K_max]``; unit_items: ``[I, d]`` float64 unit rows
          (:func:`unit_rows`); info: ``[I]`` float64 (:func:`self_information`).
        - returns: ``{f"diversity@{K}": [B], f"novelty@{K}": [B]}`` float64.

    Examples:
        >>> unit = unit_rows(torch.eye(3))
        >>> info = self_information(torch.tensor([4, 2, 1]), 4)
        >>> out = beyond_from_topk(torch.tensor([[0, 1, 2]]),
        ...                        torch.tensor([[True, True, True]]), unit, info,
        ...                        [1, 3])
        >>> out["diversity@1"].item(), out["diversity@3"].item()
        (0.0, 1.0)
        >>> out["novelty@1"].item(), out["novelty@3"].item()
        (0.0, 1.0)
    """
    weight = _valid(topk_idx, valid).to(torch.float64)
    index = topk_idx.clamp(min=0)
    picked = info[index] * weight
    out: dict[str, Tensor] = {}
    for k in ks:
        w = weight[:, :k]
        out[f"diversity@{k}"] = _diversity(index[:, :k], w, unit_items)
        out[f"novelty@{k}"] = picked[:, :k].sum(1) / w.sum(1).clamp(min=1)
    return out


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
