"""The cost of beyond-accuracy metrics in full-ranking evaluation.

Usage:
    python -m benchmarks.beyond_cost [--datasets ml-100k yelp2018] [--users N]
        [--threads 1] [--rounds 7] [--out benchmarks/results/beyond/cost.json]

Times ``graphcl_rec.eval.evaluate_embeddings`` on each dataset's test split (random
``--dim``-d embeddings, training pairs excluded, ``k=[20]``) without and with
``item_degree`` (which adds ``diversity@20`` and ``novelty@20``), the two variants
alternating round by round in one process, and records the best and median time of
each and their ratio (with / without). ``--users`` keeps the test pairs of the
first N users (``0``: all). The results file records the command, the git revision,
the date, the thread count and the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from benchmarks.bench.common import load_split, meta
from graphcl_rec.eval import evaluate_embeddings


def time_dataset(name: str, args: argparse.Namespace) -> dict:
    train, test = load_split(name)
    if args.users:
        test = test.subset(test.user < args.users)
    g = torch.Generator().manual_seed(0)
    user_emb = torch.randn(train.num_users, args.dim, generator=g)
    item_emb = torch.randn(train.num_items, args.dim, generator=g)
    degree = train.item_degree()
    variants = {"off": None, "on": degree}
    times: dict[str, list[float]] = {key: [] for key in variants}
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for key, item_degree in variants.items():
            t0 = time.perf_counter()
            results[key] = evaluate_embeddings(user_emb, item_emb, test, exclude=train,
                                               k=[20], item_degree=item_degree)
            times[key].append(time.perf_counter() - t0)
    same = all(results["on"][k] == v for k, v in results["off"].items())
    row = {"dataset": name, "users": int(torch.unique(test.user).numel()),
           "items": train.num_items, "dim": args.dim, "rounds": args.rounds,
           "accuracy_metrics_identical": same,
           "beyond": {k: v for k, v in results["on"].items()
                      if k.startswith(("diversity", "novelty"))}}
    for key, values in times.items():
        row[f"seconds_{key}_best"] = min(values)
        row[f"seconds_{key}_median"] = statistics.median(values)
    row["ratio_best"] = row["seconds_on_best"] / row["seconds_off_best"]
    row["ratio_median"] = row["seconds_on_median"] / row["seconds_off_median"]
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["ml-100k", "yelp2018"])
    p.add_argument("--users", type=int, default=0)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    info = meta()
    rows = []
    for name in args.datasets:
        row = time_dataset(name, args)
        rows.append(row)
        print(f"{name}: {row['users']} users x {row['items']} items: off "
              f"{row['seconds_off_best']:.4f} s, on {row['seconds_on_best']:.4f} s "
              f"(best of {args.rounds}); ratio best {row['ratio_best']:.3f}, median "
              f"{row['ratio_median']:.3f}; accuracy identical: "
              f"{row['accuracy_metrics_identical']}", flush=True)
    info["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        record = {"command": "python -m benchmarks.beyond_cost " + " ".join(
            sys.argv[1:]), "meta": info, "rows": rows}
        args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
