"""``diagnose``: why a contrastive run's BPR term stalls (issue: robust training).

For each variant (objective, ``init``, ``ssl_warmup``, ``ssl_weight``), trains with
Adam for ``--epochs`` epochs and prints, per epoch: the mean BPR and contrastive
terms, the BPR share of the gradient on the embedding table
``|g_bpr| / (|g_bpr| + |g_ssl|)`` and the cosine between the two gradients, the mean
norm of the user and item ego embeddings, and validation Recall@20. The BPR-only
gradient comes from the objective's own ``bpr_terms`` on the same batch, the
contrastive one is the rest of the total gradient; a second backward pass per step
(diagnostic only) computes it, and the optimiser steps on the total as in training.

    python -m benchmarks.run diagnose --dataset ml-100k --epochs 4 \\
        --variants sgl:xavier:0,sgl:normal:0,sgl:normal:200,bpr:xavier:0
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.bench.common import Result, common_options, csv

VARIANT_HELP = ("OBJECTIVE:INIT:SSL_WARMUP[:SSL_WEIGHT], e.g. sgl:xavier:0 or "
                "simgcl:normal:500:0.5; OBJECTIVE is bpr or a registered objective "
                "(sgl gets EdgeDropout(0.1)); SSL_WEIGHT defaults to the objective's")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="gradient shares and embedding norms of the "
                                        "loss terms over the first epochs",
                       description=__doc__)
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--variants", type=csv(), default=["sgl:xavier:0", "sgl:normal:0",
                                                      "bpr:xavier:0"],
                   help=VARIANT_HELP)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    common_options(p, device=False)
    p.set_defaults(func=run)


def build(variant: str, train):
    """The model of one ``OBJECTIVE:INIT:SSL_WARMUP[:SSL_WEIGHT]`` variant."""
    from graphcl_rec import augment, models

    obj, init, warm, *weight = variant.split(":")
    enc = models.LightGCN(train.num_users, train.num_items, dim=64, num_layers=3,
                          init=init)
    if obj == "bpr":
        return models.BPRRecommender(enc)
    kwargs: dict = {"ssl_warmup": int(warm)}
    if weight:
        kwargs["ssl_weight"] = float(weight[0])
    if obj == "sgl":
        kwargs["augment"] = augment.EdgeDropout(0.1)
    return models.OBJECTIVES.get(obj)(enc, **kwargs)


def run(args: argparse.Namespace) -> Result:
    import graphcl_rec as gr
    from graphcl_rec.data.sampling import PairSampler
    from graphcl_rec.graph import adjacency

    res = Result("diagnose", args)
    train, val, _ = gr.data.load(args.dataset, val_ratio=0.1, seed=0)
    adjs = [adjacency(train)] * 3
    for variant in args.variants:
        torch.manual_seed(args.seed)
        model = build(variant, train)
        weight = model.encoder.embedding.weight
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        g = torch.Generator().manual_seed(args.seed)
        sampler = PairSampler(train, args.batch_size)
        for epoch in range(1, args.epochs + 1):
            views = model.sample_views(train, g)
            sums = torch.zeros(4)
            steps = 0
            for batch in sampler.epoch(g):
                out = model.loss(batch, adjs, views, g)
                opt.zero_grad()
                out["loss"].backward()
                total = weight.grad.clone()
                opt.zero_grad()
                rows = model.batch_rows(batch)
                bpr = model.bpr_terms(batch, model.encoder(adjs, rows=rows))
                bpr["loss"].backward()
                bpr_grad = weight.grad.clone()
                ssl_grad = total - bpr_grad
                share = bpr_grad.norm() / (bpr_grad.norm() + ssl_grad.norm() + 1e-30)
                cos = torch.nn.functional.cosine_similarity(
                    bpr_grad.flatten(), ssl_grad.flatten(), dim=0)
                weight.grad = total
                opt.step()
                model.on_step_end()
                sums += torch.stack([out["bpr"], out.get("ssl", torch.tensor(0.0)),
                                     share, cos])
                steps += 1
            bpr, ssl, share, cos = (sums / max(steps, 1)).tolist()
            norms = weight.detach().norm(dim=1)
            users = norms[:train.num_users].mean().item()
            items = norms[train.num_users:].mean().item()
            recall = gr.evaluate(model, graph=train, target=val, exclude=train,
                                 k=[20])["recall@20"]
            row = {"variant": variant, "epoch": epoch, "bpr": bpr, "ssl": ssl,
                   "bpr_grad_share": share, "grad_cos": cos, "user_norm": users,
                   "item_norm": items, "val_recall@20": recall}
            res.rows.append(row)
            print(f"{variant} epoch {epoch}: bpr {bpr:.4f} ssl {ssl:.3f} "
                  f"bpr-grad-share {share:.3f} cos {cos:+.3f} |e| user {users:.3f} "
                  f"item {items:.3f} val recall@20 {recall:.4f}", flush=True)
        res.figure(f"{variant} val recall@20", res.rows[-1]["val_recall@20"], "")
    return res
