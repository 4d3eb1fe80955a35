"""One readable training loop shared by every objective."""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import MODES, NEGATIVES, PairSampler
from graphcl_rec.eval.ranking import embed_for_ranking, evaluate
from graphcl_rec.graph.normalize import adjacency
from graphcl_rec.models.base import Recommender
from graphcl_rec.train.checkpoint import load_checkpoint
from graphcl_rec.train.ddp import DataParallelFit
from graphcl_rec.train.diagnostics import RunMonitor
from graphcl_rec.train.distributed import current as current_group
from graphcl_rec.train.distributed import is_main_process
from graphcl_rec.train.early_stopping import EarlyStopping
from graphcl_rec.train.guards import (
    DeferredStepGuard,
    check_finite_step,
    check_finite_weights,
)
from graphcl_rec.train.history import History
from graphcl_rec.train.memory import peak_memory_mb, reset_peak
from graphcl_rec.train.seed import resolve_device, seed_everything
from graphcl_rec.train.state import TrainState, check_allow_change, resolve_resume

log = logging.getLogger("graphcl_rec")

_SETTINGS = ("batch_size", "lr", "weight_decay", "eval_every", "k", "sampler",
             "num_negatives", "negative_sampling", "seed")
"""Trainer arguments a resumed run must share with its checkpoint."""


def _check_settings(*, lr: float, weight_decay: float, batch_size: int,
                    num_negatives: int, eval_batch_size: int | None, sampler: str,
                    negative_sampling: str, k: Sequence[int],
                    device: str | torch.device) -> None:
    """Refuses arguments that would otherwise fail, or train on nonsense, in ``fit``.

    Each error names the argument and its value.
    """
    if not math.isfinite(lr):
        raise ValueError(f"'lr' must be a finite number > 0 (got {lr})")
    if not (weight_decay >= 0 and math.isfinite(weight_decay)):
        raise ValueError(f"'weight_decay' must be a finite number >= 0 "
                         f"(got {weight_decay})")
    sizes: tuple[tuple[str, int | None], ...] = (
        ("batch_size", batch_size), ("num_negatives", num_negatives),
        ("eval_batch_size", eval_batch_size))
    for name, value in sizes:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"'{name}' must be an int >= 1 (got {value!r})")
    for label, text, choices in (("sampler", sampler, MODES),
                                 ("negative_sampling", negative_sampling, NEGATIVES)):
        if text not in choices:
            raise ValueError(f"Could not resolve {label} {text!r} among choices "
                             f"{list(choices)}")
    if (isinstance(k, str) or not isinstance(k, Sequence) or not k
            or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in k)):
        raise ValueError(f"'k' must be a non-empty list of ints >= 1 (got {k!r})")
    if not isinstance(device, torch.device) and (
            not isinstance(device, str) or device not in ("auto", "cpu", "cuda")
            and not device.startswith("cuda:")):
        raise ValueError(f"Could not resolve device {device!r} among choices "
                         "['auto', 'cpu', 'cuda', 'cuda:<n>']")


