"""One training step with and without a change, alternated in one process.

Usage: python benchmarks/ab_step.py
           --toggle take_rows|anchor_rows|block_low|info_nce|fused_nce
           [--dataset gowalla] [--model sgl-ed] [--nce-precision bfloat16]
           [--rounds 6] [--steps 2] [--threads 2] [--block 4194304] [--rev REV]

Builds the model as ``benchmarks/device_check.py`` names it and times ``--steps``
training steps (loss, backward, fused Adam) per round, switching between the earlier
code path ("old") and the current one ("new") every round and alternating which
goes first, so both share the machine's load. The toggles:

* ``take_rows``: row gathers as ``x[index]`` (old) or ``graph.rows.take_rows``;
* ``anchor_rows``: SGL's first view propagated in full (old) or for the anchors'
  rows only (``SGL.anchor_row_contrast``);
* ``block_low``: bf16 InfoNCE CPU blocks of ``BLOCK`` (old, 2^21) or ``--block``
  logits (new; default ``BLOCK_LOW``);
* ``info_nce``: the InfoNCE forward of git revision ``--rev`` (old, read with
  ``git show``) or the working tree's;
* ``fused_nce``: ``info_nce`` through torch's blocked products (old) or its default
  choice, the fused native kernel where it applies (``graphcl_rec.native.nce``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from device_check import MODELS  # noqa: E402  (same folder)

import graphcl_rec as gr
from graphcl_rec.cli.build import build_model
from graphcl_rec.contrast import SGL
from graphcl_rec.data.sampling import PairSampler
from graphcl_rec.graph import adjacency
from graphcl_rec.graph import rows as rows_module
from graphcl_rec.losses import contrastive
from graphcl_rec.losses.contrastive import _InfoNCE


def forward_at(rev: str) -> Callable:
    """``_InfoNCE.forward`` of ``graphcl_rec/losses/contrastive.py`` at ``rev``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:graphcl_rec/losses/contrastive.py"],
        check=True, capture_output=True, text=True).stdout
    namespace: dict = {"__name__": "contrastive_at_rev"}
    exec(compile(source, f"{rev}:contrastive.py", "exec"), namespace)
    return namespace["_InfoNCE"].forward


def training_step(model, train, adjs, mode: str = "user") -> Callable[[], None]:
    """One call: one training step (loss, backward, fused Adam) on the next batch.

    Views are drawn once; batches wrap around to a new epoch of the sampler.
    """
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 1e-3, fused=True)
    views = model.sample_views(train, gen)
    sampler = PairSampler(train, 2048, mode=mode)
    batches = sampler.epoch(gen)

    def step() -> None:
        nonlocal batches
        batch = next(batches, None)
        if batch is None:
            batches = sampler.epoch(gen)
            batch = next(batches)
        out = model.loss(batch, adjs, views, gen)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()

    return step


def toggles(block: int, rev: str | None
            ) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """``name -> (use_old, use_new)``; ``info_nce`` only with a revision ``rev``."""
    users = [m for n, m in sys.modules.items() if n.startswith("graphcl_rec")
             and getattr(m, "take_rows", None) is rows_module.take_rows]
    new_take, new_loss = rows_module.take_rows, SGL.loss

    def set_take(fn: Callable) -> None:
        for m in users:
            m.take_rows = fn

    def full_first_view(self, batch, adjs, views, generator=None):
        terms = self.batch_terms(batch, adjs)
        z1, z2 = self.encoder(views[0]), self.encoder(views[1])
        return self.combine(terms, self.contrast(batch, z1.user, z1.item, z2.user,
                                                 z2.item))

    def set_attr(obj: object, name: str, value: object) -> Callable[[], None]:
        return lambda: setattr(obj, name, value)

    table = {
        "take_rows": (lambda: set_take(lambda x, i: x[i]),
                      lambda: set_take(new_take)),
        "anchor_rows": (set_attr(SGL, "loss", full_first_view),
                        set_attr(SGL, "loss", new_loss)),
        "block_low": (set_attr(_InfoNCE, "BLOCK_LOW", _InfoNCE.BLOCK),
                      set_attr(_InfoNCE, "BLOCK_LOW", block)),
        "fused_nce": (set_attr(contrastive, "_use_fused", lambda *a: False),
                      set_attr(contrastive, "_use_fused", contrastive._use_fused)),
    }
    if rev is not None:  # reads git only when this toggle is asked for
        table["info_nce"] = (
            set_attr(_InfoNCE, "forward", staticmethod(forward_at(rev))),
            set_attr(_InfoNCE, "forward", staticmethod(_InfoNCE.forward)))
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--toggle", required=True,
                   choices=["take_rows", "anchor_rows", "block_low", "info_nce",
                            "fused_nce"])
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--model", default="sgl-ed", choices=sorted(MODELS))
    p.add_argument("--nce-precision", choices=["full", "bfloat16"], default=None)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--block", type=int, default=_InfoNCE.BLOCK_LOW)
    p.add_argument("--rev", default="HEAD", help="git revision for --toggle info_nce")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rev = args.rev if args.toggle == "info_nce" else None
    old, new = toggles(args.block, rev)[args.toggle]

    train, _, _ = gr.data.load(args.dataset, val_ratio=0.0)
    table = {k: v for k, v in MODELS[args.model].items() if k != "trainer"}
    if args.nce_precision is not None:
        table["nce_precision"] = args.nce_precision
    model = build_model(table, train.num_users, train.num_items)
    step = training_step(model, train, [adjacency(train)] * model.encoder.num_layers)

    times: dict[str, list[float]] = {"old": [], "new": []}
    pair = [("old", old), ("new", new)]
    for r in range(args.rounds):
        for name, use in pair if r % 2 == 0 else pair[::-1]:
            use()
            step()  # untimed: the first step after a switch
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[name].append((time.perf_counter() - t0) / args.steps * 1e3)
    new()
    print(f"{args.toggle} on {args.dataset} {args.model} "
          f"({args.nce_precision or 'default'} NCE), {args.threads} threads, "
          f"{args.rounds} rounds of {args.steps} steps:")
    for name, values in times.items():
        print(f"  {name}: min {min(values):.2f} ms, median "
              f"{statistics.median(values):.2f} ms per step")
    print(f"  old / new (medians): "
          f"{statistics.median(times['old']) / statistics.median(times['new']):.3f}")


if __name__ == "__main__":
    main()
