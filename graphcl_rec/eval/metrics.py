r"""Full-ranking top-K metrics (LightGCN / SGL / RecBole definitions).

For a user :math:`u` with ground truth :math:`T_u` and ranked list
:math:`R_u = (r_1, r_2, \dots)`, let :math:`h_i = \mathbb{1}[r_i \in T_u]`. Every
metric is computed per user and averaged over the users with :math:`|T_u| \ge 1`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.eval.hits import check_ks, check_no_leakage, hits_matrix, sorted_keys

METRICS: tuple[str, ...] = ("recall", "ndcg", "precision", "hit", "mrr", "map", "f1")
"""Names of the metrics returned for every cut-off, as ``f"{name}@{k}"``."""


def metrics_from_hits(
    hits: Tensor, num_truth: Tensor, ks: Sequence[int]
) -> dict[str, Tensor]:
    r"""Per-user metrics from a top-K hit matrix.

    With :math:`H_K = \sum_{i \le K} h_i` and :math:`n = |T_u|`:

    .. math::
        \mathrm{Recall@}K = \frac{H_K}{n}, \qquad
        \mathrm{Precision@}K = \frac{H_K}{K}, \qquad
        \mathrm{Hit@}K = \mathbb{1}[H_K > 0],

        \mathrm{NDCG@}K = \frac{\sum_{i \le K} h_i / \log_2(i + 1)}
                               {\sum_{i \le \min(K, n)} 1 / \log_2(i + 1)}, \qquad
        \mathrm{MRR@}K = \max_{i \le K} \frac{h_i}{i},

        \mathrm{MAP@}K = \frac{1}{\min(K, n)} \sum_{i \le K} h_i \frac{H_i}{i},
        \qquad
        \mathrm{F1@}K = \frac{2 \, \mathrm{P@}K \, \mathrm{R@}K}
                             {\mathrm{P@}K + \mathrm{R@}K} \ (0 \text{ if both are } 0).

    Columns beyond ``hits.size(1)`` (fewer rankable items than ``K``) count as
    misses, so Precision@K still divides by ``K``. Users with ``n = 0`` get 0.

    Args:
        hits: ``[B, K_max]`` bool hit matrix, best rank first.
        num_truth: ``[B]`` ground-truth set size of each user.
        ks: Cut-offs (positive ints).

    Returns:
        ``{f"{name}@{K}": [B] float64}`` for every name in :data:`METRICS`.

    Examples:
        >>> hits = torch.tensor([[False, True]])
        >>> out = metrics_from_hits(hits, num_truth=torch.tensor([1]), ks=[2])
        >>> round(out["ndcg@2"].item(), 4), out["mrr@2"].item()
        (0.6309, 0.5)
    """
    ks = check_ks(ks)
    kmax = ks[-1]
    h = hits[:, :kmax].to(torch.float64)
    if h.size(1) < kmax:
        h = F.pad(h, (0, kmax - h.size(1)))
    ranks = torch.arange(1, kmax + 1, dtype=torch.float64, device=h.device)
    discount = 1.0 / torch.log2(ranks + 1.0)
    ideal = F.pad(discount.cumsum(0), (1, 0))
    cum_hits = h.cumsum(1)
    cum_dcg = (h * discount).cumsum(1)
    cum_ap = (h * cum_hits / ranks).cumsum(1)
    best_rr = (h / ranks).cummax(1).values
    n = num_truth.to(h.device, torch.long)
    n_float = n.to(torch.float64).clamp(min=1.0)
    out: dict[str, Tensor] = {}
    for k in ks:
        hk = cum_hits[:, k - 1]
        recall = hk / n_float
        precision = hk / k
        cut = n.clamp(max=k)
        denom = precision + recall
        out[f"recall@{k}"] = recall
        out[f"ndcg@{k}"] = cum_dcg[:, k - 1] / ideal[cut].clamp(min=1e-300)
        out[f"precision@{k}"] = precision
        out[f"hit@{k}"] = (hk > 0).to(torch.float64)
        out[f"mrr@{k}"] = best_rr[:, k - 1]
        out[f"map@{k}"] = cum_ap[:, k - 1] / cut.clamp(min=1).to(torch.float64)
        out[f"f1@{k}"] = torch.where(
            denom > 0, 2 * precision * recall / denom.clamp(min=1e-300), 0.0
        )
    return out


def _pairs(
    lists: Sequence[Sequence[int]], num_users: int, num_items: int, name: str
) -> tuple[Tensor, Tensor]:
    """``(user, item)`` int64 tensors from one item sequence per user."""
    if len(lists) != num_users:
        raise ValueError(
            f"'{name}' must have one entry per user ({num_users}), got {len(lists)}"
        )
    arrays = [
        np.asarray(s.cpu() if isinstance(s, Tensor) else s, dtype=np.int64).reshape(-1)
        for s in lists
    ]
    lengths = torch.tensor([a.size for a in arrays], dtype=torch.long)
    item = torch.from_numpy(np.concatenate(arrays)) if arrays else lengths[:0]
    user = torch.repeat_interleave(torch.arange(num_users), lengths)
    if item.numel() and (int(item.min()) < 0 or int(item.max()) >= num_items):
        raise ValueError(
            f"'{name}' holds item indices outside [0, {num_items}) "
            f"(got {int(item.min())}..{int(item.max())})"
        )
    return user, item


def topk_metrics(
    scores: Tensor,
    truth: Sequence[Sequence[int]],
    exclude: Sequence[Sequence[int]] | None,
    k: Sequence[int],
) -> dict[str, float]:
    r"""Top-K metrics of a dense score matrix, averaged over users with truth.

    Excluded items are set to :math:`-\infty` before ranking and can never be
    recommended; positions scored :math:`-\infty` (a user with fewer than ``K``
    rankable items) never count as hits. Definitions are in
    :func:`metrics_from_hits`.

    Shapes:
        - scores: ``[U, I]``; ``truth`` and ``exclude``: ``U`` item sequences.

    Args:
        scores: ``[num_users, num_items]`` float scores, higher is better.
        truth: Ground-truth item indices of each user (duplicates ignored).
        exclude: Item indices never to rank for each user (e.g. training items),
            or ``None``.
        k: Cut-offs.

    Returns:
        ``{f"{name}@{K}": float}`` for every name in :data:`METRICS` and cut-off.

    Raises:
        LeakageError: If ``truth`` and ``exclude`` share pairs.
        ValueError: On bad shapes, NaN scores, or when no user has any truth.

    Examples:
        >>> scores = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.8, 0.4]])
        >>> out = topk_metrics(scores, [[1], [0, 2]], [[0], []], k=[1])
        >>> out["recall@1"], out["hit@1"]
        (0.5, 0.5)
    """
    ks = check_ks(k)
    if scores.dim() != 2:
        raise ValueError(f"'scores' must be 2-D (got shape {tuple(scores.shape)})")
    if torch.isnan(scores).any():
        raise ValueError("'scores' contains NaN")
    num_users, num_items = scores.shape
    device = scores.device
    user, item = _pairs(truth, num_users, num_items, "truth")
    truth_keys = sorted_keys(user, item, num_items).to(device)
    masked = scores.clone()
    if exclude is not None:
        ex_user, ex_item = _pairs(exclude, num_users, num_items, "exclude")
        ex_user, ex_item = ex_user.to(device), ex_item.to(device)
        check_no_leakage(truth_keys, ex_user * num_items + ex_item)
        masked[ex_user, ex_item] = float("-inf")
    num_truth = torch.bincount(truth_keys // max(num_items, 1), minlength=num_users)
    users = torch.nonzero(num_truth).flatten()
    if users.numel() == 0:
        raise ValueError("no user has any ground-truth item")
    vals, idx = torch.topk(masked[users], min(ks[-1], num_items), dim=1)
    hits = hits_matrix(idx, truth_keys, users, num_items, valid=vals > float("-inf"))
    per_user = metrics_from_hits(hits, num_truth[users], ks)
    return {name: float(v.mean()) for name, v in per_user.items()}
