"""``eval``: full-ranking evaluation against the sgemm-rate floor, per ranker.

Ranks every test user (or the first ``--users``) against all items with random
``--dim``-d embeddings, the training pairs excluded, by
``graphcl_rec.eval.evaluate_embeddings(..., ranker=R, batch_size=B)`` for every
ranker ``R`` and users-per-block ``B`` asked for (0: the evaluator's default from
its 256 MB budget). The variants alternate round by round in one process. The floor
is the score products ``2 N I d`` at the sgemm rate measured in the same run; for
reference the same products are also timed alone with torch in blocks (row-major
``[b, I]``, and on CPU group-major ``[I/64, b, 64]``). The metrics of all variants
must agree to ``--tolerance`` (rankers may round products differently, which can
reorder near-ties).
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.bench.common import (
    Result,
    alternate,
    best_of,
    common_options,
    csv,
    dataset_line,
    load_split,
    machine_rates,
    peak_rss_mb,
    rates_line,
    resolve_device,
    summary,
    sync,
)

RANKERS = ("auto", "native", "group-major", "row-major")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="full-ranking evaluation against the sgemm floor",
                       description=__doc__.split("\n\n")[0])
    common_options(p)
    p.add_argument("--dataset", type=csv(), default=["yelp2018"],
                   help="named or synthetic datasets, comma-separated")
    p.add_argument("--rankers", type=csv(), default=["auto"],
                   help="comma-separated: " + ", ".join(RANKERS))
    p.add_argument("--batch-sizes", type=csv(int), default=[0],
                   help="users per block, comma-separated (0: the default budget)")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--users", type=int, default=None,
                   help="evaluate only the first N test users")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--memory-budget-mb", type=float, default=256)
    p.add_argument("--tolerance", type=float, default=1e-6)
    p.add_argument("--no-floor", action="store_true",
                   help="skip the probe and the products alone (memory runs)")
    p.add_argument("--rss", action="store_true",
                   help="record resident memory before and after the evaluations")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def products_alone(rows: torch.Tensor, items: torch.Tensor, block: int,
                   layout: str, device: torch.device) -> float:
    """Seconds of the score products of ``rows`` against ``items`` in blocks.

    The item table is padded to a multiple of 64 columns, as the evaluator pads it;
    group-major products are one batched product per block against ``[G, d, 64]``
    item slabs (the layout ``graphcl_rec.native.topk.topk_dot`` documents).
    """
    n, d = rows.shape
    width = -(-items.size(0) // 64) * 64
    padded = torch.cat([items, items.new_zeros(width - items.size(0), d)])
    block = max(1, min(block, n))
    if layout == "group-major":
        slabs = padded.view(width // 64, 64, d).transpose(1, 2).contiguous()
        buf = torch.empty(width * block, device=device)

        def product(r: torch.Tensor) -> None:
            out = buf[: width * r.size(0)].view(width // 64, r.size(0), 64)
            torch.matmul(r.expand(width // 64, *r.shape), slabs, out=out)
    else:
        item_t = padded.t()
        buf = torch.empty(block, width, device=device)

        def product(r: torch.Tensor) -> None:
            torch.matmul(r, item_t, out=buf[: r.size(0)])

    def products() -> None:
        for s in range(0, n, block):
            product(rows[s : s + block])

    return best_of(products, 2, device)


def run(args: argparse.Namespace) -> Result:
    device = resolve_device(args.device)
    result = Result("eval", args, device, native=device.type == "cpu")
    for r in args.rankers:
        if r not in RANKERS:
            raise SystemExit(f"unknown ranker {r!r}: one of {list(RANKERS)}")
    rates = None
    if not args.no_floor:
        rates = machine_rates(device)
        print(rates_line(rates))
        result.rows.append({"probe": rates})
    for name in args.dataset:
        _dataset(name, args, device, rates, result)
    return result


def _dataset(name: str, args: argparse.Namespace, device: torch.device,
             rates: dict[str, float] | None, result: Result) -> None:
    from graphcl_rec.eval import evaluate_embeddings

    train, test = load_split(name, args.seed)
    if args.users is not None:
        keep = torch.unique(test.user)[: args.users]
        test = test.subset(torch.isin(test.user, keep))
    train, test = train.to(device), test.to(device)
    g = torch.Generator().manual_seed(args.seed)
    emb_u = torch.randn(train.num_users, args.dim, generator=g).to(device)
    emb_i = torch.randn(train.num_items, args.dim, generator=g).to(device)
    users = torch.unique(test.user)
    n = int(users.numel())
    flop = 2 * n * train.num_items * args.dim
    print(f"\n## {dataset_line(name, train, test)}; {n} test users ranked, "
          f"K = {args.k}", flush=True)
    plain = args.batch_sizes == [0]
    runs = {r if plain else f"{r} b={b or 'default'}": (r, b or None)
            for r in args.rankers for b in args.batch_sizes}
    rss_before = peak_rss_mb()

    def evaluate(ranker: str, block: int | None) -> dict[str, float]:
        return evaluate_embeddings(emb_u, emb_i, test, train, k=[args.k],
                                   batch_size=block, ranker=ranker,
                                   memory_budget_mb=args.memory_budget_mb)

    metrics = {label: evaluate(*spec) for label, spec in runs.items()}  # warm-up
    first = next(iter(metrics.values()))
    gap = max((abs(m[key] - first[key]) for m in metrics.values() for key in m),
              default=0.0)
    if gap > args.tolerance:
        raise SystemExit(f"{name}: the variants' metrics differ by {gap:.1e}: "
                         f"{metrics}")
    times: dict[str, list[float]] = {label: [] for label in runs}
    for _, label in alternate(list(runs), args.rounds):
        sync(device)
        t0 = time.perf_counter()
        evaluate(*runs[label])
        sync(device)
        times[label].append(time.perf_counter() - t0)
    floor = None if rates is None else flop / rates["sgemm_flop_per_s"]
    for label, values in times.items():
        stats = summary(values)
        vs = "" if floor is None else f" -> {stats['median'] / floor:.2f}x floor"
        print(f"{label:28s} {stats['median'] * 1e3:9.1f} ms median (min "
              f"{stats['min'] * 1e3:.1f}){vs}", flush=True)
        result.figure(f"{name} {label} s", stats["median"], "s")
        row = {"dataset": name, "variant": label, "ranker": runs[label][0],
               "batch_size": runs[label][1], "users": n, "items": train.num_items,
               "k": args.k, "seconds": values, **stats, "metrics": metrics[label]}
        if floor is not None:
            row["floor_s"] = floor
        if args.rss:
            row.update(rss_before_mb=rss_before, peak_rss_mb=peak_rss_mb(),
                       growth_mb=peak_rss_mb() - rss_before)
        result.rows.append(row)
    print(f"largest metric gap between the variants: {gap:.1e}")
    if rates is not None and floor is not None:
        # Blocks of users as the evaluator sizes them by default: the scores of
        # one block (padded width, float32) fill the memory budget.
        width = -(-train.num_items // 64) * 64
        block = max(1, min(n, int(args.memory_budget_mb * 2**20 // (4 * width))))
        rows = emb_u[users]
        layouts = ["row-major"] + (["group-major"] if device.type == "cpu" else [])
        print(f"floor: {flop / 1e9:.1f} GFLOP of products at "
              f"{rates['sgemm_flop_per_s'] / 1e9:.0f} GFLOP/s = "
              f"{floor * 1e3:.1f} ms")
        for layout in layouts:
            t = products_alone(rows, emb_i, block, layout, device)
            print(f"  torch's {layout} products alone, blocks of {block} users: "
                  f"{t * 1e3:.1f} ms ({flop / t / 1e9:.0f} GFLOP/s, "
                  f"{t / floor:.2f}x the floor)")
            result.figure(f"{name} products alone ({layout}) s", t, "s")
            result.rows.append({"dataset": name, "products_alone": layout,
                                "block": block, "seconds": t, "floor_s": floor})
