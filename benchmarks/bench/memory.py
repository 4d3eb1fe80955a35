"""``memory``: peak memory of training and of evaluation, each point in a fresh process.

Peak resident memory (``ru_maxrss``) cannot be reset inside a process, so every
point is a child process of this runner (``step --rss`` or ``eval --rss``):

* ``memory train``: for each model, load the split, build the model and its fused
  Adam, draw the views and train ``--steps`` steps; prints the resident memory after
  loading the data, the peak over the whole child, and the growth in training (on
  CUDA also the allocator's peak).
* ``memory eval``: for each ``--users N``, evaluate the first N test users with
  random embeddings (score blocks sized from ``--budget-mb``); prints the seconds,
  the peak and the growth during evaluation.
"""

from __future__ import annotations

import argparse

from benchmarks.bench.common import (
    Result,
    child_env,
    common_options,
    csv,
    library_path,
    run_child,
    runner_link,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("memory", help="peak memory of training / evaluation",
                       description=__doc__.split("\n\n")[0])
    kinds = p.add_subparsers(dest="what", required=True)
    t = kinds.add_parser("train", help="peak memory of training steps, per model")
    common_options(t)
    t.add_argument("--dataset", default="yelp2018")
    t.add_argument("--models", type=csv(), default=["sgl-ed", "lightgcn"])
    t.add_argument("--sampler", default="user")
    t.add_argument("--nce-precision", default="full")
    t.add_argument("--steps", type=int, default=20)
    t.add_argument("--echo", action="store_true", help="show the children's output")
    t.set_defaults(func=run_train)

    e = kinds.add_parser("eval", help="peak memory of evaluation, per user count")
    common_options(e)
    e.add_argument("--dataset", default="yelp2018")
    e.add_argument("--users", type=csv(int), default=[1000, 4000, 16000, 40000])
    e.add_argument("--budget-mb", type=float, default=256)
    e.add_argument("--ranker", default="auto")
    e.add_argument("--echo", action="store_true", help="show the children's output")
    e.set_defaults(func=run_eval)


def _thread_args(args: argparse.Namespace) -> list[str]:
    return [] if args.threads is None else ["--threads", str(args.threads)]


def run_train(args: argparse.Namespace) -> Result:
    result = Result("memory train", args)
    print("| model | steps | s/step | RSS after data (MB) | peak RSS (MB) | "
          "growth in training (MB) |")
    print("|---|---|---|---|---|---|")
    with runner_link() as link:
        env = child_env(link, library_path().parent)
        for model in args.models:
            child = run_child(["step", "--dataset", args.dataset, "--models", model,
                               "--samplers", args.sampler, "--nce-precision",
                               args.nce_precision, "--steps", str(args.steps),
                               "--rounds", "1", "--warmup", "0", "--rss",
                               "--device", args.device, *_thread_args(args)],
                              env, args.echo)
            row = child["rows"][0]
            growth = row["peak_rss_mb"] - row["rss_after_data_mb"]
            cuda = (f" (CUDA peak {row['cuda_peak_mb']:.0f} MB)"
                    if "cuda_peak_mb" in row else "")
            print(f"| {model} | {args.steps} | {row['median']:.3f} | "
                  f"{row['rss_after_data_mb']:.0f} | {row['peak_rss_mb']:.0f}{cuda} | "
                  f"{growth:.0f} |", flush=True)
            result.figure(f"{args.dataset} {model} peak RSS", row["peak_rss_mb"], "MB")
            result.figure(f"{args.dataset} {model} growth in training", growth, "MB")
            result.rows.append({**row, "growth_mb": growth,
                                "child_meta": child["meta"]})
    return result


def run_eval(args: argparse.Namespace) -> Result:
    result = Result("memory eval", args)
    print(f"{args.dataset}, memory budget {args.budget_mb} MB for the score blocks, "
          f"ranker {args.ranker}")
    print("| users evaluated | seconds | peak RSS (MB) | growth in evaluation (MB) |")
    print("|---|---|---|---|")
    with runner_link() as link:
        env = child_env(link, library_path().parent)
        for n in args.users:
            child = run_child(["eval", "--dataset", args.dataset, "--users", str(n),
                               "--rankers", args.ranker, "--rounds", "1",
                               "--memory-budget-mb", str(args.budget_mb),
                               "--no-floor", "--rss", "--device", args.device,
                               *_thread_args(args)], env, args.echo)
            row = child["rows"][0]
            print(f"| {row['users']} | {row['min']:.2f} | {row['peak_rss_mb']:.0f} | "
                  f"{row['growth_mb']:.0f} |", flush=True)
            result.figure(f"{args.dataset} {row['users']} users growth",
                          row["growth_mb"], "MB")
            result.rows.append({**row, "child_meta": child["meta"]})
    return result
