"""One experiment: data -> model -> fit on validation -> test once -> results JSON."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from graphcl_rec.cli.build import build_model, load_data
from graphcl_rec.cli.config import RunConfig
from graphcl_rec.cli.provenance import device_info, git_revision, versions
from graphcl_rec.eval import evaluate
from graphcl_rec.train import EarlyStopping, Trainer, resolve_device

log = logging.getLogger("graphcl_rec")


def make_trainer(cfg: RunConfig, progress: bool = True,
                 log_path: Path | None = None) -> Trainer:
    """The :class:`Trainer` described by ``cfg.train``."""
    t = cfg.train
    stopper = EarlyStopping(t.monitor, "max", t.patience, t.min_delta)
    return Trainer(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr,
                   weight_decay=t.weight_decay, eval_every=t.eval_every, k=t.k,
                   early_stopping=stopper, sampler=t.sampler,
                   num_negatives=t.num_negatives, negatives=t.negatives,
                   device=t.device, seed=cfg.seed, progress=progress,
                   log_path=log_path, max_seconds=t.max_seconds,
                   eval_batch_size=t.eval_batch_size)


def run_experiment(cfg: RunConfig, out_dir: str | Path | None = None,
                   progress: bool = True, write: bool = True) -> dict[str, Any]:
    """Trains on train, selects on validation, evaluates test exactly once.

    Args:
        cfg: The run configuration.
        out_dir: Where ``<name>-seed<k>.json`` (and the epoch log) go; defaults to
            ``cfg.output_dir``.
        progress: Show progress bars.
        write: Write the results file.

    Returns:
        The results dict (also written as JSON): config, seed, versions, git
        revision, device, history, best epoch, test metrics, timings, peak memory.
    """
    train, val, test = load_data(cfg.data)
    if len(val) == 0:
        raise ValueError("the validated protocol needs a validation split "
                         "(set data.val_ratio > 0)")
    model = build_model(cfg.model, train.num_users, train.num_items)
    out = Path(out_dir if out_dir is not None else cfg.output_dir)
    stem = f"{cfg.name}-seed{cfg.seed}"
    log_path = out / f"{stem}.epochs.jsonl" if write else None
    if log_path is not None and log_path.exists():
        log_path.unlink()
    trainer = make_trainer(cfg, progress=progress, log_path=log_path)
    t0 = time.perf_counter()
    history = trainer.fit(model, train, val)
    fit_seconds = time.perf_counter() - t0
    device = resolve_device(cfg.train.device)
    t1 = time.perf_counter()
    test_metrics = evaluate(model, graph=train.to(device), target=test.to(device),
                            exclude=[train.to(device), val.to(device)],
                            k=cfg.train.k, batch_size=cfg.train.eval_batch_size)
    test_seconds = time.perf_counter() - t1
    result = {
        "name": cfg.name, "protocol": "validated", "seed": cfg.seed,
        "config": cfg.to_dict(), "model": repr(model).splitlines()[0],
        "versions": versions(), "git_revision": git_revision(),
        "device": device_info(device),
        "data": {"users": train.num_users, "items": train.num_items,
                 "train": len(train), "val": len(val), "test": len(test)},
        "best_epoch": history.best_epoch, "epochs_run": len(history),
        "stopped_early": history.stopped_early, "val_best": history.best,
        "test": test_metrics,
        "seconds_per_epoch": history.mean_seconds("train_seconds"),
        "seconds_per_eval": history.mean_seconds("eval_seconds"),
        "seconds_test_eval": test_seconds, "seconds_total": fit_seconds,
        "peak_memory_mb": history.peak_memory_mb, "history": history.records,
    }
    if write:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{stem}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        result["path"] = str(path)
    return result


def with_seed(cfg: RunConfig, seed: int) -> RunConfig:
    """A copy of ``cfg`` with another seed."""
    return replace(cfg, seed=seed)
