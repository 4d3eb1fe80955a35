"""LightGCL's first steps on a paper config: cosine against dot-product contrast.

``python -m benchmarks.lightgcl_similarity --steps 100 [--config PATH] [--json OUT]``
trains each variant of ``benchmarks/configs/lightgcl_yelp2018.toml`` (legacy
protocol: the validation pairs merged into training) for the first ``--steps``
batches of its first epoch from one seed, and prints the BPR and contrastive terms
every 20 steps, the mean row norm of the embedding table, and test Recall@20 /
NDCG@20 after the last step. Variants (``--variants``, comma-separated):

- ``dot-sum``: the config as it is (``similarity="dot"``, ``pooling="sum"``);
- ``dot-mean``: dot products on the layer mean;
- ``cosine-mean``: cosines on the layer mean (the config before it followed the
  reference's similarity).

Each variant starts from the same initial tables and draws the same batches. The
point is whether BPR leaves ``ln 2`` at all in the first epoch, not a converged
figure: a run at the config's 100 epochs is ``graphcl-rec bench``'s job.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from graphcl_rec.cli.build import build_model, load_data
from graphcl_rec.cli.config import load_config
from graphcl_rec.cli.provenance import git_revision, versions
from graphcl_rec.data.interactions import concat
from graphcl_rec.data.sampling import PairSampler
from graphcl_rec.eval import evaluate
from graphcl_rec.graph import adjacency

VARIANTS = {
    "dot-sum": [],
    "dot-mean": ["--model.encoder.pooling=mean"],
    "cosine-mean": ["--model.encoder.pooling=mean", "--model.similarity=cosine"],
}


def probe(config: str, overrides: list[str], steps: int, seed: int
          ) -> dict[str, Any]:
    """Trains one variant for ``steps`` batches; returns its trace and test metrics."""
    cfg = load_config(config, overrides)
    train, val, test = load_data(cfg.data)
    train = concat([train, val])
    torch.manual_seed(seed)
    model = build_model(cfg.model, train.num_users, train.num_items)
    gen = torch.Generator().manual_seed(seed)
    model.sample_views(train, gen)
    adjs = [adjacency(train)] * model.encoder.num_layers
    sampler = PairSampler(train, cfg.train.batch_size, mode=cfg.train.sampler)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr,
                           weight_decay=cfg.train.weight_decay)
    trace, start = [], time.perf_counter()
    for step, batch in enumerate(sampler.epoch(gen)):
        if step >= steps:
            break
        out = model.loss(batch, adjs, None, gen)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        model.on_step_end()
        if step % 20 == 0 or step == steps - 1:
            norm = model.encoder.ego()[0].norm(dim=1).mean().item()
            trace.append({"step": step + 1, "bpr": out["bpr"].item(),
                          "ssl": out["ssl"].item(), "user_row_norm": norm,
                          "seconds": time.perf_counter() - start})
            print(f"  step {step + 1}: bpr {out['bpr'].item():.4f} ssl "
                  f"{out['ssl'].item():.3f} row norm {norm:.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        metrics = evaluate(model, train, test, k=20)
    return {"overrides": overrides, "trace": trace,
            "test": {k: float(metrics[k]) for k in ("recall@20", "ndcg@20")}}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="benchmarks/configs/lightgcl_yelp2018.toml")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choices: {list(VARIANTS)}")
    results: dict[str, Any] = {
        "config": args.config, "steps": args.steps, "seed": args.seed,
        "threads": torch.get_num_threads(), "versions": versions(),
        "git_revision": git_revision(), "variants": {}}
    for name in names:
        print(f"{name}:", flush=True)
        result = probe(args.config, VARIANTS[name], args.steps, args.seed)
        results["variants"][name] = result
        print(f"  test recall@20 {result['test']['recall@20']:.4f} ndcg@20 "
              f"{result['test']['ndcg@20']:.4f}", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
