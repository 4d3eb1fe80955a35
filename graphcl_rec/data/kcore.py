"""k-core filtering of the user–item graph."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions

logger = logging.getLogger("graphcl_rec")


def _compact(
    index: Tensor, size: int, raw: tuple[str, ...] | None
) -> tuple[Tensor, tuple[str, ...]]:
    """Renumbers the indices present in ``index`` to ``0..n-1``, keeping their order.

    Returns:
        The new indices and the raw id of each (the old index as a string when
        ``raw`` is ``None``).
    """
    present = torch.zeros(size, dtype=torch.bool, device=index.device)
    present[index] = True
    kept = present.nonzero().flatten()
    new = torch.cumsum(present.long(), 0) - 1
    ids = kept.tolist()
    names = tuple(str(i) for i in ids) if raw is None else tuple(raw[i] for i in ids)
    return new[index], names


def k_core(inter: Interactions, user_k: int = 5, item_k: int = 5) -> Interactions:
    """Keeps the largest subgraph with user degrees ``>= user_k``, items ``>= item_k``.

    Pairs of users or items below their threshold are removed, and degrees are
    recomputed, until nothing changes. The result is re-indexed compactly (users
    and items keep their relative order); ``user_ids``/``item_ids`` hold the raw ids
    of the kept users and items (the old indices as strings when the input has
    none). Degrees count pairs, so deduplicate first if the input has repeats.

    Args:
        inter: The interactions.
        user_k: Minimum number of pairs per kept user.
        item_k: Minimum number of pairs per kept item.

    Returns:
        The k-core, with timestamps and weights kept.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 0, 1, 1, 2]),
        ...                      torch.tensor([0, 1, 0, 1, 2]), 3, 3)
        >>> core = k_core(inter, user_k=2, item_k=2)
        >>> core.shape, core.user_ids, core.item_ids
        ((2, 2), ('0', '1'), ('0', '1'))
    """
    for name, k in (("user_k", user_k), ("item_k", item_k)):
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"'{name}' must be a non-negative int (got {k!r})")
    user, item = inter.user, inter.item
    timestamp, weight = inter.timestamp, inter.weight
    iterations = 0
    while True:
        iterations += 1
        user_deg = torch.bincount(user, minlength=inter.num_users)
        item_deg = torch.bincount(item, minlength=inter.num_items)
        keep = (user_deg[user] >= user_k) & (item_deg[item] >= item_k)
        if bool(keep.all()):
            break
        user, item = user[keep], item[keep]
        timestamp = None if timestamp is None else timestamp[keep]
        weight = None if weight is None else weight[keep]
    new_user, user_ids = _compact(user, inter.num_users, inter.user_ids)
    new_item, item_ids = _compact(item, inter.num_items, inter.item_ids)
    out = Interactions(
        new_user,
        new_item,
        len(user_ids),
        len(item_ids),
        user_ids,
        item_ids,
        timestamp,
        weight,
    )
    logger.info(
        "k_core(user_k=%d, item_k=%d): stable after %d iterations; removed "
        "%d users, %d items, %d pairs",
        user_k,
        item_k,
        iterations,
        inter.num_users - out.num_users,
        inter.num_items - out.num_items,
        len(inter) - len(out),
    )
    return out
