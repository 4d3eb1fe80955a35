"""``update``: new feedback, four ways: ignore, fold in, fine-tune, retrain (issue 19).

The whole timeline is split at two instants (``temporal_split(per_user=False)``):
the first 80 % of the pairs train, the next 10 % are feedback, the last 10 % test.
A LightGCN (library defaults, ``--epochs`` / ``--budget-seconds``) trained on the
first part is then (a) left as it is, (b) given the feedback's new users by
``fold_in_users`` (their feedback items that the model knows; ``b+items`` also folds
the new items in from their trained users), (c) updated with
``TrainedRecommender.update(feedback, epochs=E)`` (warm start, a ``Trainer`` with
learning rate ``lr``), or (d) retrained from scratch on train + feedback with the
same budget as (a). All four rank the same test users (those with a pair in train
or feedback), with train and feedback excluded; see ``serve_scoring``. Times are
(a), (d): training; (b): the fold-in; (c): ``update()`` including its re-embedding.

The update settings are chosen on a validation slice, never on test: the feedback
is cut in two halves (in time); the model of (a) is updated with the first half
under each ``--grid-epochs`` x ``--grid-lr`` setting and scored on the second half,
against a retrain on train + first half. The chosen setting is the best validation
Recall@20 among those under ``--time-share`` of that retrain's time. (c) is run
with ``--update-epochs`` at the library's learning rate and with the chosen setting.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any

from benchmarks.bench import serve_scoring as scoring
from benchmarks.bench.common import Result, common_options, csv
from benchmarks.bench.serve_common import all_pairs, budget_options, reindex, train


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("update", help="no update, fold-in, incremental update and "
                       "full retrain on a temporal split",
                       description=__doc__.split("\n\n")[0])
    common_options(p, device=False)
    p.add_argument("--dataset", default="ml-100k",
                   help="a dataset with timestamps (ml-100k) or a synthetic one")
    p.add_argument("--repeats", type=int, default=3,
                   help="training seeds --seed .. --seed + N - 1")
    p.add_argument("--update-epochs", type=int, default=5,
                   help="epochs of the plain update (c) at the library's lr")
    p.add_argument("--grid-epochs", type=csv(int), default=[1, 2, 5, 10])
    p.add_argument("--grid-lr", type=csv(float), default=[1e-3, 5e-3])
    p.add_argument("--time-share", type=float, default=0.1,
                   help="the target: update time under this share of a retrain's")
    p.add_argument("--recall-share", type=float, default=0.99,
                   help="the target: update Recall@20 at least this share of a "
                        "retrain's")
    budget_options(p)
    p.set_defaults(func=run)


def present(parts: list) -> tuple[list[str], list[str]]:
    """Raw ids of the users and items with a pair in ``parts`` (index order)."""
    first = parts[0]
    users, items = set(), set()
    for part in parts:
        users.update(part.user.tolist())
        items.update(part.item.tolist())
    return ([first.user_ids[u] for u in sorted(users)],
            [first.item_ids[i] for i in sorted(items)])


def trained_on(parts: list, args: argparse.Namespace, seed: int):
    """A recommender trained from scratch on ``parts`` over their own id spaces."""
    import graphcl_rec as gr
    from graphcl_rec.serve import TrainedRecommender

    users, items = present(parts)
    inter = reindex(gr.data.concat(parts) if len(parts) > 1 else parts[0], users,
                    items)
    model, info = train("lightgcn", inter, args, seed)
    return TrainedRecommender(model, inter), info


def fold_in(base, feedback, with_items: bool, seed: int) -> tuple[Any, float]:
    """(b): the feedback's new users (and items) folded into a copy of ``base``."""
    from graphcl_rec.serve import TrainedRecommender

    rec = TrainedRecommender(base.model, base.train)
    users, items = feedback.user_ids, feedback.item_ids
    new_users: dict[str, list[str]] = {}
    new_items: dict[str, list[str]] = {}
    for u, i in zip(feedback.user.tolist(), feedback.item.tolist()):
        if users[u] not in rec.users and items[i] in rec.items:
            new_users.setdefault(users[u], []).append(items[i])
        if with_items and items[i] not in rec.items and users[u] in rec.users:
            new_items.setdefault(items[i], []).append(users[u])
    t0 = time.perf_counter()
    rec.fold_in_users(new_users, seed=seed)
    if with_items:
        rec.fold_in_items(new_items, seed=seed)
    return rec, time.perf_counter() - t0


def updated(base, feedback, epochs: int, lr: float | None, seed: int
            ) -> tuple[Any, float]:
    """(c): a copy of ``base``'s model updated with ``feedback``."""
    import graphcl_rec as gr
    from graphcl_rec.serve import TrainedRecommender

    rec = TrainedRecommender(copy.deepcopy(base.model), base.train)
    trainer = None if lr is None else gr.Trainer(lr=lr, seed=seed, progress=False,
                                                device="cpu")
    t0 = time.perf_counter()
    rec.update(feedback, epochs=epochs, trainer=trainer, seed=seed)
    return rec, time.perf_counter() - t0


