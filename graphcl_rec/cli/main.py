"""The ``graphcl-rec`` command line: run, train, bench, recommend, export, datasets."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphcl_rec.bench.main_job import MAIN_JOB, main_job_configs
from graphcl_rec.cli.config import RunConfig, load_config
from graphcl_rec.cli.experiment import (
    checkpoint_seed,
    run_experiment,
    run_stem,
    with_seed,
)
from graphcl_rec.cli.launch import launch_local
from graphcl_rec.cli.runs import (
    RESUME_CHANGEABLE,
    check_runs_free,
    trainer_allow_change,
)
from graphcl_rec.cli.serving import add_commands as add_serving_commands
from graphcl_rec.train import TrainingWarning
from graphcl_rec.train.allocator import hold_freed_memory
from graphcl_rec.train.distributed import env_world_size, launched


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def check_distinct_seeds(seeds: Sequence[int] | None) -> None:
    """Refuses ``--seeds`` naming a seed twice.

    The second run of a seed would meet the first's files only once that one had
    trained, and end in a conflict after all that training.
    """
    given = list(seeds or ())
    repeated = sorted({s for s in given if given.count(s) > 1})
    if repeated:
        raise ValueError(f"argument --seeds: seed(s) {repeated} given more than once")


def cmd_run(args: argparse.Namespace) -> int:
    """Trains the main-job models on ML-100K and prints the test table.

    The main job regenerates its table: it replaces its own earlier results in
    ``--out`` (``make run`` may be run again).
    """
    if args.epochs < 1:
        raise ValueError(f"argument --epochs: must be >= 1 (got {args.epochs})")
    names = args.models.split(",") if args.models else None
    rows = []
    for cfg in main_job_configs(epochs=args.epochs, seed=args.seed, device=args.device,
                                names=names):
        res = run_experiment(cfg, out_dir=args.out, progress=not args.no_progress,
                             checkpoints=False, overwrite=True)
        t = res["test"]
        rows.append([cfg.name.removeprefix("ml-100k-"), f"{t['recall@20']:.4f}",
                     f"{t['ndcg@20']:.4f}", str(res["best_epoch"]),
                     str(res["epochs_run"]), f"{res['seconds_per_epoch']:.3f}",
                     f"{res['seconds_total']:.1f}"])
    print("ML-100K, 80/10/10 per-user split, best epoch chosen on validation, "
          "test evaluated once")
    print(_table(rows, ["model", "test recall@20", "test ndcg@20", "best epoch",
                        "epochs", "s/epoch", "seconds"]))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Trains one config (possibly over several seeds) and writes results JSON.

    ``--nproc N`` runs the same command in ``N`` local processes through torchrun;
    under torchrun (``WORLD_SIZE > 1``) every run trains data-parallel
    (:mod:`graphcl_rec.train.ddp`) and only rank 0 writes and prints.
    """
    cfg = load_config(args.config, args.overrides)
    world = env_world_size()
    if args.nproc is not None:
        if args.nproc < 1:
            raise ValueError(f"argument --nproc: must be >= 1 (got {args.nproc})")
        if world == 1 and args.nproc > 1:
            return launch_local(args.nproc, args.argv)
        if world > 1 and args.nproc != world:
            raise ValueError(f"argument --nproc: {args.nproc} processes requested "
                             f"inside a launcher that started WORLD_SIZE={world}; "
                             "give the count to one of them")
    with launched(cfg.train.device) as group:
        main = group is None or group.is_main
        if not main:  # rank 0 reports; the others stay quiet
            logging.getLogger("graphcl_rec").setLevel(logging.ERROR)
        return _train_runs(args, cfg, main)


