"""Cold pairs: validation/test pairs whose user or item never occurs in train.

A graph encoder has no edge to learn such a user or item from, so its score is
that of an untrained embedding. :func:`split_summary` counts these pairs,
:func:`drop_cold` removes them, and the split functions of
:mod:`graphcl_rec.data.split` log them and keep or drop them (``cold=``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.errors import DataError

logger = logging.getLogger("graphcl_rec")

COLD = ("keep", "drop")


def _cold_masks(train: Interactions, part: Interactions) -> tuple[Tensor, Tensor]:
    """``[len(part)]`` masks: the pair's user / item has no pair in ``train``."""
    if part.shape != train.shape:
        raise ValueError(f"parts differ in shape: {train.shape} and {part.shape}")
    seen_user = train.user_degree().to(part.device) > 0
    seen_item = train.item_degree().to(part.device) > 0
    return ~seen_user[part.user], ~seen_item[part.item]


def drop_cold(train: Interactions, part: Interactions) -> tuple[Interactions, int]:
    """Removes the pairs of ``part`` whose user or item has no pair in ``train``.

    Args:
        train: The training pairs that define which users and items are known.
        part: Pairs to filter (validation or test), in the same index spaces.

    Returns:
        The remaining pairs of ``part`` and the number removed.

    Examples:
        >>> import torch
        >>> train = Interactions(torch.tensor([0]), torch.tensor([0]), 2, 2)
        >>> test = Interactions(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 0]), 2, 2)
        >>> kept, removed = drop_cold(train, test)
        >>> kept.item.tolist(), removed
        ([0], 2)
    """
    user, item = _cold_masks(train, part)
    cold = user | item
    return part.subset(~cold), int(cold.sum())


def _names(count: int, names: Sequence[str] | None) -> list[str]:
    if names is None:
        names = ["val", "test"] if count == 2 else [f"part {j}" for j in range(count)]
    names = list(names)
    if len(names) != count:
        raise ValueError(f"'names' has {len(names)} entries for {count} parts")
    return names


def split_summary(
    train: Interactions, *parts: Interactions, names: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    """Counts per part of a split, and of the pairs that are cold w.r.t. ``train``.

    Args:
        train: The training part.
        *parts: The other parts (validation, test...).
        names: A name per part of ``parts`` (default ``val``, ``test`` for two).

    Returns:
        ``{"train": {...}, name: {...}}``: for each part ``pairs``, ``users`` and
        ``items`` (those with at least one pair); for the other parts also
        ``cold_user_pairs``, ``cold_item_pairs`` (pairs whose user / item has no
        training pair) and ``cold_pairs`` (either). Plain ints, ready for JSON.

    Examples:
        >>> import torch
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 0]), 3, 2)
        >>> test = Interactions(torch.tensor([0, 2]), torch.tensor([1, 0]), 3, 2)
        >>> split_summary(train, test, names=["test"])["test"]
        ... # doctest: +NORMALIZE_WHITESPACE
        {'pairs': 2, 'users': 2, 'items': 2, 'cold_user_pairs': 1,
         'cold_item_pairs': 1, 'cold_pairs': 2}
    """

    def counts(p: Interactions) -> dict[str, int]:
        return {
            "pairs": len(p),
            "users": int((p.user_degree() > 0).sum()),
            "items": int((p.item_degree() > 0).sum()),
        }

    out: dict[str, dict[str, int]] = {"train": counts(train)}
    for name, part in zip(_names(len(parts), names), parts):
        user, item = _cold_masks(train, part)
        out[name] = {
            **counts(part),
            "cold_user_pairs": int(user.sum()),
            "cold_item_pairs": int(item.sum()),
            "cold_pairs": int((user | item).sum()),
        }
    return out


def handle_cold(
    parts: tuple[Interactions, ...], names: Sequence[str], cold: str
) -> tuple[Interactions, ...]:
    """Logs the cold pairs of ``parts[1:]`` w.r.t. ``parts[0]``; drops them if asked.

    Args:
        parts: ``(train, other parts...)``.
        names: A name per part.
        cold: ``"keep"`` (log a warning with the counts) or ``"drop"`` (remove
            them, logging how many).

    Raises:
        DataError: If dropping would empty a part.
    """
    train, out = parts[0], [parts[0]]
    for name, part in zip(names[1:], parts[1:]):
        user, item = _cold_masks(train, part)
        either = user | item
        count = int(either.sum())
        if count:
            logger.warning(
                "%s: %d of %d pairs have a user (%d) or an item (%d) without any "
                "training pair; %s (cold=%r)",
                name,
                count,
                len(part),
                int(user.sum()),
                int(item.sum()),
                "dropped" if cold == "drop" else "kept",
                cold,
            )
        if cold == "drop" and count and count == len(part):
            raise DataError(
                f"split part {name!r}: all its {count} pairs are cold (user or item "
                f"without a training pair) and cold='drop' would remove them all"
            )
        out.append(part.subset(~either) if cold == "drop" and count else part)
    return tuple(out)


def check_cold_option(cold: Any) -> None:
    """Raises for a ``cold`` argument other than ``"keep"`` or ``"drop"``."""
    if cold not in COLD:
        raise ValueError(f"'cold' must be one of {list(COLD)} (got {cold!r})")
