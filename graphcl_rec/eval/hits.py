r"""Vectorised ground-truth lookups shared by the metric functions and the evaluator.

Pairs are handled as int64 keys ``user * num_items + item``: a sorted key array is a
ground-truth (or exclude) set, and membership of any batch of pairs is one
:func:`torch.searchsorted`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from graphcl_rec.errors import LeakageError


def check_ks(k: int | Sequence[int]) -> tuple[int, ...]:
    """Validates cut-offs and returns them sorted and deduplicated.

    Args:
        k: One cut-off or a sequence of them, each a positive int.

    Returns:
        The sorted distinct cut-offs.

    Examples:
        >>> check_ks([20, 5, 20])
        (5, 20)
    """
    ks = [k] if isinstance(k, int) else list(k)
    if not ks or any(
        isinstance(x, bool) or not isinstance(x, int) or x <= 0 for x in ks
    ):
        raise ValueError(
            f"'k' must be a positive int or a non-empty sequence of "
            f"positive ints (got {k!r})"
        )
    return tuple(sorted(set(ks)))


def sorted_keys(user: Tensor, item: Tensor, num_items: int) -> Tensor:
    """Sorted distinct keys ``user * num_items + item`` of a set of pairs.

    Args:
        user: ``[E]`` int64 user indices.
        item: ``[E]`` int64 item indices in ``[0, num_items)``.
        num_items: Size of the item index space.

    Returns:
        ``[E']`` sorted int64 keys, duplicates removed.

    Examples:
        >>> sorted_keys(torch.tensor([1, 0, 1]), torch.tensor([0, 2, 0]), 3)
        tensor([2, 3])
    """
    return torch.unique(user * num_items + item, sorted=True)


def member(keys: Tensor, query: Tensor) -> Tensor:
    """Boolean mask of ``query`` entries found in the sorted ``keys``.

    Args:
        keys: ``[N]`` sorted int64 keys.
        query: int64 keys of any shape.

    Returns:
        Bool tensor shaped like ``query``.
    """
    if keys.numel() == 0:
        return torch.zeros_like(query, dtype=torch.bool)
    pos = torch.searchsorted(keys, query).clamp_(max=keys.numel() - 1)
    return keys[pos] == query


def check_no_leakage(truth_keys: Tensor, exclude_keys: Tensor) -> None:
    """Raises if an excluded pair is also a ground-truth pair.

    Such a pair could never be ranked, so the evaluation would silently lose a hit.

    Args:
        truth_keys: ``[T]`` sorted ground-truth keys.
        exclude_keys: ``[X]`` keys of the excluded pairs.

    Raises:
        LeakageError: Naming how many ``(user, item)`` pairs are shared.
    """
    shared = int(member(truth_keys, exclude_keys).sum())
    if shared:
        raise LeakageError(
            f"{shared} (user, item) pairs are both in the ground truth and in "
            f"'exclude'; the sets must be disjoint (excluded items are never ranked)"
        )


def hits_matrix(
    topk_idx: Tensor,
    truth_keys: Tensor,
    users: Tensor,
    num_items: int,
    valid: Tensor | None = None,
) -> Tensor:
    """Marks which top-K recommendations are ground-truth items.

    Args:
        topk_idx: ``[B, K]`` int64 ranked item indices, best first.
        truth_keys: ``[T]`` sorted ground-truth keys (see :func:`sorted_keys`).
        users: ``[B]`` int64 user index of each row.
        num_items: Size of the item index space used by the keys.
        valid: Optional ``[B, K]`` bool mask of real recommendations; positions
            that are ``False`` (e.g. items scored ``-inf``) never count as hits.

    Returns:
        ``[B, K]`` bool hit matrix.

    Examples:
        >>> keys = sorted_keys(torch.tensor([0, 1]), torch.tensor([2, 0]), 3)
        >>> hits_matrix(torch.tensor([[2, 0], [1, 2]]), keys, torch.tensor([0, 1]), 3)
        tensor([[ True, False],
                [False, False]])
    """
    hits = member(truth_keys, users.unsqueeze(1) * num_items + topk_idx)
    return hits if valid is None else hits & valid
