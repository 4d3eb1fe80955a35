"""The evaluator's inputs checked and prepared: embeddings, exclusions, block size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions

__all__ = ["Exclude", "block_size", "check_embeddings", "exclude_keys"]

Exclude = Interactions | Sequence[Interactions] | None
"""Pairs never to rank: one set of interactions, several, or ``None``."""


def exclude_keys(exclude: Exclude, target: Interactions) -> Tensor:
    """Sorted distinct keys ``user * I + item`` of all excluded pairs.

    Args:
        exclude: Interactions (or a sequence of them) over the target's index spaces.
        target: The interactions whose shape and device the keys must match.

    Returns:
        ``[X]`` sorted int64 keys on ``target.device``.
    """
    parts = (
        []
        if exclude is None
        else ([exclude] if isinstance(exclude, Interactions) else list(exclude))
    )
    for part in parts:
        if part.shape != target.shape:
            raise ValueError(
                f"'exclude' has shape {part.shape} but 'target' has {target.shape}"
            )
    if not parts:
        return torch.zeros(0, dtype=torch.long, device=target.device)
    keys = torch.cat([p.to(target.device).keys() for p in parts])
    return torch.unique(keys, sorted=True)


def check_embeddings(
    user_emb: Tensor, item_emb: Tensor, shape: tuple[int, int]
) -> None:
    """Checks ``[U, d]`` and ``[I, d]`` finite embeddings for a ``(U, I)`` problem.

    Args:
        user_emb: User embeddings.
        item_emb: Item embeddings.
        shape: ``(num_users, num_items)`` of the interactions being ranked.
    """
    dims = user_emb.dim(), item_emb.dim()
    if dims != (2, 2) or user_emb.size(1) != item_emb.size(1):
        raise ValueError(
            f"'user_emb' and 'item_emb' must be [U, d] and [I, d] "
            f"(got {tuple(user_emb.shape)} and {tuple(item_emb.shape)})"
        )
    if (user_emb.size(0), item_emb.size(0)) != shape:
        raise ValueError(
            f"embeddings cover {user_emb.size(0)} users x {item_emb.size(0)} items "
            f"but the interactions have shape {shape}"
        )
    if not (torch.isfinite(user_emb).all() and torch.isfinite(item_emb).all()):
        raise ValueError("'user_emb' or 'item_emb' holds NaN or infinite values")


def block_size(
    num_items: int, dtype: torch.dtype, batch_size: int | None, memory_budget_mb: float
) -> int:
    """Users per block: ``batch_size``, or as many as fit ``[B, I]`` in the budget.

    Args:
        num_items: Number of items ``I``.
        dtype: Score dtype.
        batch_size: Explicit block size, or ``None``.
        memory_budget_mb: Score-buffer budget in MiB, used when ``batch_size`` is
            ``None``.

    Returns:
        A positive block size.

    Examples:
        >>> block_size(38048, torch.float32, None, 256)
        1763
    """
    if batch_size is not None:
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int)
            or (batch_size < 1)
        ):
            raise ValueError(
                f"'batch_size' must be a positive int or None (got {batch_size!r})"
            )
        return batch_size
    if not memory_budget_mb > 0:
        raise ValueError(
            f"'memory_budget_mb' must be positive (got {memory_budget_mb})"
        )
    elem = torch.empty((), dtype=dtype).element_size()
    return max(1, int(memory_budget_mb * 2**20) // max(num_items * elem, 1))


class RankingSetup(NamedTuple):
    """What every full-ranking evaluation derives from its arguments.

    Attributes:
        block: Users per block.
        target: ``target`` on the embeddings' device.
        truth: Sorted ``user * I + item`` keys of ``target``.
        exclude: Sorted keys never ranked.
        num_truth: ``[U]`` target pairs per user.
        users: ``[n]`` users with at least one target pair (the ones scored).
    """

    block: int
    target: Interactions
    truth: Tensor
    exclude: Tensor
    num_truth: Tensor
    users: Tensor


def ranking_setup(user_emb: Tensor, item_emb: Tensor, target: Interactions,
                  exclude: Exclude, batch_size: int | None,
                  memory_budget_mb: float) -> RankingSetup:
    """Checks the inputs of a full-ranking evaluation and derives its keys.

    Args:
        user_emb: ``[U, d]`` user embeddings.
        item_emb: ``[I, d]`` item embeddings.
        target: Held-out pairs to rank.
        exclude: Pairs never ranked (see :func:`exclude_keys`).
        batch_size: Users per block, or ``None`` for the memory budget's choice.
        memory_budget_mb: Budget of one block's score buffer.

    Returns:
        The :class:`RankingSetup`.

    Raises:
        ValueError: Mismatched shapes or an empty ``target``.
        LeakageError: A target pair is also excluded.

    Examples:
        >>> t = Interactions(torch.tensor([0, 0]), torch.tensor([1, 2]), 2, 3)
        >>> s = ranking_setup(torch.ones(2, 4), torch.ones(3, 4), t, None, None, 1)
        >>> s.users.tolist(), s.num_truth.tolist(), s.truth.tolist()
        ([0], [2, 0], [1, 2])
    """
    from graphcl_rec.eval.hits import check_no_leakage, sorted_keys

    num_users, num_items = target.shape
    check_embeddings(user_emb, item_emb, target.shape)
    block = block_size(num_items, user_emb.dtype, batch_size, memory_budget_mb)
    if len(target) == 0:
        raise ValueError("'target' holds no pairs")
    target = target.to(user_emb.device)
    truth = sorted_keys(target.user, target.item, num_items)
    ex_keys = exclude_keys(exclude, target)
    check_no_leakage(truth, ex_keys)
    num_truth = torch.bincount(truth // num_items, minlength=num_users)
    users = torch.nonzero(num_truth).flatten()
    return RankingSetup(block, target, truth, ex_keys, num_truth, users)
