"""Raw-id maps that grow, and the error an unknown raw id raises."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

RawId = str | int
"""A raw user or item id as the data file spells it; ints are looked up as ``str``."""


class UnknownIdError(KeyError):
    """A raw user or item id that the model does not know.

    Args:
        kind: ``"user"`` or ``"item"``.
        raw_id: The id asked for.

    Examples:
        >>> str(UnknownIdError("user", "42"))
        "unknown user id '42'"
    """

    def __init__(self, kind: str, raw_id: object) -> None:
        self.kind, self.raw_id = kind, raw_id
        super().__init__(f"unknown {kind} id {raw_id!r}")

    def __str__(self) -> str:
        return str(self.args[0])


def is_single(ids: object) -> bool:
    """Whether ``ids`` is one raw id (a ``str``, ``int`` or numpy scalar)."""
    return isinstance(ids, (str, int, np.integer, np.str_))


def as_list(ids: RawId | Iterable[RawId]) -> tuple[list[RawId], bool]:
    """``(ids as a list, whether one id was given)``.

    Examples:
        >>> as_list("a"), as_list(["a", "b"])
        ((['a'], True), (['a', 'b'], False))
    """
    if isinstance(ids, np.integer):
        ids = int(ids)
    if isinstance(ids, (str, int)):
        return [ids], True
    return list(ids), False


class IdMap:
    """Raw id <-> index, for users or for items; new ids are appended.

    Raw ids are stored as ``str``; an ``int`` is looked up as its decimal string, so
    ``196`` finds ``"196"``.

    Args:
        kind: ``"user"`` or ``"item"`` (named in errors).
        ids: The raw id of each index ``0..N-1``.

    Examples:
        >>> users = IdMap("user", ["a", "b"])
        >>> users.lookup(["b", "a"]).tolist()
        [1, 0]
        >>> users.add(["c", "a"]).tolist()
        [2, 0]
        >>> len(users)
        3
    """

    def __init__(self, kind: str, ids: Iterable[RawId]) -> None:
        self.kind = kind
        self.ids: list[str] = [str(raw) for raw in ids]
        self.index: dict[str, int] = {raw: i for i, raw in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            raise ValueError(f"'{kind}_ids' holds duplicate raw ids")
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, raw: object) -> bool:
        return str(raw) in self.index

    def lookup(self, raws: Sequence[RawId], missing: int | None = None) -> Tensor:
        """``[n]`` int64 indices of ``raws``.

        Args:
            raws: Raw ids.
            missing: Index given to unknown ids; ``None`` raises instead.

        Raises:
            UnknownIdError: For the first unknown id when ``missing`` is ``None``.
        """
        out = []
        for raw in raws:
            idx = self.index.get(str(raw))
            if idx is None:
                if missing is None:
                    raise UnknownIdError(self.kind, raw)
                idx = missing
            out.append(idx)
        return torch.tensor(out, dtype=torch.long)

    def add(self, raws: Iterable[RawId]) -> Tensor:
        """``[n]`` int64 indices of ``raws``, appending the ids not yet known."""
        out = []
        for raw in raws:
            key = str(raw)
            idx = self.index.get(key)
            if idx is None:
                idx = self.index[key] = len(self.ids)
                self.ids.append(key)
                self._array = None
            out.append(idx)
        return torch.tensor(out, dtype=torch.long)

    def raw(self, indices: np.ndarray) -> np.ndarray:
        """Raw ids (object array, same shape) of ``indices``; ``-1`` gives ``None``."""
        if self._array is None:
            self._array = np.array([*self.ids, None], dtype=object)
        return self._array[indices]

    def __repr__(self) -> str:
        return f"IdMap(kind='{self.kind}', size={len(self)})"
