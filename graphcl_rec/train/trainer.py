"""One readable training loop shared by every objective."""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import PairSampler
from graphcl_rec.eval.ranking import evaluate
from graphcl_rec.graph.normalize import adjacency
from graphcl_rec.models.base import Recommender
from graphcl_rec.train.early_stopping import EarlyStopping
from graphcl_rec.train.history import History
from graphcl_rec.train.memory import peak_memory_mb, reset_peak
from graphcl_rec.train.seed import resolve_device, seed_everything

log = logging.getLogger("graphcl_rec")


class Trainer:
    """Trains any :class:`~graphcl_rec.models.base.Recommender` with Adam.

    Per epoch: ``views = model.sample_views(train, g)``, then for every batch of
    :class:`~graphcl_rec.data.sampling.PairSampler` one ``model.loss`` and one Adam
    step; every ``eval_every`` epochs a full-ranking evaluation on ``val`` (train
    items excluded). The best-on-validation weights are restored at the end.

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
        negatives: ``"uniform"`` or ``"popularity"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
        seed: Seeds parameter initialisation and the run's ``torch.Generator``.
        reset_parameters: Re-initialise the model from ``seed`` at the start of fit.
        log_path: Optional JSON-lines file receiving one record per epoch.
        progress: Show a tqdm progress bar.
        max_seconds: Stop after the epoch that exceeds this wall-clock budget.
        eval_batch_size: Users per evaluation block (``None``: from a memory budget).

    Examples:
        >>> trainer = Trainer(epochs=3, batch_size=1024, progress=False)
        >>> trainer.epochs
        3
    """

    def __init__(self, epochs: int = 100, batch_size: int = 2048, lr: float = 1e-3,
                 weight_decay: float = 0.0, eval_every: int = 1,
                 k: Sequence[int] = (20,), early_stopping: EarlyStopping | None = None,
                 sampler: str = "user", num_negatives: int = 1,
                 negatives: str = "uniform", device: str = "auto", seed: int = 0,
                 reset_parameters: bool = True, log_path: str | Path | None = None,
                 progress: bool = True, max_seconds: float | None = None,
                 eval_batch_size: int | None = None) -> None:
        if epochs < 0 or eval_every < 1 or lr <= 0:
            raise ValueError(f"need epochs >= 0, eval_every >= 1 and lr > 0 (got "
                             f"{epochs}, {eval_every}, {lr})")
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.weight_decay, self.eval_every, self.k = weight_decay, eval_every, list(k)
        self.early_stopping = early_stopping
        self.sampler, self.num_negatives, self.negatives = (
            sampler, num_negatives, negatives)
        self.device, self.seed, self.reset_parameters = device, seed, reset_parameters
        self.log_path = None if log_path is None else Path(log_path)
        self.progress, self.max_seconds = progress, max_seconds
        self.eval_batch_size = eval_batch_size

    def fit(self, model: Recommender, train: Interactions,
            val: Interactions | None = None) -> History:
        """Trains ``model`` on ``train``, selecting the epoch on ``val``.

        Args:
            model: The recommender (moved to the trainer's device in place).
            train: Training interactions (propagation graph and BPR positives).
            val: Validation interactions; ``None`` or empty disables evaluation.

        Returns:
            The run's :class:`History`; the model holds the best weights.
        """
        device = resolve_device(self.device)
        gen = seed_everything(self.seed, device)
        if self.reset_parameters:
            model.reset_parameters()
        model.to(device)
        train = train.to(device)
        val = None if val is None or len(val) == 0 else val.to(device)
        adjs = [adjacency(train)] * model.encoder.num_layers
        sampler = PairSampler(train, self.batch_size, mode=self.sampler,
                              num_negatives=self.num_negatives,
                              negatives=self.negatives)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=self.lr,
                               weight_decay=self.weight_decay)
        stopper = self.early_stopping or EarlyStopping(f"recall@{self.k[0]}",
                                                       patience=2**31 - 1)
        history, best_state = History(), None
        reset_peak(device)
        start = time.perf_counter()
        bar = tqdm(range(self.epochs), desc=type(model).__name__, unit="epoch",
                   disable=not self.progress, dynamic_ncols=True)
        for epoch in bar:
            record = self._train_epoch(model, train, adjs, sampler, opt, gen, epoch)
            if val is not None and (epoch + 1) % self.eval_every == 0:
                t0 = time.perf_counter()
                metrics = evaluate(model, graph=train, target=val, exclude=train,
                                   k=self.k, batch_size=self.eval_batch_size)
                record["val"] = metrics
                record["eval_seconds"] = time.perf_counter() - t0
                stop = stopper.step(metrics)
                if stopper.improved:
                    best_state = copy.deepcopy(model.state_dict())
                    history.best_epoch, history.best = epoch + 1, metrics
                history.stopped_early = stop and self.early_stopping is not None
            else:
                stop = False
            history.records.append(record)
            self._log(record, bar)
            over_budget = (self.max_seconds is not None
                           and time.perf_counter() - start > self.max_seconds)
            if stop or over_budget:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        history.peak_memory_mb = peak_memory_mb(device)
        return history

    def _train_epoch(self, model: Recommender, train: Interactions,
                     adjs: list[torch.Tensor], sampler: PairSampler,
                     opt: torch.optim.Optimizer, gen: torch.Generator,
                     epoch: int) -> dict:
        model.train()
        t0 = time.perf_counter()
        views = model.sample_views(train, gen)
        sums: dict[str, torch.Tensor] = {}
        steps = 0
        for step, batch in enumerate(sampler.epoch(gen)):
            out = model.loss(batch, adjs, views, gen)
            loss = out["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"non-finite loss ({loss.item()}) at epoch {epoch + 1}, step "
                    f"{step + 1}; terms: "
                    f"{ {k: float(v.detach()) for k, v in out.items()} }")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.on_step_end()
            for key, value in out.items():
                value = value.detach()
                sums[key] = sums[key] + value if key in sums else value
            steps += 1
        record: dict = {"epoch": epoch + 1}
        record.update({k: float(v) / max(steps, 1) for k, v in sums.items()})
        record["train_seconds"] = time.perf_counter() - t0
        return record

    def _log(self, record: dict, bar: tqdm) -> None:
        shown = {"loss": f"{record.get('loss', math.nan):.4f}"}
        if "val" in record:
            key = f"recall@{self.k[0]}"
            shown[key] = f"{record['val'].get(key, math.nan):.4f}"
        bar.set_postfix(shown)
        log.info("epoch %d %s", record["epoch"], shown)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    def __repr__(self) -> str:
        return (f"Trainer(epochs={self.epochs}, batch_size={self.batch_size}, "
                f"lr={self.lr}, sampler='{self.sampler}', seed={self.seed})")
