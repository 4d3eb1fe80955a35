"""Full-ranking evaluation time against the users-per-block size, in one process.

Usage: python benchmarks/eval_block_sweep.py [--dataset yelp2018] [--threads 1]
                                             [--blocks 64 128 256 512 0] [--repeats 2]

Evaluates random 64-d embeddings of every test user (train pairs excluded) with each
block size (0: the evaluator's default from its 256 MB budget) and prints the time
against the floor: the score products at the sgemm rate measured in the same run.
Each repeat measures the rate again, so a loaded machine shows as spread.
"""

from __future__ import annotations

import argparse
import time

import torch

import graphcl_rec as gr
from graphcl_rec.eval import evaluate_embeddings


def seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="yelp2018")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--blocks", type=int, nargs="+", default=[64, 128, 256, 512, 0])
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    train, _, test = gr.data.load(args.dataset, val_ratio=0.0)
    g = torch.Generator().manual_seed(0)
    eu = torch.randn(train.num_users, 64, generator=g)
    ei = torch.randn(train.num_items, 64, generator=g)
    users = int(torch.unique(test.user).numel())
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(args.repeats):
        rate = 2 * 2048**3 / min(seconds(lambda: a @ b) for _ in range(3))
        floor = 2 * users * train.num_items * 64 / rate
        cells = []
        for block in args.blocks:
            s = seconds(lambda bs=block or None: evaluate_embeddings(
                eu, ei, test, train, k=[20], batch_size=bs))
            cells.append(f"{block or 'default'}: {s:.2f} s ({s / floor:.2f}x)")
        print(f"sgemm {rate / 1e9:.0f} GFLOP/s, floor {floor:.2f} s | "
              + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
