"""Trains one SELFRec model on a LightGCN-format split and logs every epoch's time.

Runs as a script with the python of ``benchmarks/peers/.venv-selfrec`` (made by
``setup_selfrec.sh``); it does not import ``graphcl_rec``::

    OMP_NUM_THREADS=1 benchmarks/peers/.venv-selfrec/bin/python \\
        benchmarks/peers/selfrec_runner.py --model XSimGCL \\
        --train ../shared/data/yelp2018/train.txt.gz \\
        --test ../shared/data/yelp2018/test.txt.gz --epochs 10 \\
        --out benchmarks/results/peers/selfrec-xsimgcl-yelp2018.json

The split's files (one line per user: ``user item item ...``, gzip or plain) are
written in SELFRec's format (``user item 1`` per pair) to a temporary folder, and
the model's configuration is SELFRec's own ``conf/<MODEL>.yaml`` with the data
paths, ``max.epoch`` and any ``--set key=value`` replaced. SELFRec's code calls
``.cuda()`` unconditionally; here that call returns the tensor or module
unchanged, so it trains on the CPU and nothing else of it is altered.

Every epoch, SELFRec trains and then ranks all items for every test user
(``fast_evaluation``, Top-``max(item.ranking.topN)``). The runner wraps that method
to record, per epoch, the seconds from the end of the previous evaluation (the
training epoch, SELFRec's own batch sampling included) and the seconds of the
evaluation, with the Recall / NDCG / Precision / Hit Ratio it reports. The JSON file
is rewritten after each epoch, so a stopped run keeps its epochs (its ``finished``
stays false; it turns true when SELFRec's training returns). SELFRec's own logs go
to the temporary folder.

The file is a ``"peer_run"`` (see ``graphcl_rec.bench.report.load_references``):
its ``history`` has a run's shape (``epoch``, ``train_seconds``,
``eval_seconds``, ``val`` with ``recall@20`` / ``ndcg@20`` / ``precision@20`` at
``@N`` for ``N = max(item.ranking.topN)``), so written under
``benchmarks/results/`` it joins the time-to-quality table and the curves beside
this library's runs. Its Recall, NDCG (binary gains, ideal DCG over
``min(|test items|, N)``) and Precision are defined as this library's, rounded to
5 decimals by SELFRec; its "Hit Ratio" (hits over all test pairs) is not the
per-user hit rate and is kept only under ``metrics``. SELFRec drops the test
pairs whose user or item has no training pair; ``test_pairs_dropped`` counts
them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

METRICS = {"Recall": "recall", "NDCG": "ndcg", "Precision": "precision"}
"""SELFRec's metric names and this library's, where the definitions agree."""


def lightgcn_pairs(path: Path) -> list[tuple[str, str]]:
    """``(user, item)`` pairs of a LightGCN-format file (``user item item ...``)."""
    opener = gzip.open if path.suffix == ".gz" else open
    pairs = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            ids = line.split()
            pairs.extend((ids[0], item) for item in ids[1:])
    return pairs


def unseen_pairs(train: list[tuple[str, str]], test: list[tuple[str, str]]) -> int:
    """Test pairs whose user or item has no training pair: SELFRec drops them."""
    users, items = {u for u, _ in train}, {i for _, i in train}
    return sum(u not in users or i not in items for u, i in test)


def write_selfrec(pairs: list[tuple[str, str]], path: Path) -> None:
    """One ``user item 1`` line per pair, SELFRec's graph format."""
    path.write_text("".join(f"{u} {i} 1\n" for u, i in pairs), encoding="utf-8")


def parse_value(text: str) -> Any:
    """An int, a float, or the text itself."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--selfrec", type=Path,
                   default=Path(__file__).resolve().parent / ".selfrec",
                   help="SELFRec source tree (setup_selfrec.sh)")
    p.add_argument("--model", required=True, help="e.g. XSimGCL, SimGCL, LightGCN")
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="replace a top-level or '<MODEL>.key' configuration entry")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", default=None,
                   help="dataset name for the reports (default: --train's folder)")
    p.add_argument("--key", default=None,
                   help="key of the published figure (default: the model, lower case)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    args.out = args.out.resolve()  # the run works in a temporary folder

    tree = args.selfrec.resolve()
    sys.path.insert(0, str(tree))
    import random

    import numpy as np
    import torch
    import yaml

    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    torch.nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    from base.graph_recommender import GraphRecommender
    from SELFRec import SELFRec
    from util.conf import ModelConf

    work = Path(tempfile.mkdtemp(prefix="selfrec-"))
    train_pairs, test_pairs = lightgcn_pairs(args.train), lightgcn_pairs(args.test)
    write_selfrec(train_pairs, work / "train.txt")
    write_selfrec(test_pairs, work / "test.txt")
    conf = yaml.safe_load((tree / "conf" / f"{args.model}.yaml").read_text())
    conf.update({"training.set": str(work / "train.txt"),
                 "test.set": str(work / "test.txt"), "max.epoch": args.epochs,
                 "output": str(work / "out") + "/"})
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, sub = key.partition(".")
        if section == args.model and sub:
            conf[section][sub] = parse_value(value)
        else:
            conf[key] = parse_value(value)
    (work / "conf.yaml").write_text(yaml.safe_dump(conf))

    top = max(conf.get("item.ranking.topN", [20]))
    result: dict[str, Any] = {
        "kind": "peer_run", "library": "SELFRec", "name": f"{args.model}, SELFRec",
        "commit": (tree / "COMMIT").read_text().strip()
        if (tree / "COMMIT").exists() else None,
        "model": args.key or args.model.lower(), "selfrec_model": args.model,
        "dataset": args.dataset or args.train.resolve().parent.name,
        "protocol": "legacy", "device": "cpu", "processor": platform.processor(),
        "train_file": str(args.train), "test_file": str(args.test),
        "test_pairs_dropped": unseen_pairs(train_pairs, test_pairs),
        "config": conf, "seed": args.seed, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "python": platform.python_version(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "finished": False,
        "history": []}
    clock = {"last": 0.0}
    evaluate = GraphRecommender.fast_evaluation

    def timed(self: Any, epoch: int) -> Any:
        start = time.perf_counter()
        measure = evaluate(self, epoch)
        end = time.perf_counter()
        scores = {k.strip(): float(v) for m in measure[1:]
                  for k, v in [m.strip().split(":")]}
        result["history"].append({
            "epoch": epoch + 1, "train_seconds": start - clock["last"],
            "eval_seconds": end - start, "metrics": scores,
            "val": {f"{name}@{top}": scores[key] for key, name in METRICS.items()
                    if key in scores}})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        clock["last"] = time.perf_counter()
        return measure

    GraphRecommender.fast_evaluation = timed  # type: ignore[method-assign]
    os.chdir(work)  # SELFRec writes its logs under ./log
    rec = SELFRec(ModelConf(str(work / "conf.yaml")))
    module = __import__(f"model.graph.{args.model}", fromlist=[args.model])
    model = getattr(module, args.model)(rec.config, rec.training_data, rec.test_data)
    model.build()
    clock["last"] = time.perf_counter()
    model.train()
    result["finished"] = True
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
