"""Full-ranking evaluation with and without a change, alternated in one process.

Usage: python benchmarks/ab_eval.py [--datasets yelp2018 gowalla] [--rev REV]
           [--old rev|native|group-major|row-major] [--new auto|...]
           [--k 20] [--rounds 4] [--threads 2] [--avx2]

Ranks every test user of each dataset against all items with random 64-d embeddings
(the training pairs excluded, K = ``--k``), switching every round between an "old" and a
"new" block ranker and alternating which goes first. "new" is the working tree's
``graphcl_rec.eval.blocks.topk_blocks`` with ranker ``--new`` (default "auto");
"old" is either ``topk_blocks`` of git revision ``--rev`` (``eval/blocks.py`` and
``eval/topk.py`` read with ``git show``) or the working tree's with ranker
``--old``. The metrics of both must agree to 1e-6 (rankers may round the products
differently, which can reorder near-ties); the script stops otherwise. ``--avx2``
builds the native kernel without AVX-512 (``graphcl_rec.native.AVX2_FLAGS``), as on
hosts without it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from functools import partial

import torch

import graphcl_rec as gr
import graphcl_rec.eval.blocks as blocks
import graphcl_rec.eval.ranking as ranking
from graphcl_rec import native
from graphcl_rec.eval import evaluate_embeddings


def topk_blocks_at(rev: str) -> Callable:
    """``topk_blocks`` of ``eval/blocks.py`` and its ``topk.py`` at ``rev``."""
    def source(path: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{path}"], check=True,
                              capture_output=True, text=True).stdout

    topk = types.ModuleType("topk_at_rev")
    exec(compile(source("graphcl_rec/eval/topk.py"), f"{rev}:topk.py", "exec"),
         topk.__dict__)
    sys.modules["topk_at_rev"] = topk
    code = source("graphcl_rec/eval/blocks.py").replace(
        "from graphcl_rec.eval.topk import", "from topk_at_rev import")
    namespace: dict = {"__name__": "blocks_at_rev"}
    exec(compile(code, f"{rev}:blocks.py", "exec"), namespace)
    return namespace["topk_blocks"]


def evaluate_with(fn: Callable, user: torch.Tensor, item: torch.Tensor,
                  test: gr.data.Interactions, train: gr.data.Interactions, k: int
                  ) -> dict[str, float]:
    """Recall/NDCG@k etc. of all test users, ranked by the block ranker ``fn``.

    ``fn`` takes ``topk_blocks``' first six arguments (the ranker is bound in it).
    """
    ranking.topk_blocks = lambda *a: fn(*a[:6])
    return evaluate_embeddings(user, item, test, train, k=[k])


def ranker(name: str) -> Callable:
    """The working tree's ``topk_blocks`` with ranker ``name``."""
    return lambda *a: blocks.topk_blocks(*a, ranker=name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["yelp2018", "gowalla"])
    p.add_argument("--rev", default="HEAD")
    p.add_argument("--old", choices=["rev", *blocks.RANKERS], default="rev")
    p.add_argument("--new", choices=blocks.RANKERS, default="auto")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--avx2", action="store_true")
    args = p.parse_args()
    if args.avx2:
        blocks.topk_dot = partial(blocks.topk_dot, flags=native.AVX2_FLAGS)
    torch.set_num_threads(args.threads)
    old = topk_blocks_at(args.rev) if args.old == "rev" else ranker(args.old)
    versions = [("old", old), ("new", ranker(args.new))]
    for name in args.datasets:
        train, _, test = gr.data.load(name, val_ratio=0.0)
        gen = torch.Generator().manual_seed(0)
        user = torch.randn(train.num_users, 64, generator=gen)
        item = torch.randn(train.num_items, 64, generator=gen)

        run = partial(evaluate_with, user=user, item=item, test=test, train=train,
                      k=args.k)
        results = [run(fn) for _, fn in versions]
        gap = max(abs(results[0][m] - results[1][m]) for m in results[0])
        if results[0].keys() != results[1].keys() or gap > 1e-6:
            raise SystemExit(f"{name}: metrics differ: {results}")
        times: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(args.rounds):
            for label, fn in versions if r % 2 == 0 else versions[::-1]:
                t0 = time.perf_counter()
                run(fn)
                times[label].append(time.perf_counter() - t0)
        ranking.topk_blocks = blocks.topk_blocks
        old_label = args.rev if args.old == "rev" else args.old
        ranked = int(torch.unique(test.user).numel())
        print(f"{name}: {ranked} test users x {train.num_items} items, "
              f"K = {args.k}, {args.threads} threads, {args.rounds} rounds "
              f"(old = {old_label}, "
              f"new = {args.new}); largest metric gap {gap:.1e}")
        for label, values in times.items():
            print(f"  {label}: min {min(values):.3f} s, median "
                  f"{statistics.median(values):.3f} s")
        ratio = statistics.median(times["old"]) / statistics.median(times["new"])
        print(f"  old / new (medians): {ratio:.3f}")


if __name__ == "__main__":
    main()
