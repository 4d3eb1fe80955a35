"""``uniformity``: the SimGCL paper's picture of how contrastive terms spread nodes.

Trains LightGCN (BPR), SGL-ED and XSimGCL on one dataset with the main job's
settings (``graphcl_rec.bench.main_job.MAIN_JOB``: LightGCN 64-d, 3 layers,
N(0, 0.1) initialisation, lr 5e-3, batch 2048, interaction sampler), for at most
``--epochs`` epochs with early stopping on validation Recall@20 (``--patience``)
and the best weights restored. Then, per model and side (users, items), on the
L2-normalised final embeddings:

* uniformity (``graphcl_rec.analysis.uniformity``, t = 2) over every node, and
  alignment (``graphcl_rec.analysis.alignment``, alpha = 2) over the training
  pairs and over the test pairs;
* a t-SNE projection to the plane (``graphcl_rec.analysis.tsne_2d``), whose
  coordinates go to the JSON file, from which the figure is drawn
  (``benchmarks/bench/uniformity_plot.py``): Gaussian KDE of the points moved to
  the unit circle, and of their angles, as in SimGCL (Yu et al., SIGIR 2022).

    python -m benchmarks.run uniformity --threads 1

writes ``benchmarks/results/uniformity/<dataset>.json`` (``--json`` to change it)
and ``docs/figures/uniformity_<dataset>_{users,items}.png`` (``--figures``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.bench.common import (
    Result,
    common_options,
    csv,
    is_synthetic,
    load_split,
)

MODELS = ("LightGCN", "SGL-ED", "XSimGCL")
RESULTS = Path("benchmarks/results/uniformity")
FIGURES = Path("docs/figures")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("uniformity", help="t-SNE + KDE picture and uniformity of "
                                          "LightGCN, SGL-ED and XSimGCL embeddings",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="ml-100k",
                   help="a named dataset (80/10/10 split, seed 0) or toy/synthetic")
    p.add_argument("--models", type=csv(), default=list(MODELS),
                   help=f"comma-separated, among {','.join(MODELS)}")
    p.add_argument("--epochs", type=int, default=30, help="at most this many epochs")
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--tsne-iter", type=int, default=1000)
    p.add_argument("--figures", type=Path, default=FIGURES,
                   help="folder of the two PNG files ('-': none)")
    common_options(p, device=False)
    p.set_defaults(func=run)


def _data(name: str) -> tuple[Any, Any, Any]:
    import graphcl_rec as gr

    if is_synthetic(name):
        train, test = load_split(name)
        train, val = gr.data.random_split(train, (0.9, 0.1), seed=0)
        return train, val, test
    return gr.data.load(name, val_ratio=0.1, seed=0)


def _tables(names: list[str]) -> dict[str, tuple[dict[str, Any], float]]:
    from graphcl_rec.bench.main_job import MAIN_JOB

    known = {name: (table, lr) for name, table, lr in MAIN_JOB if name in MODELS}
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise SystemExit(f"argument --models: {bad or names} not among {list(MODELS)}")
    return {n: known[n] for n in names}


def measure(model: Any, train: Any, test: Any, *, perplexity: float, seed: int,
            tsne_iter: int) -> dict[str, Any]:
    """Uniformity, alignment and the t-SNE coordinates of a trained model."""
    from threadpoolctl import threadpool_limits

    from graphcl_rec.analysis import alignment, tsne_2d, uniformity
    from graphcl_rec.graph import adjacency

    model.eval()
    with torch.no_grad():
        users, items = model.embed([adjacency(train)] * model.encoder.num_layers)
    out: dict[str, Any] = {
        "uniformity_user": float(uniformity(users)),
        "uniformity_item": float(uniformity(items)),
        "alignment_train": float(alignment(users[train.user], items[train.item])),
        "alignment_test": float(alignment(users[test.user], items[test.item])),
    }
    for side, emb in (("user", users), ("item", items)):
        with threadpool_limits(torch.get_num_threads()):  # t-SNE's OpenMP loops
            xy = tsne_2d(emb, perplexity=min(perplexity, (emb.size(0) - 1) / 3),
                         seed=seed, max_iter=tsne_iter)
        out[f"tsne_{side}"] = [[round(float(a), 3), round(float(b), 3)]
                               for a, b in xy.tolist()]
    return out


def run(args: argparse.Namespace) -> Result:
    import graphcl_rec as gr
    from graphcl_rec.cli.build import build_model

    tables = _tables(args.models)
    if args.json is None:
        args.json = RESULTS / f"{args.dataset}.json"
    res = Result("uniformity", args)
    train, val, test = _data(args.dataset)
    print(f"{args.dataset}: {train.num_users} users, {train.num_items} items, "
          f"{len(train)} / {len(val)} / {len(test)} train / val / test pairs, at most "
          f"{args.epochs} epochs per model (patience {args.patience})", flush=True)
    for name, (table, lr) in tables.items():
        torch.manual_seed(args.seed)
        model = build_model(table, train.num_users, train.num_items)
        trainer = gr.Trainer(epochs=args.epochs, batch_size=2048, lr=lr,
                             sampler="interaction", seed=args.seed, progress=False,
                             early_stopping=gr.EarlyStopping("recall@20",
                                                             patience=args.patience))
        t0 = time.perf_counter()
        history = trainer.fit(model, train, val)
        seconds = time.perf_counter() - t0
        test_metrics = gr.evaluate(model, graph=train, target=test,
                                   exclude=[train, val], k=[20])
        t1 = time.perf_counter()
        row = {"model": name, "table": table, "lr": lr,
               "best_epoch": history.best_epoch, "epochs_run": len(history),
               "train_seconds": seconds, "test": dict(test_metrics),
               **measure(model, train, test, perplexity=args.perplexity,
                         seed=args.seed, tsne_iter=args.tsne_iter),
               "tsne_seconds": time.perf_counter() - t1}
        res.rows.append(row)
        for key in ("uniformity_user", "uniformity_item", "alignment_train",
                    "alignment_test"):
            res.figure(f"{name} {key}", row[key], "")
        print(f"{name}: best epoch {row['best_epoch']} of {row['epochs_run']}, "
              f"test recall@20 {row['test']['recall@20']:.4f}; uniformity users "
              f"{row['uniformity_user']:.3f}, items {row['uniformity_item']:.3f}; "
              f"alignment train {row['alignment_train']:.3f}, test "
              f"{row['alignment_test']:.3f} ({seconds:.0f} s training, "
              f"{row['tsne_seconds']:.0f} s t-SNE)", flush=True)
    res.rows.sort(key=lambda r: MODELS.index(r["model"]))
    res.meta["dataset"] = {"name": args.dataset, "users": train.num_users,
                           "items": train.num_items, "train": len(train),
                           "val": len(val), "test": len(test)}
    if str(args.figures) != "-":
        from benchmarks.bench.uniformity_plot import draw

        for path in draw(res.as_dict(), Path(args.figures)):
            print(f"wrote {path}", flush=True)
    return res
