"""Train/validation/test splits of interactions, each checked for leakage.

All splits are vectorised: every pair gets a sort key (a random permutation or its
timestamp), pairs are ordered by ``(user, key)``, and each pair's rank within its
user decides its part.

Every split checks its result: the parts are disjoint (:func:`check_disjoint`); a
part with a positive ratio that comes out empty is an error naming the cause, and
a part left empty by a zero ratio is logged as a warning; validation/test pairs
whose user or item has no training pair are counted and logged, and kept or
dropped as ``cold`` says (see :mod:`graphcl_rec.data.cold`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from graphcl_rec.data.checks import (
    check_disjoint,
    check_empty_parts,
    check_not_empty,
    check_partition,
    part_bounds,
)
from graphcl_rec.data.cold import check_cold_option, handle_cold
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.errors import DataError

__all__ = [
    "check_disjoint",
    "holdout",
    "leave_one_out",
    "random_split",
    "temporal_split",
]

Seed = int | torch.Generator
Cold = Literal["keep", "drop"]


def _generator(seed: Seed) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"'seed' must be an int or a torch.Generator (got {seed!r})")
    return torch.Generator().manual_seed(seed)


def _random_order(inter: Interactions, seed: Seed) -> Tensor:
    """A random permutation of the pairs (drawn on the CPU, moved to their device)."""
    return torch.randperm(len(inter), generator=_generator(seed)).to(inter.device)


def _rank_within_user(inter: Interactions, order: Tensor) -> tuple[Tensor, Tensor]:
    """Orders pairs by ``(user, position in order)``.

    Returns:
        The reordering ``[E]`` and the 0-based rank ``[E]`` of each reordered pair
        within its user.
    """
    order = order[torch.argsort(inter.user[order], stable=True)]
    degree = inter.user_degree()
    start = torch.cumsum(degree, 0) - degree
    user = inter.user[order]
    rank = torch.arange(len(inter), device=inter.device) - start[user]
    return order, rank


def _assign(
    inter: Interactions,
    order: Tensor,
    ratios: Sequence[float],
    per_user: bool,
    names: Sequence[str],
    cold: str,
) -> tuple[Interactions, ...]:
    """Cuts each user's ordered pairs (or all pairs) by cumulative ratios."""
    if (
        len(ratios) < 1
        or any(
            isinstance(r, bool) or not isinstance(r, int | float) or not r >= 0
            for r in ratios
        )
        or abs(sum(ratios) - 1) > 1e-6
    ):
        raise ValueError(
            f"'ratios' must be non-negative and sum to 1 (got {tuple(ratios)})"
        )
    check_cold_option(cold)
    check_not_empty(inter)
    cum = torch.tensor(ratios, dtype=torch.float64).cumsum(0)[:-1]
    cum = torch.round(cum * 1e9) / 1e9  # 0.8 + 0.1 and 0.9 give the same boundary
    if per_user:
        order, rank = _rank_within_user(inter, order)
        n = inter.user_degree()[inter.user[order]]
    else:
        rank = torch.arange(len(inter), device=inter.device)
        n = torch.full_like(rank, len(inter))
    part = (rank[:, None] >= part_bounds(n, cum)).sum(1)
    parts = tuple(inter.subset(order[part == j]) for j in range(len(ratios)))
    check_partition(inter, parts, names)
    check_empty_parts(inter, parts, names, ratios, per_user, cum)
    return handle_cold(parts, names, cold)


def _names(k: int) -> list[str]:
    return ["train", "val", "test"] if k == 3 else [f"part {j}" for j in range(k)]


def random_split(
    inter: Interactions,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: Seed = 0,
    per_user: bool = True,
    cold: Cold = "keep",
) -> tuple[Interactions, ...]:
    """Splits pairs at random into parts of the given proportions.

    With ``per_user=True`` a user with ``n`` pairs gives part ``j`` the pairs ranked
    ``round(n·c_{j-1}) .. round(n·c_j) - 1`` of a random order, where ``c_j`` is the
    cumulative ratio and halves round up; the first boundary is then raised to at
    least 1, so every user with a pair keeps one in the first part (a user with a
    single pair keeps it there). With ``per_user=False`` the same rounding applies
    to all pairs at once. For a fixed seed, changing the ratios of the earlier parts
    without changing their sum leaves the later parts unchanged.

    Args:
        inter: The interactions (no duplicate pairs; see ``deduplicate``).
        ratios: Proportions, one per part, summing to 1; zeros give empty parts.
        seed: An int seed or a ``torch.Generator`` (CPU).
        per_user: Split each user's pairs, or the whole set.
        cold: Pairs of the later parts whose user or item has no pair in the first
            part: ``"keep"`` them (logging a warning with the counts) or
            ``"drop"`` them (logging how many).

    Returns:
        One :class:`Interactions` per ratio, sharing the input's index spaces.

    Raises:
        LeakageError: If two parts share a pair (duplicates in the input).
        DataError: If the input is empty, or a part with a positive ratio would be
            empty (naming the cause).

    Examples:
        >>> inter = Interactions(torch.zeros(10, dtype=torch.long),
        ...                      torch.arange(10), 1, 10)
        >>> [len(p) for p in random_split(inter, (0.8, 0.1, 0.1), seed=0)]
        [8, 1, 1]
    """
    return _assign(
        inter, _random_order(inter, seed), ratios, per_user, _names(len(ratios)), cold
    )


