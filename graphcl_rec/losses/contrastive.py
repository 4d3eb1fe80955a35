r"""Contrastive losses on normalised embeddings."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from graphcl_rec.native import load
from graphcl_rec.native import status as native_status
from graphcl_rec.native.nce import softmax_terms, supports


class _InfoNCE(torch.autograd.Function):
    """``sum_b logsumexp(a_b c^T) - a_b . c_{t_b}``, its gradient formed in blocks.

    ``cross_entropy`` on a ``[B, M]`` logit matrix makes about eight passes over it
    in memory (scaling, log-softmax, its backward, a zero-filled one-hot gradient)
    and keeps it alive until backward. Here the temperature is folded into ``a``,
    and for a block of anchors at a time (about ``BLOCK`` logits on CPU, which stay
    in cache; ``BLOCK_CUDA`` on a GPU, where small products waste the device and
    each block costs a dozen kernel launches) the logits, their softmax and both
    gradients are formed in the forward pass; backward only scales the stored
    gradients. Nothing of size ``[B, M]`` outlives a block. With ``fused`` the
    same terms come from :func:`graphcl_rec.native.nce.softmax_terms` instead.
    """

    BLOCK = 2**21
    BLOCK_LOW = 2**22
    """Logits per block on CPU when the products take reduced precision (chosen by
    an A/B sweep of 2^21..2^23, ``benchmarks/PERF.md``)."""
    BLOCK_CUDA = 2**27
    """Logits per block off the CPU (512 MB in fp32): one block for a batch of 2048
    anchors against up to 65,536 candidates."""
    MAX_UNSHIFTED = 80.0
    """Largest ``2 / tau`` (the logits' range) for which ``exp`` of the unshifted
    logits stays within fp32's normal range (``e^{-40}`` to ``e^{40}``)."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, c: Tensor, target: Tensor,  # noqa: D102
                scale: float | Tensor, bound: float | None,
                weight: Tensor | None, low: torch.dtype | None,
                fused: bool = False, fallback: bool = False) -> Tensor:
        need_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        if fused:
            total, grads = _fused(a, c, target, weight, need_grad, fallback)
            if grads is not None:
                ctx.save_for_backward(*grads)
            ctx.scale = scale
            return total * scale
        if a.device.type != "cpu":
            budget = _InfoNCE.BLOCK_CUDA
        else:
            budget = _InfoNCE.BLOCK if low is None else _InfoNCE.BLOCK_LOW
        rows = max(16, budget // max(c.shape[0], 1))
        grad_a = torch.empty_like(a) if need_grad else a
        grad_c = torch.zeros_like(c) if need_grad else c
        total = a.new_zeros(())
        c_low = c if low is None else c.to(low)
        for start in range(0, a.shape[0], rows):
            block, tgt = a[start:start + rows], target[start:start + rows]
            w = None if weight is None else weight[start:start + rows, None]
            logits = _product(block, c_low.T, low, a.dtype)
            if bound is None:
                peak = logits.amax(dim=1, keepdim=True)
                prob = logits.sub_(peak).exp_()
                norm = prob.sum(dim=1, keepdim=True)
                lse = peak + norm.log()
            else:
                # |logit| <= bound <= MAX_UNSHIFTED / 2: exp stays within fp32's
                # normal range unshifted, so neither a max pass nor a shift is needed.
                prob = logits.exp_()
                norm = prob.sum(dim=1, keepdim=True)
                lse = norm.log()
            pos = c[tgt]
            nll = lse - (block * pos).sum(dim=1, keepdim=True)
            total += (nll if w is None else nll * w).sum()
            if need_grad:
                # softmax = prob / norm, applied to the [rows, d] factors instead.
                inv = norm.reciprocal() if w is None else w / norm
                scaled = block if w is None else block * w
                prob_low = prob if low is None else prob.to(low)
                torch.sub(_product(prob_low, c_low, low, a.dtype).mul_(inv),
                          pos if w is None else pos * w,
                          out=grad_a[start:start + rows])
                if low is None:
                    grad_c.addmm_(prob.T, block * inv)
                else:
                    grad_c += _product(prob_low.T, block * inv, low, a.dtype)
                grad_c.index_add_(0, tgt, scaled, alpha=-1.0)
        if need_grad:
            ctx.save_for_backward(grad_a, grad_c)
        ctx.scale = scale
        return total * scale

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor  # noqa: D102
                 ) -> tuple[Tensor, Tensor, None, None, None, None, None, None, None]:
        grad_a, grad_c = ctx.saved_tensors
        g = grad * ctx.scale
        return grad_a * g, grad_c * g, None, None, None, None, None, None, None


