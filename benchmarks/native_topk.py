"""The fused native top-K kernel alone, against the sgemm rate, in one process.

Usage: python benchmarks/native_topk.py [--dataset yelp2018] [--k 1 20 100]
                                        [--threads 2] [--repeats 3] [--avx2]

Ranks every test user of the dataset against all items with random 64-d embeddings
(nothing excluded) by ``graphcl_rec.native.topk.topk_dot``, for each ``--k``, and
prints the best time of ``--repeats`` and its rate in GFLOP/s (``2 N I d`` FLOP),
next to a 2048^3 sgemm timed in the same process. ``k = 1`` shows the products'
cost; larger ``k`` adds the selection's insertions. ``--avx2`` builds the kernels
without AVX-512 (``-march=native -mno-avx512f``: the AVX2 + FMA micro-kernel), as
on hosts without AVX-512.
"""

from __future__ import annotations

import argparse
import time

import torch

import graphcl_rec as gr
from graphcl_rec import native
from graphcl_rec.eval.blocks import item_slabs
from graphcl_rec.native.topk import topk_dot


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="yelp2018")
    p.add_argument("--k", type=int, nargs="+", default=[1, 20, 100])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--avx2", action="store_true")
    args = p.parse_args()
    flags = native.AVX2_FLAGS if args.avx2 else native.FLAGS
    torch.set_num_threads(args.threads)
    print(f"native kernel: {native.status()}, build {' '.join(flags)}: vector width "
          f"{native.load(flags).native_simd()}")
    train, _, test = gr.data.load(args.dataset, val_ratio=0.0)
    gen = torch.Generator().manual_seed(0)
    users = torch.unique(test.user)
    rows = torch.randn(train.num_users, 64, generator=gen)[users]
    items = torch.randn(train.num_items, 64, generator=gen)
    width = -(-train.num_items // 64) * 64
    slabs = item_slabs(torch.cat([items, items.new_zeros(width - len(items), 64)]))
    ptr = torch.zeros(len(users) + 1, dtype=torch.long)
    none = torch.zeros(0, dtype=torch.long)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    sgemm = 2 * 2048**3 / best_of(lambda: a @ b, 5)
    flop = 2 * len(users) * train.num_items * 64
    print(f"{args.dataset}: {len(users)} users x {train.num_items} items, "
          f"{args.threads} threads; sgemm {sgemm / 1e9:.0f} GFLOP/s, so the products "
          f"take {flop / sgemm * 1e3:.0f} ms at that rate")
    for k in args.k:
        t = best_of(lambda k=k: topk_dot(rows, slabs, train.num_items, k, ptr,
                                         none, args.threads, flags), args.repeats)
        print(f"  k = {k:4d}: {t * 1e3:7.1f} ms, {flop / t / 1e9:5.0f} GFLOP/s "
              f"({flop / sgemm / t:.2f} of the sgemm rate)")


if __name__ == "__main__":
    main()
