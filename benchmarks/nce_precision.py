"""Full-precision against bf16 InfoNCE products: step time and test quality.

Usage:
    python benchmarks/nce_precision.py speed [--dataset gowalla] [--rounds 3]
                                             [--steps 3] [--threads 2]
    python benchmarks/nce_precision.py quality [--seeds 0 1 2] [--ssl-weight W]

``speed`` builds two SGL-ED models (all-node negatives) with the same weights, one
with ``nce_precision="full"`` and one with ``"bfloat16"``, and times their training
steps (loss, backward, Adam) alternately, ``--steps`` per round, on the same batches
and views; it prints the minimum and median seconds per step of each and their ratio.

``quality`` trains SGL-ED on ML-100K with the main job's settings (validated
protocol: early stopping on validation Recall@20, test evaluated once) in both
precisions for each seed, without writing results files, and prints test
Recall@20 / NDCG@20 per seed and their mean.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch
from device_check import MODELS  # noqa: E402  (same folder)

import graphcl_rec as gr
from graphcl_rec.cli.build import build_model
from graphcl_rec.cli.experiment import run_experiment
from graphcl_rec.cli.main_job import main_job_configs
from graphcl_rec.data.sampling import PairSampler
from graphcl_rec.graph import adjacency

PRECISIONS = ("full", "bfloat16")


def speed(args: argparse.Namespace) -> None:
    """Alternating step timings of the two precisions."""
    torch.set_num_threads(args.threads)
    train, _, _ = gr.data.load(args.dataset, val_ratio=0.0)
    models, opts = {}, {}
    for precision in PRECISIONS:
        torch.manual_seed(0)
        table = {**MODELS["sgl-ed"], "nce_precision": precision}
        models[precision] = build_model(table, train.num_users, train.num_items)
        opts[precision] = torch.optim.Adam(models[precision].parameters(), 1e-3,
                                           fused=True)
    layers = models["full"].encoder.num_layers
    adjs = [adjacency(train)] * layers
    gen = torch.Generator().manual_seed(0)
    views = models["full"].sample_views(train, gen)
    batches = list(PairSampler(train, 2048, mode="interaction").epoch(gen))
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for r in range(args.rounds + 1):  # round 0 warms up
        for precision in PRECISIONS:
            model, opt = models[precision], opts[precision]
            t0 = time.perf_counter()
            for i in range(args.steps):
                batch = batches[(r * args.steps + i) % len(batches)]
                out = model.loss(batch, adjs, views, gen)
                opt.zero_grad(set_to_none=True)
                out["loss"].backward()
                opt.step()
            if r:
                times[precision].append((time.perf_counter() - t0) / args.steps)
    steps = len(batches)
    print(f"SGL-ED on {args.dataset}, {args.threads} threads, {args.rounds} rounds of "
          f"{args.steps} steps each, alternating; {steps} steps per epoch")
    for precision in PRECISIONS:
        t = times[precision]
        print(f"  {precision:8s}: min {min(t):.3f} s/step, median "
              f"{statistics.median(t):.3f} s/step (~{statistics.median(t) * steps:.0f} "
              f"s/epoch)")
    ratio = min(times["full"]) / min(times["bfloat16"])
    print(f"  full / bfloat16 (min): {ratio:.2f}x")


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
    s = sub.add_parser("speed")
    s.add_argument("--dataset", default="gowalla")
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--steps", type=int, default=3)
    s.add_argument("--threads", type=int, default=2)
    q = sub.add_parser("quality")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--epochs", type=int, default=300)
    q.add_argument("--ssl-weight", type=float, default=None)
    args = p.parse_args()
    if args.mode == "speed":
        speed(args)
    else:
        quality(args)


if __name__ == "__main__":
    main()
