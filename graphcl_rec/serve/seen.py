"""The items each user has seen: a fixed base graph plus pairs added while serving."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions


def _csr(user: Tensor, item: Tensor, num_users: int) -> tuple[Tensor, Tensor]:
    """Row pointers ``[U+1]`` and the items ``[E]`` of pairs grouped by user."""
    order = torch.argsort(user, stable=True)
    indptr = torch.zeros(num_users + 1, dtype=torch.long, device=user.device)
    torch.cumsum(torch.bincount(user, minlength=num_users), 0, out=indptr[1:])
    return indptr, item[order]


def _gather(indptr: Tensor, indices: Tensor, users: Tensor) -> tuple[Tensor, Tensor]:
    """``(row, item)`` of every item of ``users[row]`` (no Python loop over users)."""
    known = users < indptr.numel() - 1
    safe = users.clamp(max=indptr.numel() - 2)
    start = torch.where(known, indptr[safe], 0)
    count = torch.where(known, indptr[safe + 1] - indptr[safe], 0)
    total = int(count.sum())
    row = torch.repeat_interleave(torch.arange(users.numel(), device=users.device),
                                  count, output_size=total)
    first = torch.cumsum(count, 0) - count
    pos = torch.arange(total, device=users.device) - first[row] + start[row]
    return row, indices[pos]


def _bounds(indptr: np.ndarray, user: int) -> tuple[int, int]:
    """``(start, end)`` of ``user``'s row in a CSR (empty past its last row)."""
    if not 0 <= user < indptr.size - 1:
        return 0, 0
    return int(indptr[user]), int(indptr[user + 1])


class SeenItems:
    """User -> seen items over growing index spaces.

    The base pairs (the graph the model was trained on) are held as a CSR built
    once; pairs added later (fold-ins) go to a second, small CSR rebuilt on the
    next read after a change.

    Args:
        base: The base interactions.

    Examples:
        >>> seen = SeenItems(Interactions(torch.tensor([0, 1]), torch.tensor([1, 0]),
        ...                               2, 2))
        >>> seen.add(torch.tensor([2]), torch.tensor([1]))
        >>> seen.gather(torch.tensor([2, 0]))[1].tolist()
        [1, 1]
    """

    def __init__(self, base: Interactions) -> None:
        self.base_users = base.num_users
        self._base = _csr(base.user, base.item, base.num_users)
        self._base_ptr = self._base[0].cpu().numpy()
        self._base_pairs = (base.user, base.item)
        self._extra_user: list[Tensor] = []
        self._extra_item: list[Tensor] = []
        self._extra: tuple[Tensor, Tensor, np.ndarray] | None = None

    def add(self, user: Tensor, item: Tensor) -> None:
        """Records ``[n]`` pairs ``(user, item)`` (indices may exceed the base's)."""
        device = self._base[0].device
        self._extra_user.append(user.to(device))
        self._extra_item.append(item.to(device))
        self._extra = None

    def extra_pairs(self) -> tuple[Tensor, Tensor]:
        """``([X] user, [X] item)`` of the pairs added after the base."""
        device = self._base[0].device
        if not self._extra_user:
            empty = torch.zeros(0, dtype=torch.long, device=device)
            return empty, empty
        return torch.cat(self._extra_user), torch.cat(self._extra_item)

    def pairs(self) -> tuple[Tensor, Tensor]:
        """All distinct pairs ``([E] user, [E] item)``, base first."""
        user, item = self.extra_pairs()
        user = torch.cat([self._base_pairs[0], user])
        item = torch.cat([self._base_pairs[1], item])
        width = int(item.max()) + 1 if item.numel() else 1
        keys = user * width + item
        _, first = _first_occurrence(keys)
        return user[first], item[first]

    def gather(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(row, item)``: every seen item of ``users[row]`` (repeats possible).

        Args:
            users: ``[B]`` int64 user indices (any order, repeats allowed).

        Returns:
            Two ``[S]`` int64 tensors.
        """
        row, item = _gather(*self._base, users)
        if not self._extra_user:
            return row, item
        indptr, indices, _ = self._extra_csr()
        row_x, item_x = _gather(indptr, indices, users)
        return torch.cat([row, row_x]), torch.cat([item, item_x])

    def items_of(self, user: int) -> Tensor:
        """``[S]`` int64: every seen item of one user (repeats possible).

        The one-user case of :meth:`gather` as slices of the CSRs, whose row
        pointers are also kept as numpy arrays: no tensor arithmetic, and no
        device round trip, per call.

        Args:
            user: A user index (one past every known user: no items).
        """
        lo, hi = _bounds(self._base_ptr, user)
        items = self._base[1][lo:hi]
        if not self._extra_user:
            return items
        _, extra, ptr = self._extra_csr()
        lo, hi = _bounds(ptr, user)
        return torch.cat([items, extra[lo:hi]]) if hi > lo else items

    def _extra_csr(self) -> tuple[Tensor, Tensor, np.ndarray]:
        """The added pairs' CSR and its row pointers in numpy (rebuilt lazily)."""
        if self._extra is None:
            user_x, item_x = self.extra_pairs()
            indptr, indices = _csr(user_x, item_x, int(user_x.max()) + 1)
            self._extra = (indptr, indices, indptr.cpu().numpy())
        return self._extra

    def __repr__(self) -> str:
        return (f"SeenItems(base_pairs={self._base[1].numel()}, "
                f"added_pairs={sum(t.numel() for t in self._extra_user)})")

    def item_degree(self, num_items: int) -> Tensor:
        """``[I]`` number of distinct users who have seen each item."""
        return torch.bincount(self.pairs()[1], minlength=num_items)


def _first_occurrence(keys: Tensor) -> tuple[Tensor, Tensor]:
    """Sorted unique keys and the index of each one's first occurrence."""
    uniq, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    first = torch.full((uniq.numel(),), keys.numel(), dtype=torch.long,
                       device=keys.device)
    first.scatter_reduce_(0, inverse, torch.arange(keys.numel(), device=keys.device),
                          reduce="amin")
    return uniq, first.sort().values
