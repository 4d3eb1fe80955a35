r"""Full-catalogue top-K of dot-product scores by the fused kernel ``topk_dot.c``.

The kernel computes :math:`s_{ui} = e_u^\top e_i` tile by tile in registers and
keeps each user's top-``K`` on the fly, so a full ranking writes no score matrix at
all: its cost is the products' (``benchmarks/PERF.md`` has the figures).
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.native.build import FLAGS, load, parallel

CHUNK = 384
"""Rows per kernel call (a multiple of the kernel's 96-user cache blocks)."""

SLAB = 64
"""Items per slab (``S`` in ``topk_dot.c``: one bit each of a 64-bit mask)."""


def topk_dot(rows: Tensor, slabs: Tensor, num_items: int, k: int, ex_ptr: Tensor,
             ex_items: Tensor, threads: int | None = None,
             flags: tuple[str, ...] = FLAGS) -> tuple[Tensor, Tensor]:
    r"""Top-``k`` items of each row by :math:`s_{ui} = e_u^\top e_i`, fused.

    Every argument the kernel reads is checked first: views and other strides are
    copied, slabs past the last real item (only padding) are left out, and
    anything else the kernel would misread raises.

    Shapes:
        - rows: ``[n, d]`` float32 user rows (CPU).
        - slabs: ``[G, d, 64]`` float32 items
          (:func:`~graphcl_rec.eval.blocks.item_slabs`; ``64 G >= num_items``).
        - ex_ptr: ``[n + 1]`` integer offsets: row ``r``'s excluded items are
          ``ex_items[ex_ptr[r]:ex_ptr[r + 1]]``, ascending.
        - returns: float32 ``values [n, k]`` (largest first) and int64
          ``indices [n, k]``.

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

    Raises:
        ValueError: Naming the argument (dtype, device, shape, ``k``, or the
            exclusions) the kernel cannot take.
        graphcl_rec.native.NativeUnavailable: Where the kernel cannot be built.
    """
    _check_operands(rows, slabs, num_items, k)
    n, dim = rows.shape
    slabs = slabs[: -(-num_items // SLAB)]  # the kernel's masks need base < num_items
    groups = slabs.size(0)
    rows, slabs = rows.contiguous(), slabs.contiguous()
    ex_ptr, ex_items = _check_exclusions(ex_ptr, ex_items, n, num_items)
    lib = load(flags)
    values = torch.empty(n, k, dtype=torch.float32)
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


def _check_operands(rows: Tensor, slabs: Tensor, num_items: int, k: int) -> None:
    """Refuses rows, slabs, ``num_items`` and ``k`` the kernel cannot take."""
    for name, x in (("rows", rows), ("slabs", slabs)):
        if x.dtype != torch.float32:
            raise ValueError(f"the native kernel takes float32 tensors (got "
                             f"'{name}' of {x.dtype})")
        if not x.is_cpu:
            raise ValueError(f"the native kernel takes CPU tensors (got '{name}' "
                             f"on {x.device})")
    if rows.dim() != 2:
        raise ValueError(f"'rows' must be [n, d] (got {tuple(rows.shape)})")
    if (slabs.dim() != 3 or slabs.shape[1:] != (rows.size(1), SLAB)
            or isinstance(num_items, bool) or not isinstance(num_items, int)
            or not 0 < num_items <= SLAB * slabs.size(0)):
        raise ValueError(f"'slabs' {tuple(slabs.shape)} do not fit rows of "
                         f"{rows.size(1)} values and {num_items!r} items")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= num_items:
        raise ValueError(f"'k' must be an int in [1, {num_items}] (got {k!r})")


def _check_exclusions(ex_ptr: Tensor, ex_items: Tensor, n: int, num_items: int
                      ) -> tuple[Tensor, Tensor]:
    """Refuses offsets and items the kernel would read out of bounds with.

    Returns:
        Contiguous int64 ``(ex_ptr, ex_items)``.
    """
    for name, x in (("ex_ptr", ex_ptr), ("ex_items", ex_items)):
        if x.dtype == torch.bool or x.is_floating_point() or x.is_complex():
            raise ValueError(f"'{name}' must hold integers (got {x.dtype})")
        if not x.is_cpu:
            raise ValueError(f"'{name}' must be on the CPU (got {x.device})")
    if ex_ptr.shape != (n + 1,):
        raise ValueError(f"'ex_ptr' must have shape [{n + 1}] (got "
                         f"{list(ex_ptr.shape)})")
    if ex_items.dim() != 1:
        raise ValueError(f"'ex_items' must be 1-D (got {list(ex_items.shape)})")
    ex_ptr = ex_ptr.to(torch.int64).contiguous()
    ex_items = ex_items.to(torch.int64).contiguous()
    if int(ex_ptr[0]) < 0 or int(ex_ptr[-1]) > ex_items.numel() or bool(
            (ex_ptr[1:] < ex_ptr[:-1]).any()):
        raise ValueError(f"'ex_ptr' must rise from >= 0 to <= {ex_items.numel()} "
                         f"(the number of excluded items)")
    used = ex_items[int(ex_ptr[0]) : int(ex_ptr[-1])]
    if used.numel() and not (0 <= int(used.min()) and int(used.max()) < num_items):
        raise ValueError(f"excluded items must lie in [0, {num_items}) (got "
                         f"{int(used.min())}..{int(used.max())})")
    falls = torch.nonzero(used[1:] < used[:-1]).flatten() + 1 + int(ex_ptr[0])
    if falls.numel() and not bool(torch.isin(falls, ex_ptr).all()):
        row = int(torch.searchsorted(ex_ptr, falls[~torch.isin(falls, ex_ptr)][:1],
                                     right=True)[0]) - 1
        raise ValueError(f"'ex_items' must ascend within each row (row {row} does "
                         f"not)")
    return ex_ptr, ex_items
