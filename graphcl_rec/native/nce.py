r"""The softmax terms of an all-candidate InfoNCE by the fused kernel ``info_nce.c``.

For anchors :math:`a_b` (already divided by the temperature), candidates
:math:`c_j` and weights :math:`w_b`, with :math:`p_{bj} = e^{a_b^\top c_j}` and
:math:`Z_b = \sum_j p_{bj}`:

.. math::
    \mathrm{lse}_b = \log Z_b, \qquad
    g^a_b = \frac{w_b}{Z_b} \sum_j p_{bj}\, c_j, \qquad
    g^c_j = \sum_b \frac{w_b}{Z_b}\, p_{bj}\, a_b .

The logits are made in registers; their exponentials are written once per tile of
anchors (:data:`TILE_FLOATS` per thread) and read back for both gradients, so
nothing of size ``[B, M]`` is held and the products avoid torch's thin per-block
shapes (``benchmarks/PERF.md``). The exponentials are unshifted, so the logits must
be bounded: :func:`softmax_terms` checks :math:`\max_b \|a_b\| \max_j \|c_j\| \le`
:data:`MAX_LOGIT`, which cosines over a temperature of 0.025 or more satisfy
(:func:`graphcl_rec.losses.info_nce` folds ``1 / tau`` into unit anchors).
"""

from __future__ import annotations

import ctypes
import math

import torch
from torch import Tensor

from graphcl_rec.native.build import FLAGS, load, parallel

ROWS = 4
"""Anchors per register tile: the kernel takes a multiple of it (zero-padded)."""

TILE_FLOATS = 2**22
"""Floats of one thread's tile of exponentials (16 MB): anchors per tile are this
over the candidates (at least 4). Fewer anchors per tile move the candidates'
gradient through memory more often, larger ones fall out of cache; the size was
chosen by measurement (``benchmarks/native_nce.py --tile-floats``,
``benchmarks/PERF.md``)."""

MAX_LOGIT = 40.0
r"""Largest :math:`|a_b^\top c_j|` the kernel takes: unshifted, ``e^{\pm 40}`` and
sums of them stay within float32's normal range."""

SLACK = 1e-3
"""Relative slack on :data:`MAX_LOGIT` for the rounding of normalised rows (the
kernel's ``exp`` is accurate far beyond the bound, to ``|x| <= 87``)."""


def supports(a: Tensor, c: Tensor) -> bool:
    """Whether the SIMD kernel takes these operands: float32 CPU, ``d % 64 == 0``."""
    return (a.dtype == c.dtype == torch.float32 and a.is_cpu and c.is_cpu
            and a.size(1) % 64 == 0)


def softmax_terms(a: Tensor, c: Tensor, weight: Tensor | None, need_grad: bool,
                  threads: int | None = None, flags: tuple[str, ...] = FLAGS,
                  fallback: bool = False
                  ) -> tuple[Tensor, Tensor | None, Tensor | None]:
    r"""Log-normalisers and the softmax parts of both gradients.

    The kernel takes float32 CPU operands whose logits are bounded
    (:data:`MAX_LOGIT`); views and other strides are copied. Operands holding NaN or
    infinite values get torch's (non-finite) result from :func:`torch_terms`.

    Shapes:
        - a: ``[B, d]`` anchors, c: ``[M, d]`` candidates, ``M > 0``, one device.
        - weight: ``[B]`` or ``None`` (all 1).
        - returns: ``lse [B]``, ``g_a [B, d]`` and ``g_c [M, d]`` (the last two
          ``None`` unless ``need_grad``): float32 from the kernel, the operands'
          promoted dtype from :func:`torch_terms`.

    Args:
        a: Anchors divided by the temperature.
        c: Candidates.
        weight: Anchor weights.
        need_grad: Whether to form the gradient terms.
        threads: Worker threads (default :func:`torch.get_num_threads`), each
            taking a contiguous share of the anchors with its own copy of ``g_c``
            (summed at the end); the kernel releases the GIL.
        flags: The build to use (:func:`~graphcl_rec.native.build.load`).
        fallback: Where the kernel does not apply (another dtype or device, or
            logits beyond :data:`MAX_LOGIT`), compute the terms by
            :func:`torch_terms` instead of raising (a caller's ``"auto"``).

    Returns:
        ``(lse, g_a, g_c)`` as defined in the module docstring.

    Raises:
        ValueError: On shapes or devices that disagree, or, without ``fallback``,
            naming the operand the kernel does not take and why.
        graphcl_rec.native.NativeUnavailable: Where the kernel cannot be built.
    """
    _check_shapes(a, c, weight)
    reason = _refusal(a, c)
    if reason is not None:
        if fallback or reason == "non-finite":
            return torch_terms(a, c, weight, need_grad)
        raise ValueError(f"the native InfoNCE {reason}; pass fallback=True for "
                         f"torch's products")
    lib = load(flags)
    with torch.no_grad():
        return _fused(lib, a, c, weight, need_grad, threads)


