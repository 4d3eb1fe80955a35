"""The evaluator's inputs checked and prepared: embeddings, exclusions, block size."""

from __future__ import annotations

from collections.abc import Sequence

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