def holdout(
    train: Interactions, ratio: float, seed: Seed = 0, cold: Cold = "keep"
) -> tuple[Interactions, Interactions]:
    """Carves a validation part out of each user's training pairs.

    Each user keeps at least one training pair; ``ratio == 0`` returns the input
    pairs and an empty validation part (logged). Rounding, empty parts and cold
    pairs as in :func:`random_split`.

    Args:
        train: The training interactions.
        ratio: Fraction of each user's pairs moved to validation, in ``[0, 1)``.
        seed: An int seed or a ``torch.Generator``.
        cold: ``"keep"`` or ``"drop"`` validation pairs whose item (or user) has
            no remaining training pair.

    Returns:
        ``(train, val)``.

    Examples:
        >>> inter = Interactions(torch.zeros(10, dtype=torch.long),
        ...                      torch.arange(10), 1, 10)
        >>> [len(p) for p in holdout(inter, 0.2, seed=0)]
        [8, 2]
    """
    if (isinstance(ratio, bool) or not isinstance(ratio, int | float)
            or not 0.0 <= ratio < 1.0):
        raise ValueError(f"'ratio' must be a number in [0, 1) (got {ratio!r})")
    order = _random_order(train, seed)
    fit, val = _assign(train, order, (1.0 - ratio, ratio), True, ["train", "val"], cold)
    return fit, val


def leave_one_out(
    inter: Interactions, seed: Seed = 0, cold: Cold = "keep"
) -> tuple[Interactions, Interactions, Interactions]:
    """Holds out each user's last pair for test and the one before for validation.

    "Last" is by timestamp when the interactions have timestamps (ties broken at
    random), otherwise a random pair. Users with fewer than three pairs keep all
    of them in train. Cold pairs as in :func:`random_split`.

    Args:
        inter: The interactions.
        seed: An int seed or a ``torch.Generator``.
        cold: ``"keep"`` or ``"drop"`` val/test pairs whose item has no training
            pair.

    Returns:
        ``(train, val, test)``; val and test hold at most one pair per user.

    Raises:
        DataError: If no user has three pairs (val and test would be empty).

    Examples:
        >>> inter = Interactions(torch.zeros(4, dtype=torch.long), torch.arange(4),
        ...                      1, 4, timestamp=torch.tensor([4, 3, 2, 1]))
        >>> [p.item.tolist() for p in leave_one_out(inter)]
        [[3, 2], [1], [0]]
    """
    check_cold_option(cold)
    check_not_empty(inter)
    most = int(inter.user_degree().max())
    if most < 3:
        raise DataError(
            f"leave_one_out needs users with 3 or more pairs, but every user has at "
            f"most {most}; 'val' and 'test' would be empty"
        )
    order = _random_order(inter, seed)
    if inter.timestamp is not None:
        order = order[torch.argsort(inter.timestamp[order], stable=True)]
    order, rank = _rank_within_user(inter, order)
    n = inter.user_degree()[inter.user[order]]
    from_end = n - 1 - rank
    part = torch.where((n >= 3) & (from_end < 2), 2 - from_end, 0)
    parts = tuple(inter.subset(order[part == j]) for j in range(3))
    check_partition(inter, parts, _names(3))
    return handle_cold(parts, _names(3), cold)  # type: ignore[return-value]


def temporal_split(
    inter: Interactions,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    per_user: bool = True,
    cold: Cold = "keep",
) -> tuple[Interactions, ...]:
    """Splits by time: the earliest pairs (of each user) first.

    Rounding, empty parts and cold pairs as in :func:`random_split`; equal
    timestamps keep their input order.

    Args:
        inter: Interactions with timestamps.
        ratios: Proportions, one per part, summing to 1.
        per_user: Cut each user's history, or the whole timeline at once.
        cold: ``"keep"`` or ``"drop"`` later pairs whose user or item has no pair
            in the first part.

    Returns:
        One :class:`Interactions` per ratio.

    Raises:
        ValueError: If ``inter`` has no timestamps.

    Examples:
        >>> inter = Interactions(torch.zeros(4, dtype=torch.long), torch.arange(4),
        ...                      1, 4, timestamp=torch.tensor([4, 3, 2, 1]))
        >>> [p.item.tolist() for p in temporal_split(inter, (0.5, 0.5))]
        [[3, 2], [1, 0]]
    """
    if inter.timestamp is None:
        raise ValueError("temporal_split() needs interactions with timestamps")
    order = torch.argsort(inter.timestamp, stable=True)
    return _assign(inter, order, ratios, per_user, _names(len(ratios)), cold)
