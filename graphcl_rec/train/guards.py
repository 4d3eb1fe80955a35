"""Numerical guards of the training loop: non-finite losses, gradients, weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from graphcl_rec.train.checkpoint import LAST


def _kept(checkpoint_dir: Path | None) -> str:
    if checkpoint_dir is None or not (checkpoint_dir / LAST).is_file():
        return ""
    return f"; the last good checkpoint is kept at {checkpoint_dir / LAST}"


def check_finite_step(out: Mapping[str, Tensor],
                      named: Sequence[tuple[str, nn.Parameter]], epoch: int,
                      step: int, checkpoint_dir: Path | None = None) -> None:
    """Raises if the loss or any gradient of one step is NaN or infinite.

    Costs one host sync: ``torch.isfinite`` over the stacked loss and per-parameter
    gradient norms (``torch._foreach_norm``). Call after ``backward`` and before
    the optimiser step, so the weights stay finite.

    Args:
        out: The loss terms of the step (``out["loss"]`` is the total).
        named: ``(name, parameter)`` pairs being optimised.
        epoch: 0-based epoch (reported 1-based).
        step: 0-based step within the epoch (reported 1-based).
        checkpoint_dir: Where the last good checkpoint lives (named in the message).

    Raises:
        FloatingPointError: Naming the epoch, the step and the loss terms or the
            first parameter whose gradient is not finite.
    """
    loss = out["loss"].detach()
    grads = [(n, p.grad) for n, p in named if p.grad is not None]
    norms = torch._foreach_norm([g for _, g in grads]) if grads else []
    values = torch.stack([loss.float().reshape(()), *(v.float() for v in norms)])
    if bool(torch.isfinite(values).all()):
        return
    where = f"at epoch {epoch + 1}, step {step + 1}"
    if not bool(torch.isfinite(loss)):
        terms = {k: float(v.detach()) for k, v in out.items()}
        raise FloatingPointError(
            f"non-finite loss ({loss.item()}) {where}; terms: {terms}"
            f"{_kept(checkpoint_dir)}")
    k = int(torch.nonzero(~torch.isfinite(values[1:])).flatten()[0])
    raise FloatingPointError(
        f"non-finite gradient of '{grads[k][0]}' (norm {float(values[k + 1])}) "
        f"{where}; loss {loss.item()}{_kept(checkpoint_dir)}")


def check_finite_weights(model: nn.Module, epoch: int,
                         checkpoint_dir: Path | None = None) -> None:
    """Raises if a floating-point parameter or buffer of ``model`` is not finite.

    Args:
        model: The model after an epoch.
        epoch: 0-based epoch (reported 1-based).
        checkpoint_dir: Where the last good checkpoint lives (named in the message).

    Raises:
        FloatingPointError: Naming the first non-finite tensor.
    """
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise FloatingPointError(
                f"'{name}' holds non-finite values after epoch {epoch + 1}"
                f"{_kept(checkpoint_dir)}")
