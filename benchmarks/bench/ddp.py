"""``ddp``: seconds per training epoch of one config in one and in several processes.

Each variant pairs a process count from ``--nproc`` with a thread count from
``--threads-per-proc`` (element-wise; one thread count applies to every process
count; by default each process gets an equal share of this machine's cores, as
``graphcl-rec train --nproc N`` gives it). A variant runs the library's own
command, ``python -m graphcl_rec.cli train CONFIG --nproc N`` (torchrun for
``N > 1``, the plain loop for ``N = 1``), in a fresh child process with
``OMP_NUM_THREADS`` set to its threads, ``--epochs`` (plus ``--warmup-epochs``)
epochs, no validation during training (``eval_every`` past the last epoch) and its
results in a temporary folder that is deleted afterwards.

The figure is the trainer's ``train_seconds`` of each epoch, read from the epoch
log the run writes (``<run>.epochs.jsonl``, rank 0's clock): view and batch
sampling, the steps and, with several processes, the gradient all-reduce; neither
start-up, data loading, the process-group rendezvous nor any evaluation. The wall
time of the whole child (all of those and the closing test evaluation) is recorded
beside it. The variants alternate round by round over ``--rounds`` rounds, so they
share the machine's load; each variant reports the median of its timed epochs and
its speed-up against the first variant (the first's median over its own).

With several processes each one takes ``batch_size`` triples per step, so an
epoch has ``N`` times fewer optimiser steps over a global batch of
``N * batch_size`` (see :mod:`graphcl_rec.train.ddp`); ``--fixed-global-batch``
gives each process ``batch_size // N`` instead, so every variant takes the same
steps as one process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench.common import (
    Result,
    alternate,
    child_env,
    common_options,
    csv,
    library_path,
    runner_link,
    summary,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ddp", help="seconds per epoch of one config in 1 and N "
                                   "processes (graphcl-rec train --nproc)",
                       description=__doc__.split("\n\n")[0])
    common_options(p, device=False)
    p.add_argument("--config", type=Path, required=True,
                   help="a TOML config, e.g. benchmarks/configs/lightgcn_gowalla.toml")
    p.add_argument("--nproc", type=csv(int), default=[1, 2],
                   help="process counts, one variant each (default 1,2)")
    p.add_argument("--threads-per-proc", type=csv(int), default=None,
                   help="threads of each process, paired with --nproc (one value: "
                        "for every variant; default: the cores shared out)")
    p.add_argument("--epochs", type=int, default=1, help="timed epochs per run")
    p.add_argument("--warmup-epochs", type=int, default=0,
                   help="epochs trained first in each run and left out of the figures")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds; the variants alternate within each")
    p.add_argument("--fixed-global-batch", action="store_true",
                   help="give each of N processes batch_size // N triples per step")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override passed on as --KEY=VALUE (e.g. "
                        "train.device=cpu); repeatable")
    p.add_argument("--echo", action="store_true", help="show the children's output")
    p.set_defaults(func=run_ddp)


def pair_variants(nproc: list[int], threads: list[int] | None,
                  cpus: int) -> list[tuple[int, int]]:
    """``(processes, threads per process)`` of each variant, in the given order.

    Examples:
        >>> pair_variants([1, 2], [2, 1], cpus=2)
        [(1, 2), (2, 1)]
        >>> pair_variants([1, 2], None, cpus=4)
        [(1, 4), (2, 2)]
        >>> pair_variants([1, 2], [1], cpus=2)
        [(1, 1), (2, 1)]
    """
    if not nproc:
        raise SystemExit("argument --nproc: give at least one process count")
    if threads is None:
        threads = [max(1, cpus // n) for n in nproc]
    elif len(threads) == 1:
        threads = threads * len(nproc)
    elif len(threads) != len(nproc):
        raise SystemExit(f"argument --threads-per-proc: {len(threads)} values "
                         f"{threads} for {len(nproc)} process counts {nproc}; give "
                         "one value, or one per process count")
    bad = [v for v in [*nproc, *threads] if v < 1]
    if bad:
        raise SystemExit(f"arguments --nproc / --threads-per-proc: counts must be "
                         f">= 1 (got {bad})")
    pairs = list(zip(nproc, threads))
    repeated = sorted({p for p in pairs if pairs.count(p) > 1})
    if repeated:
        raise SystemExit(f"variants {repeated} given more than once")
    return pairs


def label(nproc: int, threads: int) -> str:
    """``"2 proc x 1 thread"``.

    Examples:
        >>> label(1, 2)
        '1 proc x 2 threads'
    """
    return f"{nproc} proc x {threads} thread{'s' if threads > 1 else ''}"


def train_argv(config: Path, nproc: int, out: Path, epochs: int,
               batch_size: int | None, overrides: list[str]) -> list[str]:
    """The ``graphcl-rec`` arguments of one run (validation past the last epoch).

    Examples:
        >>> train_argv(Path("/c.toml"), 2, Path("/o"), 3, None, ["train.device=cpu"])
        ['train', '/c.toml', '--nproc', '2', '--out', '/o', '--no-progress', \
'--train.epochs=3', '--train.eval_every=4', '--train.device=cpu']
    """
    argv = ["train", str(config), "--nproc", str(nproc), "--out", str(out),
            "--no-progress", f"--train.epochs={epochs}",
            f"--train.eval_every={epochs + 1}"]
    if batch_size is not None:
        argv.append(f"--train.batch_size={batch_size}")
    return argv + [f"--{item.removeprefix('--')}" for item in overrides]


def run_train(argv: list[str], env: dict[str, str], echo: bool
              ) -> tuple[float, list[dict[str, Any]], dict[str, Any]]:
    """Runs ``python -m graphcl_rec.cli ARGV``; returns wall seconds, the epoch log
    and the results JSON of the run in ``--out``."""
    out = Path(argv[argv.index("--out") + 1])
    command = [sys.executable, "-m", "graphcl_rec.cli", *argv]
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if echo or done.returncode != 0:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}): {' '.join(command)}")
    logs = sorted(out.glob("*.epochs.jsonl"))
    if len(logs) != 1:
        raise SystemExit(f"{out}: expected one epoch log after {' '.join(command)}, "
                         f"found {[p.name for p in logs]}")
    records = [json.loads(line) for line in logs[0].read_text().splitlines() if line]
    stem = logs[0].name.removesuffix(".epochs.jsonl")
    results = json.loads((out / f"{stem}.json").read_text())
    return wall, records, results


def run_ddp(args: argparse.Namespace) -> Result:
    from graphcl_rec.cli.config import load_config

    config = args.config.resolve()
    cfg = load_config(config, [f"--{s.removeprefix('--')}" for s in args.set])
    if args.epochs < 1 or args.warmup_epochs < 0 or args.rounds < 1:
        raise SystemExit(f"--epochs {args.epochs}, --warmup-epochs "
                         f"{args.warmup_epochs}, --rounds {args.rounds}: need "
                         "epochs >= 1, warm-up epochs >= 0 and rounds >= 1")
    pairs = pair_variants(args.nproc, args.threads_per_proc, os.cpu_count() or 1)
    batch = cfg.train.batch_size
    per_proc = {}
    for n, _ in pairs:
        if args.fixed_global_batch and batch % n:
            raise SystemExit(f"--fixed-global-batch: batch_size {batch} of {config} "
                             f"does not split over {n} processes")
        per_proc[n] = batch // n if args.fixed_global_batch else batch
    result = Result("ddp", args)
    epochs = args.warmup_epochs + args.epochs
    split = " (global, split over the processes)" if args.fixed_global_batch else (
        " per process")
    print(f"\n## {cfg.name} ({config}): batch {batch}{split}"
          f", {args.rounds} round(s) of {args.warmup_epochs} + {args.epochs} epochs "
          f"per variant", flush=True)
    labels = {label(n, t): (n, t) for n, t in pairs}
    rows: dict[str, dict[str, Any]] = {
        name: {"variant": name, "nproc": n, "threads_per_proc": t,
               "batch_per_proc": per_proc[n], "global_batch": per_proc[n] * n,
               "epoch_s": [], "wall_s": [], "loss": [], "child_threads": []}
        for name, (n, t) in labels.items()}
    with runner_link() as link:
        base = child_env(link, library_path().parent)
        # Keeps a working folder's own graphcl_rec off sys.path in torchrun's
        # children too (Python 3.11+), so PYTHONPATH alone decides the library.
        base["PYTHONSAFEPATH"] = "1"
        for r, name in alternate(list(labels), args.rounds):
            n, t = labels[name]
            env = dict(base, OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
            with tempfile.TemporaryDirectory(prefix="graphcl-bench-ddp-") as tmp:
                argv = train_argv(config, n, Path(tmp), epochs,
                                  per_proc[n] if args.fixed_global_batch else None,
                                  args.set)
                wall, records, results = run_train(argv, env, args.echo)
            if len(records) != epochs:
                raise SystemExit(f"{name}: the run logged {len(records)} epochs, "
                                 f"expected {epochs} (a time budget in the config?)")
            timed = [rec["train_seconds"] for rec in records[args.warmup_epochs:]]
            row = rows[name]
            row["epoch_s"].append(timed)
            row["wall_s"].append(wall)
            row["loss"].append([rec.get("loss") for rec in records])
            row["child_threads"].append(results.get("device", {}).get("threads"))
            print(f"round {r + 1}: {name:22s} "
                  + ", ".join(f"{s:.3f}" for s in timed)
                  + f" s/epoch; child {wall:.1f} s wall", flush=True)
    names = list(rows)
    print(f"\n| variant | s/epoch median | min | epochs | speed-up vs {names[0]} | "
          "child wall s (median) |\n|---|---|---|---|---|---|", flush=True)
    first = 0.0
    for name, row in rows.items():
        stats = summary([s for timed in row["epoch_s"] for s in timed])
        first = first or stats["median"]
        speedup = first / stats["median"]
        wall = summary(row["wall_s"])["median"]
        row.update(stats, speedup=speedup, wall_median_s=wall)
        print(f"| {name} | {stats['median']:.3f} | {stats['min']:.3f} | "
              f"{stats['n']} | {speedup:.2f} | {wall:.1f} |", flush=True)
        result.figure(f"{cfg.name} {name} s/epoch", stats["median"], "s")
        result.figure(f"{cfg.name} {name} speed-up", speedup, "x")
        result.figure(f"{cfg.name} {name} child wall", wall, "s")
        result.rows.append({"config": str(config), "name": cfg.name, **row})
    return result
