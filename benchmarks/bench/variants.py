"""``variants``: one objective under constructor-argument variants, at a time budget.

Each ``--variant KEY=VALUE[,KEY=VALUE...]`` (``defaults`` for none) is passed to the
objective's constructor on top of what ``robust`` builds (LightGCN 64-d, 3 layers,
the objective's defaults), and trained with ``robust``'s settings on ``robust``'s
datasets (batch 2048, lr 5e-3, early stopping on validation Recall@20 with patience
10 and warmup 10, the same ``--budget-seconds`` of wall-clock per run, or
``--epochs`` with no budget). Variants alternate per dataset in one process, so they
share the machine's load. It prints, and ``--json`` keeps, each variant's best
validation Recall@20 (what a default is chosen on), its test Recall@20 / NDCG@20
(evaluated once), the epochs run and seconds per epoch. This is how MoCo's
``queue_size`` and InBatchNCE's ``logq`` defaults were chosen
(``benchmarks/results/robustness/README.md``).

    python -m benchmarks.run variants --objective moco --datasets ml-100k,gowalla-2k \\
        --variant defaults --variant queue_size=1024 --variant queue_size=0 --threads 1
"""

from __future__ import annotations

import argparse
import ast
import inspect
import time
from typing import Any

import torch

from benchmarks.bench import robust, robust_data
from benchmarks.bench.common import Result, common_options, csv


def parse_variant(text: str) -> dict[str, Any]:
    """``"a=1,b=x"`` -> ``{"a": 1, "b": "x"}`` (values read as Python literals)."""
    if text == "defaults":
        return {}
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"variant part {part!r} is not KEY=VALUE")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("variants", help="one objective under constructor variants "
                                        "at a time budget", description=__doc__)
    p.add_argument("--objective", required=True)
    p.add_argument("--datasets", type=csv(), default=["ml-100k"])
    p.add_argument("--variant", action="append", required=True)
    p.add_argument("--budget-seconds", type=float, default=20.0)
    p.add_argument("--epochs", type=int, default=100000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-seed", type=int, default=0)
    common_options(p, device=False)
    p.set_defaults(func=run)


def _train(objective: str, kwargs: dict[str, Any], data: robust_data.Dataset,
           args: argparse.Namespace) -> dict[str, Any]:
    import graphcl_rec as gr

    torch.manual_seed(args.seed)
    base, _, _ = robust.build_model(objective, data.train.num_users,
                                    data.train.num_items, 64, 3)
    takes_augment = "augment" in inspect.signature(type(base)).parameters
    keep = {"augment": base.augment} if takes_augment else {}
    model = type(base)(base.encoder, **{**keep, **kwargs})
    budget = args.budget_seconds if args.budget_seconds > 0 else None
    trainer = gr.Trainer(epochs=args.epochs, batch_size=2048, lr=5e-3,
                         max_seconds=budget, seed=args.seed, reset_parameters=True,
                         early_stopping=gr.EarlyStopping("recall@20", patience=10,
                                                         warmup=10),
                         progress=False)
    t0 = time.perf_counter()
    history = trainer.fit(model, data.train, data.val)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        test = gr.evaluate(model, graph=data.train, target=data.test,
                           exclude=[data.train, data.val], k=[20])
    records = history.records
    return {"val_best": (history.best or {}).get("recall@20"), "test": test,
            "best_epoch": history.best_epoch, "epochs_run": len(records),
            "seconds": seconds,
            "seconds_per_epoch": sum(r.get("train_seconds", 0.0) for r in records)
            / max(len(records), 1)}


def run(args: argparse.Namespace) -> Result:
    res = Result("variants", args)
    variants = [(text, parse_variant(text)) for text in args.variant]
    for name in args.datasets:
        data = robust_data.build(name, args.data_seed)
        for text, kwargs in variants:
            row = {"dataset": name, "objective": args.objective, "variant": text,
                   **_train(args.objective, kwargs, data, args)}
            res.rows.append(row)
            res.figure(f"{name} {text} val recall@20", row["val_best"], "")
            print(f"{name} {args.objective} {text}: val recall@20 "
                  f"{row['val_best']:.4f}, test recall@20 "
                  f"{row['test']['recall@20']:.4f} / ndcg@20 "
                  f"{row['test']['ndcg@20']:.4f}; best epoch {row['best_epoch']} of "
                  f"{row['epochs_run']}, {row['seconds_per_epoch']:.2f} s/epoch",
                  flush=True)
    return res
