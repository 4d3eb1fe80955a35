r"""Recommendations by raw id from user and item embeddings (implicit's interface)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.serve import ranking
from graphcl_rec.serve.ids import IdMap, RawId, as_list
from graphcl_rec.serve.seen import SeenItems

log = logging.getLogger("graphcl_rec")

UNKNOWN = ("error", "popular")
Result = tuple[np.ndarray, np.ndarray]
"""``(ids, scores)``: raw ids (object array) or int64 indices, and float32 scores."""


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"'k' must be a positive int (got {k!r})")


class EmbeddingRecommender:
    r"""Top-K recommendations and similar items/users from fixed embeddings.

    Scores are dot products :math:`s_{ui} = e_u^\top e_i`; similarities are cosines.
    Users and items are named by raw id; the interactions given (and any added
    later) are the *seen* items that ``exclude_seen`` removes. This is what
    :func:`~graphcl_rec.serve.export.load_exported` returns; a trained model adds
    fold-in and updates (:class:`~graphcl_rec.serve.recommender.TrainedRecommender`).

    Args:
        user_emb: ``[U, d]`` user embeddings.
        item_emb: ``[I, d]`` item embeddings (same dtype and device).
        seen: ``U x I`` interactions: the seen items, and the raw ids
            (``user_ids``/``item_ids``; the indices as strings where absent).
        description: What produced the embeddings (a model's repr), if known.

    Examples:
        >>> seen = Interactions(torch.tensor([0]), torch.tensor([0]), 1, 3,
        ...                     user_ids=("u",), item_ids=("a", "b", "c"))
        >>> rec = EmbeddingRecommender(torch.ones(1, 2),
        ...                            torch.tensor([[3.0, 0], [1, 0], [2, 0]]), seen)
        >>> ids, scores = rec.recommend("u", k=2)
        >>> ids.tolist(), scores.tolist()
        (['c', 'b'], [2.0, 1.0])
    """

    ann_index: Any = None
    """An approximate top-K index (faiss) over the items, where one was loaded."""

    def __init__(self, user_emb: Tensor, item_emb: Tensor, seen: Interactions,
                 description: str | None = None) -> None:
        if user_emb.dim() != 2 or item_emb.dim() != 2 or (
                user_emb.size(1) != item_emb.size(1)):
            raise ValueError(f"'user_emb' and 'item_emb' must be [U, d] and [I, d] "
                             f"(got {tuple(user_emb.shape)} and "
                             f"{tuple(item_emb.shape)})")
        if (user_emb.size(0), item_emb.size(0)) != seen.shape:
            raise ValueError(f"embeddings of {user_emb.size(0)} users and "
                             f"{item_emb.size(0)} items do not match 'seen' "
                             f"{seen!r}")
        self.user_emb, self.item_emb = user_emb, item_emb
        self.users = IdMap("user", seen.user_ids or map(str, range(seen.num_users)))
        self.items = IdMap("item", seen.item_ids or map(str, range(seen.num_items)))
        self.seen = SeenItems(seen.to(user_emb.device))
        self._description = description
        self._clear_caches()

    @property
    def num_users(self) -> int:
        """Users known (trained and folded in)."""
        return self.user_emb.size(0)

    @property
    def num_items(self) -> int:
        """Items known (trained and folded in)."""
        return self.item_emb.size(0)

    @property
    def description(self) -> str | None:
        """What produced the embeddings (a model's repr), if known."""
        return self._description

    def _clear_caches(self) -> None:
        self._normed: dict[str, Tensor] = {}
        self._popularity: Tensor | None = None
        self._items_t = ranking.Derived(ranking.transposed)
        self._item_slabs = ranking.Derived(ranking.slabs)

    def popularity(self) -> Tensor:
        """``[I]`` int64 number of users who have seen each item."""
        if self._popularity is None:
            self._popularity = self.seen.item_degree(self.num_items)
        return self._popularity

    def recommend(self, users: RawId | Sequence[RawId], k: int = 20, *,
                  exclude_seen: bool = True,
                  items: RawId | Sequence[RawId] | None = None,
                  unknown: str = "error", return_indices: bool = False,
                  batch_size: int = 1024) -> Result:
        r"""The top-``k`` items of each user.

        One known user without an allow-list (alone or in a one-element list)
        takes a path of its own: one product against the transposed item table,
        its seen items by one CSR slice, :func:`torch.topk`. Several users are
        ranked in blocks of ``batch_size`` by the fused native kernel (CPU
        float32) or the evaluator's ranking (:mod:`graphcl_rec.serve.ranking`).
        With an allow-list: one ``[B, C]`` product per block, seen items set to
        :math:`-\infty` by index, :func:`torch.topk`. A list shorter than ``k``
        (the allow-list, or the unseen items, ran out) is padded with id ``None``
        (index ``-1``) and score ``-inf``. Equal scores may come in either order.

        Args:
            users: One raw user id, or a sequence of them.
            k: List length (clipped to the number of candidate items).
            exclude_seen: Never return an item the user has seen.
            items: Allow-list of candidate raw item ids (``None``: every item).
            unknown: For an unknown user: ``"error"`` raises
                :class:`~graphcl_rec.serve.ids.UnknownIdError`; ``"popular"``
                returns the most popular candidates, scored by their number of
                users.
            return_indices: Return int64 item indices instead of raw ids.
            batch_size: Users per block.

        Returns:
            ``(ids, scores)``: ``[k]`` arrays for one user, ``[n, k]`` for ``n``;
            ids are raw ids (object array) or indices, scores float32, best first.

        Raises:
            UnknownIdError: For an unknown raw id in ``items``, or in ``users``
                with ``unknown="error"``.
            ValueError: For a bad ``k``, ``unknown`` or ``batch_size``.
        """
        _check_k(k)
        if unknown not in UNKNOWN:
            raise ValueError(f"'unknown' must be one of {list(UNKNOWN)} "
                             f"(got {unknown!r})")
        if batch_size < 1:
            raise ValueError(f"'batch_size' must be positive (got {batch_size})")
        raws, single = as_list(users)
        if len(raws) == 1 and items is None:
            one = self.users.index.get(str(raws[0]))
            if one is not None:
                kk = min(int(k), self.num_items)
                seen = self.seen.items_of(one) if exclude_seen else None
                top, vals = ranking.top_one(self.user_emb[one],
                                            self._items_t.get(self.item_emb), seen,
                                            kk)
                return self._result(top[None], vals[None].float(), single,
                                    return_indices, self.items)
        idx = self.users.lookup(raws, missing=-1 if unknown == "popular" else None)
        device = self.user_emb.device
        idx = idx.to(device)
        cand = None if items is None else torch.unique(
            self.items.lookup(as_list(items)[0])).to(device)
        table = self.item_emb if cand is None else self.item_emb[cand]
        kk = min(int(k), table.size(0))
        out_idx = torch.full((len(raws), kk), -1, dtype=torch.long, device=device)
        out_val = torch.full((len(raws), kk), float("-inf"), device=device)
        known = torch.nonzero(idx >= 0).flatten()
        if known.numel() < len(raws):
            log.debug("recommend: %d unknown users get the popular items",
                      len(raws) - known.numel())
            top_i, top_v = self._popular(cand, kk)
            out_idx[idx < 0], out_val[idx < 0] = top_i, top_v
        pos_of = None
        if cand is not None and exclude_seen:
            pos_of = torch.full((self.num_items,), -1, dtype=torch.long, device=device)
            pos_of[cand] = torch.arange(cand.numel(), device=device)
        if cand is None and known.numel():
            u = idx[known]
            top, vals = ranking.top_many(
                self.user_emb, self.item_emb, u,
                self.seen.gather(u) if exclude_seen else None, kk, batch_size,
                self._item_slabs)
            out_idx[known], out_val[known] = top, vals.float()
            return self._result(out_idx, out_val, single, return_indices, self.items)
        for start in range(0, known.numel(), batch_size):
            rows = known[start:start + batch_size]
            u = idx[rows]
            scores = self.user_emb[u] @ table.T
            if exclude_seen:
                r, it = self.seen.gather(u)
                if pos_of is not None:
                    it = pos_of[it]
                    r, it = r[it >= 0], it[it >= 0]
                scores[r, it] = float("-inf")
            vals, top = torch.topk(scores, kk, dim=1)
            top = top if cand is None else cand[top]
            out_idx[rows] = top.masked_fill(vals == float("-inf"), -1)
            out_val[rows] = vals.float()
        return self._result(out_idx, out_val, single, return_indices, self.items)

    def _popular(self, cand: Tensor | None, k: int) -> tuple[Tensor, Tensor]:
        """Top-``k`` candidates by popularity (ties: lower index first)."""
        pop = self.popularity()
        if cand is not None:
            pop = pop[cand]
        order = torch.sort(pop, descending=True, stable=True).indices[:k]
        top = order if cand is None else cand[order]
        return top, pop[order].float()

    def similar_items(self, items: RawId | Sequence[RawId], k: int = 10, *,
                      return_indices: bool = False) -> Result:
        """The ``k`` items of highest embedding cosine to each query item.

        The query item itself is never returned.

        Args:
            items: One raw item id, or a sequence of them.
            k: List length (clipped to ``I - 1``).
            return_indices: Return int64 indices instead of raw ids.

        Returns:
            ``(ids, scores)`` as :meth:`recommend` (scores are cosines).

        Raises:
            UnknownIdError: For an unknown raw id.
        """
        return self._similar("item", items, k, return_indices)

    def similar_users(self, users: RawId | Sequence[RawId], k: int = 10, *,
                      return_indices: bool = False) -> Result:
        """The ``k`` users of highest embedding cosine to each query user.

        Args:
            users: One raw user id, or a sequence of them.
            k: List length (clipped to ``U - 1``).
            return_indices: Return int64 indices instead of raw ids.

        Returns:
            ``(ids, scores)`` as :meth:`recommend` (scores are cosines).

        Raises:
            UnknownIdError: For an unknown raw id.
        """
        return self._similar("user", users, k, return_indices)

    def _similar(self, kind: str, query: RawId | Sequence[RawId], k: int,
                 return_indices: bool, batch_size: int = 1024) -> Result:
        _check_k(k)
        ids = self.users if kind == "user" else self.items
        raws, single = as_list(query)
        idx = ids.lookup(raws).to(self.user_emb.device)
        if kind not in self._normed:
            emb = self.user_emb if kind == "user" else self.item_emb
            self._normed[kind] = F.normalize(emb.float(), dim=1)
        table = self._normed[kind]
        kk = min(int(k), table.size(0) - 1)
        parts_i, parts_v = [], []
        for start in range(0, idx.numel(), batch_size):
            q = idx[start:start + batch_size]
            scores = table[q] @ table.T
            scores[torch.arange(q.numel(), device=q.device), q] = float("-inf")
            vals, top = torch.topk(scores, kk, dim=1)
            parts_i.append(top)
            parts_v.append(vals)
        out_i = torch.cat(parts_i) if parts_i else idx.new_zeros(0, kk)
        out_v = torch.cat(parts_v) if parts_v else table.new_zeros(0, kk)
        return self._result(out_i, out_v, single, return_indices, ids)

    @staticmethod
    def _result(indices: Tensor, values: Tensor, single: bool, return_indices: bool,
                ids: IdMap) -> Result:
        idx = indices.cpu().numpy()
        vals = values.cpu().numpy().astype(np.float32, copy=False)
        if single:
            idx, vals = idx[0], vals[0]
        return (idx if return_indices else ids.raw(idx)), vals

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_users={self.num_users}, "
                f"num_items={self.num_items}, dim={self.user_emb.size(1)})")
