"""``ann``: the exported faiss index against exact top-K (issue 19; ``ann`` extra).

A LightGCN trained on the dataset's training pairs (library defaults, stopped by
``--epochs`` / ``--budget-seconds``; or ``--run RUN`` loaded with
``graphcl_rec.load``) is exported with ``graphcl_rec.serve.export(ann=True)`` and
read back with ``load_exported``, whose ``ann_index`` is the HNSW inner-product
index that ``export`` writes. For ``--queries`` users drawn at random (``--seed``)
the index's top-``--k`` items are compared with the exact top-``--k`` of the same
embeddings (nothing excluded: the index knows nothing of seen items), at every
``efSearch`` in ``--ef``; ``--m`` adds indexes built by ``build_ann_index(m=M)``
(``export`` writes M = 32). Latency is one ``index.search`` of one query, timed
one query at a time; throughput one search of all queries. References timed the
same way: the exact top-K by torch (one product and ``topk``), faiss's exact
``IndexFlatIP``, and ``recommend()`` (exact, seen items excluded). For the exported
index, ``exclude seen`` asks for ``k`` plus the user's seen items and drops them,
scored against ``recommend()``'s exact lists. ``--l2`` adds, for comparison, an
HNSW L2 index over the items after the usual reduction of inner-product search to
nearest neighbours (one extra coordinate); ``--export DIR`` measures an existing
export instead of training and exporting.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.bench.common import Result, common_options, csv, summary
from benchmarks.bench.serve_common import budget_options, train


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ann", help="exported faiss index: recall against exact "
                       "top-K and per-query latency",
                       description=__doc__.split("\n\n")[0])
    common_options(p, device=False)
    p.add_argument("--dataset", default="yelp2018",
                   help="the data to train on (with --run: only the figures' label)")
    p.add_argument("--run", type=Path, default=None,
                   help="a finished run to load instead of training one")
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--m", type=csv(int), default=[32, 16, 64],
                   help="HNSW M values (32: the exported index)")
    p.add_argument("--ef", type=csv(int), default=[16, 32, 64, 128, 256],
                   help="HNSW efSearch values (faiss's default is 16)")
    p.add_argument("--save-export", type=Path, default=None,
                   help="keep the export here (latency --export reads it)")
    p.add_argument("--export", type=Path, default=None,
                   help="measure this export folder's index (no training, no export)")
    p.add_argument("--l2", action="store_true",
                   help="also an HNSW M=32 L2 index of the items after the MIPS-to-L2 "
                        "reduction (one extra coordinate; not what export writes)")
    budget_options(p, seconds=300.0)
    p.set_defaults(func=run)


def trained(args: argparse.Namespace):
    """``(TrainedRecommender, training details)``."""
    import graphcl_rec as gr
    from benchmarks.bench.common import is_synthetic, load_split
    from graphcl_rec.serve import TrainedRecommender

    if args.run is not None:
        return gr.load(args.run), {"run": str(args.run)}
    data = (load_split(args.dataset, args.seed)[0] if is_synthetic(args.dataset)
            else gr.data.load(args.dataset, val_ratio=0.0)[0])
    model, info = train("lightgcn", data, args)
    return TrainedRecommender(model, data), info


def timed(fn, items: list) -> dict[str, float]:
    """Median / p99 / mean milliseconds of ``fn(x)`` over ``items``, one at a time."""
    for x in items[:20]:
        fn(x)
    ms = []
    for x in items:
        t0 = time.perf_counter()
        fn(x)
        ms.append(1e3 * (time.perf_counter() - t0))
    ms.sort()
    return {**summary(ms), "p99": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
            "mean": float(np.mean(ms))}


def overlap(got: np.ndarray, want: np.ndarray) -> float:
    """Mean share of each row of ``want`` found in the same row of ``got``."""
    return float(np.mean([len(set(g.tolist()) & set(w.tolist())) / len(w)
                          for g, w in zip(got, want)]))


def run(args: argparse.Namespace) -> Result:
    import faiss

    from graphcl_rec.serve import build_ann_index, export, load_exported

    faiss.omp_set_num_threads(args.threads or torch.get_num_threads())
    result = Result("ann", args)
    ds, k = args.dataset, args.k
    with tempfile.TemporaryDirectory() as tmp:
        if args.export is not None:
            path, export_s, info = args.export, None, {"export": str(args.export)}
        else:
            rec, info = trained(args)
            path = args.save_export or Path(tmp) / "export"
            t0 = time.perf_counter()
            export(rec, path, ann=True, overwrite=True)
            export_s = time.perf_counter() - t0
        served = load_exported(path)
        ann_meta = json.loads((path / "meta.json").read_text())["ann"]
    items = np.ascontiguousarray(served.item_emb.float().numpy())
    g = torch.Generator().manual_seed(args.seed)
    count = min(args.queries, served.num_users)
    users = torch.randperm(served.num_users, generator=g)[:count]
    queries = np.ascontiguousarray(served.user_emb[users].float().numpy())
    exact = torch.topk(torch.from_numpy(queries) @ torch.from_numpy(items).T,
                       k, dim=1).indices.numpy()
    raw = [served.users.ids[u] for u in users.tolist()]
    excl = served.recommend(raw, k=k, return_indices=True)[0]
    print(f"{ds}: {served.num_users} users, {served.num_items} items, dim "
          f"{items.shape[1]}; {count} queries; export with its index "
          + ("not timed (--export)" if export_s is None else f"{export_s:.1f} s"))
    result.rows.append({"training": info, "export_seconds": export_s,
                        "queries": count, "exported_index": ann_meta})
    if export_s is not None:
        result.figure(f"{ds} export with HNSW index seconds", export_s, "s")
    rows = range(count)
    flat = faiss.IndexFlatIP(items.shape[1])
    flat.add(items)
    item_t = torch.from_numpy(items)
    refs = {"exact torch": timed(lambda i: torch.topk(
                torch.from_numpy(queries[i:i + 1]) @ item_t.T, k), list(rows)),
            "exact faiss IndexFlatIP": timed(lambda i: flat.search(
                queries[i:i + 1], k), list(rows)),
            "exact recommend()": timed(lambda i: served.recommend(raw[i], k=k),
                                       list(rows))}
    for name, t in refs.items():
        print(f"  {name}: median {t['median']:.3f} ms, p99 {t['p99']:.3f} ms")
        result.figure(f"{ds} {name} median ms", t["median"], "ms")
        result.rows.append({"reference": name, **t})
    for m in [*args.m, *(["l2"] if args.l2 else [])]:
        t0 = time.perf_counter()
        index = (served.ann_index if m == 32 else l2_index(items) if m == "l2"
                 else build_ann_index(items, m=m))
        build_s = time.perf_counter() - t0 if m != 32 else export_s
        for ef in args.ef:
            index.hnsw.efSearch = ef
            row = measure(index, augment(queries) if m == "l2" else queries, exact,
                          k)
            row.update(m=m, ef=ef, build_seconds=build_s, exported=m == 32)
            if m == 32:
                row["exclude_seen"] = exclude_seen(index, served, users, queries,
                                                   excl, k)
            result.rows.append(row)
            label = (f"{ds} HNSW M={m} efSearch={ef}" if m != "l2" else
                     f"{ds} HNSW M=32 L2-reduced efSearch={ef}")
            result.figure(f"{label} recall@{k}", row["recall"], "")
            result.figure(f"{label} median ms", row["latency"]["median"], "ms")
            result.figure(f"{label} p99 ms", row["latency"]["p99"], "ms")
            result.figure(f"{label} batch queries/s", row["batch_qps"], "1/s")
            extra = "" if m != 32 else (
                f"; exclude seen: recall {row['exclude_seen']['recall']:.4f}, "
                f"median {row['exclude_seen']['latency']['median']:.3f} ms")
            print(f"  {label.removeprefix(ds + ' ')}: recall@{k} {row['recall']:.4f}, "
                  f"median {row['latency']['median']:.3f} ms, p99 "
                  f"{row['latency']['p99']:.3f} ms, batch {row['batch_qps']:.0f} "
                  f"queries/s{extra}", flush=True)
    return result


def l2_index(items: np.ndarray) -> Any:
    r"""HNSW (M = 32, L2) over items :math:`[x, \sqrt{R^2 - |x|^2}]` (R: largest norm).

    For a query :math:`[q, 0]` the L2 distance is :math:`|q|^2 + R^2 - 2 q^\top x`,
    so the nearest items are those of largest inner product.
    """
    import faiss

    index = faiss.IndexHNSWFlat(items.shape[1] + 1, 32)
    norms = np.square(items).sum(1)
    extra = np.sqrt(np.maximum(norms.max() - norms, 0.0))[:, None]
    index.add(np.ascontiguousarray(np.hstack([items, extra]), dtype=np.float32))
    return index


def augment(queries: np.ndarray) -> np.ndarray:
    """Queries with the reduction's zero coordinate appended."""
    return np.ascontiguousarray(np.hstack([queries, np.zeros((len(queries), 1),
                                                             np.float32)]))


def measure(index: Any, queries: np.ndarray, exact: np.ndarray, k: int
            ) -> dict[str, Any]:
    t0 = time.perf_counter()
    _, got = index.search(queries, k)
    batch_s = time.perf_counter() - t0
    lat = timed(lambda i: index.search(queries[i:i + 1], k), list(range(len(queries))))
    return {"recall": overlap(got, exact), "latency": lat,
            "batch_qps": len(queries) / batch_s}


def exclude_seen(index: Any, served, users: torch.Tensor, queries: np.ndarray,
                 excl: np.ndarray, k: int) -> dict[str, Any]:
    """Top-k of the index after dropping each user's seen items (over-fetched)."""
    seen = [set(served.seen.gather(users[i:i + 1])[1].tolist())
            for i in range(len(users))]
    got = np.full((len(users), k), -1)

    def one(i: int) -> None:
        _, ids = index.search(queries[i:i + 1], k + len(seen[i]))
        keep = [j for j in ids[0].tolist() if j >= 0 and j not in seen[i]][:k]
        got[i, :len(keep)] = keep

    lat = timed(one, list(range(len(users))))
    return {"recall": overlap(got, excl), "latency": lat}

