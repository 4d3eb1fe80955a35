"""Where one training step's time goes: torch.profiler over a few steps.

Usage: python benchmarks/profile_step.py [--dataset yelp2018] [--model sgl-ed]
                                         [--device cuda] [--steps 10] [--rows 25]

Builds the model as ``benchmarks/device_check.py`` names it, runs ``--steps`` warm-up
steps, then profiles ``--steps`` more (the trainer's loop body: loss, backward, the
finite-step guard, the optimiser step) and prints the operators sorted by their own
device time (CUDA) or own CPU time, and the wall-clock per step with and without the
profiler. On CUDA the gap between wall-clock and summed kernel time is the host's
share (Python, dispatch, synchronisations); ``--syncs`` also lists the lines of one
step that synchronise the host with the device (``torch.cuda.set_sync_debug_mode``).
"""

from __future__ import annotations

import argparse
import collections
import time
import warnings

import torch
from device_check import MODELS  # noqa: E402  (same folder)
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

import graphcl_rec as gr
from graphcl_rec.cli.build import build_model
from graphcl_rec.data.sampling import PairSampler
from graphcl_rec.graph import adjacency
from graphcl_rec.train import resolve_device
from graphcl_rec.train.guards import DeferredStepGuard, check_finite_step


def baseline_paths() -> None:
    """Restores the row slicing and ``torch.unique`` anchors on every device."""
    import graphcl_rec.contrast.base as contrast_base
    import graphcl_rec.graph.propagate as propagate
    import graphcl_rec.models.lightgcn as lightgcn
    from graphcl_rec.losses.contrastive import unique_anchors

    def slicing(adj, num_rows: int) -> bool:
        return (isinstance(adj, torch.Tensor) and adj.layout == torch.sparse_csr
                and 4 * num_rows < adj.shape[0])

    lightgcn.row_slicing_pays = propagate.row_slicing_pays = slicing
    contrast_base.unique_anchors = lambda ids, sync_free: unique_anchors(ids, False)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="yelp2018")
    p.add_argument("--model", default="sgl-ed", choices=sorted(MODELS))
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rows", type=int, default=25)
    p.add_argument("--syncs", action="store_true",
                   help="list the host-device synchronisations of one step (CUDA)")
    p.add_argument("--baseline", action="store_true",
                   help="the earlier GPU path for an A/B: BPR rows restricted by "
                        "slicing the adjacency, anchors deduplicated by torch.unique")
    p.add_argument("--nce-precision", choices=["full", "bfloat16"], default=None,
                   help="the contrastive models' InfoNCE product precision")
    args = p.parse_args()
    if args.baseline:
        baseline_paths()
    device = resolve_device(args.device)
    train, _, _ = gr.data.load(args.dataset, val_ratio=0.0)
    train = train.to(device)
    table = {k: v for k, v in MODELS[args.model].items() if k != "trainer"}
    if args.nce_precision is not None:
        table["nce_precision"] = args.nce_precision
    model = build_model(table, train.num_users, train.num_items).to(device)
    layers = int(model.encoder.num_layers)
    adjs = [adjacency(train)] * layers
    gen = torch.Generator(device=device).manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 1e-3, fused=True)
    named = list(model.named_parameters())
    views = model.sample_views(train, gen)
    batches = PairSampler(train, 2048, mode="user").epoch(gen)

    # The trainer's guard: deferred to the epoch's end on GPUs, per step on CPU.
    guard = DeferredStepGuard(opt, named) if device.type == "cuda" else None

    def step(i: int) -> None:
        out = model.loss(next(batches), adjs, views, gen)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        if guard is None:
            check_finite_step(out, named, 0, i)
        else:
            guard.step(out, i)
        opt.step()
        model.on_step_end()

    def timed(n: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for i in range(n):
            step(i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return (time.perf_counter() - t0) / n

    timed(args.steps)
    if args.syncs and device.type == "cuda":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            step(0)
            torch.cuda.set_sync_debug_mode("default")
        sites = collections.Counter(f"{w.filename}:{w.lineno}" for w in caught
                                    if "synchroniz" in str(w.message))
        print(f"host-device synchronisations in one step: {sum(sites.values())}")
        for site, n in sites.most_common():
            print(f"  {n} x {site}")
    plain = timed(args.steps)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                     if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        profiled = timed(args.steps)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"{args.model} on {args.dataset} ({device.type}): {plain * 1e3:.2f} ms/step "
          f"({profiled * 1e3:.2f} ms/step under the profiler), {args.steps} steps")
    print(prof.key_averages().table(sort_by=key, row_limit=args.rows))
    if device.type == "cuda":
        events = prof.key_averages()
        # Kernels, copies and memsets only: an operator's row repeats its kernels'.
        kernel = sum(e.self_device_time_total for e in events
                     if e.device_type == DeviceType.CUDA) / 1e3 / args.steps
        print(f"summed device time {kernel:.2f} ms/step against {profiled * 1e3:.2f} "
              f"ms/step wall-clock under the profiler")


if __name__ == "__main__":
    main()
