"""Speed of training and evaluation against this machine's floors, in one process.

Usage: python benchmarks/speed.py [--datasets ml-100k gowalla yelp2018] [--steps 20]

For each dataset it prints: one 3-layer LightGCN propagation (forward + backward)
against the bytes it must move at the measured copy bandwidth; seconds per training
epoch of LightGCN+BPR and SGL-ED under both epoch semantics (measured over ``--steps``
batches plus the per-epoch work, and scaled to the epoch's number of batches; ``--full``
times whole epochs); one full-ranking evaluation of every test user against its
matrix products at the measured sgemm rate and against the same block products timed
alone; and the process's peak memory.
"""

from __future__ import annotations

import argparse
import time

import torch

import graphcl_rec as gr
from graphcl_rec.augment import EdgeDropout
from graphcl_rec.contrast import SGL
from graphcl_rec.data.sampling import PairSampler
from graphcl_rec.eval import evaluate_embeddings
from graphcl_rec.eval.blocks import block_size
from graphcl_rec.eval.topk import padded_width
from graphcl_rec.graph import adjacency, spmm
from graphcl_rec.models import BPRRecommender, LightGCN
from graphcl_rec.train.memory import peak_memory_mb


def best_of(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def machine_rates() -> tuple[float, float]:
    """Copy bandwidth (bytes/s, read + write) and sgemm rate (FLOP/s)."""
    x = torch.empty(64 * 2**20 // 4)
    y = torch.empty_like(x)
    bw = 2 * x.numel() * 4 / best_of(lambda: y.copy_(x))
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    flops = 2 * 2048**3 / best_of(lambda: a @ b)
    return bw, flops


def epoch_seconds(model, train, adjs, sampler, steps, full) -> float:
    gen = torch.Generator(device=train.user.device).manual_seed(0)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-3)
    t0 = time.perf_counter()
    views = model.sample_views(train, gen)
    n = 0
    for batch in sampler.epoch(gen):
        out = model.loss(batch, adjs, views, gen)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        model.on_step_end()
        n += 1
        if not full and n == steps:
            break
    elapsed = time.perf_counter() - t0
    return elapsed if full else elapsed / n * len(sampler)


def run(name: str, bw: float, flops: float, steps: int, full: bool,
        train_epochs: bool = True) -> None:
    train, _, test = gr.data.load(name, val_ratio=0.0)
    nu, ni, d = train.num_users, train.num_items, 64
    adj = adjacency(train)
    n, nnz = nu + ni, adj._nnz()
    print(f"\n## {name}: {nu} users, {ni} items, {len(train)} train pairs, "
          f"{nnz} non-zeros")
    x = torch.randn(n, d, requires_grad=True)

    def prop() -> None:
        y = spmm(adj, spmm(adj, spmm(adj, x)))
        y.sum().backward()

    t = best_of(prop)
    # 6 products (3 forward, 3 backward); each streams the CSR (8 B index + 4 B
    # value per non-zero), reads the dense input once and writes the output once.
    floor_bytes = 6 * (12 * nnz + 2 * n * d * 4)
    print(f"propagation 3 layers fwd+bwd: {t * 1e3:.1f} ms; streaming floor "
          f"{floor_bytes / bw * 1e3:.1f} ms at {bw / 1e9:.1f} GB/s -> "
          f"{t / (floor_bytes / bw):.1f}x floor")
    adjs = [adj] * 3
    for mode in ("user", "interaction") if train_epochs else ():
        sampler = PairSampler(train, 2048, mode=mode)
        for label, model in (
            ("LightGCN+BPR", BPRRecommender(LightGCN(nu, ni, d, 3))),
            ("SGL-ED", SGL(LightGCN(nu, ni, d, 3), EdgeDropout(0.1))),
        ):
            s = epoch_seconds(model, train, adjs, sampler, steps, full)
            how = "full epoch" if full else f"from {steps} batches"
            print(f"{label:13s} sampler={mode:11s}: {s:7.2f} s/epoch ({how}, "
                  f"{len(sampler)} batches)")
    emb_u, emb_i = torch.randn(nu, d), torch.randn(ni, d)
    users = int(torch.unique(test.user).numel())
    t_eval = best_of(lambda: evaluate_embeddings(emb_u, emb_i, test, train, k=[20]), 2)
    gemm = 2 * users * ni * d / flops
    # The evaluator's products: its default blocks, its padded item width.
    block = block_size(ni, emb_u.dtype, None, 256)
    test_users = torch.unique(test.user)
    width = padded_width(ni, 20)
    item_t = torch.cat([emb_i, emb_i.new_zeros(width - ni, d)]).t()
    buf = torch.empty(min(block, users), width)

    def products() -> None:
        for s in range(0, users, block):
            out = buf[: min(block, users - s)]
            torch.matmul(emb_u[test_users[s:s + block]], item_t, out=out)

    t_prod = best_of(products, 2)
    print(f"full-ranking evaluation of {users} test users: {t_eval:.2f} s; "
          f"matrix products at {flops / 1e9:.0f} GFLOP/s: {gemm:.2f} s -> "
          f"{t_eval / gemm:.2f}x; the evaluator's block products timed alone: "
          f"{t_prod:.2f} s ({2 * users * ni * d / t_prod / 1e9:.0f} GFLOP/s) -> "
          f"{t_eval / t_prod:.2f}x")
    print(f"peak memory so far: {peak_memory_mb(torch.device('cpu')):.0f} MB")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--datasets", nargs="+", default=["ml-100k", "gowalla", "yelp2018"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--full", action="store_true", help="time whole epochs")
    p.add_argument("--no-training", action="store_true",
                   help="skip the training epochs (propagation and evaluation only)")
    args = p.parse_args()
    bw, flops = machine_rates()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; copy "
          f"bandwidth {bw / 1e9:.1f} GB/s, sgemm {flops / 1e9:.0f} GFLOP/s")
    for name in args.datasets:
        run(name, bw, flops, args.steps, args.full, not args.no_training)


if __name__ == "__main__":
    main()
