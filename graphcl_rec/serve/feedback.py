"""Feedback pairs: checked raw ids, and what a served model does with them at once."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from graphcl_rec.serve.ids import RawId
from graphcl_rec.serve.recommender import TrainedRecommender

log = logging.getLogger("graphcl_rec")

Pair = tuple[str, str]
"""A ``(user, item)`` feedback pair of raw ids, as the id maps store them."""


@dataclass(frozen=True)
class Accepted:
    """What ``LiveRecommender.add_feedback`` did with one batch of pairs."""

    accepted: int
    """Pairs appended to the pending log."""
    pending: int
    """Pairs in the pending log afterwards."""
    folded_in: list[str]
    """Users folded in (or again) now: the next read serves them."""
    waiting: list[str]
    """New users with no item the model knows: served after the next update."""


def raw_pairs(pairs: Iterable[Sequence[RawId]]) -> list[Pair]:
    """Checks ``(user, item)`` pairs and spells their raw ids as strings.

    An id is a non-empty string or an integer (``196`` and ``"196"`` name the same
    id, as everywhere in :mod:`graphcl_rec.serve`); a pair is a 2-item list or
    tuple.

    Raises:
        ValueError: Naming the first bad pair by its position.

    Examples:
        >>> raw_pairs([("u1", 7), [196, "x"]])
        [('u1', '7'), ('196', 'x')]
    """
    out = []
    for n, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"pair {n} must be [user, item] (got {pair!r})")
        ids = []
        for kind, raw in zip(("user", "item"), pair):
            if isinstance(raw, (bool, np.bool_)) or not isinstance(
                    raw, (str, int, np.integer)) or raw == "":
                raise ValueError(f"pair {n}: the {kind} id must be a non-empty "
                                 f"string or an integer (got {raw!r})")
            ids.append(str(int(raw)) if isinstance(raw, np.integer) else str(raw))
        out.append((ids[0], ids[1]))
    return out


def apply_feedback(rec: TrainedRecommender, pairs: Sequence[Pair]
                   ) -> tuple[list[str], list[str]]:
    """What a served model takes from feedback before any update, in place.

    - A user the model was not trained on is folded in from its items the model
      knows (again, from the union, if it was folded in before); one with no item
      the model was trained on waits for the update.
    - A trained user's known items are marked seen, so ``exclude_seen`` drops them.
    - Pairs naming an unknown item otherwise wait for the update.

    The popular-items fallback counts the new seen pairs from the next fold-in or
    update on.

    Args:
        rec: The recommender (changed in place).
        pairs: Raw-id pairs, as :func:`raw_pairs` spells them.

    Returns:
        ``(users folded in, new users left waiting)``, in first-seen order.
    """
    by_user: dict[str, list[str]] = {}
    for user, item in pairs:
        by_user.setdefault(user, []).append(item)
    fold: dict[RawId, Iterable[RawId]] = {}
    waiting: list[str] = []
    seen_user: list[int] = []
    seen_item: list[int] = []
    for user, items in by_user.items():
        known = [rec.items.index[i] for i in dict.fromkeys(items) if i in rec.items]
        index = rec.users.index.get(user)
        if index is not None and index < rec.num_trained_users:
            seen_user += [index] * len(known)
            seen_item += known
        elif index is None and not any(i < rec.num_trained_items for i in known):
            waiting.append(user)
        elif known:
            fold[user] = [rec.items.ids[i] for i in known]
    if seen_user:
        rec.seen.add(torch.tensor(seen_user), torch.tensor(seen_item))
    if fold:
        rec.fold_in_users(fold)
    if waiting:
        log.debug("feedback: %d new users wait for the update (no trained item)",
                  len(waiting))
    return [str(user) for user in fold], waiting
