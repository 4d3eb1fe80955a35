"""Checks on the parts of a split: a partition, no shared pair, no empty part."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.errors import DataError, LeakageError

logger = logging.getLogger("graphcl_rec")


def _count_shared(a: Tensor, b: Tensor) -> int:
    """Number of values of sorted unique ``a`` also in sorted unique ``b``."""
    if a.numel() == 0 or b.numel() == 0:
        return 0
    pos = torch.searchsorted(b, a).clamp_(max=b.numel() - 1)
    return int((b[pos] == a).sum())


def check_disjoint(*parts: Interactions, names: Sequence[str] | None = None) -> None:
    """Raises if any two parts share a ``(user, item)`` pair.

    Args:
        *parts: Interactions over the same index spaces.
        names: A name per part for the message (default ``part 0``, ``part 1``...).

    Raises:
        LeakageError: Naming every overlapping pair of parts and the number of
            shared pairs.

    Examples:
        >>> a = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 2)
        >>> check_disjoint(a, a.subset(torch.tensor([1])), names=["train", "test"])
        Traceback (most recent call last):
        ...
        graphcl_rec.errors.LeakageError: 'train' and 'test' share 1 (user, item) pairs
    """
    names = (
        list(names) if names is not None else [f"part {j}" for j in range(len(parts))]
    )
    if len(names) != len(parts):
        raise ValueError(f"'names' has {len(names)} entries for {len(parts)} parts")
    if any(p.shape != parts[0].shape for p in parts):
        raise ValueError(f"parts differ in shape: {[p.shape for p in parts]}")
    keys = [torch.unique(p.keys()) for p in parts]
    problems = []
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            shared = _count_shared(keys[a], keys[b].to(keys[a].device))
            if shared:
                problems.append(
                    f"{names[a]!r} and {names[b]!r} share {shared} (user, item) pairs"
                )
    if problems:
        raise LeakageError("; ".join(problems))


def part_bounds(n: Tensor, cum: Tensor) -> Tensor:
    """``[N, k-1]`` part boundaries for groups of ``n`` pairs (``[N]``).

    Boundary ``j`` is ``round(n · cum[j])`` (halves up), the first at least 1.
    """
    bounds = torch.floor(n[:, None].double() * cum.to(n.device) + 0.5).long()
    return torch.maximum(bounds, (n[:, None] > 0).long())  # >= 1 in the first part


def _needed(cum: Tensor, j: int, limit: int = 100_000) -> str:
    """The fewest pairs a group needs for one pair in part ``j`` (as text)."""
    n = torch.arange(1, limit + 1)
    zero = torch.zeros(limit, 1, dtype=torch.long)
    edges = torch.cat([zero, part_bounds(n, cum), n[:, None]], dim=1)
    ok = torch.nonzero(edges[:, j + 1] > edges[:, j]).flatten()
    return str(int(ok[0]) + 1) if ok.numel() else f"more than {limit}"


def check_not_empty(inter: Interactions) -> None:
    """Raises :class:`DataError` for interactions without a pair."""
    if len(inter) == 0:
        raise DataError("cannot split an empty set of interactions (0 pairs)")


def check_partition(
    inter: Interactions, parts: Sequence[Interactions], names: Sequence[str]
) -> None:
    """Raises unless ``parts`` hold exactly the pairs of ``inter``, disjointly."""
    total = sum(len(p) for p in parts)
    if total != len(inter):
        raise RuntimeError(f"split parts hold {total} pairs, the input {len(inter)}")
    check_disjoint(*parts, names=names)


def check_empty_parts(
    inter: Interactions,
    parts: Sequence[Interactions],
    names: Sequence[str],
    ratios: Sequence[float],
    per_user: bool,
    cum: Tensor,
) -> None:
    """Raises for an empty part with a positive ratio; warns for a zero ratio.

    Raises:
        DataError: Naming the part, its ratio and why it is empty (how many pairs
            the largest user has, and how many one pair in that part needs).
    """
    for j, (part, ratio) in enumerate(zip(parts, ratios)):
        if len(part):
            continue
        if ratio == 0:
            logger.warning("split part %r is empty (its ratio is 0)", names[j])
            continue
        if per_user:
            most = int(inter.user_degree().max())
            why = (
                f"pairs are split per user and every user has at most {most}, "
                f"while one pair in {names[j]!r} needs {_needed(cum, j)} pairs "
                f"(a user's first pair stays in {names[0]!r})"
            )
        else:
            why = f"{len(inter)} pairs in all are fewer than {_needed(cum, j)}"
        raise DataError(
            f"split part {names[j]!r} (ratio {ratio:g}) would be empty: {why}; "
            f"use fewer parts, other ratios, per_user=False or more data"
        )
