"""``sweep``: validation Recall@20 curves of objectives under init / warm-up variants.

Each variant ``OBJECTIVE:INIT:SSL_WARMUP[:SSL_WEIGHT]`` (as in ``diagnose``) trains
through ``graphcl_rec.Trainer`` for ``--epochs`` epochs with the README's settings
(LightGCN 64-d, 3 layers, lr 5e-3, batch 2048, no early stopping) and prints its
per-epoch validation Recall@20, best epoch and last BPR term; the rows go to
``--json``. This is how the library's ``init`` and ``ssl_warmup`` defaults were
chosen (``benchmarks/results/robustness/README.md``).

    python -m benchmarks.run sweep --dataset ml-100k --epochs 15 \\
        --variants sgl:xavier:0,sgl:normal:0,sgl:normal:200,sgl:normal:1000
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.bench.common import Result, common_options, csv
from benchmarks.bench.diagnose import VARIANT_HELP, build


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="validation curves under init / ssl_warmup "
                                     "variants", description=__doc__)
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--variants", type=csv(), required=True, help=VARIANT_HELP)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--seed", type=int, default=0)
    common_options(p, device=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Result:
    import graphcl_rec as gr

    res = Result("sweep", args)
    train, val, _ = gr.data.load(args.dataset, val_ratio=0.1, seed=0)
    for variant in args.variants:
        torch.manual_seed(args.seed)
        model = build(variant, train)
        t0 = time.perf_counter()
        history = gr.Trainer(epochs=args.epochs, batch_size=2048, lr=args.lr,
                             seed=args.seed, progress=False).fit(model, train, val)
        curve = [r["val"]["recall@20"] for r in history.records]
        best = max(curve)
        row = {"variant": variant, "best": best, "best_epoch": curve.index(best) + 1,
               "curve": curve, "last_bpr": history.records[-1]["bpr"],
               "seconds": time.perf_counter() - t0}
        res.rows.append(row)
        res.figure(f"{variant} best val recall@20", best, "")
        print(f"{variant}: best val recall@20 {best:.4f} at epoch {row['best_epoch']}"
              f", last BPR {row['last_bpr']:.4f}; curve "
              + " ".join(f"{v:.3f}" for v in curve), flush=True)
    return res
