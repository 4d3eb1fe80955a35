r"""The softmax terms of an all-candidate InfoNCE by the fused kernel ``info_nce.c``.

For anchors :math:`a_b` (already divided by the temperature), candidates
:math:`c_j` and weights :math:`w_b`, with :math:`p_{bj} = e^{a_b^\top c_j}` and
:math:`Z_b = \sum_j p_{bj}`:

.. math::
    \mathrm{lse}_b = \log Z_b, \qquad
    g^a_b = \frac{w_b}{Z_b} \sum_j p_{bj}\, c_j, \qquad
    g^c_j = \sum_b \frac{w_b}{Z_b}\, p_{bj}\, a_b .

The logits are made in registers; their exponentials are written once per tile of
anchors (16 MB per thread, :data:`TILE_FLOATS`) and read back for both gradients,
so nothing of size ``[B, M]`` is held and the products avoid torch's thin
per-block shapes (``benchmarks/PERF.md``). The exponentials are unshifted, so the
logits must be bounded (``|a_b^T c_j| <= 40``, as cosines over a temperature of
0.025 or more are).
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.native.build import FLAGS, load, parallel

ROWS = 4
"""Anchors per register tile: the kernel takes a multiple of it (zero-padded)."""

TILE_FLOATS = 2**22
"""Floats of one thread's tile of exponentials (16 MB): anchors per tile are this
over the candidates (at least 4). Fewer anchors per tile move the candidates'
gradient through memory more often, larger ones fall out of cache: forward +
backward of SGL-ED's two Gowalla terms took 448, 425, 388, 435 and 468 ms at 2^20 ...
2^24 floats (``benchmarks/native_nce.py --tile-floats``, 2 threads)."""


def supports(a: Tensor, c: Tensor) -> bool:
    """Whether the SIMD kernel takes these operands: float32 CPU, ``d % 64 == 0``."""
    return (a.dtype == c.dtype == torch.float32 and a.is_cpu and c.is_cpu
            and a.size(1) % 64 == 0)


def softmax_terms(a: Tensor, c: Tensor, weight: Tensor | None, need_grad: bool,
                  threads: int | None = None, flags: tuple[str, ...] = FLAGS
                  ) -> tuple[Tensor, Tensor | None, Tensor | None]:
    r"""Log-normalisers and the softmax parts of both gradients.

    Shapes:
        - a: ``[B, d]`` float32 anchors, c: ``[M, d]`` float32 candidates (CPU).
        - weight: ``[B]`` or ``None`` (all 1).
        - returns: ``lse [B]``, ``g_a [B, d]`` and ``g_c [M, d]`` (the last two
          ``None`` unless ``need_grad``).

    Args:
        a: Anchors divided by the temperature.
        c: Candidates.
        weight: Anchor weights.
        need_grad: Whether to form the gradient terms.
        threads: Worker threads (default :func:`torch.get_num_threads`), each
            taking a contiguous share of the anchors with its own copy of ``g_c``
            (summed at the end); the kernel releases the GIL.
        flags: The build to use (:func:`~graphcl_rec.native.build.load`).

    Returns:
        ``(lse, g_a, g_c)`` as defined in the module docstring.
    """
    lib = load(flags)
    if not (a.dtype == c.dtype == torch.float32 and a.is_cpu and c.is_cpu):
        raise ValueError("the native InfoNCE takes float32 CPU tensors")
    if a.dim() != 2 or c.dim() != 2 or a.size(1) != c.size(1) or c.size(0) == 0:
        raise ValueError(f"'a' and 'c' must be [B, d] and [M, d], M > 0 (got "
                         f"{tuple(a.shape)} and {tuple(c.shape)})")
    (rows, dim), num = a.shape, c.size(0)
    if weight is not None and weight.shape != (rows,):
        raise ValueError(f"'weight' must have shape [{rows}] (got "
                         f"{list(weight.shape)})")
    padded_rows = -(-rows // ROWS) * ROWS
    groups = -(-num // 64)
    width = groups * 64
    a_pad = torch.zeros(padded_rows, dim)
    a_pad[:rows] = a
    c_pad = torch.zeros(width, dim)
    c_pad[:num] = c
    slabs = c_pad.view(groups, 64, dim).transpose(1, 2).contiguous()
    last_mask = torch.zeros(64)
    last_mask[: num - (groups - 1) * 64] = 1.0
    w_pad = None
    if weight is not None:
        w_pad = torch.zeros(padded_rows)
        w_pad[:rows] = weight
    tiles = padded_rows // ROWS
    threads = max(1, min(threads or torch.get_num_threads(), tiles))
    cuts = [tiles * t // threads * ROWS for t in range(threads + 1)]
    tile = max(ROWS, min(TILE_FLOATS // width // ROWS * ROWS, cuts[1] - cuts[0]))
    norm = torch.empty(padded_rows)
    g_a = torch.empty(padded_rows, dim)
    g_c = torch.zeros(threads if need_grad else 0, width, dim)
    scratch = torch.empty(threads if need_grad else 0, tile * (width + dim))

    def part(t: int) -> None:
        p_buf = scratch[t, : tile * width].data_ptr() if need_grad else None
        a_buf = scratch[t, tile * width :].data_ptr() if need_grad else None
        lib.nce_fused(a_pad.data_ptr(), cuts[t], cuts[t + 1], slabs.data_ptr(),
                      c_pad.data_ptr(), groups, last_mask.data_ptr(), dim,
                      None if w_pad is None else w_pad.data_ptr(), tile, p_buf,
                      a_buf, norm.data_ptr(), g_a.data_ptr(),
                      g_c[t].data_ptr() if need_grad else None)

    parallel(part, range(threads), threads)
    lse = norm[:rows].log()
    if not need_grad:
        return lse, None, None
    return lse, g_a[:rows], g_c.sum(0)[:num]