def _check_shapes(a: Tensor, c: Tensor, weight: Tensor | None) -> None:
    """Refuses operands no computation could take."""
    if a.dim() != 2 or c.dim() != 2 or a.size(1) != c.size(1) or c.size(0) == 0:
        raise ValueError(f"'a' and 'c' must be [B, d] and [M, d], M > 0 (got "
                         f"{tuple(a.shape)} and {tuple(c.shape)})")
    if c.device != a.device:
        raise ValueError(f"'a' and 'c' must be on one device (got {a.device} and "
                         f"{c.device})")
    if weight is None:
        return
    if weight.shape != (a.size(0),):
        raise ValueError(f"'weight' must have shape [{a.size(0)}] (got "
                         f"{list(weight.shape)})")
    if weight.device != a.device or weight.is_complex():
        raise ValueError(f"'weight' must be real and on {a.device} (got "
                         f"{weight.dtype} on {weight.device})")


def _refusal(a: Tensor, c: Tensor) -> str | None:
    """Why the kernel cannot take ``a`` and ``c`` (``"non-finite"`` for NaN/inf)."""
    for name, x in (("a", a), ("c", c)):
        if x.dtype != torch.float32:
            return f"takes float32 operands (got '{name}' of {x.dtype})"
        if not x.is_cpu:
            return f"takes CPU tensors (got '{name}' on {x.device})"
    if a.size(0) == 0:
        return None
    with torch.no_grad():
        norm_a = float(torch.linalg.vector_norm(a, dim=1).amax())
        norm_c = float(torch.linalg.vector_norm(c, dim=1).amax())
    if not (math.isfinite(norm_a) and math.isfinite(norm_c)):
        return "non-finite"
    if norm_a * norm_c > MAX_LOGIT * (1 + SLACK):
        return (f"needs |logits| <= {MAX_LOGIT:g}, and 'a' and 'c' have row norms "
                f"up to {norm_a:.6g} and {norm_c:.6g} (normalise both and fold a "
                f"temperature of at least {1 / MAX_LOGIT:g} into 'a')")
    return None


def torch_terms(a: Tensor, c: Tensor, weight: Tensor | None, need_grad: bool
                ) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """:func:`softmax_terms` by torch's products, in blocks of anchors.

    Shifted by each row's log-normaliser, so any logits are safe; computed in the
    operands' promoted dtype on their device.
    """
    dtype = torch.promote_types(a.dtype, c.dtype)
    a, c = a.to(dtype), c.to(dtype)
    w = None if weight is None else weight.to(dtype)
    step = max(1, TILE_FLOATS // c.size(0))
    with torch.no_grad():
        lse = a.new_empty(a.size(0))
        g_a = torch.empty_like(a) if need_grad else None
        g_c = torch.zeros_like(c) if need_grad else None
        for s in range(0, a.size(0), step):
            logits = a[s : s + step] @ c.T
            lse[s : s + step] = torch.logsumexp(logits, dim=1)
            if g_a is None or g_c is None:
                continue
            p = logits.sub_(lse[s : s + step, None]).exp_()
            if w is not None:
                p.mul_(w[s : s + step, None])
            torch.matmul(p, c, out=g_a[s : s + step])
            g_c.addmm_(p.T, a[s : s + step])
    return lse, g_a, g_c


def _fused(lib: ctypes.CDLL, a: Tensor, c: Tensor, weight: Tensor | None,
           need_grad: bool, threads: int | None
           ) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Runs the kernel on float32 CPU operands that passed :func:`_refusal`."""
    f32 = torch.float32
    (rows, dim), num = a.shape, c.size(0)
    padded_rows = -(-rows // ROWS) * ROWS
    groups = -(-num // 64)
    width = groups * 64
    a_pad = torch.zeros(padded_rows, dim, dtype=f32)
    a_pad[:rows] = a
    c_pad = torch.zeros(width, dim, dtype=f32)
    c_pad[:num] = c
    slabs = c_pad.view(groups, 64, dim).transpose(1, 2).contiguous()
    last_mask = torch.zeros(64, dtype=f32)
    last_mask[: num - (groups - 1) * 64] = 1.0
    w_pad = None
    if weight is not None:
        w_pad = torch.zeros(padded_rows, dtype=f32)
        w_pad[:rows] = weight
    tiles = padded_rows // ROWS
    threads = max(1, min(threads or torch.get_num_threads(), tiles))
    cuts = [tiles * t // threads * ROWS for t in range(threads + 1)]
    tile = max(ROWS, min(TILE_FLOATS // width // ROWS * ROWS, cuts[1] - cuts[0]))
    norm = torch.empty(padded_rows, dtype=f32)
    g_a = torch.empty(padded_rows, dim, dtype=f32)
    g_c = torch.zeros(threads if need_grad else 0, width, dim, dtype=f32)
    scratch = torch.empty(threads if need_grad else 0, tile * (width + dim),
                          dtype=f32)

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
