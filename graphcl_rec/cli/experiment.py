"""One experiment: data -> model -> fit on validation -> test once -> results JSON."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from graphcl_rec.cli.build import build_model, load_data
from graphcl_rec.cli.config import RunConfig, flatten
from graphcl_rec.cli.provenance import (
    device_info,
    git_revision,
    process_revision,
    versions,
)
from graphcl_rec.cli.runs import claim_run, trainer_allow_change
from graphcl_rec.data.interactions import Interactions, concat
from graphcl_rec.data.split import check_disjoint
from graphcl_rec.eval import evaluate, group_report, popularity_metrics, sparsity_groups
from graphcl_rec.models import Recommender
from graphcl_rec.serve.artifact import MODEL_FILE, save_model
from graphcl_rec.train import EarlyStopping, Trainer, load_checkpoint, resolve_device
from graphcl_rec.train.allocator import allocator_state
from graphcl_rec.train.checkpoint import LAST
from graphcl_rec.train.distributed import is_main_process

VOLATILE = ("output_dir", "train.epochs", "train.max_seconds", "train.eval_batch_size",
            "train.device", "train.checkpoint_every", "train.step_guard",
            "train.batch_size")
"""Config keys a resumed run may change (the trainer checks the resolved device,
and that ``batch_size`` times the number of processes, the global batch, is kept)."""

log = logging.getLogger("graphcl_rec")

PROTOCOLS = ("validated", "legacy", "refit")


def resume_config(cfg: RunConfig | Mapping[str, Any]) -> dict[str, Any]:
    """``cfg`` (or its dict) without the :data:`VOLATILE` keys (checked on resume)."""
    out = json.loads(json.dumps(cfg if isinstance(cfg, Mapping) else cfg.to_dict()))
    for dotted in VOLATILE:
        *parents, last = dotted.split(".")
        node = out
        for key in parents:
            node = node[key]
        node.pop(last, None)
    return out


def checkpoint_seed(run_dir: str | Path) -> int:
    """The seed recorded in ``run_dir/last.pt`` (for ``train --resume``)."""
    path = Path(run_dir)
    state = load_checkpoint(path / LAST if path.is_dir() else path)
    return int(state["config"]["seed"])


def run_parts(records: list[dict[str, Any]], current: Mapping[str, Any]
              ) -> list[dict[str, Any]]:
    """``[{"from_epoch", **run_info}]``: what each part of a run ran on.

    A run resumed from its checkpoint is several processes; each stores its
    ``run_info`` (the code revision, the device with its thread count and CPU
    model, the allocator setting) in the first epoch record it writes. A part's
    keys are those its process recorded: epochs before the first such record (a
    checkpoint written before they were recorded) form a part with
    ``from_epoch`` alone, i.e. unknown; a run without records is one part with
    ``current``.

    Examples:
        >>> run_parts([{"epoch": 1}, {"epoch": 2, "run_info": {"threads": 2}}],
        ...           {"threads": 1})
        [{'from_epoch': 1}, {'from_epoch': 2, 'threads': 2}]
        >>> run_parts([], {"threads": 1})
        [{'from_epoch': 1, 'threads': 1}]
    """
    parts: list[dict[str, Any]] = []
    for rec in records:
        info = rec.get("run_info")
        if info is not None:
            parts.append({"from_epoch": rec["epoch"], **info})
        elif not parts:
            parts.append({"from_epoch": rec["epoch"]})
    return parts or [{"from_epoch": 1, **current}]


def code_revisions(records: list[dict[str, Any]], current: str | None
                   ) -> list[dict[str, Any]]:
    """``[{"from_epoch", "git_revision"}]``: the code each part of a run ran.

    :func:`run_parts` narrowed to the revision; ``None`` where a part did not
    record one.

    Examples:
        >>> code_revisions([{"epoch": 1, "run_info": {"git_revision": "a"}},
        ...                 {"epoch": 2},
        ...                 {"epoch": 3, "run_info": {"git_revision": "b"}}], "b")
        [{'from_epoch': 1, 'git_revision': 'a'}, {'from_epoch': 3, 'git_revision': 'b'}]
    """
    return [{"from_epoch": p["from_epoch"], "git_revision": p.get("git_revision")}
            for p in run_parts(records, {"git_revision": current})]


def make_trainer(cfg: RunConfig, progress: bool = True,
                 log_path: Path | None = None,
                 checkpoint_dir: Path | None = None,
                 run_info: dict[str, Any] | None = None) -> Trainer:
    """The :class:`Trainer` described by ``cfg.train`` (and ``cfg.seed``).

    ``[train]`` holds exactly the keyword arguments of ``Trainer`` and
    ``EarlyStopping`` that are configuration; the others come from the runner
    (:data:`~graphcl_rec.cli.config.TRAIN_EXCLUDED`). The model is always
    re-initialised from the seed (``reset_parameters=True``), so a run depends on
    its config alone.
    """
    stopper = EarlyStopping(**cfg.train.kwargs(EarlyStopping))
    return Trainer(**cfg.train.kwargs(Trainer), early_stopping=stopper,
                   seed=cfg.seed, reset_parameters=True, progress=progress,
                   log_path=log_path, checkpoint_dir=checkpoint_dir,
                   config=resume_config(cfg), run_info=run_info)


def sparsity_report(model: Recommender, train: Interactions, test: Interactions,
                    exclude: list[Interactions], k: list[int],
                    num_groups: int = 4) -> list[dict[str, float]]:
    """Test metrics per training-degree quartile of the test users."""
    per_user = evaluate(model, graph=train, target=test, exclude=exclude, k=k,
                        per_user=True)
    users = per_user["users"]
    groups = sparsity_groups(train, users, num_groups)
    degree = train.user_degree()[users]
    return group_report(per_user, groups, degree)


def run_experiment(cfg: RunConfig, out_dir: str | Path | None = None,
                   progress: bool = True, write: bool = True,
                   resume: str | Path | None = None, checkpoints: bool = True,
                   protocol: str = "validated", overwrite: bool = False,
                   allow_change: list[str] | tuple[str, ...] = (),
                   refit_of: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Trains on train, selects on validation, evaluates test exactly once.

    The three splits are checked to be disjoint before training. With ``write``
    and ``checkpoints``, checkpoints go to ``<out>/<name>-seed<k>/`` (``last.pt``
    every epoch, ``best.pt`` on improvement). With ``write``, the finished run's
    model artifact (best weights, model table, training pairs and raw ids; see
    :mod:`graphcl_rec.serve.artifact`) goes to ``<out>/<name>-seed<k>/model.pt``,
    which :func:`graphcl_rec.load` reads.

    Two protocols are named in every result:

    - ``"validated"`` (default): early stopping and model selection on the
      validation split; the test split is evaluated once, after restoring the best
      weights, with training and validation items excluded.
    - ``"legacy"``: the papers' own protocol, only for comparing with published
      numbers: no validation split (it is merged back into train), and the epoch is
      selected on the **test** split, so the reported figure is optimistic.
    - ``"refit"``: a finished ``validated`` run (``refit_of``) chose the number of
      epochs on validation; the same config and seed are trained again for that
      many epochs on train and validation together (the published splits' whole
      training set, as legacy runs and the papers train), with no evaluation on
      the way, and test is evaluated once on the last epoch's weights. Nothing is
      selected on test, and no training pair is held out of the final model.

    Args:
        cfg: The run configuration.
        out_dir: Where ``<name>-seed<k>.json`` (``<name>-legacy-seed<k>.json`` under
            the legacy protocol) and the epoch log go; defaults to
            ``cfg.output_dir`` (to ``resume``'s parent when resuming).
        progress: Show progress bars.
        write: Write the results file and checkpoints.
        resume: A run directory holding ``last.pt``: training continues where it
            stopped (the configuration must match) and checkpoints keep going there.
        checkpoints: Write checkpoints (only when ``write`` is set).
        protocol: ``"validated"``, ``"legacy"`` or ``"refit"``.
        overwrite: Without ``resume``, a run whose results, epoch log or
            checkpoint folder already exist in ``out_dir`` is refused
            (:func:`~graphcl_rec.cli.runs.claim_run`); with ``overwrite`` they
            are deleted first.
        allow_change: With ``resume``, config keys that may differ from the
            checkpoint's (``"train.lr"``, ``"train.weight_decay"``): the resumed
            optimiser uses the new values, and the change is recorded under
            ``"changed_on_resume"`` in the results and the epoch log.
        refit_of: With ``protocol="refit"`` (and only then): the results dict of
            the ``validated`` run of the same config and seed, whose
            ``best_epoch`` sets the number of epochs; recorded under
            ``"refit_of"`` (its file stem, best epoch, validation metrics and
            test metrics).

    Returns:
        The results dict (also written as JSON): config, seed, versions, git
        revision, device, history, best epoch, test metrics, ``beyond_accuracy``
        (``{"test": {"diversity@K", "novelty@K", "coverage@K"}}``, see
        :func:`graphcl_rec.eval.evaluate`), timings, peak memory,
        ``popularity`` (the popularity baseline's metrics on the split the epoch
        was selected on, ``"val"``, and on test, ``"test"``) and ``warnings``
        (:class:`~graphcl_rec.train.diagnostics.TrainingWarning` s of the run).
        With ``write``, ``path`` (the results file) and ``artifact`` (the model
        artifact) are added to the returned dict, not to the file.

    Raises:
        LeakageError: If two splits share a pair (with the count).
        CheckpointError: If ``resume`` has no usable checkpoint for this config.
        ValueError: If ``refit_of`` is missing, given for another protocol, not a
            finished validated run of this config and seed, or has no best epoch.
        RunExistsError: If the run already has files and neither ``resume`` nor
            ``overwrite`` is given.
    """
    if allow_change and resume is None:
        raise ValueError("argument --allow-change: only applies with --resume")
    allowed = trainer_allow_change(allow_change)
    if protocol not in PROTOCOLS:
        raise ValueError(f"Could not resolve protocol '{protocol}' among choices "
                         f"{list(PROTOCOLS)}")
    selection = refit_selection(cfg, refit_of) if protocol == "refit" else None
    if selection is None and refit_of is not None:
        raise ValueError(f"refit_of is only used by the refit protocol (got "
                         f"protocol {protocol!r})")
    if selection is not None:  # as many epochs as validation chose, no evaluation
        cfg = replace(cfg, train=replace(cfg.train, epochs=selection["best_epoch"]))
    revision = process_revision()  # the code this process loaded, not today's HEAD
    train, val, test = load_data(cfg.data)
    check_disjoint(train, val, test, names=("train", "val", "test"))
    if len(test) == 0:
        raise ValueError("the test split is empty, so the run could not be "
                         "evaluated: set data.ratios (its third entry) > 0")
    fit_val: Interactions | None = val
    if protocol in ("legacy", "refit"):
        train = concat([train, val]) if len(val) else train
        fit_val = test if protocol == "legacy" else None
    elif len(val) == 0:
        key = ("data.ratios (its second entry)"
               if cfg.data.path is not None and cfg.data.format == "delimited"
               else "data.val_ratio")
        raise ValueError(f"the validated protocol needs a validation split, and "
                         f"this one is empty: set {key} > 0")
    model = build_model(cfg.model, train.num_users, train.num_items)
    run_dir = None if resume is None else Path(resume)
    if run_dir is not None and run_dir.is_file():
        run_dir = run_dir.parent
    if out_dir is None:
        out_dir = run_dir.parent if run_dir is not None else cfg.output_dir
    out = Path(out_dir)
    stem = run_stem(cfg, protocol)
    log_path = out / f"{stem}.epochs.jsonl" if write else None
    if write and resume is None and is_main_process():
        claim_run(out, stem, overwrite)
    if run_dir is None and write and checkpoints:
        run_dir = out / stem
    # What this process is, for each part of a resumed run (``parts``).
    run_info = {"git_revision": revision,
                "device": device_info(resolve_device(cfg.train.device)),
                "allocator": allocator_state()}
    trainer = make_trainer(cfg, progress=progress, log_path=log_path,
                           checkpoint_dir=run_dir, run_info=run_info)
    t0 = time.perf_counter()
    history = trainer.fit(model, train, fit_val,
                          resume=Path(resume) if resume is not None else False,
                          allow_change=allowed)
    fit_seconds = time.perf_counter() - t0
    if not is_main_process():  # torch.distributed: rank 0 tests and writes
        return {"name": cfg.name, "seed": cfg.seed, "history": history.records}
    device = resolve_device(cfg.train.device)
    # Items ranked for test exclude every pair the model was trained on or
    # selected with (validation is part of train outside the validated protocol).
    seen = [train.to(device)] + ([val.to(device)] if protocol == "validated" else [])
    t1 = time.perf_counter()
    test_all = evaluate(model, graph=train.to(device), target=test.to(device),
                        exclude=seen, k=cfg.train.k,
                        batch_size=cfg.train.eval_batch_size, beyond=True)
    test_seconds = time.perf_counter() - t1
    test_metrics, test_beyond = split_beyond(test_all)
    sparsity = sparsity_report(model, train.to(device), test.to(device), seen,
                               cfg.train.k)
    popularity = {"val": history.baseline, "test": popularity_metrics(
        train.to(device), test.to(device), exclude=seen,
        k=cfg.train.k, batch_size=cfg.train.eval_batch_size)}
    result = {
        "name": cfg.name, "protocol": protocol, "seed": cfg.seed,
        "config": cfg.to_dict(), "model": repr(model).splitlines()[0],
        "versions": versions(), "git_revision": revision,
        "device": device_info(device), "allocator": allocator_state(),
        "data": {"users": train.num_users, "items": train.num_items,
                 "train": len(train), "val": len(val) if protocol == "validated" else 0,
                 "test": len(test)},
        # A refit is tested on its last epoch's weights: that is its "best".
        "best_epoch": len(history) if selection else history.best_epoch,
        "epochs_run": len(history),
        "resumed_from_epoch": trainer.resumed_from,
        "code_revisions": code_revisions(history.records, revision),
        "parts": run_parts(history.records, run_info),
        "changed_on_resume": trainer.changed_on_resume,
        "stopped_early": history.stopped_early, "val_best": history.best,
        "sparsity": sparsity,
        "popularity": popularity, "warnings": history.warnings,
        "test": test_metrics, "beyond_accuracy": {"test": test_beyond},
        "seconds_per_epoch": history.mean_seconds("train_seconds"),
        "seconds_per_eval": history.mean_seconds("eval_seconds"),
        "seconds_test_eval": test_seconds, "seconds_total": fit_seconds,
        "peak_memory_mb": history.peak_memory_mb, "history": history.records,
        # When the test split was scored (UTC): a run's date, which its commit
        # does not give (a run may start days after the commit it ran).
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if selection is not None:
        result["refit_of"] = selection
    if (tree := git_revision()) != revision:  # committed to or edited meanwhile
        result["git_revision_tree_at_end"] = tree
    if write:
        out.mkdir(parents=True, exist_ok=True)
        # The artifact first: a results file always has its model beside it.
        artifact = save_model(
            out / stem / MODEL_FILE, model, train, cfg.model, config=cfg.to_dict(),
            epoch=history.best_epoch,
            info={"name": cfg.name, "protocol": protocol, "seed": cfg.seed,
                  "test": test_metrics})
        path = out / f"{stem}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        result["path"], result["artifact"] = str(path), str(artifact)
    return result


def split_beyond(metrics: dict[str, float]
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """``(accuracy, beyond)``: diversity and novelty moved out, coverage in both.

    ``"test"`` keeps exactly what ``evaluate`` returns without ``beyond``, so a
    loaded run reproduces it key for key.

    Examples:
        >>> split_beyond({"recall@5": 0.5, "coverage@5": 0.2, "novelty@5": 3.0})
        ({'recall@5': 0.5, 'coverage@5': 0.2}, {'coverage@5': 0.2, 'novelty@5': 3.0})
    """
    names = ("diversity@", "novelty@", "coverage@")
    accuracy = {k: v for k, v in metrics.items() if not k.startswith(names[:2])}
    beyond = {k: v for k, v in metrics.items() if k.startswith(names)}
    return accuracy, beyond


def run_stem(cfg: RunConfig, protocol: str = "validated") -> str:
    """File stem of a run: ``<name>-seed<k>`` or ``<name>-legacy-seed<k>``.

    Examples:
        >>> from graphcl_rec.cli.config import from_dict
        >>> run_stem(from_dict({"seed": 2}, name="sgl"), "legacy")
        'sgl-legacy-seed2'
    """
    tag = "" if protocol == "validated" else f"-{protocol}"
    return f"{cfg.name}{tag}-seed{cfg.seed}"


def refit_selection(cfg: RunConfig, refit_of: Mapping[str, Any] | None
                    ) -> dict[str, Any]:
    """What a refit takes from the validated run it repeats (``refit_of``).

    Args:
        cfg: The refit's configuration.
        refit_of: The validated run's results dict.

    Returns:
        ``{"run", "best_epoch", "val_best", "test", "git_revision"}`` of that run.

    Raises:
        ValueError: If ``refit_of`` is missing, is not a validated run, has
            another seed or config (apart from :data:`VOLATILE` keys: names the
            keys that differ), or has no best epoch.

    Examples:
        >>> from graphcl_rec.cli.config import from_dict
        >>> cfg = from_dict({"seed": 1}, name="m")
        >>> run = {"protocol": "validated", "seed": 1, "config": cfg.to_dict(),
        ...        "best_epoch": 7, "val_best": {"recall@20": 0.2}, "test": {}}
        >>> refit_selection(cfg, run)["best_epoch"]
        7
    """
    if refit_of is None:
        raise ValueError("the refit protocol needs the validated run it repeats "
                         "(refit_of: its results), which sets the epochs")
    if refit_of.get("protocol") != "validated":
        raise ValueError(f"a refit repeats a validated run; refit_of is a "
                         f"{refit_of.get('protocol')!r} run")
    if refit_of.get("seed") != cfg.seed:
        raise ValueError(f"refit_of is seed {refit_of.get('seed')}, the refit seed "
                         f"{cfg.seed}")
    ours = flatten(resume_config(cfg))
    theirs = flatten(resume_config(refit_of.get("config", {})))
    differ = sorted(k for k in ours.keys() | theirs.keys()
                    if ours.get(k, ...) != theirs.get(k, ...))
    if differ:
        raise ValueError(f"refit_of was trained with another config: {differ} "
                         f"differ")
    best = refit_of.get("best_epoch")
    if not isinstance(best, int) or best < 1:
        raise ValueError(f"refit_of has no best epoch (got {best!r}): its "
                         f"validation never ran")
    return {"run": run_stem(cfg), "best_epoch": best,
            "val_best": refit_of.get("val_best"), "test": refit_of.get("test"),
            "git_revision": refit_of.get("git_revision")}


def with_seed(cfg: RunConfig, seed: int) -> RunConfig:
    """A copy of ``cfg`` with another seed."""
    return replace(cfg, seed=seed)
