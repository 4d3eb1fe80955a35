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
    return (f"; the last good checkpoint is kept at {checkpoint_dir / LAST} (resuming "
            f"it unchanged repeats this; continue with a smaller lr: fit(..., "
            f"resume=..., allow_change={{'trainer.lr'}}), or on the command line "
            f"--resume RUN --train.lr=... --allow-change train.lr)")


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


class DeferredStepGuard:
    """The checks of :func:`check_finite_step` with one host sync per epoch, not step.

    On an accelerator, reading a flag back after every step stalls the host until the
    device has finished that step, so the next step's launches cannot overlap its
    kernels. Here each step's finiteness (loss and per-parameter gradient norms) is
    reduced on the device into a sticky flag, handed to the fused Adam step as
    ``found_inf``: from the first non-finite step on, the optimiser applies nothing
    (weights and moments unchanged, step counts rolled back). The weights therefore
    end the epoch as they were before that step, as with the per-step check, and
    :meth:`finish` raises the error :func:`check_finite_step` would have raised.

    Args:
        opt: A fused ``torch.optim.Adam`` (the only optimiser that reads
            ``found_inf`` here).
        named: ``(name, parameter)`` pairs being optimised.
    """

    def __init__(self, opt: torch.optim.Optimizer,
                 named: Sequence[tuple[str, nn.Parameter]]) -> None:
        if not opt.defaults.get("fused"):
            raise ValueError("the deferred step guard needs a fused optimiser "
                             "(it skips steps through 'found_inf')")
        device = named[0][1].device
        self.opt, self.named = opt, list(named)
        self.bad = torch.zeros((), device=device)
        self.first = torch.full((), -1, dtype=torch.long, device=device)
        self.values = torch.zeros(1 + len(self.named), device=device)
        self.keys: list[str] | None = None
        self.terms = torch.zeros(0, device=device)

    def step(self, out: Mapping[str, Tensor], step: int) -> None:
        """Records step ``step`` (0-based): after ``backward``, before ``opt.step``."""
        loss = out["loss"].detach().float().reshape(())
        grads = [p.grad if p.grad is not None else torch.zeros((), device=p.device)
                 for _, p in self.named]
        values = torch.stack([loss, *(v.float() for v in torch._foreach_norm(grads))])
        now = ~torch.isfinite(values).all()
        fresh = now & (self.first < 0)
        self.first = torch.where(fresh, step, self.first)
        self.values = torch.where(fresh, values, self.values)
        keys = list(out)
        if self.keys is None:
            self.keys, self.terms = keys, self.terms.new_zeros(len(keys))
        if keys == self.keys:
            terms = torch.stack([out[k].detach().float().reshape(()) for k in keys])
            self.terms = torch.where(fresh, terms, self.terms)
        self.bad = torch.maximum(self.bad, now.float())
        self.opt.found_inf = self.bad  # type: ignore[attr-defined]

    def finish(self, epoch: int, checkpoint_dir: Path | None = None) -> None:
        """One host sync; raises if a step of ``epoch`` (0-based) was not finite.

        Raises:
            FloatingPointError: As :func:`check_finite_step`, for the first
                non-finite step of the epoch.
        """
        if hasattr(self.opt, "found_inf"):
            del self.opt.found_inf
        first = int(self.first)
        if first < 0:
            return
        where = (f"at epoch {epoch + 1}, step {first + 1} (checked once per epoch: "
                 f"that step and the rest of the epoch were not applied)")
        loss = self.values[0]
        if not bool(torch.isfinite(loss)):
            terms = dict(zip(self.keys or [], self.terms.tolist()))
            raise FloatingPointError(
                f"non-finite loss ({loss.item()}) {where}; terms: {terms}"
                f"{_kept(checkpoint_dir)}")
        k = int(torch.nonzero(~torch.isfinite(self.values[1:])).flatten()[0])
        raise FloatingPointError(
            f"non-finite gradient of '{self.named[k][0]}' (norm "
            f"{float(self.values[k + 1])}) {where}; loss {loss.item()}"
            f"{_kept(checkpoint_dir)}")
