"""The progress of one ``Trainer.fit``: captured into and restored from checkpoints."""

from __future__ import annotations

import copy
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from graphcl_rec.errors import CheckpointError
from graphcl_rec.train.checkpoint import BEST, LAST, save_checkpoint
from graphcl_rec.train.compare import changes
from graphcl_rec.train.early_stopping import EarlyStopping
from graphcl_rec.train.history import History

log = logging.getLogger("graphcl_rec")

CHANGEABLE = ("lr", "weight_decay")
"""Trainer settings a resumed run may change: they are applied to the restored
optimiser's parameter groups (``Trainer.fit(..., allow_change=...)``)."""
_ABSENT = object()


@dataclass
class TrainState:
    """Everything a fit carries from one epoch to the next besides the modules.

    A checkpoint holds this state plus the model and optimiser ``state_dict``, the
    generator state (``gen.get_state()``), the global torch RNG state and the
    early-stopping state: enough to continue at ``epoch + 1`` exactly.

    Attributes:
        config: The run configuration (compared on resume).
        history: Records of the completed epochs and the best epoch so far.
        epoch: Number of completed epochs.
        step: Number of optimiser steps taken.
        seconds: Wall-clock seconds of training so far (for ``max_seconds``).
        best_state: Copy of the best-on-validation ``state_dict`` (or ``None``).
        changes: The allowed changes a resume applied (:func:`changes` form),
            until the next epoch record notes them.
    """

    config: dict[str, Any]
    history: History
    epoch: int = 0
    step: int = 0
    seconds: float = 0.0
    best_state: dict[str, Tensor] | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self, model: nn.Module, opt: torch.optim.Optimizer,
                stopper: EarlyStopping, gen: torch.Generator) -> dict[str, Any]:
        """The checkpoint dict (plain values only) at the current epoch boundary."""
        h = self.history
        best_is_current = self.best_state is not None and h.best_epoch == self.epoch
        return {
            "config": self.config, "epoch": self.epoch, "global_step": self.step,
            "seconds": self.seconds, "model": model.state_dict(),
            "optimizer": opt.state_dict(), "generator": gen.get_state(),
            "torch_rng_state": torch.get_rng_state(),
            "early_stopping": stopper.state_dict(),
            "best_model": None if best_is_current else self.best_state,
            "best_epoch": h.best_epoch, "best_metrics": h.best,
            "stopped_early": h.stopped_early, "history": h.records,
        }

    def save(self, directory: Path, model: nn.Module, opt: torch.optim.Optimizer,
             stopper: EarlyStopping, gen: torch.Generator, best: bool,
             last: bool) -> None:
        """Writes ``best.pt`` (if ``best``) and then ``last.pt`` (if ``last``).

        ``best.pt`` goes first so that a kill in between leaves a ``last.pt`` from
        which a resume rewrites the same ``best.pt``.
        """
        if not (best or last):
            return
        state = self.to_dict(model, opt, stopper, gen)
        if best:
            save_checkpoint(directory / BEST, state)
        if last:
            save_checkpoint(directory / LAST, state)
            log.debug("checkpoint of epoch %d written to %s", self.epoch, directory)

    def restore(self, state: dict[str, Any], model: nn.Module,
                opt: torch.optim.Optimizer, stopper: EarlyStopping,
                gen: torch.Generator, allow_change: Collection[str] = ()) -> None:
        """Loads a checkpoint dict into the modules, the generator and ``self``.

        The keys of ``allow_change`` whose values differ from the checkpoint's
        config are recorded in :attr:`changes`; a changed ``trainer.lr`` or
        ``trainer.weight_decay`` is set on every restored parameter group.

        Raises:
            CheckpointError: If the weights or optimiser state do not fit.
        """
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            stopper.load_state_dict(state["early_stopping"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng_state"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"checkpoint of epoch {state.get('epoch')} does not fit this model "
                f"or optimiser: {type(exc).__name__}: {exc}") from None
        self.changes = changes(state["config"], self.config, allow_change)
        for name in CHANGEABLE:
            if f"trainer.{name}" in self.changes:
                for group in opt.param_groups:
                    group[name] = self.config["trainer"][name]
        if self.changes:
            log.warning("resuming with changed settings: %s", self.changes)
        self.epoch, self.step = int(state["epoch"]), int(state["global_step"])
        self.seconds = float(state["seconds"])
        h = self.history
        h.records = list(state["history"])
        h.best_epoch, h.best = state["best_epoch"], state["best_metrics"]
        h.stopped_early = bool(state["stopped_early"])
        best = state["best_model"]
        if best is None and h.best_epoch == self.epoch:
            best = copy.deepcopy(model.state_dict())
        self.best_state = best


def resolve_resume(resume: bool | str | Path, checkpoint_dir: Path | None
                   ) -> Path | None:
    """The checkpoint file a ``fit(..., resume=...)`` call restores from.

    Args:
        resume: ``False`` (start fresh), ``True`` (``checkpoint_dir/last.pt`` if it
            exists, else start fresh), or a checkpoint file or a directory holding
            ``last.pt`` (which must exist).
        checkpoint_dir: The trainer's checkpoint directory.

    Returns:
        The file to load, or ``None`` to start from scratch.

    Raises:
        CheckpointError: If an explicit checkpoint is missing.
        ValueError: If ``resume=True`` without a ``checkpoint_dir``.
    """
    if resume is False:
        return None
    if resume is True:
        if checkpoint_dir is None:
            raise ValueError("resume=True needs the trainer's 'checkpoint_dir'")
        path = checkpoint_dir / LAST
        if not path.is_file():
            log.warning("no checkpoint at %s; training from scratch", path)
            return None
        return path
    path = Path(resume)
    path = path / LAST if path.is_dir() else path
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    return path


def check_allow_change(allow_change: Collection[str], config: Mapping[str, Any],
                       resume: bool | str | Path) -> set[str]:
    """Validates ``fit(..., allow_change=...)`` against the run configuration.

    Args:
        allow_change: Dotted keys of the run configuration, as the mismatch
            errors name them (``"trainer.lr"``; a caller's own config keys too).
        config: The run configuration (the caller's plus ``"trainer"``).
        resume: ``fit``'s ``resume`` (changes only apply when resuming).

    Returns:
        The keys as a set.

    Raises:
        ValueError: For a string instead of a collection, a change without
            ``resume``, a key absent from ``config``, or a trainer setting other
            than those of :data:`CHANGEABLE`, naming the key and the valid ones.
    """
    if isinstance(allow_change, str):
        raise ValueError(f"allow_change must be a collection of keys, not the string "
                         f"{allow_change!r} (write [{allow_change!r}])")
    keys = set(allow_change)
    if keys and resume is False:
        raise ValueError(f"allow_change={sorted(keys)} only applies when resuming "
                         "(pass resume=...)")
    valid = [f"trainer.{name}" for name in CHANGEABLE]
    for key in sorted(keys):
        if key.startswith("trainer.") and key not in valid:
            raise ValueError(f"allow_change: '{key}' cannot change on resume; the "
                             f"trainer settings that can are {valid}")
        node: Any = config
        for part in key.split("."):
            node = node.get(part, _ABSENT) if isinstance(node, Mapping) else _ABSENT
        if node is _ABSENT:
            raise ValueError(f"allow_change: '{key}' is not a key of this run's "
                             f"configuration (trainer settings: {valid})")
    return keys
