"""Every objective, encoder and augmentation trained on one device, checked against CPU.

Usage: python benchmarks/device_check.py [--device cuda] [--epochs 1]

For each model below (every objective, encoder and augmentation at least once) it
trains ``--epochs`` epochs on ML-100K (80/10/10 per-user split) on ``--device``, checks
that every loss term is finite, and evaluates the trained embeddings on the device and
again on CPU: the two full-ranking evaluations must agree (the scores are the same
fp32 products, so only near-ties may rank differently). It also checks that the
device's top-K equals the CPU's on random scores. It prints one line per model and
exits non-zero if any check fails. Meant for a machine with a GPU; with
``--device cpu`` it checks the script itself.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

import torch

import graphcl_rec as gr
from graphcl_rec.cli.build import build_model
from graphcl_rec.eval import evaluate_embeddings
from graphcl_rec.graph import adjacency
from graphcl_rec.train import Trainer, resolve_device

LGN = {"name": "lightgcn", "dim": 64, "num_layers": 3}
ED = {"name": "edge_dropout", "p": 0.1}
MODELS: dict[str, dict] = {
    "mf-bpr": {"objective": "bpr", "encoder": {"name": "mf", "dim": 64}},
    "lightgcn-bpr": {"objective": "bpr", "encoder": LGN},
    "sgc-bpr": {"objective": "bpr", "encoder": {"name": "sgc", "dim": 64,
                                                "num_layers": 2}},
    "sgl-ed": {"objective": "sgl", "encoder": LGN, "augment": ED},
    "sgl-ed-batch": {"objective": "sgl", "encoder": LGN, "augment": ED,
                     "negatives": "batch"},
    "sgl-nd": {"objective": "sgl", "encoder": LGN,
               "augment": {"name": "node_dropout", "p": 0.1}},
    "sgl-rw": {"objective": "sgl", "encoder": LGN,
               "augment": {"name": "random_walk", "per_layer": True}},
    "sgl-ed-per-layer": {"objective": "sgl", "encoder": LGN,
                         "augment": {"name": "edge_dropout_per_layer", "p": 0.1}},
    "simgcl": {"objective": "simgcl", "encoder": LGN},
    "xsimgcl": {"objective": "xsimgcl", "encoder": LGN},
    "moco": {"objective": "moco", "encoder": LGN, "augment": ED},
    "byol": {"objective": "byol", "encoder": LGN, "augment": ED},
    "bpr-hard-negatives": {"objective": "bpr", "encoder": LGN,
                           "hard_negatives": True, "trainer": {"num_negatives": 4}},
}


def check_topk(device: torch.device) -> None:
    """Device and CPU full-ranking metrics agree on random embeddings."""
    train, _, test = gr.data.load("ml-100k", val_ratio=0.1)
    gen = torch.Generator().manual_seed(0)
    eu = torch.randn(train.num_users, 64, generator=gen)
    ei = torch.randn(train.num_items, 64, generator=gen)
    cpu = evaluate_embeddings(eu, ei, test, train, k=[20])
    dev = evaluate_embeddings(eu.to(device), ei.to(device), test.to(device),
                              train.to(device), k=[20])
    worst = max(abs(cpu[m] - dev[m]) for m in cpu)
    print(f"random-embedding evaluation, largest |device - cpu| metric gap: "
          f"{worst:.2e}")
    if worst > 1e-3:
        raise AssertionError(f"device and CPU evaluations differ: {cpu} vs {dev}")


def check_model(name: str, table: dict, device: torch.device, epochs: int) -> None:
    train, val, test = gr.data.load("ml-100k", val_ratio=0.1)
    table = dict(table)
    extra = table.pop("trainer", {})
    model = build_model(table, train.num_users, train.num_items)
    t0 = time.perf_counter()
    Trainer(epochs=epochs, batch_size=2048, lr=5e-3, device=str(device),
            progress=False, seed=0, reset_parameters=True,
            **extra).fit(model, train, val)
    seconds = time.perf_counter() - t0
    model.eval()
    adjs = [adjacency(train.to(device))] * int(model.encoder.num_layers)
    with torch.no_grad():
        emb_u, emb_i = model.embed(adjs)
    seen = [train.to(device), val.to(device)]
    on_dev = evaluate_embeddings(emb_u, emb_i, test.to(device), seen, k=[20])
    on_cpu = evaluate_embeddings(emb_u.cpu(), emb_i.cpu(), test, [train, val], k=[20])
    gap = max(abs(on_dev[m] - on_cpu[m]) for m in on_dev)
    print(f"{name:20s} {epochs} epoch(s) on {device.type}: {seconds:6.2f} s; test "
          f"recall@20 {on_dev['recall@20']:.4f}; |device - cpu| metric gap {gap:.1e}")
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise AssertionError(f"{name}: non-finite parameters")
    if gap > 1e-3:
        raise AssertionError(f"{name}: device and CPU evaluations differ")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="auto")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--models", nargs="+", default=list(MODELS))
    args = p.parse_args()
    device = resolve_device(args.device)
    if device.type == "cuda":
        print(f"torch {torch.__version__} on {torch.cuda.get_device_name(device)}")
    failed = []
    for name in args.models:
        try:
            check_model(name, MODELS[name], device, args.epochs)
        except Exception:  # report every failure, then fail the script
            traceback.print_exc()
            failed.append(name)
    try:
        check_topk(device)
    except Exception:
        traceback.print_exc()
        failed.append("evaluation")
    print("FAILED: " + ", ".join(failed) if failed else "all device checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