def select(base, train_part, feedback, args: argparse.Namespace) -> dict[str, Any]:
    """The update setting chosen on the feedback's second half (seed ``--seed``)."""
    import graphcl_rec as gr

    first, second = gr.data.temporal_split(feedback, (0.5, 0.5), per_user=False)
    tgt = scoring.target(second, [train_part, first], [train_part, first], {})
    retrain, info = trained_on([train_part, first], args, args.seed)
    ref = scoring.metrics(retrain, tgt)
    grid = []
    for epochs in args.grid_epochs:
        for lr in args.grid_lr:
            rec, seconds = updated(base, first, epochs, lr, args.seed)
            got = scoring.metrics(rec, tgt)
            grid.append({"epochs": epochs, "lr": lr, "recall@20": got["recall@20"],
                         "seconds": seconds,
                         "recall_share": got["recall@20"] / ref["recall@20"],
                         "time_share": seconds / info["seconds"]})
            print(f"  validation: update epochs={epochs} lr={lr:g}: recall@20 "
                  f"{got['recall@20']:.4f} ({grid[-1]['recall_share']:.3f} of "
                  f"retrain) in {grid[-1]['time_share']:.3f} of its time",
                  flush=True)
    fast = [g for g in grid if g["time_share"] < args.time_share]
    best = (max(fast, key=lambda g: g["recall@20"]) if fast
            else min(grid, key=lambda g: g["seconds"]))
    return {"retrain": {**ref, "seconds": info["seconds"]}, "grid": grid,
            "chosen": {"epochs": best["epochs"], "lr": best["lr"]},
            "validation_pairs": len(second), "feedback_pairs_used": len(first)}


def run(args: argparse.Namespace) -> Result:
    import graphcl_rec as gr

    result = Result("update", args)
    ds = args.dataset
    inter, _ = all_pairs(ds, args.seed).deduplicate()
    train_part, feedback, test = gr.data.temporal_split(inter, (0.8, 0.1, 0.1),
                                                        per_user=False)
    tgt = scoring.target(test, [train_part, feedback], [train_part, feedback],
                         {"returning": [train_part]})
    tgt.groups["new"] = ~tgt.groups["returning"]
    print(f"{ds}: {len(train_part)} train, {len(feedback)} feedback, {len(test)} "
          f"test pairs; {len(tgt.users)} test users scored "
          f"({int(tgt.groups['new'].sum())} first seen in the feedback)")
    runs: dict[str, list[dict[str, Any]]] = {}
    chosen: dict[str, Any] | None = None
    for seed in range(args.seed, args.seed + args.repeats):
        base, base_info = trained_on([train_part], args, seed)
        if chosen is None:
            validation = select(base, train_part, feedback, args)
            chosen = validation["chosen"]
            result.rows.append({"validation": validation})
        retrain, retrain_info = trained_on([train_part, feedback], args, seed)
        variants = {"a no update": (base, base_info["seconds"]),
                    "b fold-in": fold_in(base, feedback, False, seed),
                    "b+items fold-in": fold_in(base, feedback, True, seed),
                    f"c update epochs={args.update_epochs}": updated(
                        base, feedback, args.update_epochs, None, seed),
                    f"c* update epochs={chosen['epochs']} lr={chosen['lr']:g}":
                        updated(base, feedback, chosen["epochs"], chosen["lr"], seed),
                    "d retrain": (retrain, retrain_info["seconds"])}
        for name, (rec, seconds) in variants.items():
            got = {**scoring.metrics(rec, tgt), "seconds": seconds, "seed": seed}
            runs.setdefault(name, []).append(got)
            print(f"  seed {seed} {name}: recall@20 {got['recall@20']:.4f} "
                  f"ndcg@20 {got['ndcg@20']:.4f} in {seconds:.2f} s", flush=True)
        result.rows.append({"seed": seed, "base_training": base_info,
                            "retrain_training": retrain_info})
    report(result, runs, args)
    return result


def mean(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


def report(result: Result, runs: dict[str, list[dict[str, Any]]],
           args: argparse.Namespace) -> None:
    ds, ref = args.dataset, runs["d retrain"]
    ref_recall, ref_time = mean(ref, "recall@20"), mean(ref, "seconds")
    print(f"means over {args.repeats} seeds:")
    for name, got in runs.items():
        recall, seconds = mean(got, "recall@20"), mean(got, "seconds")
        std = statistics.stdev(r["recall@20"] for r in got) if len(got) > 1 else 0.0
        share, tshare = recall / ref_recall, seconds / ref_time
        result.rows.append({"variant": name, "runs": got, "recall_share": share,
                            "time_share": tshare})
        for key in ("recall@20", "ndcg@20", "recall@20 new", "recall@20 returning"):
            if key in got[0]:
                result.figure(f"{ds} {name} {key}", mean(got, key), "")
        result.figure(f"{ds} {name} recall@20 std", std, "")
        result.figure(f"{ds} {name} seconds", seconds, "s")
        met = share >= args.recall_share and tshare < args.time_share
        if name.startswith("c"):
            result.figure(f"{ds} {name} / retrain recall@20", share, "x")
            result.figure(f"{ds} {name} / retrain seconds", tshare, "x")
            result.figure(f"{ds} {name} meets the target", float(met), "bool")
        print(f"  {name}: recall@20 {recall:.4f} ± {std:.4f} "
              f"({share:.3f} of retrain), ndcg@20 {mean(got, 'ndcg@20'):.4f}, "
              f"{seconds:.2f} s ({tshare:.3f} of retrain)"
              + (f"; target {'met' if met else 'NOT met'}" if name.startswith("c")
                 else ""))
