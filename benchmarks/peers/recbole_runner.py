"""Trains one RecBole model one epoch at a time, on command (runs in the RecBole venv).

Usage (normally started by ``recbole_compare.py``)::

    .venv-recbole/bin/python recbole_runner.py \
        --config saved/graphcl-ml-100k-LightGCN.yaml --model LightGCN \
        --dataset graphcl-ml-100k [--threads 1]

Builds the dataset, model and trainer with RecBole's documented library API
(``Config``, ``create_dataset``, ``data_preparation``, ``get_model``, ``get_trainer``)
and then reads commands from stdin, one per line:

* ``epoch``: one call of ``trainer.fit(train_data, valid_data=None, saved=False)``
  with ``epochs: 1`` in the config, i.e. exactly one training epoch and no
  evaluation; model and optimiser persist between calls.
* ``quit``: exit.

Every answer is one JSON object on stdout prefixed with ``@@`` (everything else
RecBole prints goes to stderr). An epoch's answer holds ``logged_s``, the time
RecBole itself logs for the epoch ("epoch 0 training [time: X.XXs, ...]", measured
around ``_train_epoch``, hence including ``model.train()``, which is where SGL
rebuilds its two views) and ``wall_s``, ``time.perf_counter`` around the whole
``fit`` call.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import sys
import time

TIME_RE = re.compile(r"training \[time: ([0-9.]+)s")


class EpochTimes(logging.Handler):
    """Collects the seconds RecBole logs for each training epoch."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = TIME_RE.search(record.getMessage())
        if match:
            self.seconds.append(float(match.group(1)))


def fingerprint(graph) -> str | None:
    """Short digest of a sparse view's indices (to see whether views change)."""
    if graph is None or isinstance(graph, list):
        return None
    idx = graph.coalesce().indices().numpy().tobytes()
    return hashlib.sha1(idx).hexdigest()[:12]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr

    def answer(obj: dict) -> None:
        out.write("@@" + json.dumps(obj) + "\n")

    import torch

    torch.set_num_threads(args.threads)
    import recbole
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    config = Config(model=args.model, dataset=args.dataset,
                    config_file_list=[args.config])
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    times = EpochTimes()
    logging.getLogger().addHandler(times)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    model = get_model(config["model"])(config, train_data.dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    torch.set_num_threads(args.threads)
    answer({
        "ready": True, "recbole": recbole.__version__, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "device": str(config["device"]),
        "num_users": dataset.user_num, "num_items": dataset.item_num,
        "train": len(train_data.dataset), "valid": len(valid_data.dataset),
        "test": len(test_data.dataset), "batches": len(train_data),
        "train_batch_size": config["train_batch_size"],
    })
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd != "epoch":
            answer({"error": f"unknown command {cmd!r}"})
            continue
        n = len(times.seconds)
        t0 = time.perf_counter()
        trainer.fit(train_data, valid_data=None, saved=False, show_progress=False)
        wall = time.perf_counter() - t0
        logged = times.seconds[n] if len(times.seconds) > n else None
        answer({"logged_s": logged, "wall_s": wall,
                "loss": trainer.train_loss_dict.get(0),
                "view": fingerprint(getattr(model, "sub_graph1", None))})


if __name__ == "__main__":
    main()
