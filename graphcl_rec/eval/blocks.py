r"""Blocked full-catalogue top-K of dot-product scores, with items excluded by index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, get_args

import torch
from torch import Tensor

from graphcl_rec.eval.inputs import Exclude, block_size, check_embeddings, exclude_keys
from graphcl_rec.eval.topk import GROUP, group_major_topk, grouped_topk, padded_width
from graphcl_rec.native import status as native_status
from graphcl_rec.native.topk import topk_dot

__all__ = [
    "NATIVE_MAX_K",
    "NATIVE_ROWS",
    "RANKERS",
    "Exclude",
    "Ranker",
    "auto_ranker",
    "block_size",
    "check_embeddings",
    "exclude_keys",
    "group_major_scores",
    "item_slabs",
    "topk_blocks",
]

Ranker = Literal["auto", "native", "group-major", "row-major"]
"""How :func:`topk_blocks` ranks a block of users."""

RANKERS: tuple[str, ...] = get_args(Ranker)

NATIVE_MAX_K = 128
"""Largest ``k`` that ``ranker="auto"`` gives the native kernel, whose sorted-list
insertions grow as ``k^2 log(I / k)`` per user while the products stay the same;
chosen by measurement against ``"group-major"`` (``benchmarks/PERF.md``)."""


def topk_blocks(
    user_emb: Tensor,
    item_emb: Tensor,
    users: Tensor,
    exclude: Tensor,
    k: int,
    block: int,
    ranker: Ranker = "auto",
) -> Iterator[tuple[int, Tensor, Tensor]]:
    r"""Top-``k`` items of :math:`s_{ui} = e_u^\top e_i` for blocks of users.

    Rankers:

    - ``"native"``: the fused kernel of :mod:`graphcl_rec.native.topk` ranks the
      block without writing its scores (float32 on CPU), so no score buffer is
      written or read back (``benchmarks/PERF.md``).
    - ``"group-major"``: the block is written ``[G, b, 64]`` by one batched product
      against the items cut into ``[G, d, 64]`` slabs (on CPU a faster product
      than the row-major one, ``benchmarks/PERF.md``) and ranked by
      :func:`~graphcl_rec.eval.topk.group_major_topk`.
    - ``"row-major"``: one ``[b, W]`` product into a buffer allocated once, ranked
      by :func:`~graphcl_rec.eval.topk.grouped_topk`.
    - ``"auto"`` (default): ``"native"`` for float32 CPU embeddings and ``k <= 128``
      where :func:`graphcl_rec.native.status` allows it, else
      ``"group-major"`` on CPU and ``"row-major"`` elsewhere.

    Excluded pairs are set to :math:`-\infty` by index (skipped, natively); a
    catalogue too narrow for grouped selection (``W < 4 * 64 * k``) is ranked by
    plain :func:`torch.topk` in either torch layout. Wide catalogues are padded
    with zero item rows whose scores count as :math:`-\infty`.

    Args:
        user_emb: ``[U, d]`` user embeddings.
        item_emb: ``[I, d]`` item embeddings.
        users: ``[N]`` sorted distinct user indices to rank for.
        exclude: ``[X]`` sorted keys ``user * I + item`` of pairs never to rank.
        k: List length (at most ``I``).
        block: Users per block.
        ranker: ``"auto"``, ``"native"``, ``"group-major"`` or ``"row-major"``.

    Yields:
        ``(start, values [b, k], indices [b, k])`` for ``users[start:start + b]``;
        a value of :math:`-\infty` marks a position with nothing rankable left.

    Raises:
        ValueError: On an unknown ranker, or ``"native"`` for other than float32
            CPU embeddings.
        graphcl_rec.native.NativeUnavailable: For ``"native"`` where the
            kernel cannot be built.
    """
    if ranker not in RANKERS:
        raise ValueError(f"'ranker' must be one of {RANKERS} (got {ranker!r})")
    num_users, num_items = user_emb.size(0), item_emb.size(0)
    n, device = users.numel(), user_emb.device
    row_of = torch.full((num_users,), -1, dtype=torch.long, device=device)
    row_of[users] = torch.arange(n, device=device)
    ex_row = row_of[exclude // num_items]
    keep = ex_row >= 0
    ex_row, ex_item = ex_row[keep], (exclude % num_items)[keep]  # sorted by row
    if ranker == "auto":
        ranker = auto_ranker(user_emb, item_emb, k)
    if ranker == "native":
        yield from _native(user_emb, item_emb, users, ex_row, ex_item, k, block)
        return
    starts = torch.arange(0, n, block, device=device)
    bounds = torch.searchsorted(ex_row, starts).tolist() + [ex_row.numel()]
    width = padded_width(num_items, k)
    if width > num_items:
        pad = item_emb.new_zeros(width - num_items, item_emb.size(1))
        item_emb = torch.cat([item_emb, pad])
    if ranker == "group-major" and width >= 4 * GROUP * k:
        blocks = _group_major(user_emb, item_emb, users, ex_row, ex_item, bounds,
                              num_items, k, block)
    else:
        blocks = _row_major(user_emb, item_emb, users, ex_row, ex_item, bounds,
                            num_items, k, block)
    for s, values, indices in blocks:
        yield s, values, indices.clamp_(max=num_items - 1)


NATIVE_ROWS = 65536
"""Users ranked per native call at most (their ``[rows, k]`` lists stay small)."""


def auto_ranker(user_emb: Tensor, item_emb: Tensor, k: int) -> Ranker:
    """The ranker ``"auto"`` stands for (see :func:`topk_blocks`)."""
    if not (user_emb.is_cpu and item_emb.is_cpu):
        return "row-major"
    if (user_emb.dtype == item_emb.dtype == torch.float32 and 1 <= k <= NATIVE_MAX_K
            and native_status()[0]):
        return "native"
    return "group-major"


def _native(user_emb: Tensor, item_emb: Tensor, users: Tensor, ex_row: Tensor,
            ex_item: Tensor, k: int, block: int
            ) -> Iterator[tuple[int, Tensor, Tensor]]:
    """Blocks ranked by :func:`graphcl_rec.native.topk.topk_dot` (no score buffer)."""
    if not (user_emb.dtype == item_emb.dtype == torch.float32 and user_emb.is_cpu
            and item_emb.is_cpu):
        raise ValueError(
            f"ranker 'native' takes float32 CPU embeddings (got 'user_emb' of "
            f"{user_emb.dtype} on {user_emb.device} and 'item_emb' of "
            f"{item_emb.dtype} on {item_emb.device})")
    n, num_items = users.numel(), item_emb.size(0)
    width = -(-num_items // GROUP) * GROUP
    if width > num_items:
        item_emb = torch.cat([item_emb, item_emb.new_zeros(width - num_items,
                                                           item_emb.size(1))])
    slabs = item_slabs(item_emb)
    ptr = torch.searchsorted(ex_row, torch.arange(n + 1))
    # Lists are small ([n, k]): rank many blocks per call, so that the threads
    # synchronise rarely, and hand them out a block at a time.
    step = max(block, (NATIVE_ROWS // block) * block)
    for c in range(0, n, step):
        m = min(step, n - c)
        values, indices = topk_dot(user_emb[users[c : c + m]], slabs,
                                          num_items, k, ptr[c : c + m + 1], ex_item)
        for s in range(0, m, block):
            yield c + s, values[s : s + block], indices[s : s + block]


def _row_major(user_emb: Tensor, item_emb: Tensor, users: Tensor, ex_row: Tensor,
               ex_item: Tensor, bounds: list[int], num_items: int, k: int,
               block: int) -> Iterator[tuple[int, Tensor, Tensor]]:
    """Blocks ``[b, W]``: one product each, then :func:`grouped_topk`."""
    n, width = users.numel(), item_emb.size(0)
    scores = torch.empty(min(block, n), width, dtype=user_emb.dtype,
                         device=user_emb.device)
    item_t = item_emb.t()
    for j, s in enumerate(range(0, n, block)):
        buf = scores[: min(block, n - s)]
        torch.matmul(user_emb[users[s : s + block]], item_t, out=buf)
        buf[:, num_items:] = float("-inf")
        lo, hi = bounds[j], bounds[j + 1]
        buf[ex_row[lo:hi] - s, ex_item[lo:hi]] = float("-inf")
        yield s, *grouped_topk(buf, k, num_items)


def _group_major(user_emb: Tensor, item_emb: Tensor, users: Tensor, ex_row: Tensor,
                 ex_item: Tensor, bounds: list[int], num_items: int, k: int,
                 block: int) -> Iterator[tuple[int, Tensor, Tensor]]:
    """Blocks ``[G, b, s]``: one batched product each, then :func:`group_major_topk`."""
    n = users.numel()
    slabs = item_slabs(item_emb)
    groups = slabs.size(0)
    storage = torch.empty(item_emb.size(0) * min(block, n), dtype=user_emb.dtype,
                          device=user_emb.device)
    tail = num_items - (groups - 1) * GROUP  # real columns of the last group
    ex_group, ex_col = ex_item.div(GROUP, rounding_mode="floor"), ex_item % GROUP
    for j, s in enumerate(range(0, n, block)):
        b = min(block, n - s)
        buf = group_major_scores(user_emb[users[s : s + b]], slabs, storage)
        buf[groups - 1, :, tail:] = float("-inf")
        lo, hi = bounds[j], bounds[j + 1]
        flat = (ex_group[lo:hi] * b + (ex_row[lo:hi] - s)) * GROUP + ex_col[lo:hi]
        buf.view(-1).index_fill_(0, flat, float("-inf"))
        yield s, *group_major_topk(buf, k)


def item_slabs(item_emb: Tensor) -> Tensor:
    """The ``[G, d, s]`` slabs (``s`` = 64 items each) of a ``[G s, d]`` item table."""
    groups, dim = item_emb.size(0) // GROUP, item_emb.size(1)
    return item_emb.view(groups, GROUP, dim).transpose(1, 2).contiguous()


def group_major_scores(rows: Tensor, slabs: Tensor, storage: Tensor) -> Tensor:
    """Scores ``[G, b, s]`` of ``[b, d]`` user rows against :func:`item_slabs`.

    One batched product (the rows broadcast, not copied) into the front of the flat
    buffer ``storage``, which needs at least ``G b s`` elements.
    """
    groups, _, group = slabs.shape
    out = storage[: groups * rows.size(0) * group].view(groups, rows.size(0), group)
    return torch.matmul(rows.expand(groups, *rows.shape), slabs, out=out)
