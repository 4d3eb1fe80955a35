"""Seconds per LightGCN+BPR epoch: graphcl_rec against PyG's ``LightGCN``, side by side.

Usage::

    python -m benchmarks.run peers pyg [--dataset ml-100k] [--rounds 3]
        [--max-batches N] [--threads 2] [--seed 0] [--json FILE]

Both libraries train on the same split (``graphcl_rec.data.load(name,
val_ratio=0.1, seed=...)``, as ``recbole_compare.py``) and, in every round, on the
same batches: one epoch of ``PairSampler(mode="interaction")`` triples (every
training pair once, one uniform negative, batch 2,048) drawn before the round, so
sampling is timed for neither. Hyperparameters: 64-d embeddings, 3 layers, Adam
1e-3, L2 weight 1e-4.

* Ours: ``BPRRecommender(LightGCN(...))`` over the normalised adjacency built once
  (``graphcl_rec.graph.adjacency``), fused Adam, as ``graphcl_rec.Trainer`` runs it.
* PyG: ``torch_geometric.nn.models.LightGCN`` on the undirected ``edge_index`` of the
  training pairs, the way PyG's own LightGCN example trains it: each batch calls
  ``model(edge_index, edge_label_index)`` on the positive and negative pairs (a full
  propagation, its ``LGConv`` layers normalising the graph on every call) and
  ``model.recommendation_loss(..., node_id=edge_label_index.unique())``.

Rounds alternate which library goes first. ``--max-batches N`` times only the first
``N`` batches of each epoch and scales to the epoch's batch count (for the large
datasets, where one PyG epoch takes many minutes). The first round is a warm-up and
is left out of the summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence

import torch
from torch_geometric.nn.models import LightGCN as PygLightGCN

import graphcl_rec as gr
from benchmarks.bench.common import meta, meta_line
from benchmarks.bench.training import pair_sampler
from graphcl_rec.graph import adjacency
from graphcl_rec.models import BPRRecommender, LightGCN

DIM, LAYERS, REG, LR, BATCH = 64, 3, 1e-4, 1e-3, 2048


def ours(train: gr.data.Interactions) -> Callable[[list], None]:
    """One epoch of our LightGCN+BPR over the given batches."""
    model = BPRRecommender(LightGCN(train.num_users, train.num_items, dim=DIM,
                                    num_layers=LAYERS), reg_weight=REG)
    adjs = [adjacency(train)] * LAYERS
    opt = torch.optim.Adam(model.parameters(), LR, fused=True)
    gen = torch.Generator().manual_seed(0)

    def epoch(batches: list) -> None:
        views = model.sample_views(train, gen)
        for batch in batches:
            out = model.loss(batch, adjs, views, gen)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            model.on_step_end()

    return epoch


def pyg(train: gr.data.Interactions) -> Callable[[list], None]:
    """One epoch of PyG's ``LightGCN`` + ``recommendation_loss`` over the batches."""
    nu = train.num_users
    model = PygLightGCN(nu + train.num_items, DIM, LAYERS)
    item = train.item + nu
    edge_index = torch.stack([torch.cat([train.user, item]),
                              torch.cat([item, train.user])])
    opt = torch.optim.Adam(model.parameters(), LR)

    def epoch(batches: list) -> None:
        for batch in batches:
            users = torch.cat([batch.user, batch.user])
            items = torch.cat([batch.pos, batch.neg.view(-1)]) + nu
            label_index = torch.stack([users, items])
            pos_rank, neg_rank = model(edge_index, label_index).chunk(2)
            loss = model.recommendation_loss(pos_rank, neg_rank,
                                             node_id=label_index.unique(),
                                             lambda_reg=REG)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return epoch


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run peers pyg",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--rounds", type=int, default=3,
                   help="epochs per library; the first is a warm-up")
    p.add_argument("--max-batches", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the per-round rows here")
    args = p.parse_args(argv)
    if args.rounds < 2:
        p.error("--rounds must be at least 2 (the first is a warm-up)")
    torch.set_num_threads(args.threads)
    info = meta()
    print(meta_line(info))
    train, _, _ = gr.data.load(args.dataset, val_ratio=0.1, seed=args.seed)
    sampler = pair_sampler(train, BATCH, "interaction")
    players = [("graphcl_rec", ours(train)), ("pyg", pyg(train))]
    gen = torch.Generator().manual_seed(args.seed)
    rows = []
    for r in range(args.rounds):
        batches = list(sampler.epoch(gen))
        timed = batches[: args.max_batches] if args.max_batches else batches
        scale = len(batches) / len(timed)
        for name, epoch in players if r % 2 == 0 else players[::-1]:
            t0 = time.perf_counter()
            epoch(timed)
            seconds = (time.perf_counter() - t0) * scale
            rows.append({"round": r, "library": name, "epoch_s": seconds,
                         "batches_timed": len(timed), "batches": len(batches)})
            print(f"round {r}: {name:11s} {seconds:8.2f} s/epoch"
                  + (f" (from {len(timed)} of {len(batches)} batches)"
                     if scale != 1 else ""), flush=True)
    med = {name: statistics.median(row["epoch_s"] for row in rows
                                   if row["library"] == name and row["round"] > 0)
           for name, _ in players}
    print(f"{args.dataset}: {len(train)} training pairs, {args.threads} threads, "
          f"median of {args.rounds - 1} rounds after a warm-up: graphcl_rec "
          f"{med['graphcl_rec']:.2f} s, PyG {med['pyg']:.2f} s per epoch -> "
          f"{med['pyg'] / med['graphcl_rec']:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "revision": info["revision"],
                       "meta": info, "median_epoch_s": med, "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
