"""Peak memory of full-ranking evaluation as the number of evaluated users grows.

Usage: python benchmarks/memory_eval.py [--dataset yelp2018] [--budget-mb 256]

Each point runs in a fresh subprocess (peak RSS cannot be reset within a process):
load the split, draw random embeddings, evaluate the first N test users with
``evaluate_embeddings`` (user blocks sized from the memory budget), and report the
process's peak RSS minus its RSS just before evaluation.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
import graphcl_rec as gr
from graphcl_rec.eval import evaluate_embeddings
name, n_users, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
train, _, test = gr.data.load(name, val_ratio=0.0)
users = torch.unique(test.user)[:n_users]
target = test.subset(torch.isin(test.user, users))
g = torch.Generator().manual_seed(0)
u = torch.randn(train.num_users, 64, generator=g)
i = torch.randn(train.num_items, 64, generator=g)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
evaluate_embeddings(u, i, target, train, k=[20], memory_budget_mb=budget)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"users": int(users.numel()), "seconds": seconds,
                  "peak_mb": peak, "growth_mb": peak - before}))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="yelp2018")
    p.add_argument("--budget-mb", type=float, default=256)
    p.add_argument("--users", type=int, nargs="+", default=[1000, 4000, 16000, 40000])
    args = p.parse_args()
    print(f"{args.dataset}, memory budget {args.budget_mb} MB for the score blocks")
    print("| users evaluated | seconds | peak RSS (MB) | growth in evaluation (MB) |")
    print("|---|---|---|---|")
    for n in args.users:
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD, args.dataset,
                              str(n), str(args.budget_mb)], capture_output=True,
                             text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"| {r['users']} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | "
              f"{r['growth_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