def _train_runs(args: argparse.Namespace, cfg: RunConfig, main: bool) -> int:
    """The runs of ``train`` in this process (``main``: the one that prints)."""
    check_distinct_seeds(args.seeds)
    seeds = args.seeds if args.seeds else [cfg.seed]
    if args.allow_change and args.resume is None:
        raise ValueError("argument --allow-change: only applies with --resume")
    trainer_allow_change(args.allow_change or ())  # refuses unknown keys early
    if args.resume is not None:
        if args.overwrite:
            raise ValueError("--resume continues a run and --overwrite replaces it; "
                             "give one of them")
        if args.seeds and len(args.seeds) > 1:
            raise ValueError("--resume continues one run; give at most one --seeds")
        seeds = args.seeds or [checkpoint_seed(args.resume)]
    elif not args.overwrite and main:
        out = args.out if args.out is not None else cfg.output_dir
        check_runs_free((out, run_stem(with_seed(cfg, s))) for s in seeds)
    for seed in seeds:
        res = run_experiment(with_seed(cfg, seed), out_dir=args.out,
                             progress=not args.no_progress, resume=args.resume,
                             overwrite=args.overwrite,
                             allow_change=args.allow_change or ())
        if not main:
            continue
        t = res["test"]
        print(f"{cfg.name} seed={seed}: test recall@20={t['recall@20']:.4f} "
              f"ndcg@20={t['ndcg@20']:.4f} best_epoch={res['best_epoch']} "
              f"s/epoch={res['seconds_per_epoch']:.3f} "
              f"s/eval={res['seconds_per_eval']:.3f} -> {res['path']}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Runs benchmark configs over seeds and regenerates the results report.

    Results go to ``--out`` and the report to ``--report`` (default
    ``<out>/RESULTS.md``); nothing else is written.
    """
    from dataclasses import replace

    from graphcl_rec.bench.report import write_report

    out = Path(args.out)
    report = Path(args.report) if args.report is not None else out / "RESULTS.md"
    if args.budget_minutes is not None and not args.budget_minutes > 0:
        raise ValueError(f"argument --budget-minutes: must be > 0 "
                         f"(got {args.budget_minutes})")
    if args.resume and args.overwrite:
        raise ValueError("--resume continues runs and --overwrite replaces them; "
                         "give one of them")
    check_distinct_seeds(args.seeds)
    runs = []
    for path in args.configs:
        cfg = load_config(path, args.overrides)
        train = cfg.train
        if args.budget_minutes is not None:
            train = replace(train, max_seconds=args.budget_minutes * 60)
        if args.device is not None:
            train = replace(train, device=args.device)
        cfg = replace(cfg, train=train)
        for seed in args.seeds:
            run_cfg = with_seed(cfg, seed)
            run_dir = out / run_stem(run_cfg, args.protocol)
            resume = run_dir if args.resume and (run_dir / "last.pt").exists() else None
            runs.append((run_cfg, resume))
    if not args.overwrite:  # every conflict before the first run trains
        check_runs_free((out, run_stem(c, args.protocol)) for c, r in runs if r is None)
    for run_cfg, resume in runs:
        refit_of = (validated_run(run_cfg, out, args) if args.protocol == "refit"
                    else None)
        res = run_experiment(run_cfg, out_dir=out, progress=not args.no_progress,
                             checkpoints=args.checkpoints or args.resume,
                             protocol=args.protocol, resume=resume,
                             overwrite=args.overwrite, refit_of=refit_of)
        t = res["test"]
        print(f"{run_cfg.name} [{args.protocol}] seed={run_cfg.seed}: "
              f"recall@20={t['recall@20']:.4f} ndcg@20={t['ndcg@20']:.4f} "
              f"best_epoch={res['best_epoch']} epochs={res['epochs_run']} "
              f"s/epoch={res['seconds_per_epoch']:.2f} -> {res['path']}",
              flush=True)
    print(f"report: {write_report(out, report)}")
    return 0


def validated_run(cfg: RunConfig, out: Path, args: argparse.Namespace
                  ) -> dict[str, Any]:
    """The validated run a refit repeats, as its results dict.

    Read from ``<out>/<name>-seed<k>.json``; when that file is not there yet, the
    validated run is made first (resumed with ``--resume``).
    """
    import json

    stem = run_stem(cfg, "validated")
    path = out / f"{stem}.json"
    if path.exists():
        return dict(json.loads(path.read_text(encoding="utf-8")))
    run_dir = out / stem
    resume = run_dir if args.resume and (run_dir / "last.pt").exists() else None
    print(f"{cfg.name} seed={cfg.seed}: no {path.name} to refit; running the "
          f"validated protocol first", flush=True)
    res = run_experiment(cfg, out_dir=out, progress=not args.no_progress,
                         checkpoints=args.checkpoints or args.resume,
                         protocol="validated", resume=resume,
                         overwrite=args.overwrite)
    return {k: v for k, v in res.items() if k not in ("path", "artifact")}


def cmd_datasets(args: argparse.Namespace) -> int:
    """Lists the named datasets with sizes and checksums (``--stats``: structure)."""
    from graphcl_rec import data

    names = data.available()
    for name in args.name or ():
        if name not in names:
            raise ValueError(f"argument --name: {name!r} is not available "
                             f"(available: {names})")
    if args.clustering_sample < 1:
        raise ValueError(f"argument --clustering-sample: must be >= 1 "
                         f"(got {args.clustering_sample})")
    for name in args.name or names:
        info = data.info(name)
        print(f"{name}: {info['num_users']} users, {info['num_items']} items, "
              f"{info['num_train']} train + {info['num_test']} test pairs")
        for f in info.get("files", []):
            print(f"  {f['path']}  {f['bytes']} bytes  sha256 {f['sha256']}")
        if args.stats:
            from graphcl_rec.analysis.graph_stats import format_stats, graph_stats

            train, _, _ = data.load(name, val_ratio=0.0)
            print("  training graph (train + validation pairs):")
            stats = graph_stats(train, clustering_sample=args.clustering_sample)
            for line in format_stats(stats):
                print(f"    {line}")
    return 0


#: The commands that train, and so set the allocator up for it (``--system-malloc``).
TRAINING_COMMANDS = ("run", "train", "bench")


def _system_malloc_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--system-malloc", action="store_true",
                   help="leave glibc's allocator at its defaults; without it the "
                        "process keeps freed blocks of up to 256 MiB for reuse "
                        "(graphcl_rec.train.allocator.hold_freed_memory: faster "
                        "training when node tables exceed 32 MiB, a larger "
                        "resident set)")


def prepare_process(args: argparse.Namespace) -> None:
    """Process-wide setup of a training command: the allocator (see its option)."""
    if args.command in TRAINING_COMMANDS and not args.system_malloc:
        hold_freed_memory()


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``graphcl-rec``."""
    p = argparse.ArgumentParser(prog="graphcl-rec", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="main job: compare models on ML-100K")
    r.add_argument("--epochs", type=int, default=300)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto")
    r.add_argument("--models", default=None,
                   help=f"comma-separated subset of {[n for n, _, _ in MAIN_JOB]}")
    r.add_argument("--out", default="runs/main",
                   help="results folder; the main job replaces its own earlier "
                        "results there (default: runs/main)")
    r.add_argument("--no-progress", action="store_true")
    _system_malloc_option(r)
    r.set_defaults(func=cmd_run)
    t = sub.add_parser("train", help="train one TOML config")
    t.add_argument("config")
    t.add_argument("--seeds", type=int, nargs="+", default=None)
    t.add_argument("--out", default=None)
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue a stopped run from RUN_DIR/last.pt "
                        "(RUN_DIR is <out>/<name>-seed<k>)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run of the same name in --out (its "
                        "results, epoch log and checkpoints are deleted first); "
                        "without it such a run is refused")
    t.add_argument("--allow-change", metavar="KEY", action="append", default=None,
                   help=f"one of {sorted(RESUME_CHANGEABLE)}; with --resume: let KEY "
                        "differ from the checkpoint's value "
                        "(e.g. --train.lr=1e-4 --allow-change train.lr to continue a "
                        "run the NaN guard stopped); the resumed optimiser uses the "
                        "new value and the results record the change; repeatable")
    t.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="train data-parallel in N local processes (torch.distributed "
                        "via torchrun: gloo on CPU, nccl on CUDA, one GPU each); "
                        "the same as torchrun --nproc-per-node N -m graphcl_rec.cli "
                        "train ...; the results equal one process's up to "
                        "floating-point rounding for BPR objectives")
    _system_malloc_option(t)
    t.set_defaults(func=cmd_train)
    b = sub.add_parser("bench", help="benchmark configs over seeds; writes a report")
    b.add_argument("configs", nargs="+")
    b.add_argument("--seeds", type=int, nargs="+", default=[0])
    b.add_argument("--budget-minutes", type=float, default=None,
                   help="wall-clock budget per run (the run stops after the epoch "
                        "that exceeds it)")
    b.add_argument("--device", default=None)
    b.add_argument("--protocol", choices=["validated", "legacy", "refit"],
                   default="validated",
                   help="validated: select on a validation split, test once; "
                        "legacy: select the epoch on test (the papers' protocol); "
                        "refit: train the validated run's config on train and "
                        "validation for its best epoch count, test once (the "
                        "validated run is made first when --out lacks it)")
    b.add_argument("--out", default="runs/bench",
                   help="folder of the results JSON files (default: runs/bench)")
    b.add_argument("--report", default=None, metavar="PATH",
                   help="Markdown report to write (default: <out>/RESULTS.md)")
    b.add_argument("--checkpoints", action="store_true",
                   help="also write resumable checkpoints per run")
    b.add_argument("--resume", action="store_true",
                   help="continue each run from <out>/<run>/last.pt when it exists "
                        "(implies --checkpoints)")
    b.add_argument("--overwrite", action="store_true",
                   help="replace earlier runs of the same names in --out; without "
                        "it (or --resume) such runs are refused before any trains")
    b.add_argument("--no-progress", action="store_true")
    _system_malloc_option(b)
    b.set_defaults(func=cmd_bench)
    add_serving_commands(sub)
    d = sub.add_parser("datasets", help="list datasets with sizes and checksums")
    d.add_argument("--name", action="append", default=None,
                   help="only this dataset (repeatable)")
    d.add_argument("--stats", action="store_true",
                   help="also print the training graph's structure: degrees, "
                        "density, connected components, bipartite clustering")
    d.add_argument("--clustering-sample", type=int, default=2000, metavar="N",
                   help="with --stats: average the clustering over at most N "
                        "random nodes per side (default 2000)")
    d.set_defaults(func=cmd_datasets)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; errors print one line (``--debug`` for the traceback)."""
    p = parser()
    args, extra = p.parse_known_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for --nproc
    if args.command in ("train", "bench"):
        args.overrides = extra
    elif extra:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    # A TrainingWarning reaches stderr once, as the library's one-line log record
    # ("WARNING: <model>: ..."); the Python warning would repeat it.
    warnings.filterwarnings("ignore", category=TrainingWarning)
    try:
        prepare_process(args)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's one-line error contract
        if args.debug or os.environ.get("GRAPHCL_REC_DEBUG"):
            raise
        print(f"graphcl-rec: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