def _fused(a: Tensor, c: Tensor, target: Tensor, weight: Tensor | None,
           need_grad: bool, fallback: bool = False
           ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
    """The weighted NLL sum and both gradients from :mod:`graphcl_rec.native.nce`.

    ``fallback``: logits beyond the kernel's bound take torch's shifted products
    (:func:`~graphcl_rec.native.nce.softmax_terms`) instead of raising.
    """
    lse, soft_a, soft_c = softmax_terms(a, c, weight, need_grad, fallback=fallback)
    pos = c[target]
    nll = lse - (a * pos).sum(dim=1)
    total = nll.sum() if weight is None else (nll * weight).sum()
    if soft_a is None or soft_c is None:
        return total, None
    w = None if weight is None else weight[:, None]
    grad_a = soft_a.sub_(pos if w is None else pos * w)
    grad_c = soft_c.index_add_(0, target, a if w is None else a * w, alpha=-1.0)
    return total, (grad_a, grad_c)


def _product(x: Tensor, y: Tensor, low: torch.dtype | None, dtype: torch.dtype
             ) -> Tensor:
    """``x @ y``; with ``low``: operands cast to ``low``, product cast to ``dtype``."""
    if low is None:
        return x @ y
    return (x.to(low) @ y.to(low)).to(dtype)


def info_nce(
    anchor: Tensor,
    candidates: Tensor,
    target: Tensor,
    tau: float,
    reduction: str = "mean",
    weight: Tensor | None = None,
    matmul_dtype: torch.dtype | None = None,
    kernel: Literal["auto", "native", "torch"] = "auto",
    normalize: bool = True,
) -> Tensor:
    r"""InfoNCE (NT-Xent) on cosine similarities (or dot products).

    .. math::
        \mathcal{L} = -\sum_b w_b \log \frac{\exp(\cos(a_b, c_{t_b}) / \tau)}
                                   {\sum_j \exp(\cos(a_b, c_j) / \tau)}

    (``"mean"`` divides by :math:`\sum_b w_b`; without ``weight`` every
    :math:`w_b = 1`). With ``normalize=False`` the dot product
    :math:`a_b^\top c_j` replaces the cosine.

    SGL-faithful: ``candidates`` are all users (or items) of the second view and
    ``target`` the batch ids. In-batch: ``candidates`` are the batch rows of the second
    view and ``target = arange(B)``. The value equals
    ``cross_entropy(cos / tau, target)``; it is computed in cache-sized blocks of
    anchors with the gradient formed alongside, and never holds the ``[B, M]``
    logits at once. For many candidates on CPU (see ``kernel``) the fused C kernel
    of :mod:`graphcl_rec.native.nce` forms the same terms in cache-sized tiles
    instead. Timings of both against ``cross_entropy`` are in
    ``benchmarks/PERF.md``.

    Args:
        anchor: ``[B, d]`` first-view embeddings.
        candidates: ``[M, d]`` second-view embeddings.
        target: ``[B]`` index of each anchor's positive among ``candidates``.
        tau: Temperature (> 0).
        reduction: ``"mean"`` or ``"sum"`` over the batch.
        weight: Optional ``[B]`` non-negative anchor weights. Weights of 0 and 1 drop
            repeated anchors without :func:`torch.unique` (see
            :func:`unique_anchors`), whose output size forces a host–device
            synchronisation on GPUs.
        matmul_dtype: Dtype of the three ``[B, d] x [d, M]``-sized products
            (logits and both gradients), e.g. ``torch.bfloat16``; ``exp``, the sums
            and the positive logits stay in the inputs' dtype. ``None`` (default):
            the inputs' dtype. bf16 products round each operand to 8 significant
            bits (each logit moves by at most a few :math:`2^{-8}/\tau`); the
            measured error and speed are in ``benchmarks/PERF.md``.
        kernel: ``"auto"`` (default) takes the fused native kernel for float32
            CPU tensors with ``d % 64 == 0``, at least
            :data:`FUSED_MIN_CANDIDATES` candidates, full-precision products and
            ``tau >= 0.025`` where :func:`graphcl_rec.native.status` reports
            AVX-512, else torch's blocked products; ``"native"`` or ``"torch"``
            force one. Both agree to float rounding (the kernel's own summation
            order and ``exp``).
        normalize: ``True`` (default): cosine similarities. ``False``: raw dot
            products (LightGCL's reference code). These logits are unbounded:
            torch's blocks shift each row by its maximum, and the fused kernel
            (``kernel="auto"``) runs only while the row norms bound every logit
            by :data:`~graphcl_rec.native.nce.MAX_LOGIT`, falling back to
            torch's shifted products beyond it (``"native"`` raises there).

    Returns:
        Scalar loss.

    Raises:
        ValueError: On a bad ``tau``, ``reduction``, ``weight``, ``matmul_dtype``
            or ``kernel``, or ``kernel="native"`` where it does not apply.
        graphcl_rec.native.NativeUnavailable: For ``kernel="native"`` where the
            kernel cannot be built.

    Examples:
        >>> import torch
        >>> x = torch.eye(3)
        >>> info_nce(x, x, torch.arange(3), tau=1.0).item() < 1.0986
        True
    """
    if tau <= 0:
        raise ValueError(f"'tau' must be positive (got {tau})")
    if reduction not in ("mean", "sum"):
        raise ValueError(
            f"Could not resolve reduction '{reduction}' among choices ['mean', 'sum']"
        )
    if weight is not None and weight.shape != anchor.shape[:1]:
        raise ValueError(f"'weight' must have shape [{anchor.shape[0]}], one per "
                         f"anchor (got {list(weight.shape)})")
    a = (F.normalize(anchor, dim=-1) if normalize else anchor) / tau
    c = F.normalize(candidates, dim=-1) if normalize else candidates
    scale: float | Tensor = 1.0
    if reduction == "mean":
        scale = (1.0 / max(a.shape[0], 1) if weight is None
                 else weight.sum().clamp_min(1e-12).reciprocal())
    # Cosines are in [-1, 1], so every logit is within 1/tau of 0 and, unless tau is
    # tiny, exp needs no shift (the log-sum-exp then needs no row-max pass).
    bound = 1.0 / tau if normalize and 2.0 / tau <= _InfoNCE.MAX_UNSHIFTED else None
    if weight is not None:
        weight = weight.to(a.dtype)
    if matmul_dtype is not None and not matmul_dtype.is_floating_point:
        raise ValueError(
            f"'matmul_dtype' must be a floating dtype (got {matmul_dtype})"
        )
    low = None if matmul_dtype in (None, a.dtype) else matmul_dtype
    # Dot products: the kernel checks its own bound from the row norms.
    fused = _use_fused(kernel, a, c, low, bound if normalize else math.inf)
    return _InfoNCE.apply(a, c, target, scale, bound, weight, low, fused,
                          not normalize and kernel == "auto")


FUSED_MIN_CANDIDATES = 8192
"""Fewest candidates for which ``kernel="auto"`` takes the fused kernel. Below it,
torch's blocks are few and wide and win; the crossover was measured with
``python -m benchmarks.run kernels`` (figures in ``benchmarks/PERF.md``), and the
threshold keeps a margin above it because small problems vary more between runs."""


def _use_fused(kernel: str, a: Tensor, c: Tensor, low: torch.dtype | None,
               bound: float | None) -> bool:
    """Whether :func:`info_nce` takes the native kernel (see its ``kernel``)."""
    if kernel not in ("auto", "native", "torch"):
        raise ValueError(f"'kernel' must be 'auto', 'native' or 'torch' "
                         f"(got {kernel!r})")
    if kernel == "torch":
        return False
    fits = supports(a, c) and low is None and bound is not None
    if kernel == "auto" and c.size(0) < FUSED_MIN_CANDIDATES:
        return False
    if kernel == "native":
        if not fits:
            raise ValueError(
                "kernel 'native' takes float32 CPU tensors with d % 64 == 0, "
                "full-precision products and tau >= 0.025")
        load()  # raises NativeUnavailable with the reason
        return True
    return fits and native_status() == (True, "avx512")


def unique_anchors(ids: Tensor, sync_free: bool) -> tuple[Tensor, Tensor | None]:
    """The distinct ids of ``ids``, for :func:`info_nce` anchors.

    ``sync_free=False`` returns ``(torch.unique(ids), None)``. ``sync_free=True``
    returns the sorted ``ids`` with weight 1 on the first of each run of equal ids
    and 0 on its repeats: the same loss and gradients through ``info_nce(...,
    weight=w)`` when the candidates do not depend on the anchors (all-node
    negatives), with a fixed output size and no host–device synchronisation, at
    the cost of computing the repeats' (zero-weighted) rows.

    Args:
        ids: ``[B]`` int64 node ids, possibly repeated.
        sync_free: Keep ``B`` entries and weight the repeats by 0.

    Returns:
        ``(ids, weight)``: ``[U]`` or ``[B]`` ids and ``None`` or ``[B]`` weights.

    Examples:
        >>> ids, w = unique_anchors(torch.tensor([3, 1, 3]), sync_free=True)
        >>> ids.tolist(), w.tolist()
        ([1, 3, 3], [1.0, 1.0, 0.0])
    """
    if not sync_free:
        return torch.unique(ids), None
    ids = torch.sort(ids).values
    weight = torch.ones(ids.shape, device=ids.device)
    weight[1:] = (ids[1:] != ids[:-1]).float()
    return ids, weight


def cosine_alignment(online: Tensor, target: Tensor) -> Tensor:
    r"""BYOL-style alignment loss, no negatives.

    .. math::
        \mathcal{L} = \frac{1}{B} \sum_b \left(2 - 2 \cos(p_b, z_b)\right)

    Args:
        online: ``[B, d]`` predictions of the online network.
        target: ``[B, d]`` target-network embeddings (treated as constants).

    Returns:
        Scalar loss in ``[0, 4]``.

    Examples:
        >>> import torch
        >>> x = torch.randn(4, 8)
        >>> abs(cosine_alignment(x, x).item()) < 1e-6
        True
    """
    cos = (F.normalize(online, dim=-1) * F.normalize(target.detach(), dim=-1)).sum(-1)
    return (2 - 2 * cos).mean()
