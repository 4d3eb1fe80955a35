"""Full-precision against bf16 InfoNCE products: test quality on ML-100K.

Usage:
    python -m benchmarks.nce_precision quality [--seeds 0 1 2] [--ssl-weight W]

``quality`` trains SGL-ED on ML-100K with the main job's settings (validated
protocol: early stopping on validation Recall@20, test evaluated once) in both
precisions for each seed, without writing results files, and prints test
Recall@20 / NDCG@20 per seed and their mean.

The step-time half of the comparison is the runner's ``step`` subcommand:
``python -m benchmarks.run step --dataset gowalla --models sgl-ed --samplers
interaction --nce-precision full,bfloat16`` (both precisions alternating in one
process on the same batches and views).
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace

from graphcl_rec.bench.main_job import main_job_configs
from graphcl_rec.cli.experiment import run_experiment

PRECISIONS = ("full", "bfloat16")


def quality(args: argparse.Namespace) -> None:
    """ML-100K SGL-ED test metrics in both precisions."""
    (base,) = main_job_configs(epochs=args.epochs, device="cpu", names=["SGL-ED"])
    if args.ssl_weight is not None:
        base = replace(base, model={**base.model, "ssl_weight": args.ssl_weight})
    print(f"ML-100K SGL-ED, {base.model}, lr {base.train.lr}, validated protocol")
    print("| precision | seed | test recall@20 | test ndcg@20 | best epoch |")
    print("|---|---|---|---|---|")
    for precision in PRECISIONS:
        recall, ndcg = [], []
        for seed in args.seeds:
            cfg = replace(base, seed=seed,
                          model={**base.model, "nce_precision": precision})
            res = run_experiment(cfg, progress=False, write=False, checkpoints=False)
            recall.append(res["test"]["recall@20"])
            ndcg.append(res["test"]["ndcg@20"])
            print(f"| {precision} | {seed} | {recall[-1]:.4f} | {ndcg[-1]:.4f} | "
                  f"{res['best_epoch']} |", flush=True)
        print(f"| {precision} | mean | {statistics.mean(recall):.4f} | "
              f"{statistics.mean(ndcg):.4f} | |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--epochs", type=int, default=300)
    q.add_argument("--ssl-weight", type=float, default=None)
    args = p.parse_args()
    quality(args)


if __name__ == "__main__":
    main()
