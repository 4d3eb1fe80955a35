r"""Sparsity groups for cold-start reports, and catalogue coverage."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions

log = logging.getLogger("graphcl_rec")

TIES = ("together", "split")
"""How :func:`sparsity_groups` treats users of equal degree."""


def sparsity_groups(train: Interactions, users: Tensor, num_groups: int = 4,
                    ties: str = "together") -> Tensor:
    r"""Assigns users to training-degree quantile groups (0 = sparsest).

    Users are ranked by training degree :math:`d` over the ``N`` given users.

    - ``ties="together"`` (default): users of equal degree share a group. A block
      of :math:`n_d` tied users starting at rank :math:`r_d` (the number of users
      of smaller degree) goes to the quantile that holds its middle,
      :math:`\lfloor G (r_d + n_d / 2) / N \rfloor`, so a large block of tied
      users never drags the users of another degree into its group; still, with
      fewer distinct degrees than groups (e.g. most users have the same degree)
      some groups are empty, and then a logged warning says how many groups
      are left and why (the report's rows show it too: fewer rows, each with
      its degree range).
    - ``ties="split"``: every group holds :math:`\lfloor N / G \rfloor` or
      :math:`\lceil N / G \rceil` users: users are sorted by degree, ties
      broken by user index (deterministic), and cut into ``G`` equal parts, so
      users of one degree may sit in neighbouring groups (their reported degree
      ranges then overlap).

    Args:
        train: The training interactions that define the degrees.
        users: ``[N]`` int64 user indices to group (e.g. ``out["users"]`` from a
            ``per_user=True`` evaluation).
        num_groups: Number of groups ``G``.
        ties: ``"together"`` or ``"split"``.

    Returns:
        ``[N]`` int64 group index of each user, in ``[0, G)``.

    Examples:
        >>> train = Interactions(torch.tensor([0, 1, 1, 2, 2, 2]),
        ...                      torch.tensor([0, 0, 1, 0, 1, 2]), 4, 3)
        >>> sparsity_groups(train, torch.tensor([0, 1, 2, 3]), num_groups=2)
        tensor([0, 1, 1, 0])
        >>> sparsity_groups(train, torch.tensor([0, 3, 1, 2]), 2, ties="split")
        tensor([0, 0, 1, 1])
    """
    if not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"'num_groups' must be a positive int (got {num_groups!r})")
    if ties not in TIES:
        raise ValueError(f"Could not resolve ties '{ties}' among choices {list(TIES)}")
    degree = train.user_degree().to(users.device)[users]
    n = degree.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=users.device)
    if ties == "split":
        order = torch.argsort(degree * (int(users.max()) + 1) + users)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(n, device=users.device)
        return rank * num_groups // n
    ordered = torch.sort(degree).values
    below = torch.searchsorted(ordered, degree)
    tied = torch.searchsorted(ordered, degree, right=True) - below
    groups = (2 * below + tied) * num_groups // (2 * n)
    filled = int(torch.unique(groups).numel())
    if filled < min(num_groups, n):
        values, counts = torch.unique(degree, return_counts=True)
        top = int(counts.argmax())
        message = (f"sparsity groups: users of equal training degree share a group, "
                   f"so only {filled} of {num_groups} groups are non-empty "
                   f"({values.numel()} distinct degrees; degree {int(values[top])} "
                   f"holds {int(counts[top])} of {n} users); ties='split' "
                   f"cuts them into equal groups")
        log.warning(message)
    return groups


def group_report(
    per_user_metrics: Mapping[str, Tensor],
    groups: Tensor,
    degree: Tensor,
) -> list[dict[str, float]]:
    """Mean of each per-user metric within each non-empty group.

    Args:
        per_user_metrics: ``{name: [N] tensor}``, e.g. the output of a
            ``per_user=True`` evaluation; the key ``"users"`` is ignored.
        groups: ``[N]`` int64 group of each user (see :func:`sparsity_groups`).
        degree: ``[N]`` training degree of each user, for the reported ranges.

    Returns:
        One dict per non-empty group, in group order, with keys ``"group"``,
        ``"min_degree"``, ``"max_degree"``, ``"num_users"`` and every metric name.

    Examples:
        >>> rows = group_report({"recall@20": torch.tensor([0.0, 1.0, 0.5])},
        ...                     torch.tensor([0, 1, 1]), torch.tensor([1, 5, 7]))
        >>> rows[1]["num_users"], rows[1]["max_degree"], rows[1]["recall@20"]
        (2, 7, 0.75)
    """
    num_groups = int(groups.max()) + 1 if groups.numel() else 0
    counts = torch.bincount(groups, minlength=num_groups)
    big = torch.iinfo(torch.long).max
    degree = degree.to(torch.long)
    lo = torch.full((num_groups,), big, dtype=torch.long, device=degree.device)
    hi = torch.full((num_groups,), -1, dtype=torch.long, device=degree.device)
    lo.scatter_reduce_(0, groups, degree, reduce="amin")
    hi.scatter_reduce_(0, groups, degree, reduce="amax")
    means: dict[str, list[float]] = {}
    for name, values in per_user_metrics.items():
        if name == "users":
            continue
        sums = torch.zeros(num_groups, dtype=torch.float64, device=values.device)
        sums.index_add_(0, groups, values.to(torch.float64))
        means[name] = (sums / counts.clamp(min=1)).tolist()
    rows: list[dict[str, float]] = []
    for g, (n, a, b) in enumerate(zip(counts.tolist(), lo.tolist(), hi.tolist())):
        if n:
            row: dict[str, float] = {
                "group": g,
                "min_degree": a,
                "max_degree": b,
                "num_users": n,
            }
            rows.append(row | {name: m[g] for name, m in means.items()})
    return rows


def covered_items(
    topk_idx: Tensor, num_items: int, valid: Tensor | None = None
) -> Tensor:
    """Boolean mask of the items that appear in any top-K list.

    Args:
        topk_idx: ``[B, K]`` int64 ranked item indices.
        num_items: Size of the item catalogue ``I``.
        valid: Optional ``[B, K]`` bool mask; ``False`` positions (items ranked
            only because nothing else was left) are not counted.

    Returns:
        ``[I]`` bool mask.
    """
    # Invalid positions write to a spare slot, so nothing waits on a data-dependent
    # shape (boolean-mask indexing would synchronise a GPU stream).
    mask = torch.zeros(num_items + 1, dtype=torch.bool, device=topk_idx.device)
    mask[topk_idx if valid is None else topk_idx.where(valid, num_items)] = True
    return mask[:num_items]


def coverage(topk_idx: Tensor, num_items: int, valid: Tensor | None = None) -> float:
    r"""Fraction of the catalogue recommended to at least one user.

    .. math::
        \mathrm{Coverage@}K = \frac{|\bigcup_u R_u^K|}{I}

    Args:
        topk_idx: ``[B, K]`` int64 ranked item indices.
        num_items: Size of the item catalogue ``I``.
        valid: Optional ``[B, K]`` bool mask of real recommendations.

    Returns:
        Coverage in ``[0, 1]``.

    Examples:
        >>> coverage(torch.tensor([[0, 1], [1, 2]]), num_items=5)
        0.6
    """
    if num_items == 0:
        return 0.0
    return float(covered_items(topk_idx, num_items, valid).sum()) / num_items
