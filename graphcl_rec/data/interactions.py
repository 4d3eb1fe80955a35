"""The implicit-feedback container every other module consumes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

logger = logging.getLogger("graphcl_rec")


@dataclass(frozen=True, eq=False)
class Interactions:
    """A set of ``(user, item)`` pairs over fixed user and item index spaces.

    Users are indexed ``0..num_users-1`` and items ``0..num_items-1``. Every split of a
    dataset shares the same index spaces and raw-id maps, so a model trained on one
    part can score another.

    Args:
        user: ``[E]`` int64 user indices.
        item: ``[E]`` int64 item indices.
        num_users: Size of the user index space ``U``.
        num_items: Size of the item index space ``I``.
        user_ids: Raw id of each user index (length ``U``), or ``None``.
        item_ids: Raw id of each item index (length ``I``), or ``None``.
        timestamp: Optional ``[E]`` int64/float timestamps, aligned with the pairs.
        weight: Optional ``[E]`` float edge weights (e.g. play or click counts),
            aligned with the pairs; kept by :meth:`subset`, :meth:`to` and
            :func:`concat`. Consumers that ignore it treat every pair as weight 1.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 0, 1]), torch.tensor([1, 2, 0]), 2, 3)
        >>> len(inter), inter.num_users, inter.num_items
        (3, 2, 3)
        >>> inter.user_lists()
        [[1, 2], [0]]
    """

    user: Tensor
    item: Tensor
    num_users: int
    num_items: int
    user_ids: tuple[str, ...] | None = field(default=None, repr=False)
    item_ids: tuple[str, ...] | None = field(default=None, repr=False)
    timestamp: Tensor | None = field(default=None, repr=False)
    weight: Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.user.dim() != 1 or self.item.dim() != 1:
            raise ValueError(
                f"'user' and 'item' must be 1-D tensors (got shapes "
                f"{tuple(self.user.shape)} and {tuple(self.item.shape)})"
            )
        if self.user.numel() != self.item.numel():
            raise ValueError(
                f"'user' and 'item' differ in length "
                f"({self.user.numel()} vs {self.item.numel()})"
            )
        if self.user.dtype != torch.long or self.item.dtype != torch.long:
            raise ValueError(
                f"'user' and 'item' must be int64 (got {self.user.dtype}, "
                f"{self.item.dtype})"
            )
        if self.num_users < 0 or self.num_items < 0:
            raise ValueError(
                f"'num_users' and 'num_items' must be non-negative (got "
                f"{self.num_users}, {self.num_items})"
            )
        if self.user.numel() > 0:
            lo_u, hi_u = int(self.user.min()), int(self.user.max())
            lo_i, hi_i = int(self.item.min()), int(self.item.max())
            if lo_u < 0 or hi_u >= self.num_users:
                raise ValueError(
                    f"user index out of range [0, {self.num_users}) "
                    f"(got {lo_u}..{hi_u})"
                )
            if lo_i < 0 or hi_i >= self.num_items:
                raise ValueError(
                    f"item index out of range [0, {self.num_items}) "
                    f"(got {lo_i}..{hi_i})"
                )
        if self.user_ids is not None and len(self.user_ids) != self.num_users:
            raise ValueError(
                f"'user_ids' must have one entry per user (got "
                f"{len(self.user_ids)} for {self.num_users} users)"
            )
        if self.item_ids is not None and len(self.item_ids) != self.num_items:
            raise ValueError(
                f"'item_ids' must have one entry per item (got "
                f"{len(self.item_ids)} for {self.num_items} items)"
            )
        for name in ("timestamp", "weight"):
            value = getattr(self, name)
            if value is not None and (
                value.dim() != 1 or value.numel() != self.user.numel()
            ):
                raise ValueError(
                    f"'{name}' must be 1-D with one entry per pair "
                    f"(got shape {tuple(value.shape)} for {self.user.numel()} pairs)"
                )

    def __len__(self) -> int:
        return int(self.user.numel())

    def __repr__(self) -> str:
        return (
            f"Interactions(num_users={self.num_users}, num_items={self.num_items}, "
            f"num_pairs={len(self)})"
        )

    @property
    def device(self) -> torch.device:
        """The device of the index tensors."""
        return self.user.device

    @property
    def shape(self) -> tuple[int, int]:
        """``(num_users, num_items)``."""
        return (self.num_users, self.num_items)

    def to(self, device: torch.device | str) -> Interactions:
        """Returns a copy with the tensors on ``device`` (``self`` if already there)."""
        device = torch.device(device)
        if self.user.device == device:
            return self
        ts = None if self.timestamp is None else self.timestamp.to(device)
        w = None if self.weight is None else self.weight.to(device)
        return replace(
            self,
            user=self.user.to(device),
            item=self.item.to(device),
            timestamp=ts,
            weight=w,
        )

    def subset(self, index: Tensor) -> Interactions:
        """Keeps the pairs selected by a boolean mask ``[E]`` or an index tensor.

        The index spaces and raw-id maps are unchanged.
        """
        ts = None if self.timestamp is None else self.timestamp[index]
        w = None if self.weight is None else self.weight[index]
        return replace(
            self, user=self.user[index], item=self.item[index], timestamp=ts, weight=w
        )

    def with_pairs(
        self,
        user: Tensor,
        item: Tensor,
        timestamp: Tensor | None = None,
        weight: Tensor | None = None,
    ) -> Interactions:
        """A new set of pairs sharing this object's index spaces and id maps."""
        return replace(self, user=user, item=item, timestamp=timestamp, weight=weight)

    def keys(self) -> Tensor:
        """``[E]`` int64 keys ``user * num_items + item``, unique per pair."""
        return self.user * self.num_items + self.item

    def deduplicate(self) -> tuple[Interactions, int]:
        """Collapses repeated pairs (keeping the first occurrence).

        Returns:
            The deduplicated interactions, sorted by ``(user, item)``, and the number
            of pairs removed.
        """
        out = self.subset(_first_occurrences(self.keys()))
        return out, len(self) - len(out)

    def sorted(self) -> Interactions:
        """The same pairs ordered by ``(user, item)``."""
        order = torch.argsort(self.keys(), stable=True)
        return self.subset(order)

    def csr(self) -> tuple[Tensor, Tensor]:
        """Row pointers ``[U+1]`` and column indices ``[E]`` of the user×item matrix.

        Columns within a row are sorted; duplicates are kept.
        """
        order = torch.argsort(self.keys(), stable=True)
        counts = torch.bincount(self.user, minlength=self.num_users)
        indptr = torch.zeros(self.num_users + 1, dtype=torch.long, device=self.device)
        torch.cumsum(counts, 0, out=indptr[1:])
        return indptr, self.item[order]

    def user_degree(self) -> Tensor:
        """``[U]`` number of pairs per user."""
        return torch.bincount(self.user, minlength=self.num_users)

    def item_degree(self) -> Tensor:
        """``[I]`` number of pairs per item."""
        return torch.bincount(self.item, minlength=self.num_items)

    def user_lists(self) -> list[list[int]]:
        """Per-user sorted item lists (one entry per user, possibly empty)."""
        indptr, indices = self.csr()
        ptr = indptr.tolist()
        items = indices.tolist()
        return [items[ptr[u] : ptr[u + 1]] for u in range(self.num_users)]

    @classmethod
    def from_pyg(cls, data: Any, **kwargs: Any) -> Interactions:
        """The pairs of a PyG ``HeteroData``/``Data``/``edge_index``.

        See :func:`graphcl_rec.data.pyg.from_pyg` for the arguments.
        """
        from graphcl_rec.data.pyg import from_pyg

        return from_pyg(data, **kwargs)

    def to_pyg(self, kind: str = "hetero", **kwargs: Any) -> Any:
        """These pairs as a PyG ``HeteroData`` (``kind="hetero"``) or ``Data``.

        See :func:`graphcl_rec.data.pyg.to_pyg` for the arguments.
        """
        from graphcl_rec.data.pyg import to_pyg

        return to_pyg(self, kind, **kwargs)  # type: ignore[arg-type]

    @cached_property
    def user_index(self) -> dict[str, int]:
        """Raw user id -> index (requires ``user_ids``)."""
        if self.user_ids is None:
            raise ValueError("these interactions carry no raw user ids")
        return {raw: i for i, raw in enumerate(self.user_ids)}

    @cached_property
    def item_index(self) -> dict[str, int]:
        """Raw item id -> index (requires ``item_ids``)."""
        if self.item_ids is None:
            raise ValueError("these interactions carry no raw item ids")
        return {raw: i for i, raw in enumerate(self.item_ids)}


