"""Speed of training and evaluation against this machine's floors, in one process.

Usage: python benchmarks/speed.py [--datasets ml-100k gowalla yelp2018] [--steps 20]
                                  [--device cpu|cuda] [--bf16]

For each dataset it prints: one 3-layer LightGCN propagation (forward + backward)
against the bytes it must move at the measured copy bandwidth; seconds per training
epoch of LightGCN+BPR and SGL-ED under both epoch semantics (measured over ``--steps``
batches plus the per-epoch work, and scaled to the epoch's number of batches; ``--full``
times whole epochs; ``--bf16`` adds SGL-ED with bf16 InfoNCE products); one
full-ranking evaluation of every test user (with the default ranker, on CPU the fused
native kernel where it builds) against its matrix products at the measured sgemm
rate, and, for reference, the evaluation with torch's block products (group-major on
CPU, row-major on CUDA) against those products timed alone; and the peak
memory (the process's resident set on CPU, the allocator's peak
on CUDA). On CUDA every timing is bracketed by ``torch.cuda.synchronize``.
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
from graphcl_rec.eval.blocks import (
    auto_ranker,
    block_size,
    group_major_scores,
    item_slabs,
)
from graphcl_rec.eval.topk import GROUP, padded_width
from graphcl_rec.graph import adjacency, spmm
from graphcl_rec.models import BPRRecommender, LightGCN
from graphcl_rec.train import resolve_device
from graphcl_rec.train.memory import peak_memory_mb

CPU = torch.device("cpu")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_of(fn, repeats: int = 5, device: torch.device = CPU) -> float:
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)


def machine_rates(device: torch.device) -> tuple[float, float]:
    """Copy bandwidth (bytes/s, read + write) and sgemm rate (FLOP/s) on ``device``."""
    big = device.type == "cuda"
    x = torch.empty((1024 if big else 64) * 2**20 // 4, device=device)
    y = torch.empty_like(x)
    bw = 2 * x.numel() * 4 / best_of(lambda: y.copy_(x), device=device)
    n = 8192 if big else 2048
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    flops = 2 * n**3 / best_of(lambda: a @ b, device=device)
    return bw, flops


def epoch_seconds(model, train, adjs, sampler, steps, full) -> float:
    device = train.user.device
    gen = torch.Generator(device=device).manual_seed(0)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-3,
                           fused=device.type in ("cpu", "cuda"))
    sync(device)
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
    sync(device)
    elapsed = time.perf_counter() - t0
    return elapsed if full else elapsed / n * len(sampler)


def run(name: str, bw: float, flops: float, steps: int, full: bool,
        train_epochs: bool = True, device: torch.device = CPU,
        bf16: bool = False) -> None:
    train, _, test = gr.data.load(name, val_ratio=0.0)
    train, test = train.to(device), test.to(device)
    nu, ni, d = train.num_users, train.num_items, 64
    adj = adjacency(train)
    n, nnz = nu + ni, adj._nnz()
    print(f"\n## {name}: {nu} users, {ni} items, {len(train)} train pairs, "
          f"{nnz} non-zeros")
    x = torch.randn(n, d, device=device, requires_grad=True)

    def prop() -> None:
        y = spmm(adj, spmm(adj, spmm(adj, x)))
        y.sum().backward()

    t = best_of(prop, device=device)
    # 6 products (3 forward, 3 backward); each streams the CSR (8 B index + 4 B
    # value per non-zero), reads the dense input once and writes the output once.
    floor_bytes = 6 * (12 * nnz + 2 * n * d * 4)
    print(f"propagation 3 layers fwd+bwd: {t * 1e3:.1f} ms; streaming floor "
          f"{floor_bytes / bw * 1e3:.1f} ms at {bw / 1e9:.1f} GB/s -> "
          f"{t / (floor_bytes / bw):.1f}x floor")
    adjs = [adj] * 3
    for mode in ("user", "interaction") if train_epochs else ():
        sampler = PairSampler(train, 2048, mode=mode)
        models = [
            ("LightGCN+BPR", BPRRecommender(LightGCN(nu, ni, d, 3))),
            ("SGL-ED", SGL(LightGCN(nu, ni, d, 3), EdgeDropout(0.1))),
        ]
        if bf16:
            models.append(("SGL-ED bf16", SGL(LightGCN(nu, ni, d, 3), EdgeDropout(0.1),
                                              nce_precision="bfloat16")))
        for label, model in models:
            model.to(device)
            s = epoch_seconds(model, train, adjs, sampler, steps, full)
            how = "full epoch" if full else f"from {steps} batches"
            print(f"{label:15s} sampler={mode:11s}: {s:7.2f} s/epoch ({how}, "
                  f"{len(sampler)} batches)")
    emb_u = torch.randn(nu, d, device=device)
    emb_i = torch.randn(ni, d, device=device)
    users = int(torch.unique(test.user).numel())
    ranker = auto_ranker(emb_u, emb_i, 20)
    t_eval = best_of(lambda: evaluate_embeddings(emb_u, emb_i, test, train, k=[20]), 2,
                     device)
    layout = "group-major" if device.type == "cpu" else "row-major"
    t_torch = t_eval if ranker != "native" else best_of(
        lambda: evaluate_embeddings(emb_u, emb_i, test, train, k=[20],
                                    ranker=layout), 2, device)
    gemm = 2 * users * ni * d / flops
    # The torch rankers' products: the default blocks, the padded item width, and
    # their layout (group-major batched products on CPU for wide catalogues).
    block = block_size(ni, emb_u.dtype, None, 256)
    test_users = torch.unique(test.user)
    width = padded_width(ni, 20)
    items = torch.cat([emb_i, emb_i.new_zeros(width - ni, d)])
    if device.type == "cpu" and width >= 4 * GROUP * 20:
        slabs = item_slabs(items)
        buf = torch.empty(width * min(block, users))

        def product(rows: torch.Tensor) -> None:
            group_major_scores(rows, slabs, buf)
    else:
        item_t = items.t()
        buf = torch.empty(min(block, users), width, device=device)

        def product(rows: torch.Tensor) -> None:
            torch.matmul(rows, item_t, out=buf[: rows.size(0)])

    def products() -> None:
        for s in range(0, users, block):
            product(emb_u[test_users[s:s + block]])

    t_prod = best_of(products, 2, device)
    print(f"full-ranking evaluation of {users} test users (ranker '{ranker}'): "
          f"{t_eval * 1e3:.1f} ms; matrix products at {flops / 1e9:.0f} GFLOP/s: "
          f"{gemm * 1e3:.1f} ms -> {t_eval / gemm:.2f}x")
    print(f"  torch's block products ({layout}) timed alone: {t_prod * 1e3:.1f} ms "
          f"({2 * users * ni * d / t_prod / 1e9:.0f} GFLOP/s); the evaluation with "
          f"ranker '{layout}': {t_torch * 1e3:.1f} ms -> {t_torch / gemm:.2f}x the "
          f"products at the sgemm rate, {t_torch / t_prod:.2f}x their own")
    print(f"peak memory so far: {peak_memory_mb(device):.0f} MB")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--datasets", nargs="+", default=["ml-100k", "gowalla", "yelp2018"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--full", action="store_true", help="time whole epochs")
    p.add_argument("--no-training", action="store_true",
                   help="skip the training epochs (propagation and evaluation only)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--bf16", action="store_true",
                   help="also time SGL-ED with nce_precision='bfloat16'")
    args = p.parse_args()
    device = resolve_device(args.device)
    bw, flops = machine_rates(device)
    where = (torch.cuda.get_device_name(device) + f", TF32 matmul "
             f"{torch.backends.cuda.matmul.allow_tf32}" if device.type == "cuda"
             else f"threads {torch.get_num_threads()}")
    print(f"torch {torch.__version__}, {device.type} ({where}); copy "
          f"bandwidth {bw / 1e9:.1f} GB/s, sgemm {flops / 1e9:.0f} GFLOP/s")
    for name in args.datasets:
        run(name, bw, flops, args.steps, args.full, not args.no_training, device,
            args.bf16)


if __name__ == "__main__":
    main()
