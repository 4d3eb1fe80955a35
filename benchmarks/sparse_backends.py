"""Propagation backends compared in one process: native sparse CSR or torch-sparse.

Usage: python benchmarks/sparse_backends.py [--datasets ml-100k gowalla yelp2018]
                                            [--rounds 5] [--threads 2]

For each dataset, one 3-layer propagation forward + backward over the training
adjacency (64-d features) is timed, alternating between these variants round by
round (each round takes the minimum of 3 calls per variant):

* ``csr symmetric``: :func:`graphcl_rec.graph.spmm` on the native CSR tensor (the
  default: the backward is one more product with the symmetric adjacency);
* ``torch_sparse symmetric``: the same function on a ``torch_sparse.SparseTensor``
  (``graph.to_backend(adj, "torch_sparse")``);
* ``csr autograd``: ``adj @ x`` with torch's own sparse backward;
* ``torch_sparse autograd``: ``SparseTensor.matmul`` with torch-sparse's own backward.

It also times a LightGCN+BPR training step (loss, backward, Adam) with each backend's
adjacency. torch-sparse is optional (``pip install --no-build-isolation
torch-scatter torch-sparse``); without it only the native rows are printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from ab_step import training_step  # noqa: E402  (same folder)

import graphcl_rec as gr
from graphcl_rec.graph import adjacency, spmm, to_backend
from graphcl_rec.models import BPRRecommender, LightGCN


def best(fn: Callable[[], None], calls: int = 3) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def propagation(adj, mm: Callable, n: int) -> Callable[[], None]:
    x = torch.randn(n, 64, requires_grad=True)

    def run() -> None:
        y = mm(adj, mm(adj, mm(adj, x)))
        y.sum().backward()
        x.grad = None

    return run


def bpr_step(train, adj) -> Callable[[], None]:
    model = BPRRecommender(LightGCN(train.num_users, train.num_items, 64, 3))
    return training_step(model, train, [adj] * 3, mode="interaction")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["ml-100k", "gowalla", "yelp2018"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import torch_sparse
        version = torch_sparse.__version__
    except ImportError:
        version = None
    print(f"torch {torch.__version__}, torch_sparse {version or 'not installed'}, "
          f"{args.threads} threads, {args.rounds} rounds (min of 3 calls each)")
    for name in args.datasets:
        train, _, _ = gr.data.load(name, val_ratio=0.0)
        adj = adjacency(train)
        n = adj.shape[0]
        variants: dict[str, Callable[[], None]] = {
            "csr symmetric": propagation(adj, spmm, n),
            "csr autograd": propagation(adj, lambda a, x: a @ x, n),
            "step, csr": bpr_step(train, adj),
        }
        if version is not None:
            sparse = to_backend(adj, "torch_sparse")
            variants["torch_sparse symmetric"] = propagation(sparse, spmm, n)
            variants["torch_sparse autograd"] = propagation(
                sparse, lambda a, x: a.matmul(x), n)
            variants["step, torch_sparse"] = bpr_step(train, sparse)
        times: dict[str, list[float]] = {k: [] for k in variants}
        for fn in variants.values():
            fn()  # warm-up
        names = list(variants)
        for r in range(args.rounds):
            for k in names if r % 2 == 0 else names[::-1]:
                times[k].append(best(variants[k]))
        print(f"\n## {name}: {n} nodes, {adj._nnz()} non-zeros")
        base = statistics.median(times["csr symmetric"])
        step_base = statistics.median(times["step, csr"])
        for k, v in times.items():
            ref = step_base if k.startswith("step") else base
            what = "LightGCN+BPR step" if k.startswith("step") else \
                "3-layer propagation fwd+bwd"
            print(f"{k:24s} {what}: median {statistics.median(v) * 1e3:8.1f} ms "
                  f"(min {min(v) * 1e3:8.1f}); {statistics.median(v) / ref:.2f}x the "
                  f"native CSR's")


if __name__ == "__main__":
    main()
