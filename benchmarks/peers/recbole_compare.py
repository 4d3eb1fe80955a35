"""Seconds per training epoch: graphcl_rec against RecBole 1.2.1, on one split.

Usage (with this repository's venv; RecBole lives in its own venv, see
``setup_recbole.sh``)::

    python -m benchmarks.run peers recbole [--dataset ml-100k] [--epochs 3]
        [--warmup 1] [--models lightgcn sgl] [--threads 1]
        [--nce-precision full bfloat16]

Our split (``graphcl_rec.data.load(name, val_ratio=0.1, seed=...)``) is written as
RecBole atomic files ``<name>.{train,valid,test}.inter`` (raw ids as tokens) and
RecBole reads them through ``benchmark_filename``, so both libraries train on the
same pairs. Both sides use the same hyperparameters (64-d, 3 layers, L2 1e-4, Adam
1e-3, batch 2048, one uniform negative; SGL-ED: drop ratio 0.1, tau 0.2, SSL weight
0.1) and the same epoch: every training pair once, in a random order
(``PairSampler(mode="interaction")`` here, RecBole's ``TrainDataLoader``).

RecBole runs in a subprocess (``recbole_runner.py`` in the RecBole venv) that trains
one epoch per command, so the libraries' epochs alternate in one invocation and
share whatever load the machine has. With several ``--nce-precision`` values, SGL
has one variant of ours per precision (each its own model and checkpoints); every
round trains one epoch of each player (our variants, then RecBole), starting one
place further along that list each round. Reported per epoch:

* ``train_s``: the library's own epoch time. Ours: ``History.records[i]
  ["train_seconds"]`` of :class:`graphcl_rec.Trainer` (view sampling plus all
  batches); RecBole: the time it logs for the epoch (``_train_epoch``, which
  includes SGL's per-epoch view construction in ``model.train()``), printed to
  0.01 s.
* ``fit_s``: wall time of the whole ``fit`` call that trained the epoch (ours
  resumes from a checkpoint each round, so it includes loading and saving it;
  RecBole's includes its logging and tensorboard writes).

The first ``--warmup`` rounds are trained but left out of the summary.
Evaluation is never run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = {"lightgcn": "LightGCN", "sgl": "SGL"}
LABELS = {"lightgcn": "LightGCN", "sgl": "SGL-ED"}
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

# Shared hyperparameters, written once for each library.
DIM, LAYERS, REG, LR, BATCH = 64, 3, 1e-4, 1e-3, 2048
DROP, TAU, SSL_WEIGHT = 0.1, 0.2, 0.1


def write_atomic(train, val, test, folder: Path, token: str) -> dict[str, int]:
    """Writes ``<token>.{train,valid,test}.inter`` with raw ids as tokens."""
    folder.mkdir(parents=True, exist_ok=True)
    users, items = train.user_ids, train.item_ids
    if users is None or items is None:
        raise SystemExit("the split has no raw ids (user_ids/item_ids) to write")
    sizes = {}
    for suffix, part in (("train", train), ("valid", val), ("test", test)):
        lines = ["user_id:token\titem_id:token\n"]
        lines += [f"{users[u]}\t{items[i]}\n"
                  for u, i in zip(part.user.tolist(), part.item.tolist())]
        (folder / f"{token}.{suffix}.inter").write_text("".join(lines))
        sizes[suffix] = len(part)
    return sizes


def recbole_config(token: str, model: str, seed: int) -> str:
    """RecBole YAML config (``epochs: 1``: the runner calls ``fit`` once per epoch)."""
    lines = [
        f"data_path: {HERE / 'dataset'}",
        f"checkpoint_dir: {HERE / 'saved'}",
        "benchmark_filename: [train, valid, test]",
        "field_separator: \"\\t\"",
        "USER_ID_FIELD: user_id",
        "ITEM_ID_FIELD: item_id",
        "load_col: {inter: [user_id, item_id]}",
        "use_gpu: False",
        f"seed: {seed}",
        "reproducibility: True",
        "show_progress: False",
        "log_wandb: False",
        "worker: 0",
        f"embedding_size: {DIM}",
        f"n_layers: {LAYERS}",
        f"reg_weight: {REG}",
        f"learning_rate: {LR}",
        f"train_batch_size: {BATCH}",
        # RecBole divides eval_batch_size by the number of items (full ranking).
        "eval_batch_size: 4096000",
        "epochs: 1",
        "eval_step: 1000000",
        "topk: [20]",
        "metrics: [Recall, NDCG]",
        "valid_metric: Recall@20",
        "train_neg_sample_args: {distribution: uniform, sample_num: 1, alpha: 1.0, "
        "dynamic: False, candidate_num: 0}",
        "eval_args: {group_by: user, order: RO, mode: full}",
    ]
    if model == "SGL":
        lines += ["type: ED", f"drop_ratio: {DROP}", f"ssl_tau: {TAU}",
                  f"ssl_weight: {SSL_WEIGHT}"]
    return "\n".join(lines) + "\n"


class RecBole:
    """The runner subprocess: one RecBole model, one epoch per ``epoch()``."""

    def __init__(self, python: Path, config: Path, model: str, token: str,
                 threads: int, stderr_path: Path) -> None:
        env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1",
                   PYTHONUNBUFFERED="1")
        env.update({v: str(threads) for v in THREAD_VARS})
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        self.stderr = stderr_path.open("w")
        self.proc = subprocess.Popen(
            [str(python), str(HERE / "recbole_runner.py"), "--config", str(config),
             "--model", model, "--dataset", token, "--threads", str(threads)],
            cwd=HERE, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, bufsize=1)
        self.stderr_path = stderr_path
        self.info = self.read()

    def read(self) -> dict:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise SystemExit(f"the RecBole runner exited ({self.proc.wait()}); see "
                         f"{self.stderr_path}")

    def epoch(self) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self.stderr.close()


class Ours:
    """Our model, trained one epoch per ``epoch()`` by resuming gr.Trainer."""

    def __init__(self, key: str, train, seed: int, checkpoint_dir: Path,
                 nce_precision: str = "full") -> None:
        import graphcl_rec as gr
        from graphcl_rec import augment, contrast, models

        self.gr, self.train, self.seed = gr, train, seed
        encoder = models.LightGCN(train.num_users, train.num_items, dim=DIM,
                                  num_layers=LAYERS)
        if key == "sgl":
            self.model = contrast.SGL(encoder, augment=augment.EdgeDropout(p=DROP),
                                      tau=TAU, ssl_weight=SSL_WEIGHT, reg_weight=REG,
                                      nce_precision=nce_precision)
        else:
            self.model = models.BPRRecommender(encoder, reg_weight=REG)
        self.checkpoint_dir, self.done = checkpoint_dir, 0

    def epoch(self) -> dict:
        trainer = self.gr.Trainer(
            epochs=self.done + 1, batch_size=BATCH, lr=LR, sampler="interaction",
            num_negatives=1, device="cpu", seed=self.seed,  # uniform negatives
            reset_parameters=True,
            progress=False, checkpoint_dir=self.checkpoint_dir)
        t0 = time.perf_counter()
        history = trainer.fit(self.model, self.train, None, resume=True)
        wall = time.perf_counter() - t0
        self.done += 1
        record = history.records[-1]
        assert record["epoch"] == self.done, record
        return {"train_s": record["train_seconds"], "wall_s": wall,
                "loss": record["loss"]}


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.3f}"


def compare(key: str, parts, token: str, sizes: dict[str, int], args) -> list[dict]:
    """Alternates RecBole's epochs with each of our variants' (one per
    ``--nce-precision`` for SGL; LightGCN has one), rotating who goes first."""
    import torch

    train = parts[0]
    model = MODELS[key]
    cfg = HERE / "saved" / f"{token}-{model}.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(recbole_config(token, model, args.seed))
    theirs = RecBole(args.python, cfg, model, token, args.threads,
                     HERE / "log" / f"runner-{token}-{model}.stderr")
    info = theirs.info
    # RecBole reserves id 0 for padding in both id spaces.
    same = (info["train"], info["valid"], info["test"]) == (
        sizes["train"], sizes["valid"], sizes["test"]) and (
        info["num_users"], info["num_items"]) == (train.num_users + 1,
                                                  train.num_items + 1)
    if not same:
        theirs.close()
        raise SystemExit(f"RecBole did not load the same split: {info} vs {sizes}, "
                         f"{train.num_users} users, {train.num_items} items")
    print(f"\n## {LABELS[key]} on {args.dataset}: {sizes['train']} training pairs, "
          f"batch {BATCH}; RecBole {info['recbole']} (torch {info['torch']}, "
          f"{info['threads']} thread(s), {info['batches']} batches/epoch); "
          f"ours torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{-(-sizes['train'] // BATCH)} batches/epoch")
    precisions = args.nce_precision if key == "sgl" else ["full"]
    names = ["ours" if p == "full" else f"ours-{p}" for p in precisions]
    rows = []
    with tempfile.TemporaryDirectory(prefix="graphcl-peer-") as tmp:
        players: dict[str, object] = {
            name: Ours(key, train, args.seed, Path(tmp) / name, p)
            for name, p in zip(names, precisions)}
        players["recbole"] = theirs
        order = list(players)
        try:
            for i in range(args.warmup + args.epochs):
                turn = order[i % len(order):] + order[:i % len(order)]
                got = {name: players[name].epoch() for name in turn}
                rows.append({"round": i + 1, "warmup": i < args.warmup,
                             "first": turn[0], **got})
        finally:
            theirs.close()
    head = "".join(f" {n + ' train_s':>16} {n + ' fit_s':>14}" for n in names)
    print(f"{'round':>5} {'first':>9}{head} {'RecBole train_s':>15} "
          f"{'RecBole fit_s':>13}  RecBole view")
    for r in rows:
        t = r["recbole"]
        logged = "-" if t["logged_s"] is None else f"{t['logged_s']:.2f}"
        tag = " (warm-up)" if r["warmup"] else ""
        cells = "".join(f" {r[n]['train_s']:16.3f} {r[n]['wall_s']:14.3f}"
                        for n in names)
        print(f"{r['round']:>5} {r['first']:>9}{cells} {logged:>15} "
              f"{t['wall_s']:13.3f}  {t['view'] or '-'}{tag}")
    timed = [r for r in rows if not r["warmup"]]
    their_train = [r["recbole"]["logged_s"] for r in timed
                   if r["recbole"]["logged_s"] is not None]
    their_fit = [r["recbole"]["wall_s"] for r in timed]
    results = []
    for name, precision in zip(names, precisions):
        label = LABELS[key] + ("" if precision == "full" else f" ({precision} NCE)")
        result = {"model": label, "rows": rows, "recbole_info": info}
        ours_train = [r[name]["train_s"] for r in timed]
        ours_fit = [r[name]["wall_s"] for r in timed]
        if timed and their_train:
            ratio_train = statistics.median(their_train) / statistics.median(ours_train)
            ratio_fit = statistics.median(their_fit) / statistics.median(ours_fit)
            print(f"{label}: median over {len(timed)} epochs: ours "
                  f"{summary(ours_train)} s (fit {summary(ours_fit)} s), RecBole "
                  f"{summary(their_train)} s (fit {summary(their_fit)} s); "
                  f"RecBole/ours = {ratio_train:.2f}x (fit {ratio_fit:.2f}x)")
            result.update(ours_train_s=statistics.median(ours_train),
                          recbole_train_s=statistics.median(their_train),
                          ratio_train=ratio_train, ratio_fit=ratio_fit)
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run peers recbole",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="ml-100k",
                   choices=["ml-100k", "gowalla", "yelp2018"])
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per model")
    p.add_argument("--warmup", type=int, default=1, help="untimed first epochs")
    p.add_argument("--models", nargs="+", default=["lightgcn", "sgl"],
                   choices=sorted(MODELS))
    p.add_argument("--threads", type=int, default=1,
                   help="torch/OpenMP/BLAS threads for both libraries")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--python", type=Path,
                   default=HERE / ".venv-recbole" / "bin" / "python",
                   help="the RecBole venv's python (see setup_recbole.sh)")
    p.add_argument("--nce-precision", nargs="+", default=["full"],
                   choices=["full", "bfloat16"],
                   help="our SGL's InfoNCE product precision; several values "
                        "alternate several variants of ours with RecBole")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    if not args.python.exists():
        raise SystemExit(f"{args.python} not found: run "
                         "bash benchmarks/peers/setup_recbole.sh first")
    for var in THREAD_VARS:
        os.environ[var] = str(args.threads)

    import torch

    torch.set_num_threads(args.threads)
    import graphcl_rec as gr

    # Each round resumes from a checkpoint; the first finds none and says so.
    logging.getLogger("graphcl_rec").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

    from benchmarks.bench.common import meta, meta_line

    info = meta()
    print(meta_line(info))
    parts = gr.data.load(args.dataset, val_ratio=0.1, seed=args.seed)
    token = f"graphcl-{args.dataset}"
    sizes = write_atomic(*parts, HERE / "dataset" / token, token)
    print(f"# graphcl_rec vs RecBole, seconds per training epoch "
          f"({dt.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, "
          f"{os.cpu_count()} CPUs, threads={args.threads}, python "
          f"{platform.python_version()})")
    results = [r for key in args.models
               for r in compare(key, parts, token, sizes, args)]
    print("\n| model | ours s/epoch | RecBole s/epoch | RecBole / ours |")
    print("| --- | ---: | ---: | ---: |")
    for r in results:
        if "ratio_train" in r:
            print(f"| {r['model']} | {r['ours_train_s']:.3f} | "
                  f"{r['recbole_train_s']:.2f} | {r['ratio_train']:.2f}x |")
    if args.json is not None:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in
                                                  vars(args).items()},
                                         "meta": info, "results": results},
                                        indent=1))


if __name__ == "__main__":
    sys.exit(main())
