"""``foldin``: users the model never saw, folded in, against training them (issue 19).

Each user's pairs are split at random (``--seed``) into a history (``--history``,
80 %) and a test part (the rest). ``--holdout`` (10 %) of all users, drawn among
those with pairs in both parts, are left out of training entirely: a model trained
on the other users' histories (the *fold-in model*) folds each of them in from its
history with ``TrainedRecommender.fold_in_users`` (LightGCN: propagation, one row
per ``--egos`` start; MF: ``--mf-steps`` Adam steps at ``--mf-lr``) and ranks its
test part, its history excluded. The references on the same users, same test
pairs and same exclusions: a model trained normally on every user's history (the
held-out users included) with the same budget, and popularity (items by their
number of users in every user's history). Both models are also scored on the
other users' test parts, to show how far apart the two models are where neither
folds anything in.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from benchmarks.bench.common import Result, common_options, csv, summary
from benchmarks.bench.serve_common import all_pairs, budget_options, reindex, train


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("foldin", help="fold-in of held-out users against training "
                       "them and popularity", description=__doc__.split("\n\n")[0])
    common_options(p, device=False)
    p.add_argument("--dataset", default="ml-100k",
                   help="ml-100k, gowalla, yelp2018 or a synthetic one (toy)")
    p.add_argument("--models", type=csv(), default=["lightgcn"],
                   help="comma-separated: lightgcn, mf")
    p.add_argument("--holdout", type=float, default=0.1,
                   help="share of all users left out of training")
    p.add_argument("--history", type=float, default=0.8,
                   help="share of each user's pairs given (the rest is tested)")
    p.add_argument("--egos", type=csv(), default=["mean", "zero"],
                   help="LightGCN fold-in ego starts (fold_in_users ego=)")
    p.add_argument("--mf-steps", type=csv(int), default=[10, 0, 50],
                   help="MF fold-in Adam steps, one variant each")
    p.add_argument("--mf-lr", type=float, default=0.01)
    p.add_argument("--single", type=int, default=100,
                   help="time fold_in_user one user at a time for this many users")
    budget_options(p)
    p.set_defaults(func=run)


def split(args: argparse.Namespace):
    """``(history, test, held-out mask [U])`` over the whole dataset."""
    import graphcl_rec as gr

    inter, _ = all_pairs(args.dataset, args.seed).deduplicate()
    hist, rest = gr.data.random_split(inter, (args.history, 1 - args.history),
                                      seed=args.seed)
    both = torch.nonzero((hist.user_degree() > 0) & (rest.user_degree() > 0))
    g = torch.Generator().manual_seed(args.seed)
    count = min(round(args.holdout * inter.num_users), both.numel())
    out = both.flatten()[torch.randperm(both.numel(), generator=g)[:count]]
    held = torch.zeros(inter.num_users, dtype=torch.bool)
    held[out] = True
    return hist, rest, held


def metrics(user_emb, item_emb, target, exclude) -> dict[str, Any]:
    """Recall@20 / NDCG@20 and each user's Recall@20 by raw id (``"per_user"``)."""
    import graphcl_rec as gr

    m = gr.eval.evaluate_embeddings(user_emb, item_emb, target, exclude, k=[20],
                                    per_user=True)
    out: dict[str, Any] = {key: float(m[key].mean()) for key in ("recall@20",
                                                                 "ndcg@20")}
    out["per_user"] = {target.user_ids[u]: float(r) for u, r in
                       zip(m["users"].tolist(), m["recall@20"].tolist())}
    return out