def _first_occurrences(keys: Tensor) -> Tensor:
    """Index of the first occurrence of each distinct key, ordered by key."""
    uniq, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    first = torch.full(
        (uniq.numel(),), keys.numel(), dtype=torch.long, device=keys.device
    )
    return first.scatter_reduce_(
        0, inverse, torch.arange(keys.numel(), device=keys.device), reduce="amin"
    )


def _cat_optional(parts: Sequence[Interactions], name: str) -> Tensor | None:
    """The ``name`` tensors of all parts joined; ``None`` (logged) if one lacks it."""
    values = [getattr(p, name) for p in parts]
    if all(v is None for v in values):
        return None
    if any(v is None for v in values):
        logger.warning(
            "concat(): %d of %d parts have no %s; the result has none",
            sum(v is None for v in values),
            len(values),
            name,
        )
        return None
    return torch.cat(values)


def concat(parts: Sequence[Interactions]) -> Interactions:
    """Concatenates interactions that share index spaces (e.g. train + validation).

    A pair present in more than one part (or twice in one) is kept once, at its
    first occurrence, so that it is not counted twice in a graph; the number of
    pairs removed is logged as a warning. Otherwise the parts' order is kept.
    ``timestamp`` and ``weight`` are joined when every part has them.

    Args:
        parts: One or more :class:`Interactions` with the same ``num_users``,
            ``num_items`` and raw-id maps.

    Returns:
        One :class:`Interactions` holding every distinct pair of ``parts``.

    Raises:
        ValueError: If the parts differ in shape or in their raw-id maps.

    Examples:
        >>> a = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 2)
        >>> b = Interactions(torch.tensor([1, 0]), torch.tensor([1, 1]), 2, 2)
        >>> both = concat([a, b])  # (1, 1) is in both parts: kept once
        >>> both.user.tolist(), both.item.tolist()
        ([0, 1, 0], [0, 1, 1])
    """
    if not parts:
        raise ValueError("concat() needs at least one Interactions")
    first = parts[0]
    for p in parts[1:]:
        if p.shape != first.shape:
            raise ValueError(f"cannot concatenate {p!r} with {first!r}: shapes differ")
        for name in ("user_ids", "item_ids"):
            mine, theirs = getattr(first, name), getattr(p, name)
            if (
                mine is not theirs
                and mine is not None
                and theirs is not None
                and (mine != theirs)
            ):
                raise ValueError(
                    f"cannot concatenate interactions with different {name} maps"
                )
    out = first.with_pairs(
        torch.cat([p.user for p in parts]),
        torch.cat([p.item for p in parts]),
        _cat_optional(parts, "timestamp"),
        _cat_optional(parts, "weight"),
    )
    keep = torch.sort(_first_occurrences(out.keys())).values
    removed = len(out) - keep.numel()
    if removed:
        logger.warning(
            "concat(): collapsed %d (user, item) pairs present more than once, "
            "keeping the first",
            removed,
        )
        out = out.subset(keep)
    return out
