"""``allocator``: training steps with glibc's default allocator and with blocks held.

Each point is a fresh child process (``step --rss --allocator system|held``), since
the setting is process-wide and the peak resident set cannot be reset: ``held`` calls
``graphcl_rec.train.hold_freed_memory()`` first, as the ``graphcl-rec`` training
commands do, ``system`` leaves glibc at its defaults (whose adaptive mmap threshold
stops at 32 MiB). For every dataset x model x width, the two variants alternate
over ``--rounds`` rounds, so they share the machine's load; each child times
``--steps`` steps after ``--warmup`` untimed ones. The figures are the median of
the children's median step times, the speed-up (system over held) and each
variant's largest peak resident set. The node table's size in MiB is printed
beside them: the setting matters when it exceeds 32 MiB.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from benchmarks.bench.common import (
    Result,
    alternate,
    child_env,
    common_options,
    csv,
    library_path,
    load_split,
    run_child,
    runner_link,
)

VARIANTS = ("system", "held")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("allocator", help="training steps with glibc's default "
                                         "allocator and with freed blocks held",
                       description=__doc__.split("\n\n")[0])
    common_options(p)
    p.add_argument("--dataset", type=csv(), default=["gowalla"],
                   help="datasets as the step subcommand takes them (comma-separated)")
    p.add_argument("--models", type=csv(), default=["xsimgcl", "lightgcn"],
                   help="OBJECTIVE[+ENCODER], comma-separated (see step --help)")
    p.add_argument("--dims", type=csv(int), default=[64, 128],
                   help="embedding widths, comma-separated")
    p.add_argument("--sampler", default="interaction")
    p.add_argument("--steps", type=int, default=6, help="timed steps per child")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per child")
    p.add_argument("--rounds", type=int, default=2,
                   help="children per variant; the variants alternate")
    p.add_argument("--echo", action="store_true", help="show the children's output")
    p.set_defaults(func=run_allocator)


def table_mib(num_nodes: int, dim: int) -> float:
    """Size of a float32 ``[num_nodes, dim]`` table in MiB.

    Examples:
        >>> round(table_mib(70839, 128), 1)
        34.6
    """
    return num_nodes * dim * 4 / 2**20


def summarise(children: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Median step time, peak RSS and allocator state of each variant's children.

    Examples:
        >>> row = lambda s, mb: {"rows": [{"median": s, "peak_rss_mb": mb}],
        ...                      "meta": {"allocator": {"allocator": "x"}}}
        >>> out = summarise({"system": [row(2.0, 800), row(2.2, 810)],
        ...                  "held": [row(1.0, 1200), row(1.2, 1150)]})
        >>> out["speedup"], out["held"]["peak_rss_mb"]
        (1.909090909090909, 1200)
    """
    out: dict[str, Any] = {}
    for name, runs in children.items():
        steps = [run["rows"][0]["median"] for run in runs]
        out[name] = {"step_s": steps, "median_step_s": statistics.median(steps),
                     "peak_rss_mb": max(run["rows"][0]["peak_rss_mb"] for run in runs),
                     "allocator": runs[0]["meta"].get("allocator")}
    out["speedup"] = out["system"]["median_step_s"] / out["held"]["median_step_s"]
    return out


def run_allocator(args: argparse.Namespace) -> Result:
    if args.steps < 1 or args.rounds < 1 or args.warmup < 0:
        raise SystemExit(f"--steps {args.steps}, --rounds {args.rounds}, --warmup "
                         f"{args.warmup}: need steps >= 1, rounds >= 1, warmup >= 0")
    result = Result("allocator", args)
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    print("| dataset | model | dim | node table (MiB) | system s/step | held s/step "
          "| speed-up | system peak RSS (MB) | held peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    with runner_link() as link:
        env = child_env(link, library_path().parent)
        for dataset in args.dataset:
            train, _ = load_split(dataset)
            nodes = train.num_users + train.num_items
            for model in args.models:
                for dim in args.dims:
                    children: dict[str, list[dict[str, Any]]] = {v: [] for v in
                                                                 VARIANTS}
                    for _, variant in alternate(list(VARIANTS), args.rounds):
                        children[variant].append(run_child(
                            ["step", "--dataset", dataset, "--models", model,
                             "--samplers", args.sampler, "--dim", str(dim),
                             "--steps", str(args.steps), "--rounds", "1",
                             "--warmup", str(args.warmup), "--rss",
                             "--allocator", variant, "--device", args.device,
                             *threads], env, args.echo))
                    row = summarise(children)
                    held_state = row["held"]["allocator"] or {}
                    if held_state.get("allocator") != "glibc":
                        print(f"note: the held variant did not change the allocator "
                              f"({held_state})", flush=True)
                    mib = table_mib(nodes, dim)
                    print(f"| {dataset} | {model} | {dim} | {mib:.1f} | "
                          f"{row['system']['median_step_s']:.3f} | "
                          f"{row['held']['median_step_s']:.3f} | "
                          f"{row['speedup']:.2f}x | "
                          f"{row['system']['peak_rss_mb']:.0f} | "
                          f"{row['held']['peak_rss_mb']:.0f} |", flush=True)
                    key = f"{dataset} {model} d{dim}"
                    result.figure(f"{key} speed-up", row["speedup"], "x")
                    result.figure(f"{key} held peak RSS",
                                  row["held"]["peak_rss_mb"], "MB")
                    result.figure(f"{key} system peak RSS",
                                  row["system"]["peak_rss_mb"], "MB")
                    result.rows.append({"dataset": dataset, "model": model,
                                        "dim": dim, "nodes": nodes,
                                        "table_mib": mib, **row})
    return result
