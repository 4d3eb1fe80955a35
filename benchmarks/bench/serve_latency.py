"""``latency``: exact ``recommend()`` for one user and in batches (issue 19).

The recommender is ``--export DIR`` (``load_exported``), ``--run RUN``
(``graphcl_rec.load``) or, by default, an *untrained* ``LightGCN`` on the dataset's
training pairs (``TrainedRecommender``: propagated embeddings, the real seen
items; the time of an exact top-K does not depend on what the weights learnt).
Single user: ``recommend(raw_id, k=--k)`` for ``--queries`` users drawn at random
(``--seed``), one call at a time after ``--warmup`` calls: median, p99 and mean;
then the same users through the steps of that path timed one by one (``--stages``).
Batched: ``recommend(list of B raw ids)`` for each ``--batches`` B, best of
``--repeats``, in users per second. The floors, measured in the same process: the
item matrix streamed once at the probe's copy bandwidth (``machine_rates``), the
same matrix read by ``sum()`` (it may sit in cache), and for a batch the products'
FLOP at the probe's sgemm rate (a reference rather than a hard floor: the probe's
``n x n`` product is itself timed on a shared machine, and the fused kernel can
beat it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench.common import (
    CPU,
    Result,
    common_options,
    csv,
    machine_rates,
    rates_line,
)
from benchmarks.bench.serve_ann import timed


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latency", help="single-user and batched exact recommend() "
                       "against the item-matrix streaming floor",
                       description=__doc__.split("\n\n")[0])
    common_options(p, device=False)
    p.add_argument("--dataset", default="yelp2018",
                   help="whose training pairs (with --export / --run: the label)")
    p.add_argument("--export", type=Path, default=None,
                   help="an export folder to serve (default: untrained LightGCN)")
    p.add_argument("--run", type=Path, default=None, help="a finished run to load")
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--batches", type=csv(int), default=[1, 64, 1024])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-stages", dest="stages", action="store_false",
                   help="skip timing the single-user path's steps")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def recommender(args: argparse.Namespace):
    """``(recommender, what it is)``."""
    import graphcl_rec as gr
    from benchmarks.bench.common import is_synthetic, load_split
    from graphcl_rec.models import BPRRecommender, LightGCN
    from graphcl_rec.serve import TrainedRecommender, load_exported

    if args.export is not None:
        return load_exported(args.export), f"export {args.export}"
    if args.run is not None:
        return gr.load(args.run), f"run {args.run}"
    data = (load_split(args.dataset, args.seed)[0] if is_synthetic(args.dataset)
            else gr.data.load(args.dataset, val_ratio=0.0)[0])
    torch.manual_seed(args.seed)
    model = BPRRecommender(LightGCN(data.num_users, data.num_items))
    return TrainedRecommender(model, data), "untrained LightGCN (timing only)"


def stages(rec, raw: list[str], k: int) -> dict[str, dict[str, float]]:
    """Each step of one user's ``recommend()`` on its own, over the same users.

    The steps of the library's single-user path (id lookup, the user's seen items,
    the product against the item table held transposed ``[d, I]``, setting the
    seen items to -inf, ``topk``, raw ids), and for comparison the product against
    the ``[I, d]`` table as stored. On a library without ``SeenItems.items_of``
    the seen items come from ``gather``.
    """
    idx = [rec.users.index[r] for r in raw]
    items_t = rec.item_emb.t().contiguous()
    rows = list(range(len(raw)))
    items_of = getattr(rec.seen, "items_of", None)
    if items_of is None:
        def items_of(u: int) -> torch.Tensor:
            return rec.seen.gather(torch.tensor([u]))[1]
    seen = [items_of(u) for u in idx]
    buf = rec.user_emb[idx[0]] @ items_t
    top = torch.topk(buf, k).indices.numpy()
    return {
        "id lookup": timed(lambda i: rec.users.index.get(raw[i]), rows),
        "seen items": timed(lambda i: items_of(idx[i]), rows),
        "scores (d) @ (d x I), items transposed": timed(
            lambda i: rec.user_emb[idx[i]] @ items_t, rows),
        "scores (d) @ (I x d).T, items as stored": timed(
            lambda i: rec.user_emb[idx[i]] @ rec.item_emb.T, rows),
        "mask seen": timed(lambda i: buf.index_fill_(0, seen[i], float("-inf")),
                           rows),
        "top-k": timed(lambda i: torch.topk(buf, k), rows),
        "raw ids": timed(lambda i: rec.items.raw(top), rows)}


def run(args: argparse.Namespace) -> Result:
    result = Result("latency", args)
    ds, k = args.dataset, args.k
    t0 = time.perf_counter()
    rec, what = recommender(args)
    rates = machine_rates(CPU, copy_mb=64, n=1024)
    item_bytes = rec.item_emb.numel() * rec.item_emb.element_size()
    floor_ms = 1e3 * item_bytes / rates["copy_bytes_per_s"]
    read = timed(lambda _: rec.item_emb.sum(), list(range(200)))
    print(f"{ds}: {rec.num_users} users, {rec.num_items} items, dim "
          f"{rec.item_emb.size(1)} ({item_bytes / 1e6:.1f} MB), {what}; ready in "
          f"{time.perf_counter() - t0:.1f} s\n  {rates_line(rates)}\n  floor: "
          f"streaming the item matrix once {floor_ms:.3f} ms at the copy bandwidth; "
          f"reading it (sum) median {read['median']:.3f} ms")
    result.figure(f"{ds} item matrix at copy bandwidth ms", floor_ms, "ms")
    result.figure(f"{ds} item matrix sum() median ms", read["median"], "ms")
    g = torch.Generator().manual_seed(args.seed)
    users = torch.randperm(rec.num_users, generator=g)[:args.queries].tolist()
    raw = [rec.users.ids[u] for u in users]
    for i in range(args.warmup):
        rec.recommend(raw[i % len(raw)], k=k)
    single = timed(lambda r: rec.recommend(r, k=k), raw)
    indices = timed(lambda r: rec.recommend(r, k=k, return_indices=True), raw)
    print(f"  single user recommend(k={k}): median {single['median']:.3f} ms, p99 "
          f"{single['p99']:.3f} ms, mean {single['mean']:.3f} ms "
          f"({single['median'] / floor_ms:.2f} x the streaming floor; target "
          f"0.5 ms median); return_indices=True median {indices['median']:.3f} ms")
    result.figure(f"{ds} single-user recommend median ms", single["median"], "ms")
    result.figure(f"{ds} single-user recommend p99 ms", single["p99"], "ms")
    result.figure(f"{ds} single-user recommend mean ms", single["mean"], "ms")
    result.figure(f"{ds} single-user recommend / streaming floor",
                  single["median"] / floor_ms, "x")
    result.rows.append({"recommender": what, "rates": rates, "item_bytes": item_bytes,
                        "floor_ms": floor_ms, "sum_ms": read, "single": single,
                        "single_return_indices": indices})
    if args.stages:
        steps = stages(rec, raw, k)
        result.rows.append({"stages": steps})
        print("  steps of the single-user path, each alone (median ms): " + ", ".join(
            f"{name} {t['median']:.3f}" for name, t in steps.items()))
    for size in args.batches:
        batch = [rec.users.ids[u] for u in np.resize(np.array(users), size).tolist()]
        best = _best(rec, batch, k, args.repeats)
        flops = 2 * size * rec.num_items * rec.item_emb.size(1)
        bound = max(item_bytes * -(-size // 1024) / rates["copy_bytes_per_s"],
                    flops / rates["sgemm_flop_per_s"])
        result.figure(f"{ds} batch {size} users/s", size / best, "1/s")
        result.figure(f"{ds} batch {size} users/s at the probe's rates", size / bound,
                      "1/s")
        result.rows.append({"batch": size, "seconds": best, "floor_seconds": bound})
        print(f"  batch {size}: {size / best:,.0f} users/s ({1e3 * best:.2f} ms per "
              f"call; the probe's copy and sgemm rates allow {size / bound:,.0f})",
              flush=True)
    return result


def _best(rec, batch: list[str], k: int, repeats: int) -> float:
    """Fastest of ``repeats`` calls of ``recommend(batch)`` after one untimed."""
    rec.recommend(batch, k=k)
    times = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        rec.recommend(batch, k=k)
        times.append(time.perf_counter() - t0)
    return min(times)
