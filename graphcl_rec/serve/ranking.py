r"""Exact top-K for ``EmbeddingRecommender.recommend`` (one user, or many).

Two paths, by how many users are asked for at once:

- **One user** (:func:`top_one`): the scores :math:`s = e_u^\top E^\top` come from
  one product with the items held transposed, ``[d, I]`` contiguous (read in the
  order a vector-times-matrix product wants: on CPU faster than the same product
  against the ``[I, d]`` table); the user's seen items are one slice of a CSR
  (:meth:`~graphcl_rec.serve.seen.SeenItems.items_of`), set to :math:`-\infty`
  in place; then one :func:`torch.topk`.
- **Many users** (:func:`top_many`): on CPU float32 with ``k <= 128``, the fused
  native kernel (:func:`graphcl_rec.native.topk.topk_dot`), which never writes
  the ``[B, I]`` score matrix, against the items cut into ``[I/64, d, 64]``
  slabs; otherwise the evaluator's blocked ranking
  (:func:`graphcl_rec.eval.blocks.topk_blocks`).

Each layout is a copy of the item table (``I d`` values) made on first use and
rebuilt only when the table changes (:class:`Derived`): serving single users holds
one extra copy, serving batches another.

Both return item indices with ``-1`` (and score :math:`-\infty`) where fewer than
``k`` items were rankable.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from graphcl_rec.eval.blocks import auto_ranker, item_slabs, topk_blocks
from graphcl_rec.eval.topk import GROUP
from graphcl_rec.native.topk import topk_dot

NEG_INF = float("-inf")


class Derived:
    """A copy of a table in another layout, rebuilt when the table changes.

    The copy is made on first use and kept while the table is the same tensor at
    the same version (:attr:`torch.Tensor._version` counts in-place writes), so a
    table replaced or written in place is never served stale. (A tensor made under
    :func:`torch.inference_mode` has no version counter: its copy follows only its
    replacement.)

    Args:
        build: ``table -> copy``.

    Examples:
        >>> items_t = Derived(transposed)
        >>> table = torch.arange(6.0).view(3, 2)
        >>> items_t.get(table).shape
        torch.Size([2, 3])
        >>> table[0, 0] = 7.0
        >>> items_t.get(table)[0, 0].item()
        7.0
    """

    def __init__(self, build: Callable[[Tensor], Tensor]) -> None:
        self.build = build
        self._source: Tensor | None = None
        self._version = -1
        self._copy: Tensor | None = None

    def get(self, table: Tensor) -> Tensor:
        """The copy of ``table``'s current values."""
        version = _version(table)
        if (self._copy is None or self._source is not table
                or self._version != version):
            self._copy = self.build(table.detach())
            self._source, self._version = table, version
        return self._copy


def _version(table: Tensor) -> int:
    """``table``'s in-place write count (``-1`` for an inference tensor)."""
    if table.is_inference():
        return -1
    return table._version


def transposed(table: Tensor) -> Tensor:
    """``[d, I]`` contiguous copy of ``table [I, d]``."""
    return table.t().contiguous()


def slabs(table: Tensor) -> Tensor:
    """``[G, d, 64]`` slabs of ``table [I, d]`` (zero-padded) for the native kernel."""
    width = -(-table.size(0) // GROUP) * GROUP
    if width > table.size(0):
        table = torch.cat([table, table.new_zeros(width - table.size(0),
                                                  table.size(1))])
    return item_slabs(table)


def top_one(user_row: Tensor, items_t: Tensor, seen: Tensor | None, k: int
            ) -> tuple[Tensor, Tensor]:
    """Top-``k`` of one user.

    Shapes:
        - user_row: ``[d]``; items_t: ``[d, I]``; seen: ``[S]`` item indices.
        - returns: ``(indices [k] int64, scores [k])``, best first.

    Examples:
        >>> items_t = torch.tensor([[3.0, 1.0, 2.0]])
        >>> top_one(torch.ones(1), items_t, torch.tensor([0]), 3)[0].tolist()
        [2, 1, -1]
    """
    scores = user_row @ items_t
    if seen is not None and seen.numel():
        scores.index_fill_(0, seen, NEG_INF)
    values, indices = torch.topk(scores, k)
    return indices.masked_fill_(values == NEG_INF, -1), values


def top_many(user_emb: Tensor, item_emb: Tensor, users: Tensor,
             seen: tuple[Tensor, Tensor] | None, k: int, block: int,
             item_slabs_: Derived | None = None) -> tuple[Tensor, Tensor]:
    """Top-``k`` of many users (any order, repeats allowed).

    Float32 CPU embeddings with ``k <= 128`` go to the fused native kernel
    (:func:`graphcl_rec.native.topk.topk_dot`) against the item slabs kept in
    ``item_slabs_``; anything else to :func:`graphcl_rec.eval.blocks.topk_blocks`.

    Shapes:
        - user_emb: ``[U, d]``; item_emb: ``[I, d]``; users: ``[n]`` indices.
        - seen: ``(row [S], item [S])``: item ``item[j]`` is excluded for
          ``users[row[j]]`` (as :meth:`~graphcl_rec.serve.seen.SeenItems.gather`
          returns them), or ``None``.
        - returns: ``(indices [n, k] int64, scores [n, k])``, best first.

    Args:
        user_emb: User embeddings.
        item_emb: Item embeddings.
        users: The users to rank for.
        seen: Their excluded items.
        k: List length (at most ``I``).
        block: Users per block.
        item_slabs_: The cache of ``item_emb``'s slabs (:func:`slabs`); ``None``
            builds them for this call.

    Examples:
        >>> items = torch.tensor([[3.0], [1.0], [2.0]])
        >>> idx, _ = top_many(torch.ones(2, 1), items, torch.tensor([0, 1]),
        ...                   (torch.tensor([0]), torch.tensor([0])), 2, 8)
        >>> idx.tolist()
        [[2, 1], [0, 2]]
    """
    n, num_items = users.numel(), item_emb.size(0)
    if seen is None or seen[0].numel() == 0:
        keys = users.new_zeros(0)
    else:
        keys = torch.unique(seen[0] * num_items + seen[1])
    if auto_ranker(user_emb, item_emb, k) != "native":
        return _top_blocks(user_emb, item_emb, users, keys, k, block)
    table = (item_slabs_ or Derived(slabs)).get(item_emb)
    ex_row, ex_item = keys // num_items, keys % num_items
    ptr = torch.searchsorted(ex_row, torch.arange(n + 1))
    values = torch.empty(n, k)
    indices = torch.empty(n, k, dtype=torch.long)
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        values[lo:hi], indices[lo:hi] = topk_dot(
            user_emb[users[lo:hi]], table, num_items, k, ptr[lo:hi + 1] - ptr[lo],
            ex_item[ptr[lo]:ptr[hi]])
    return indices.masked_fill_(values == NEG_INF, -1), values


def _top_blocks(user_emb: Tensor, item_emb: Tensor, users: Tensor, keys: Tensor,
                k: int, block: int) -> tuple[Tensor, Tensor]:
    """:func:`top_many` by the evaluator's torch rankers (``keys``: ``row * I + i``)."""
    n = users.numel()
    rows = torch.arange(n, device=users.device)
    table = user_emb[users]
    values = torch.empty(n, k, dtype=user_emb.dtype, device=users.device)
    indices = torch.empty(n, k, dtype=torch.long, device=users.device)
    for start, vals, idx in topk_blocks(table, item_emb, rows, keys, k, block):
        values[start:start + vals.size(0)] = vals
        indices[start:start + vals.size(0)] = idx
    return indices.masked_fill_(values == NEG_INF, -1), values
