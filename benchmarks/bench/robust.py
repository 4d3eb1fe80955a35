"""``robust``: every objective at its library defaults on datasets nobody tuned it for.

Each registered objective (``graphcl_rec.models.OBJECTIVES``, so new ones are picked
up) is built with only its required arguments, on a LightGCN encoder (64-d, 3
layers, its other defaults; MF for ``mf``), and trained by ``graphcl_rec.Trainer``
with the README's shared settings (batch 2048, lr 5e-3, early stopping on
validation Recall@20 with patience 10 and warmup 10, ``reset_parameters=True``),
stopped by the same wall-clock budget per run (``--budget-seconds``). The epoch is
selected on validation; test is evaluated once, train and validation excluded. The
reference rows are ``popularity`` (items by training degree, seen items excluded),
``lightgcn`` (BPR) and ``lightgcn-1epoch`` (LightGCN after exactly one epoch); the
report flags every model whose mean test Recall@20 is below popularity, below
LightGCN's 1-epoch figure, or below LightGCN.

Every run writes one JSON, ``<out>[/<label>]/<dataset>/<model>-seed<N>.json``,
and is skipped when its file exists with the same settings (``--force`` reruns); the
report (``--report``, default ``README.md`` in the results folder) is made from those
files only: ``--report-only`` regenerates it, ``--compare OTHER`` sets two result
folders side by side (OTHER before, this one after), ``--rev REV`` runs the suite
against another git revision of the library (a temporary worktree, as ``ab`` does).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from benchmarks.bench import robust_data, robust_report
from benchmarks.bench.common import (
    PACKAGE,
    Result,
    child_env,
    csv,
    resolve_device,
    runner_link,
)

REFERENCES = ("popularity", "lightgcn-1epoch")
"""Cheap reference runs added to every selection (the flags are read against them)."""

FIXED = {"popularity": None, "lightgcn-1epoch": ("bpr", "lightgcn"),
         "mf": ("bpr", "mf"), "lightgcn": ("bpr", "lightgcn"),
         "lightgcn-mixgcf": ("bpr", "lightgcn")}
"""Models that are not ``objective name -> (objective, LightGCN)``."""

EXTRA = {"lightgcn-mixgcf": ({"hard_negatives": "mixgcf"}, {"num_negatives": 16})}
"""Objective and Trainer arguments of a model beyond the defaults (MixGCF's
negatives need candidates: 16 per pair, the smallest count in the paper)."""

REQUIRED = {"augment": ("EdgeDropout(p=0.1)",
                        lambda gr: gr.augment.EdgeDropout(p=0.1))}
"""Values for constructor arguments without a default (SGL's ``augment``)."""

RUN_VERSION = 1


# --- models -------------------------------------------------------------------------

def model_names() -> list[str]:
    """Every model, in report order: references, MF, LightGCN, then each registered
    objective other than BPR."""
    from graphcl_rec.models import OBJECTIVES

    return [*FIXED, *(key for key in OBJECTIVES if key != "bpr")]


def _params(cls) -> list[inspect.Parameter]:
    return list(inspect.signature(cls).parameters.values())[1:]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def build_model(name: str, num_users: int, num_items: int, dim: int, layers: int
                ) -> tuple[Any, str, dict[str, Any]]:
    """The model, its constructor call as text, and the objective's defaults."""
    import graphcl_rec as gr
    from graphcl_rec.models import ENCODERS, OBJECTIVES

    objective, encoder = FIXED.get(name) or (name, "lightgcn")
    extra = EXTRA.get(name, ({}, {}))[0]
    enc_cls = ENCODERS.get(encoder)
    wanted = {"dim": dim, "num_layers": layers}
    enc_kw = {p.name: wanted[p.name] for p in _params(enc_cls) if p.name in wanted}
    enc = enc_cls(num_users, num_items, **enc_kw)
    obj_cls = OBJECTIVES.get(objective)
    kwargs, shown = dict(extra), [f"{k}={v!r}" for k, v in extra.items()]
    for p in _params(obj_cls):
        if p.default is inspect.Parameter.empty and p.kind in (
                p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.name not in REQUIRED:
                raise ValueError(f"{obj_cls.__name__} requires {p.name!r}, which "
                                 f"robust does not know how to fill (see REQUIRED)")
            text, make = REQUIRED[p.name]
            kwargs[p.name] = make(gr)
            shown.append(f"{p.name}={text}")
    defaults = {p.name: _plain(p.default) for p in _params(obj_cls)
                if p.default is not inspect.Parameter.empty}
    enc_text = ", ".join(f"{k}={v}" for k, v in enc_kw.items())
    call = (f"{obj_cls.__name__}({enc_cls.__name__}({num_users}, {num_items}, "
            f"{enc_text}){''.join(', ' + s for s in shown)})"
            + "".join(f", Trainer({k}={v!r})"
                      for k, v in EXTRA.get(name, ({}, {}))[1].items()))
    return obj_cls(enc, **kwargs), call, defaults


# --- options ------------------------------------------------------------------------

def add_parser(sub: argparse._SubParsersAction) -> None:
    doc = __doc__.split("\n\n")
    p = sub.add_parser("robust", help="every objective at its defaults on several "
                       "datasets and seeds, against popularity and LightGCN",
                       description="\n\n".join(doc),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=csv(), default=list(robust_data.DEFAULT_DATASETS),
                   help="comma-separated, from " + ", ".join(robust_data.SOURCES)
                        + " (default: all but synthetic-tiny)")
    p.add_argument("--models", type=csv(), default=None,
                   help="comma-separated (default: all): popularity, lightgcn-1epoch, "
                        "mf, lightgcn and every registered objective (sgl, simgcl, "
                        "...); popularity and lightgcn-1epoch are always added")
    p.add_argument("--seeds", type=csv(int), default=[0, 1, 2])
    p.add_argument("--budget-seconds", type=float, default=60.0,
                   help="wall-clock budget per run (Trainer max_seconds; the epoch "
                        "that passes it finishes)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--device", default="cpu", help="cpu, cuda[:n] or auto")
    p.add_argument("--data-seed", default="0",
                   help="seed of the dataset slices and splits, or 'same' for each "
                        "run's own seed (default 0: one split, seeds vary training)")
    p.add_argument("--out", type=Path, default=Path("runs/robust"),
                   help="results folder (default runs/robust)")
    p.add_argument("--label", default=None,
                   help="a subfolder of --out for one side, e.g. before / after")
    p.add_argument("--force", action="store_true",
                   help="rerun runs whose JSON already exists")
    p.add_argument("--report", type=Path, default=None, metavar="PATH",
                   help="where to write the report (default: README.md in the "
                        "results folder)")
    p.add_argument("--report-only", action="store_true",
                   help="only regenerate the report from the JSON files")
    p.add_argument("--compare", default=None, metavar="OTHER_OUT",
                   help="only compare: OTHER_OUT (a results folder, or a label under "
                        "--out) before, this results folder after")
    p.add_argument("--compare-out", type=Path, default=None, metavar="PATH",
                   help="where --compare writes its table (default: "
                        "compare-vs-<other>.md in this results folder)")
    p.add_argument("--rev", default=None,
                   help="run against this git revision of the library (checked out "
                        "into a temporary worktree; the runner stays this one)")
    p.add_argument("--no-history", action="store_true",
                   help="leave the per-epoch History records out of the JSON files")
    g = p.add_argument_group("shared settings (the README's)")
    g.add_argument("--epochs", type=int, default=100_000, help="epoch cap")
    g.add_argument("--batch-size", type=int, default=2048)
    g.add_argument("--lr", type=float, default=5e-3)
    g.add_argument("--dim", type=int, default=64)
    g.add_argument("--layers", type=int, default=3)
    g.add_argument("--patience", type=int, default=10)
    g.add_argument("--warmup", default="10",
                   help="EarlyStopping warmup: an int, or 'auto' where the library "
                        "has it")
    p.add_argument("--json", type=Path, metavar="PATH",
                   help="also write every run's summary and the machine details here")
    p.add_argument("--expect-library", type=Path, default=None,
                   help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def results_dir(args: argparse.Namespace) -> Path:
    return args.out / args.label if args.label else args.out


def _data_seed(args: argparse.Namespace, seed: int) -> int:
    return seed if args.data_seed == "same" else int(args.data_seed)


def _warmup(args: argparse.Namespace) -> int | str:
    return args.warmup if args.warmup == "auto" else int(args.warmup)


def command_line(args: argparse.Namespace, absolute: bool = False) -> list[str]:
    """The options of this run as a ``robust`` command line (``--rev`` and the mode
    options left out)."""
    out = args.out.resolve() if absolute else args.out
    argv = ["robust", "--datasets", ",".join(args.datasets)]
    if args.models is not None:
        argv += ["--models", ",".join(args.models)]
    argv += ["--seeds", ",".join(map(str, args.seeds)),
             "--budget-seconds", f"{args.budget_seconds:g}",
             "--threads", str(args.threads), "--device", args.device,
             "--data-seed", str(args.data_seed), "--out", str(out)]
    if args.label:
        argv += ["--label", args.label]
    for flag, value, default in (("--epochs", args.epochs, 100_000),
                                 ("--batch-size", args.batch_size, 2048),
                                 ("--lr", args.lr, 5e-3), ("--dim", args.dim, 64),
                                 ("--layers", args.layers, 3),
                                 ("--patience", args.patience, 10),
                                 ("--warmup", args.warmup, "10")):
        if value != default:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if args.force:
        argv.append("--force")
    if args.no_history:
        argv.append("--no-history")
    if args.report is not None:
        argv += ["--report", str(args.report.resolve() if absolute else args.report)]
    return argv


def settings(args: argparse.Namespace, dataset: str, data_seed: int) -> dict[str, Any]:
    """What a stored run must share with this one to be reused."""
    return {"dataset": dataset, "data_seed": data_seed,
            "budget_seconds": args.budget_seconds, "epochs": args.epochs,
            "batch_size": args.batch_size, "lr": args.lr, "dim": args.dim,
            "layers": args.layers, "patience": args.patience,
            "warmup": _warmup(args), "threads": args.threads,
            "device": str(resolve_device(args.device))}


# --- one run ------------------------------------------------------------------------

def _popularity(data: robust_data.Dataset) -> dict[str, Any]:
    """Items ranked by training degree (ties by index), seen items excluded: the
    library's evaluator on ``(ones [U, 1], degree [I, 1])`` float64 embeddings."""
    import graphcl_rec as gr

    train = data.train
    degree = train.item_degree().to(torch.float64)
    tie = torch.arange(train.num_items, dtype=torch.float64) / (train.num_items + 1)
    user = torch.ones(train.num_users, 1, dtype=torch.float64)
    item = (degree - tie).unsqueeze(1)
    t0 = time.perf_counter()
    val = gr.eval.evaluate_embeddings(user, item, data.val, exclude=train, k=[20])
    t1 = time.perf_counter()
    test = gr.eval.evaluate_embeddings(user, item, data.test,
                                       exclude=[train, data.val], k=[20])
    return {"val_best": val, "test": test, "best_epoch": None, "epochs_run": 0,
            "seconds": t1 - t0, "test_seconds": time.perf_counter() - t1,
            "constructor": "popularity (item training degree)", "defaults": {}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _train(name: str, data: robust_data.Dataset, seed: int,
           args: argparse.Namespace) -> dict[str, Any]:
    import graphcl_rec as gr

    one_epoch = name == "lightgcn-1epoch"
    torch.manual_seed(seed)
    model, call, defaults = build_model(name, data.train.num_users,
                                        data.train.num_items, args.dim, args.layers)
    early = None if one_epoch else gr.EarlyStopping(
        "recall@20", patience=args.patience, warmup=_warmup(args))
    device = resolve_device(args.device)
    trainer = gr.Trainer(
        epochs=1 if one_epoch else args.epochs, batch_size=args.batch_size,
        lr=args.lr, max_seconds=None if one_epoch else args.budget_seconds,
        seed=seed, reset_parameters=True, early_stopping=early, progress=False,
        device=str(device), **EXTRA.get(name, ({}, {}))[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            history = trainer.fit(model, data.train, data.val)
        except FloatingPointError as exc:
            # The trainer's guard: a non-finite loss, gradient or weight. The user
            # gets no model; the run counts as 0 and the report says so.
            return {"val_best": {}, "test": {"recall@20": 0.0, "ndcg@20": 0.0},
                    "failed": f"{type(exc).__name__}: {exc}", "best_epoch": None,
                    "epochs_run": None, "seconds": time.perf_counter() - t0,
                    "test_seconds": 0.0, "constructor": call, "defaults": defaults}
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            test = gr.evaluate(model, graph=data.train.to(device),
                               target=data.test.to(device),
                               exclude=[data.train.to(device), data.val.to(device)],
                               k=[20])
        t2 = time.perf_counter()
    said = [{"category": type(w.message).__name__, "message": str(w.message)}
            for w in caught if "Sparse CSR" not in str(w.message)]
    records = history.records
    curve = [r["val"].get("recall@20") for r in records if "val" in r]
    epochs_run = len(records)
    out = {"val_best": history.best or {}, "test": test,
           "best_epoch": history.best_epoch, "epochs_run": epochs_run,
           "stopped_early": bool(history.stopped_early),
           "time_capped": (not one_epoch and not history.stopped_early
                           and epochs_run < args.epochs),
           "seconds": t1 - t0, "test_seconds": t2 - t1,
           "seconds_per_epoch": sum(r.get("train_seconds", 0.0) for r in records)
           / max(epochs_run, 1),
           "val_recall_curve": curve, "constructor": call, "defaults": defaults,
           "library_warnings": said,
           "popularity_val_library": getattr(history, "baseline", None),
           "peak_memory_mb": history.peak_memory_mb}
    if not args.no_history:
        to_dict = getattr(history, "to_dict", None)
        out["history"] = to_dict() if to_dict else {"records": records}
    return out


def run_one(name: str, data: robust_data.Dataset, seed: int, args: argparse.Namespace,
            info: dict[str, Any]) -> dict[str, Any]:
    """One model on one dataset and seed: the record its JSON holds."""
    load = [round(v, 2) for v in os.getloadavg()]
    body = _popularity(data) if name == "popularity" else _train(name, data, seed,
                                                                 args)
    info = {**info, "load_average": load,
            "load_average_end": [round(v, 2) for v in os.getloadavg()]}
    return _jsonable({
        "kind": "robust-run", "version": RUN_VERSION, "dataset": data.name,
        "model": name, "seed": seed, "dataset_info": data.info,
        "settings": settings(args, data.name, data.info["data_seed"]),
        "command": "python -m benchmarks.run " + shlex.join(command_line(args)),
        **body, "meta": {**info, "date": _now()}})


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def warm_up(args: argparse.Namespace) -> float:
    """One untimed LightGCN epoch and evaluation on ``synthetic-tiny``.

    The first ``fit`` of a process pays one-off costs (lazy imports, the native
    kernels' loading) of a few seconds, which would otherwise come out of the
    first timed run's budget. Returns the seconds it took.
    """
    import graphcl_rec as gr

    t0 = time.perf_counter()
    data = robust_data.build("synthetic-tiny", 0)
    model, _, _ = build_model("lightgcn", data.train.num_users, data.train.num_items,
                              args.dim, args.layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gr.Trainer(epochs=1, batch_size=args.batch_size, lr=args.lr, progress=False,
                   reset_parameters=True,
                   device=str(resolve_device(args.device))).fit(
            model, data.train, data.val)
    return time.perf_counter() - t0


def _write(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)  # atomic: a killed run leaves no half-written result


def _stored(path: Path, want: dict[str, Any], force: bool) -> dict[str, Any] | None:
    """The stored run at ``path`` if it can be reused, else ``None``."""
    if force or not path.is_file():
        return None
    record = json.loads(path.read_text())
    have = record.get("settings", {})
    differ = {k: (have.get(k), v) for k, v in _jsonable(want).items()
              if have.get(k) != v}
    if differ:
        raise SystemExit(f"{path} was made with other settings ({differ}: stored, "
                         f"asked); pass --force to rerun or choose another --label")
    return record


def _line(record: dict[str, Any]) -> str:
    test = record["test"]
    epochs = ("" if record["model"] == "popularity" else
              f", epochs {record['best_epoch']}/{record['epochs_run']}"
              + (" (time cap)" if record.get("time_capped") else ""))
    warned = record.get("library_warnings") or []
    kinds = sorted({w["category"] for w in warned})
    if record.get("failed"):
        return (f"{record['dataset']} seed {record['seed']} {record['model']:16s} "
                f"FAILED after {record['seconds']:.1f} s ({record['failed']}); "
                "counted as recall 0")
    return (f"{record['dataset']} seed {record['seed']} {record['model']:16s} "
            f"test recall@20 {test['recall@20']:.4f} ndcg@20 {test['ndcg@20']:.4f}"
            f"{epochs}, {record['seconds']:.1f} s"
            + (f"; library warned: {', '.join(kinds)}" if kinds else ""))


# --- the subcommand -----------------------------------------------------------------

def _selected(args: argparse.Namespace) -> list[str]:
    known = model_names()
    wanted = known if args.models is None else list(args.models)
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {known}")
    wanted = [*REFERENCES, *(m for m in wanted if m not in REFERENCES)]
    return sorted(wanted, key=known.index)


def run(args: argparse.Namespace) -> Result | None:
    if args.data_seed != "same":
        try:
            int(args.data_seed)
        except ValueError:
            raise SystemExit("--data-seed: an int or 'same'") from None
    if args.rev is not None:
        return _run_rev(args)
    root = results_dir(args)
    if args.compare is not None:
        other = Path(args.compare)
        if not other.is_dir() and (args.out / args.compare).is_dir():
            other = args.out / args.compare
        text = robust_report.compare(other, root)
        path = args.compare_out or root / f"compare-vs-{other.name}.md"
        _publish(text, path)
        return None
    if args.report_only:
        _publish(robust_report.report(root), args.report or root / "README.md")
        return None
    if args.expect_library is not None:
        from benchmarks.bench.common import library_path

        if args.expect_library.resolve() not in library_path().parents:
            raise SystemExit(f"imported graphcl_rec from {library_path()}, not from "
                             f"{args.expect_library}")
    unknown = [d for d in args.datasets if d not in robust_data.SOURCES]
    if unknown:
        raise SystemExit(f"unknown dataset(s) {unknown}; choose from "
                         f"{list(robust_data.SOURCES)}")
    models = _selected(args)
    result = Result("robust", args, resolve_device(args.device))
    info = {k: v for k, v in result.meta.items() if k != "date"}
    print(f"results in {root}; models {', '.join(models)}; seeds {args.seeds}; "
          f"budget {args.budget_seconds:g} s per run", flush=True)
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cpus:
        print(f"warning: load average {load:.1f} on {cpus} CPUs: the budgets will "
              f"measure a shared machine (torch threads spin against other "
              f"processes; --threads 1 suffers less)", flush=True)
    warmed = False
    for dataset in args.datasets:
        built: dict[int, robust_data.Dataset] = {}
        for seed in args.seeds:
            data_seed = _data_seed(args, seed)
            for name in models:
                path = root / dataset / f"{name}-seed{seed}.json"
                record = _stored(path, settings(args, dataset, data_seed), args.force)
                if record is None and data_seed not in built:  # built when needed
                    built[data_seed] = robust_data.build(dataset, data_seed)
                    print(f"\n## {built[data_seed].line()}", flush=True)
                if record is None:
                    data = built[data_seed]
                    if not warmed and name != "popularity":
                        print(f"warm-up (untimed): {warm_up(args):.1f} s", flush=True)
                        warmed = True
                    record = run_one(name, data, seed, args, info)
                    _write(path, record)
                    print(_line(record), flush=True)
                else:
                    print(_line(record) + "  [stored]", flush=True)
                result.rows.append({k: record.get(k) for k in (
                    "dataset", "model", "seed", "best_epoch", "epochs_run", "seconds",
                    "test", "val_best", "time_capped", "stopped_early")})
        _publish(robust_report.report(root), args.report or root / "README.md",
                 echo=False)
    _publish(robust_report.report(root), args.report or root / "README.md")
    for row in result.rows:
        result.figure(f"{row['dataset']} {row['model']} seed{row['seed']} "
                      "test recall@20", row["test"]["recall@20"], "recall")
    return result


def _publish(text: str, path: Path, echo: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if echo:
        print("\n" + text, flush=True)
        print(f"wrote {path}", flush=True)


def _run_rev(args: argparse.Namespace) -> None:
    """The same command in a child process whose library is revision ``--rev``."""
    import shutil

    def git(*argv: str) -> str:
        done = subprocess.run(["git", "-C", str(PACKAGE), *argv], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit(f"git {' '.join(argv)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    commit = git("rev-parse", "--verify", f"{args.rev}^{{commit}}")
    tmp = Path(tempfile.mkdtemp(prefix="graphcl-robust-"))
    tree = tmp / "tree"
    git("worktree", "add", "--detach", "--quiet", str(tree), commit)
    try:
        argv = command_line(args, absolute=True) + ["--expect-library", str(tree)]
        print(f"library: {args.rev} ({commit[:12]}) at {tree}", flush=True)
        with runner_link() as link:
            safe = ["-P"] if sys.version_info >= (3, 11) else []
            cwd = None if safe else str(link)
            done = subprocess.run([sys.executable, *safe, "-m", "benchmarks.run",
                                   *argv], env=child_env(link, tree), cwd=cwd)
        if done.returncode != 0:
            raise SystemExit(f"the {args.rev} side failed ({done.returncode})")
    finally:
        git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(tmp, ignore_errors=True)
    return None
