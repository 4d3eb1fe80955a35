"""What the serving benchmarks share: whole datasets with raw ids, budgeted training.

``foldin``, ``update``, ``ann`` and ``latency`` (issue 19) measure
``graphcl_rec.serve`` on models trained here with the library's defaults
(``BPRRecommender(LightGCN(U, I))`` or ``BPRRecommender(MF(U, I))`` and
``Trainer()``'s settings), stopped by an epoch budget (``--epochs``) and
optionally a wall-clock budget (``--budget-seconds``), without validation.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from benchmarks.bench.common import is_synthetic, load_split

MODELS = ("lightgcn", "mf")


def budget_options(parser: argparse.ArgumentParser, epochs: int = 100,
                   seconds: float | None = None) -> None:
    """``--seed``, ``--epochs`` and ``--budget-seconds`` of the training runs."""
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split, the held-out draw and training")
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"training epochs (default {epochs}: Trainer's default)")
    parser.add_argument("--budget-seconds", type=float, default=seconds,
                        help="also stop training after the epoch that passes this "
                             "many seconds (Trainer max_seconds)")


def all_pairs(name: str, seed: int = 0):
    """Every pair of a dataset in one index space, with raw ids (and timestamps).

    Named datasets: ``graphcl_rec.data.load(name, val_ratio=0)``'s parts joined
    (ML-100K keeps its timestamps; Gowalla and Yelp2018 have none). Synthetic ones
    (``toy``, ...) get raw ids ``u<i>`` / ``i<j>`` and a random (seeded) order as
    timestamps, so that every subcommand runs on them.
    """
    import graphcl_rec as gr

    if not is_synthetic(name):
        train, val, test = gr.data.load(name, val_ratio=0.0)
        return gr.data.concat([train, val, test] if len(val) else [train, test])
    train, test = load_split(name, seed)
    both = gr.data.concat([train, test])
    g = torch.Generator().manual_seed(seed)
    return gr.data.Interactions(
        both.user, both.item, both.num_users, both.num_items,
        user_ids=tuple(f"u{i}" for i in range(both.num_users)),
        item_ids=tuple(f"i{j}" for j in range(both.num_items)),
        timestamp=torch.randperm(len(both), generator=g))


def reindex(inter, users: Sequence[str] | None = None,
            items: Sequence[str] | None = None):
    """``inter``'s pairs over new raw-id spaces (pairs outside them are dropped).

    Args:
        inter: Interactions with ``user_ids`` and ``item_ids``.
        users: The new user space (raw ids, in index order); ``None`` keeps it.
        items: The new item space; ``None`` keeps it.
    """
    import graphcl_rec as gr

    users = list(inter.user_ids) if users is None else list(users)
    items = list(inter.item_ids) if items is None else list(items)
    u_of = _mapping(inter.user_ids, users)
    i_of = _mapping(inter.item_ids, items)
    user, item = u_of[inter.user], i_of[inter.item]
    keep = (user >= 0) & (item >= 0)
    stamp = None if inter.timestamp is None else inter.timestamp[keep]
    return gr.data.Interactions(user[keep], item[keep], len(users), len(items),
                                user_ids=tuple(users), item_ids=tuple(items),
                                timestamp=stamp)


def _mapping(old: Sequence[str], new: Sequence[str]) -> Tensor:
    """``[len(old)]``: each old raw id's index in ``new``, or -1."""
    where = {raw: i for i, raw in enumerate(new)}
    return torch.tensor([where.get(raw, -1) for raw in old], dtype=torch.long)


def build(model: str, num_users: int, num_items: int):
    """``BPRRecommender(LightGCN(U, I))`` or ``BPRRecommender(MF(U, I))``."""
    from graphcl_rec.models import MF, BPRRecommender, LightGCN

    if model not in MODELS:
        raise SystemExit(f"--models: {model!r} is not one of {', '.join(MODELS)}")
    encoder = LightGCN if model == "lightgcn" else MF
    return BPRRecommender(encoder(num_users, num_items))


_WARM: list[str] = []


def warm_up(model: str) -> None:
    """One untimed epoch on toy data: the process's one-off costs out of the timings."""
    import graphcl_rec as gr

    if model in _WARM:
        return
    inter, _ = load_split("toy")
    with torch.random.fork_rng(devices=[]):
        gr.Trainer(epochs=1, progress=False, device="cpu").fit(
            build(model, inter.num_users, inter.num_items), inter)
    _WARM.append(model)


def train(model: str, inter, args: argparse.Namespace, seed: int | None = None
          ) -> tuple[Any, dict[str, Any]]:
    """A model trained on ``inter`` with the library's defaults and the budget.

    The first call per model type is preceded by :func:`warm_up`.

    Returns:
        ``(recommender, details)``: seconds, epochs run, whether the wall-clock
        budget ended it, and the last epoch's loss.
    """
    import graphcl_rec as gr

    seed = args.seed if seed is None else seed
    warm_up(model)
    torch.manual_seed(seed)
    rec = build(model, inter.num_users, inter.num_items)
    trainer = gr.Trainer(epochs=args.epochs, max_seconds=args.budget_seconds,
                         seed=seed, progress=False, device="cpu")
    t0 = time.perf_counter()
    history = trainer.fit(rec, inter)
    seconds = time.perf_counter() - t0
    records = history.records
    details = {"model": repr(rec), "seconds": seconds, "epochs_run": len(records),
               "epochs_asked": args.epochs, "budget_seconds": args.budget_seconds,
               "time_capped": len(records) < args.epochs,
               "last_loss": records[-1].get("loss") if records else None,
               "pairs": len(inter), "users": inter.num_users,
               "items": inter.num_items}
    print(f"  trained {model} on {len(inter)} pairs: {len(records)} epochs in "
          f"{seconds:.1f} s{' (time budget)' if details['time_capped'] else ''}",
          flush=True)
    return rec, details


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"
