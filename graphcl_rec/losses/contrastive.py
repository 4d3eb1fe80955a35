r"""Contrastive losses on normalised embeddings."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


class _InfoNCE(torch.autograd.Function):
    """``logsumexp(a c^T) - a . c_t`` with a backward that reuses the logits in place.

    ``cross_entropy`` on a ``[B, M]`` logit matrix makes about eight passes over it
    (scaling, log-softmax, its backward, a zero-filled one-hot gradient). Here the
    temperature is folded into ``a`` beforehand, the positive logit is a row-wise
    dot product, and the backward turns the saved logits into the softmax in place:
    one pass forward (``logsumexp``) and two backward, plus the three products.
    The logits are consumed by the first backward; a repeated backward
    (``retain_graph=True``) recomputes them.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, c: Tensor, target: Tensor,  # noqa: D102
                scale: float) -> Tensor:
        logits = a @ c.T
        lse = torch.logsumexp(logits, dim=1)
        pos = (a * c[target]).sum(dim=1)
        ctx.save_for_backward(a, c, target, lse)
        ctx.logits, ctx.scale = logits, scale
        return (lse - pos).sum() * scale

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None, None]:  # noqa: D102
        a, c, target, lse = ctx.saved_tensors
        # The first backward consumes the saved logits; a repeated one (retain_graph)
        # recomputes them.
        logits = ctx.logits if ctx.logits is not None else a @ c.T
        ctx.logits = None
        g = grad * ctx.scale
        prob = logits.sub_(lse.unsqueeze(1)).exp_().mul_(g)  # softmax * g, in place
        grad_a = prob @ c - g * c[target]
        grad_c = (prob.T @ a).index_add_(0, target, a, alpha=-float(g))
        return grad_a, grad_c, None, None


def info_nce(
    anchor: Tensor,
    candidates: Tensor,
    target: Tensor,
    tau: float,
    reduction: str = "mean",
) -> Tensor:
    r"""InfoNCE (NT-Xent) on cosine similarities.

    .. math::
        \mathcal{L} = -\sum_b \log \frac{\exp(\cos(a_b, c_{t_b}) / \tau)}
                                   {\sum_j \exp(\cos(a_b, c_j) / \tau)}

    SGL-faithful: ``candidates`` are all users (or items) of the second view and
    ``target`` the batch ids. In-batch: ``candidates`` are the batch rows of the second
    view and ``target = arange(B)``. The value equals
    ``cross_entropy(cos / tau, target)``; it is computed with ``logsumexp`` and a
    backward that works in place on the ``[B, M]`` logits, which measured about
    twice as fast as ``cross_entropy`` for SGL's all-node negatives.

    Args:
        anchor: ``[B, d]`` first-view embeddings.
        candidates: ``[M, d]`` second-view embeddings.
        target: ``[B]`` index of each anchor's positive among ``candidates``.
        tau: Temperature (> 0).
        reduction: ``"mean"`` or ``"sum"`` over the batch.

    Returns:
        Scalar loss.

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
    a = F.normalize(anchor, dim=-1) / tau
    c = F.normalize(candidates, dim=-1)
    scale = 1.0 / max(a.shape[0], 1) if reduction == "mean" else 1.0
    return _InfoNCE.apply(a, c, target, scale)


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