class Trainer:
    """Trains any :class:`~graphcl_rec.models.base.Recommender` with Adam.

    Per epoch: ``views = model.sample_views(train, g)``, then for every batch of
    :class:`~graphcl_rec.data.sampling.PairSampler` one ``model.loss`` and one Adam
    step; every ``eval_every`` epochs a full-ranking evaluation on ``val`` (train
    items excluded). The best-on-validation weights are restored at the end.
    Each fit also ranks by popularity on ``val`` and watches the embeddings for
    collapse (:mod:`graphcl_rec.train.diagnostics`): ``History.baseline``, the
    records' ``diagnostics``, and a
    :class:`~graphcl_rec.train.diagnostics.TrainingWarning` (also in
    ``History.warnings``) for a run that ends below popularity, falls, or collapses.

    A non-finite loss or gradient stops the run with :class:`FloatingPointError`
    naming the epoch and step, before the optimiser step (``step_guard="step"``, the
    default on CPU). ``step_guard="epoch"`` (the default on GPUs) checks without a
    per-step host synchronisation: the fused optimiser skips every step from the
    first non-finite one, and the error is raised at the end of that epoch with the
    same weights (:class:`~graphcl_rec.train.guards.DeferredStepGuard`). With
    ``checkpoint_dir``, ``last.pt`` is written after every ``checkpoint_every``-th
    epoch (and the last one) and ``best.pt`` whenever validation improves (see
    :mod:`graphcl_rec.train.checkpoint`); a failed epoch never overwrites them.
    ``fit(..., resume=True)`` continues from ``last.pt``: every random draw comes
    from one generator whose state is saved at epoch boundaries, so on CPU a run
    killed at any moment and resumed ends with bit-identical weights and metrics.
    On CUDA, sparse products (cuSPARSE) and atomic scatter-adds are not
    deterministic, so a resumed GPU run matches an uninterrupted one only up to
    floating-point reordering (as do two uninterrupted GPU runs).

    In a process group of ``N > 1`` processes (``torchrun``; see
    :mod:`graphcl_rec.train.distributed`) ``fit`` trains data-parallel: each
    process takes every ``N``-th batch of ``batch_size`` triples, so a step
    covers ``N * batch_size`` (the global batch, which checkpoints record), the
    gradients are averaged by ``DistributedDataParallel``, evaluation is split by
    users with the exact single-process result, and only rank 0 writes the log
    and checkpoints; a checkpoint resumes with any ``N`` that keeps the global
    batch (:mod:`graphcl_rec.train.ddp`).

    On glibc with node tables above 32 MiB, call
    :func:`~graphcl_rec.train.allocator.hold_freed_memory` once before training
    (the ``graphcl-rec`` training commands do): the trainer does not change the
    process's allocator itself.

    Args:
        epochs: Maximum number of epochs.
        batch_size: Triples per batch.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (the objectives' ``reg_weight`` is the
            papers' L2; keep this 0 to match them).
        eval_every: Evaluate every this many epochs.
        k: Cut-offs of the validation metrics.
        early_stopping: Stops on a validation metric; without it the best epoch is
            still tracked on ``recall@{k[0]}`` and restored.
        sampler: ``"user"`` (LightGCN/SGL reference epochs) or ``"interaction"``.
        num_negatives: Negatives per triple.
        negative_sampling: The distribution BPR negatives are drawn from:
            ``"uniform"`` or ``"popularity"`` (not to be confused with the
            contrastive objectives' ``negatives``, their InfoNCE candidate set).
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
        seed: Seeds parameter initialisation and the run's ``torch.Generator``.
        reset_parameters: Re-initialise the model from ``seed`` at the start of fit
            (skipped when resuming). Off by default: ``fit`` trains the weights the
            model holds, e.g. ones a user loaded; the CLI turns it on so that
            ``seed`` alone fixes a run's initialisation.
        log_path: Optional JSON-lines file receiving one record per epoch.
        progress: Show a tqdm progress bar.
        max_seconds: Stop after the epoch that exceeds this wall-clock budget
            (seconds, ``>= 0``; ``None``: no budget).
        eval_batch_size: Users per evaluation block (``None``: from a memory budget).
        checkpoint_dir: Directory for ``last.pt`` and ``best.pt`` (``None``: none).
        checkpoint_every: Write ``last.pt`` every this many epochs.
        step_guard: ``"auto"`` (``"step"`` on CPU, ``"epoch"`` elsewhere),
            ``"step"`` (a host sync per step) or ``"epoch"`` (one per epoch; needs
            the fused optimiser, used on CPU and CUDA).
        config: The run's configuration (plain values), stored in checkpoints and
            required to match on resume, together with this trainer's settings
            and device type (under the reserved key ``"trainer"``; ``epochs``,
            ``max_seconds`` and the logging/evaluation-speed options may change).
        run_info: Facts about this fit, not settings (e.g. ``{"git_revision":
            ...}``), stored under ``"run_info"`` in the first epoch record each
            ``fit`` writes. A run resumed across fits keeps each part's in its
            history, so every epoch can be traced to the code that trained it.

    Examples:
        >>> trainer = Trainer(epochs=3, batch_size=1024, progress=False)
        >>> trainer.epochs
        3
    """

    def __init__(self, *, epochs: int = 100, batch_size: int = 2048, lr: float = 1e-3,
                 weight_decay: float = 0.0, eval_every: int = 1,
                 k: Sequence[int] = (20,), early_stopping: EarlyStopping | None = None,
                 sampler: str = "user", num_negatives: int = 1,
                 negative_sampling: str = "uniform", device: str = "auto",
                 seed: int = 0, reset_parameters: bool = False,
                 log_path: str | Path | None = None,
                 progress: bool = True, max_seconds: float | None = None,
                 eval_batch_size: int | None = None,
                 checkpoint_dir: str | Path | None = None, checkpoint_every: int = 1,
                 config: Mapping[str, Any] | None = None,
                 step_guard: str = "auto",
                 run_info: Mapping[str, Any] | None = None) -> None:
        for name, value, low in (("epochs", epochs, 0), ("eval_every", eval_every, 1),
                                 ("checkpoint_every", checkpoint_every, 1)):
            if value < low:
                raise ValueError(f"'{name}' must be >= {low} (got {value})")
        if lr <= 0:
            raise ValueError(f"'lr' must be a finite number > 0 (got {lr})")
        if max_seconds is not None and not max_seconds >= 0:
            raise ValueError(f"max_seconds must be >= 0 seconds, or None for no "
                             f"budget (got {max_seconds})")
        if config is not None and "trainer" in config:
            raise ValueError("'config' must not use the reserved key 'trainer'")
        if step_guard not in ("auto", "step", "epoch"):
            raise ValueError(f"Could not resolve step_guard '{step_guard}' among "
                             "choices ['auto', 'step', 'epoch']")
        _check_settings(lr=lr, weight_decay=weight_decay, batch_size=batch_size,
                        num_negatives=num_negatives, eval_batch_size=eval_batch_size,
                        sampler=sampler, negative_sampling=negative_sampling, k=k,
                        device=device)
        if log_path is not None and Path(log_path).is_dir():
            raise ValueError(f"'log_path' is a directory, expected a file to write: "
                             f"{log_path}")
        if checkpoint_dir is not None and (Path(checkpoint_dir).exists()
                                           and not Path(checkpoint_dir).is_dir()):
            raise ValueError(f"'checkpoint_dir' exists and is not a directory: "
                             f"{checkpoint_dir}")
        monitor = None if early_stopping is None else early_stopping.monitor
        cut = None if monitor is None else re.fullmatch(r".+@([0-9]+)", str(monitor))
        if cut is not None and int(cut[1]) not in k:
            raise ValueError(f"early stopping monitors {monitor!r}, "
                             f"which is never computed: 'k' is {list(k)}; monitor "
                             f"a cut-off of 'k' or add {cut[1]} to it")
        self.step_guard = step_guard
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.weight_decay, self.eval_every, self.k = weight_decay, eval_every, list(k)
        self.early_stopping = early_stopping
        self.sampler, self.num_negatives = sampler, num_negatives
        self.negative_sampling = negative_sampling
        self.device, self.seed, self.reset_parameters = device, seed, reset_parameters
        self.log_path = None if log_path is None else Path(log_path)
        self.progress, self.max_seconds = progress, max_seconds
        self.eval_batch_size = eval_batch_size
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.checkpoint_every, self.config = checkpoint_every, dict(config or {})
        self.run_info = dict(run_info or {})
        self.resumed_from: int | None = None
        self.changed_on_resume: dict[str, dict[str, Any]] = {}

    def run_config(self, model: Recommender, device: torch.device,
                   processes: int = 1) -> dict[str, Any]:
        """What a checkpoint records and a resumed run must match.

        ``batch_size`` is recorded as the global batch, ``batch_size * processes``.
        """
        es = self.early_stopping
        trainer = {name: getattr(self, name) for name in _SETTINGS}
        trainer["batch_size"] = self.batch_size * processes
        trainer.update(objective=type(model).__name__, device=device.type,
                       early_stopping=None if es is None else repr(es))
        return {**self.config, "trainer": trainer}

    def fit(self, model: Recommender, train: Interactions,
            val: Interactions | None = None,
            resume: bool | str | Path = False,
            allow_change: Collection[str] = ()) -> History:
        """Trains ``model`` on ``train``, selecting the epoch on ``val``.

        Args:
            model: The recommender (moved to the trainer's device in place).
            train: Training interactions (propagation graph and BPR positives).
            val: Validation interactions; ``None`` or empty disables evaluation.
            resume: ``True`` continues from ``checkpoint_dir/last.pt`` when it
                exists (else starts fresh); a path (a checkpoint file or a directory
                holding ``last.pt``) must exist. Weights, optimiser, generator,
                early stopping, best weights and history are restored and training
                continues at the next epoch.
            allow_change: When resuming, dotted keys of the run configuration that
                may differ from the checkpoint's, as the mismatch error names them:
                ``"trainer.lr"`` and ``"trainer.weight_decay"`` (this trainer's
                values are set on the restored optimiser's parameter groups, e.g.
                to continue a run the NaN guard stopped with a smaller ``lr``), and
                keys of ``config``. Changes are kept in :attr:`changed_on_resume`
                and in the first new epoch record (``"changed_on_resume"``); later
                checkpoints record the new values.

        Returns:
            The run's :class:`History` (including the restored epochs); the model
            holds the best weights.

        Raises:
            FloatingPointError: On a non-finite loss, gradient or weight.
            CheckpointError: If the checkpoint is unsafe, corrupt or from another
                configuration.
            ValueError: If ``allow_change`` names a setting that cannot change.
        """
        device = resolve_device(self.device)
        group = current_group()  # None for one process: the loop below as is
        gen = seed_everything(self.seed, device)
        ckpt = resolve_resume(resume, self.checkpoint_dir)
        if self.reset_parameters and ckpt is None:
            model.reset_parameters()
        model.to(device)
        train = train.to(device)
        val = None if val is None or len(val) == 0 else val.to(device)
        adjs = [adjacency(train)] * model.encoder.num_layers
        sampler = PairSampler(train, self.batch_size, mode=self.sampler,
                              num_negatives=self.num_negatives,
                              negatives=self.negative_sampling)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        # The fused kernel updates all parameters in one pass instead of one
        # kernel launch per tensor and step (benchmarks/PERF.md).
        opt = torch.optim.Adam([p for _, p in named], lr=self.lr,
                               weight_decay=self.weight_decay,
                               fused=device.type in ("cpu", "cuda"))
        stopper = self.early_stopping or EarlyStopping(f"recall@{self.k[0]}",
                                                       patience=2**31 - 1)
        run = TrainState(self.run_config(model, device, 1 if group is None
                                         else group.world_size), History())
        allowed = check_allow_change(allow_change, run.config, resume)
        self.resumed_from, self.changed_on_resume = None, {}
        if ckpt is not None:
            state = load_checkpoint(ckpt, expected_config=run.config,
                                    allow_change=allowed)
            run.restore(state, model, opt, stopper, gen, allowed)
            self.resumed_from, self.changed_on_resume = run.epoch, run.changes
            log.info("resumed from %s at epoch %d", ckpt, run.epoch)
            self._write_log(run.history.records, "w")  # drops unsaved epochs
        history = run.history
        fleet = None if group is None else DataParallelFit(model, group, self.seed)
        rank_eval = evaluate if fleet is None else fleet.evaluate
        monitor = RunMonitor(train, val, self.k, stopper.monitor, stopper.mode,
                             self.seed, type(model).__name__, self.eval_batch_size)
        monitor.start(history)  # popularity baseline; warnings: diagnostics.py
        hard_negatives = getattr(model, "hard_negatives", False)
        monitor.check_candidates(history, hard_negatives, self.num_negatives,
                                 train.num_items)
        reset_peak(device)
        start = time.perf_counter() - run.seconds
        todo = range(0) if history.stopped_early else range(run.epoch, self.epochs)
        bar = tqdm(todo, desc=type(model).__name__, unit="epoch", initial=run.epoch,
                   total=self.epochs, disable=not self.progress or fleet is not None
                   and not fleet.group.is_main, dynamic_ncols=True)
        for epoch in bar:
            record = self._train_epoch(model, train, adjs, sampler, opt, gen, epoch,
                                       named, run, fleet)
            if self.run_info and epoch == todo.start:  # this fit's first epoch
                record["run_info"] = dict(self.run_info)
            if run.changes:  # noted once, in the first epoch after the resume
                record["changed_on_resume"], run.changes = run.changes, {}
            check_finite_weights(model, epoch, self.checkpoint_dir)
            monitor.on_epoch(record, history, hard_negatives)
            stop = improved = False
            if val is not None and (epoch + 1) % self.eval_every == 0:
                t0 = time.perf_counter()
                embeddings = embed_for_ranking(model, adjs)  # once: ranking, probe
                metrics = rank_eval(embeddings, graph=train, target=val,
                                    exclude=train, k=self.k,
                                    batch_size=self.eval_batch_size)
                record["val"] = metrics
                record["eval_seconds"] = time.perf_counter() - t0
                monitor.on_eval(embeddings, record, history)
                stop = stopper.step(metrics)
                improved = stopper.improved
                if improved:
                    run.best_state = copy.deepcopy(model.state_dict())
                    history.best_epoch, history.best = epoch + 1, metrics
                history.stopped_early = stop and self.early_stopping is not None
            history.records.append(record)
            self._log(record, bar)
            run.epoch, run.seconds = epoch + 1, time.perf_counter() - start
            over_budget = (self.max_seconds is not None
                           and run.seconds > self.max_seconds)
            if fleet is not None:  # every process stops after the same epoch
                over_budget = fleet.agree(over_budget)
            end = stop or over_budget or epoch + 1 == self.epochs
            if self.checkpoint_dir is not None and is_main_process():
                run.save(self.checkpoint_dir, model, opt, stopper, gen, improved,
                         end or (epoch + 1) % self.checkpoint_every == 0)
            if stop or over_budget:
                break
        monitor.finish(history)
        if run.best_state is not None:
            model.load_state_dict(run.best_state)
        history.peak_memory_mb = peak_memory_mb(device)
        return history

    def _train_epoch(self, model: Recommender, train: Interactions,
                     adjs: list[torch.Tensor], sampler: PairSampler,
                     opt: torch.optim.Optimizer, gen: torch.Generator,
                     epoch: int, named: list[tuple[str, torch.nn.Parameter]],
                     run: TrainState, fleet: DataParallelFit | None = None) -> dict:
        model.train()
        t0 = time.perf_counter()
        guard = self._deferred_guard(opt, named)
        views = model.sample_views(train, gen)
        sums: dict[str, torch.Tensor] = {}
        steps = 0
        batches, loss, step_gen = sampler.epoch(gen), model.loss, gen
        if fleet is not None:  # every N-th batch, through DDP
            batches, loss = fleet.batches(batches), fleet.loss
            step_gen = fleet.generator(gen, epoch)
        for step, batch in enumerate(batches):
            out = loss(batch, adjs, views, step_gen)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            if guard is None:
                check_finite_step(out, named, epoch, step, self.checkpoint_dir)
            else:
                guard.step(out, step)
            opt.step()
            model.on_step_end()
            for key, value in out.items():
                value = value.detach()
                sums[key] = sums[key] + value if key in sums else value
            steps += 1
        if guard is not None:
            guard.finish(epoch, self.checkpoint_dir)
        if fleet is not None:
            sums = fleet.end_epoch(gen, sums)
        run.step += steps
        record: dict = {"epoch": epoch + 1}
        record.update({k: float(v) / max(steps, 1) for k, v in sums.items()})
        record["train_seconds"] = time.perf_counter() - t0
        return record

    def _deferred_guard(self, opt: torch.optim.Optimizer,
                        named: list[tuple[str, torch.nn.Parameter]]
                        ) -> DeferredStepGuard | None:
        """The epoch-level guard, or ``None`` for the per-step check."""
        mode = self.step_guard
        if mode == "auto":
            on_cpu = not named or named[0][1].device.type == "cpu"
            mode = "step" if on_cpu or not opt.defaults.get("fused") else "epoch"
        return DeferredStepGuard(opt, named) if mode == "epoch" and named else None

    def _log(self, record: dict, bar: tqdm) -> None:
        shown = {"loss": f"{record.get('loss', math.nan):.4f}"}
        if "val" in record:
            key = f"recall@{self.k[0]}"
            shown[key] = f"{record['val'].get(key, math.nan):.4f}"
        bar.set_postfix(shown)
        log.info("epoch %d %s", record["epoch"], shown)
        self._write_log([record])

    def _write_log(self, records: list[dict], mode: str = "a") -> None:
        """Appends records to ``log_path`` (``mode="w"``: replaces its content)."""
        if self.log_path is not None and is_main_process():
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open(mode, encoding="utf-8") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in records)

    def __repr__(self) -> str:
        return (f"Trainer(epochs={self.epochs}, batch_size={self.batch_size}, "
                f"lr={self.lr}, sampler='{self.sampler}', seed={self.seed})")