def paired(got: dict[str, float], ref: dict[str, float], seed: int,
           resamples: int = 2000) -> dict[str, Any]:
    """Mean per-user Recall@20 difference ``got - ref`` and its 95 % bootstrap CI."""
    users = sorted(set(got) & set(ref))
    diff = torch.tensor([got[u] - ref[u] for u in users], dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    draws = torch.randint(len(users), (resamples, len(users)), generator=g)
    means = diff[draws].mean(1).sort().values
    return {"mean": float(diff.mean()), "users": len(users),
            "ci95": [float(means[int(0.025 * resamples)]),
                     float(means[int(0.975 * resamples) - 1])]}


def histories(part, held: torch.Tensor) -> dict[str, list[str]]:
    """``{raw user: raw items}`` of the held-out users' pairs in ``part``."""
    lists = part.user_lists()
    users, items = part.user_ids, part.item_ids
    return {users[u]: [items[i] for i in lists[u]]
            for u in torch.nonzero(held).flatten().tolist()}


def fold_variants(model: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    if model == "lightgcn":
        return [{"ego": ego} for ego in args.egos]
    return [{"steps": s, "lr": args.mf_lr} for s in args.mf_steps]


def run(args: argparse.Namespace) -> Result:
    import graphcl_rec as gr
    from graphcl_rec.serve import TrainedRecommender

    result = Result("foldin", args)
    hist, rest, held = split(args)
    ds = args.dataset
    out_hist, out_rest = (p.subset(held[p.user]) for p in (hist, rest))
    in_rest = rest.subset(~held[rest.user])
    kept = [raw for u, raw in enumerate(hist.user_ids) if not held[u]]
    train_f = reindex(hist, users=kept)
    given = histories(hist, held)
    print(f"{ds}: {hist.num_users} users, {hist.num_items} items; "
          f"{int(held.sum())} held out ({len(out_hist)} history pairs given, "
          f"{len(out_rest)} tested); training on {len(train_f)} / {len(hist)} pairs")
    pop = gr.eval.popularity_metrics(hist, out_rest, exclude=out_hist, k=[20])
    result.figure(f"{ds} popularity recall@20", pop["recall@20"], "")
    result.figure(f"{ds} popularity ndcg@20", pop["ndcg@20"], "")
    result.rows.append({"model": "popularity", "split": {
        "users": hist.num_users, "held_out": int(held.sum()),
        "history_pairs": len(out_hist), "test_pairs": len(out_rest),
        "train_pairs_foldin_model": len(train_f), "train_pairs_normal": len(hist)},
        "held_out": {k: pop[k] for k in ("recall@20", "ndcg@20")}})
    print(f"  popularity: recall@20 {pop['recall@20']:.4f} ndcg@20 "
          f"{pop['ndcg@20']:.4f}")
    for model in args.models:
        normal, normal_info = train(model, hist, args)
        folder, fold_info = train(model, train_f, args)
        ref = TrainedRecommender(normal, hist)
        trained = metrics(ref.user_emb, ref.item_emb, out_rest, out_hist)
        per_user = trained.pop("per_user")
        row: dict[str, Any] = {
            "model": model, "normal_training": normal_info,
            "foldin_model_training": fold_info, "trained_normally": trained,
            "others_normal": _means(metrics(ref.user_emb, ref.item_emb, in_rest,
                                            hist)),
            "variants": []}
        base = TrainedRecommender(folder, train_f)
        row["others_foldin_model"] = _means(metrics(
            base.user_emb, base.item_emb, reindex(in_rest, users=base.users.ids),
            reindex(hist, users=base.users.ids)))
        print(f"  {model} trained normally: recall@20 {trained['recall@20']:.4f} "
              f"ndcg@20 {trained['ndcg@20']:.4f}; other users: normal "
              f"{row['others_normal']['recall@20']:.4f}, fold-in model "
              f"{row['others_foldin_model']['recall@20']:.4f}")
        result.figure(f"{ds} {model} trained normally recall@20",
                      trained["recall@20"], "")
        result.figure(f"{ds} {model} trained normally ndcg@20", trained["ndcg@20"], "")
        for n, opts in enumerate(fold_variants(model, args)):
            rec = TrainedRecommender(folder, train_f)
            t0 = time.perf_counter()
            rec.fold_in_users(given, seed=args.seed, **opts)
            seconds = time.perf_counter() - t0
            ids = rec.users.ids
            got = metrics(rec.user_emb, rec.item_emb, reindex(out_rest, users=ids),
                          reindex(out_hist, users=ids))
            label = ", ".join(f"{k}={v}" for k, v in opts.items())
            diff = paired(got.pop("per_user"), per_user, args.seed)
            row["variants"].append({"options": opts, **got, "seconds": seconds,
                                    "ms_per_user": 1e3 * seconds / len(given),
                                    "minus_trained_normally": diff})
            share = got["recall@20"] / max(trained["recall@20"], 1e-12)
            print(f"  {model} fold-in ({label}): recall@20 {got['recall@20']:.4f} "
                  f"ndcg@20 {got['ndcg@20']:.4f} ({share:.3f} of trained normally);"
                  f" {len(given)} users in {seconds:.2f} s; per-user difference "
                  f"{diff['mean']:+.4f}, 95 % CI [{diff['ci95'][0]:+.4f}, "
                  f"{diff['ci95'][1]:+.4f}]")
            for key in ("recall@20", "ndcg@20"):
                result.figure(f"{ds} {model} fold-in ({label}) {key}", got[key], "")
            result.figure(f"{ds} {model} fold-in ({label}) / trained normally "
                          f"recall@20", share, "x")
            for key, value in (("", diff["mean"]), (" CI low", diff["ci95"][0]),
                               (" CI high", diff["ci95"][1])):
                result.figure(f"{ds} {model} fold-in ({label}) - trained normally "
                              f"recall@20{key}", value, "")
            if n == 0:
                result.figure(f"{ds} {model} fold-in ({label}) batch ms/user",
                              1e3 * seconds / len(given), "ms")
                row["single_fold_in_ms"] = single(folder, train_f, given, opts, args)
                result.figure(f"{ds} {model} fold_in_user ({label}) median ms",
                              row["single_fold_in_ms"]["median"], "ms")
        result.rows.append(row)
    return result


def _means(m: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in m.items() if k != "per_user"}


def single(model, train_f, given: dict[str, list[str]], opts: dict[str, Any],
           args: argparse.Namespace) -> dict[str, float]:
    """Milliseconds of ``fold_in_user`` one user at a time (first ``--single``)."""
    from graphcl_rec.serve import TrainedRecommender

    rec = TrainedRecommender(model, train_f)
    times = []
    for user in list(given)[: args.single]:
        t0 = time.perf_counter()
        rec.fold_in_user(user, given[user], seed=args.seed, **opts)
        times.append(1e3 * (time.perf_counter() - t0))
    out = summary(times)
    print(f"  fold_in_user one at a time: median {out['median']:.2f} ms over "
          f"{out['n']} users")
    return out
