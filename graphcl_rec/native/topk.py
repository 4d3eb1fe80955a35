r"""Full-catalogue top-K of dot-product scores by the fused kernel ``topk_dot.c``.

The kernel computes :math:`s_{ui} = e_u^\top e_i` tile by tile in registers and
keeps each user's top-``K`` on the fly, so a full ranking writes no score matrix at
all (on the development CPU it runs at about the sgemm rate, ``benchmarks/PERF.md``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.native.build import FLAGS, load, parallel

CHUNK = 384
"""Rows per kernel call (a multiple of the kernel's 96-user cache blocks)."""


def topk_dot(rows: Tensor, slabs: Tensor, num_items: int, k: int, ex_ptr: Tensor,
             ex_items: Tensor, threads: int | None = None,
             flags: tuple[str, ...] = FLAGS) -> tuple[Tensor, Tensor]:
    r"""Top-``k`` items of each row by :math:`s_{ui} = e_u^\top e_i`, fused.

    Shapes:
        - rows: ``[n, d]`` float32 user rows (CPU).
        - slabs: ``[G, d, 64]`` float32 items
          (:func:`~graphcl_rec.eval.blocks.item_slabs`; ``64 G >= num_items``).
        - ex_ptr: ``[n + 1]`` int64 offsets: row ``r``'s excluded items are
          ``ex_items[ex_ptr[r]:ex_ptr[r + 1]]``, ascending.
        - returns: ``values [n, k]`` (largest first) and int64 ``indices [n, k]``.

    Args:
        rows: User rows.
        slabs: Item slabs.
        num_items: Real items (later slab columns are padding and never ranked).
        k: List length, ``1 <= k <= num_items``.
        ex_ptr: Exclusion offsets.
        ex_items: Excluded item indices.
        threads: Worker threads (default :func:`torch.get_num_threads`); they take
            chunks of :data:`CHUNK` rows from a shared queue, so a thread slowed
            by other work on the machine holds the others up by one chunk at
            most. The kernel releases the GIL.
        flags: The build to use (see :func:`load`).

    Returns:
        ``(values, indices)``. A value of :math:`-\infty` (index 0) marks a position
        with nothing rankable left; ties keep the lower item index first.
    """
    lib = load(flags)
    n, dim = rows.shape
    groups = slabs.size(0)
    if not (rows.dtype == slabs.dtype == torch.float32 and rows.is_cpu
            and slabs.is_cpu):
        raise ValueError("the native kernel takes float32 CPU tensors")
    if slabs.shape[1:] != (dim, 64) or not 0 < num_items <= 64 * groups:
        raise ValueError(f"'slabs' {tuple(slabs.shape)} do not fit rows of {dim} "
                         f"values and {num_items} items")
    if not 1 <= k <= num_items:
        raise ValueError(f"'k' must be in [1, {num_items}] (got {k})")
    rows, slabs = rows.contiguous(), slabs.contiguous()
    ex_ptr = ex_ptr.to(torch.int64).contiguous()
    ex_items = ex_items.to(torch.int64).contiguous()
    _check_exclusions(ex_ptr, ex_items, n, num_items)
    values = torch.empty(n, k)
    indices = torch.empty(n, k, dtype=torch.int64)
    starts = range(0, n, CHUNK)
    threads = max(1, min(threads or torch.get_num_threads(), len(starts)))

    def chunk(lo: int) -> None:
        hi = min(lo + CHUNK, n)
        lib.topk_dot(rows[lo].data_ptr(), hi - lo, slabs.data_ptr(), groups,
                     num_items, dim, k, ex_ptr[lo].data_ptr(), ex_items.data_ptr(),
                     values[lo].data_ptr(), indices[lo].data_ptr())

    parallel(chunk, starts, threads)
    return values, indices


def _check_exclusions(ex_ptr: Tensor, ex_items: Tensor, n: int, num_items: int
                      ) -> None:
    """Refuses offsets and items the kernel would read out of bounds with."""
    if ex_ptr.shape != (n + 1,):
        raise ValueError(f"'ex_ptr' must have shape [{n + 1}] (got "
                         f"{list(ex_ptr.shape)})")
    if int(ex_ptr[0]) < 0 or int(ex_ptr[-1]) > ex_items.numel() or bool(
            (ex_ptr[1:] < ex_ptr[:-1]).any()):
        raise ValueError(f"'ex_ptr' must rise from >= 0 to <= {ex_items.numel()} "
                         f"(the number of excluded items)")
    if ex_items.numel() and not (0 <= int(ex_items.min())
                                 and int(ex_items.max()) < num_items):
        raise ValueError(f"excluded items must lie in [0, {num_items}) (got "
                         f"{int(ex_items.min())}..{int(ex_items.max())})")
