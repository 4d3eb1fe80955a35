"""``scale``: how training and evaluation cost grow with the number of interactions.

For each ``--pairs P`` a synthetic graph is drawn by
:func:`graphcl_rec.data.synthetic.power_law_graph` with the user and item degree
models fitted to ``--fit`` (Gowalla by default: power-law tails, the empirical body
below them, the same mean degrees, so users and items grow in proportion to ``P``),
and split 90 / 10 into train and test pairs. Each point then runs in a fresh child
process (``scale-point``), so that its peak resident memory is its own:

* one epoch of each ``--models`` model (64-d, 3 layers, batch 2048, user sampler)
  through :class:`graphcl_rec.Trainer`; with ``--steps N``, ``N`` timed steps
  instead, scaled to the epoch's batches (plus its view and batch sampling);
* full-ranking evaluation of every test user against every item (``eval``); with
  ``--eval-users N``, of ``N`` of them, the time scaled to all (ranking costs the
  same for every user: one product with every item), marked ``estimated``.

With ``--steps`` each training point also times one 64-d product with the training
adjacency and reports it per non-zero: the figure that shows where the embedding
table leaves the cache.

The exponent of each series is the least-squares slope of log(cost) over
log(pairs) (for training also per step: an epoch has pairs / batch steps, each
propagating over the whole graph, so an epoch grows as pairs squared when a step
grows linearly); memory is the peak resident set minus the child's before it loaded the
graph. Full ranking scores every user against every item, so at fixed mean
degrees its time grows as pairs squared by construction; its memory does not
(score blocks come from a fixed budget).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from benchmarks.bench.common import (
    Result,
    child_env,
    common_options,
    csv,
    library_path,
    peak_rss_mb,
    resolve_device,
    run_child,
    runner_link,
    summary,
    sync,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scale", help="cost against the number of interactions",
                       description=__doc__.split("\n\n")[0])
    common_options(p)
    p.add_argument("--pairs", type=csv(lambda s: int(float(s))),
                   default=[1_000_000, 3_000_000],
                   help="interaction counts, e.g. 1e6,3e6,1e7,3e7")
    p.add_argument("--fit", default="gowalla", help="dataset the degrees are fit to")
    p.add_argument("--models", type=csv(), default=["lightgcn", "sgl-ed"])
    p.add_argument("--steps", type=int, default=0,
                   help="timed steps per model, scaled to an epoch (0: a whole epoch)")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation point")
    p.add_argument("--eval-users", type=int, default=0,
                   help="rank only this many test users (drawn with --seed) and scale "
                        "the time to all of them (0: every test user)")
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--echo", action="store_true", help="show the children's output")
    p.set_defaults(func=run_scale)

    c = sub.add_parser("scale-point", help="(internal) one point of 'scale'")
    common_options(c)
    c.add_argument("--graph", type=Path, required=True)
    c.add_argument("--what", required=True, help="a model name, or 'eval'")
    c.add_argument("--steps", type=int, default=0)
    c.add_argument("--batch-size", type=int, default=2048)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--eval-users", type=int, default=0)
    c.set_defaults(func=run_point)


def run_scale(args: argparse.Namespace) -> Result:
    import graphcl_rec as gr
    from graphcl_rec.data.synthetic import fit_degrees, power_law_graph

    result = Result("scale", args, resolve_device(args.device))
    fitted, _, _ = gr.data.load(args.fit, val_ratio=0.0)
    users, items = fit_degrees(fitted)
    print(f"degrees fitted to {args.fit}: users {users}, items {items}", flush=True)
    result.rows.append({"fit": args.fit, "users": _law(users), "items": _law(items)})
    what = list(args.models) + ([] if args.no_eval else ["eval"])
    print("| pairs | users | items | point | seconds | peak RSS (MB) | "
          "RSS after data (MB) | needed (MB) |\n|---|---|---|---|---|---|---|---|",
          flush=True)
    series: dict[str, list[tuple[int, float, float, float]]] = {w: [] for w in what}
    with runner_link() as link, tempfile.TemporaryDirectory() as tmp:
        env = child_env(link, library_path().parent)
        for target in args.pairs:
            inter = power_law_graph(target, users=users, items=items, seed=args.seed)
            g = torch.Generator().manual_seed(args.seed)
            is_test = torch.rand(len(inter), generator=g) < 0.1
            path = Path(tmp) / "graph.pt"
            torch.save({"train": inter.subset(~is_test), "test": inter.subset(is_test)},
                       path)
            for w in what:
                try:
                    child = run_child(_point_argv(args, path, w), env, args.echo)
                except SystemExit as exc:  # e.g. killed for memory: say so, go on
                    result.rows.append({"pairs": len(inter), "target_pairs": target,
                                        "users": inter.num_users,
                                        "items": inter.num_items, "what": w,
                                        "failed": str(exc)})
                    print(f"| {len(inter)} | {inter.num_users} | {inter.num_items} | "
                          f"{w} | failed: {exc} | | | |", flush=True)
                    continue
                row = {"pairs": len(inter), "target_pairs": target,
                       "users": inter.num_users, "items": inter.num_items,
                       **child["rows"][0]}
                result.rows.append(row)
                needed = row["peak_rss_mb"] - row["rss_before_data_mb"]
                per_step = row["seconds"] / row.get("batches", 1)
                series[w].append((len(inter), row["seconds"], needed, per_step))
                extra = (f" (one 64-d product: {row['spmm_ns_per_nnz']:.1f} ns per "
                         "non-zero)" if "spmm_ns_per_nnz" in row else "")
                print(f"| {len(inter)} | {inter.num_users} | {inter.num_items} | {w} | "
                      f"{row['seconds']:.2f} | {row['peak_rss_mb']:.0f} | "
                      f"{row['rss_after_data_mb']:.0f} | {needed:.0f} |{extra}",
                      flush=True)
                result.figure(f"{target:.0e} pairs {w} seconds", row["seconds"], "s")
                result.figure(f"{target:.0e} pairs {w} peak RSS", row["peak_rss_mb"],
                              "MB")
    for w, points in series.items():
        if len(points) >= 2:
            t_exp = _slope([(p, s) for p, s, _, _ in points])
            m_exp = _slope([(p, m) for p, _, m, _ in points])
            s_exp = _slope([(p, s) for p, _, _, s in points])
            steps = "" if w == "eval" else f", per step as pairs^{s_exp:.2f}"
            print(f"{w}: time grows as pairs^{t_exp:.2f}{steps}; memory needed "
                  f"(peak RSS minus the process before the data) as "
                  f"pairs^{m_exp:.2f}", flush=True)
            result.figure(f"{w} time exponent", t_exp, "")
            if w != "eval":
                result.figure(f"{w} per-step time exponent", s_exp, "")
            result.figure(f"{w} memory exponent", m_exp, "")
            curve = [(p, s) for p, _, _, s in points] if w != "eval" else \
                [(p, s) for p, s, _, _ in points]
            local = [_slope(list(pair)) for pair in zip(curve, curve[1:])]
            print(f"{w}: local exponents {'per step ' if w != 'eval' else ''}between "
                  f"consecutive sizes: " + ", ".join(f"{e:.2f}" for e in local),
                  flush=True)
            for (p0, _), (p1, _), e in zip(curve, curve[1:], local):
                result.figure(f"{w} local exponent {p0:.0e}-{p1:.0e}", e, "")
    return result


def _point_argv(args: argparse.Namespace, graph: Path, what: str) -> list[str]:
    """The ``scale-point`` command line of one point."""
    return ["scale-point", "--graph", str(graph), "--what", what, "--steps",
            str(args.steps), "--batch-size", str(args.batch_size), "--seed",
            str(args.seed), "--eval-users", str(args.eval_users), "--device",
            args.device, *([] if args.threads is None else
                           ["--threads", str(args.threads)])]


def _law(model: Any) -> dict[str, float]:
    return {"alpha": model.alpha, "d_min": model.d_min, "d_max": model.d_max,
            "tail": model.tail, "ks": model.ks, "mean": model.mean()}


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log(y) over log(x); NaN unless every y > 0.

    Examples:
        >>> round(_slope([(10, 3.0), (100, 300.0)]), 6)
        2.0
    """
    if any(y <= 0 for _, y in points):
        return math.nan
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else math.nan


def _propagation_cost(adj: Tensor, device: torch.device,
                      reps: int = 5) -> dict[str, float]:
    """Median seconds of one 64-d product with the training adjacency ``adj`` (the
    one the point trained on), and per non-zero: it stays flat while the gathered
    rows fit the cache and rises once the embedding table outgrows it."""
    from graphcl_rec.graph.propagate import spmm

    x = torch.randn(adj.shape[0], 64, device=device)
    spmm(adj, x)
    times = []
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        spmm(adj, x)
        sync(device)
        times.append(time.perf_counter() - t0)
    t = sorted(times)[reps // 2]
    nnz = int(adj._nnz())
    return {"spmm_seconds": t, "nnz": nnz, "spmm_ns_per_nnz": t / nnz * 1e9,
            "table_mb": x.numel() * x.element_size() / 2**20}


def run_point(args: argparse.Namespace) -> Result:
    import graphcl_rec as gr
    from benchmarks.bench.training import Stepper, build_model, parse_model

    device = resolve_device(args.device)
    result = Result("scale-point", args, device)
    rss_start = peak_rss_mb()
    split = torch.load(args.graph, weights_only=False)
    train, test = split["train"].to(device), split["test"].to(device)
    rss_data = peak_rss_mb()
    row: dict[str, Any] = {"what": args.what}
    if args.what == "eval":
        torch.manual_seed(args.seed)
        model = build_model("bpr", "lightgcn", train.num_users, train.num_items, 64,
                            3).to(device)
        test_users = torch.unique(test.user)
        target = test
        if 0 < args.eval_users < test_users.numel():
            g = torch.Generator().manual_seed(args.seed)
            chosen = test_users[torch.randperm(test_users.numel(), generator=g)
                                [:args.eval_users]]
            keep = torch.zeros(test.num_users, dtype=torch.bool)
            keep[chosen] = True
            target = test.subset(keep[test.user])
        ranked = int(torch.unique(target.user).numel())
        t0 = time.perf_counter()
        metrics = gr.evaluate(model, graph=train, target=target, exclude=train)
        measured = time.perf_counter() - t0
        # Ranking cost is per user (all items each), so the full time scales with the
        # number of users ranked; the figure is marked estimated when it was scaled.
        row.update(seconds=measured * test_users.numel() / ranked,
                   measured_seconds=measured, ranked_users=ranked,
                   test_users=int(test_users.numel()),
                   estimated=ranked < test_users.numel(), recall=metrics["recall@20"])
    elif args.steps > 0:
        objective, encoder = parse_model(args.what)
        v = {"objective": objective, "encoder": encoder, "sampler": "user",
             "nce_precision": "full", "label": args.what}
        opts = argparse.Namespace(seed=args.seed, dim=64, layers=3, init=None,
                                  ssl_warmup=None, batch_size=args.batch_size)
        adj = gr.graph.adjacency(train)
        stepper = Stepper(v, train, adj, opts, device)
        stepper.run(1)  # warm-up
        step = summary([stepper.run(args.steps)])["median"]
        row.update(seconds=stepper.views_s + stepper.sample_s
                   + step * len(stepper.batches), step_seconds=step,
                   batches=len(stepper.batches), estimated=True,
                   **_propagation_cost(adj.to(device), device))
    else:
        objective, encoder = parse_model(args.what)
        model = build_model(objective, encoder, train.num_users, train.num_items, 64,
                            3)
        trainer = gr.Trainer(epochs=1, batch_size=args.batch_size, device=str(device),
                             seed=args.seed, progress=False, reset_parameters=True)
        history = trainer.fit(model, train, None)
        row.update(seconds=history.records[0]["train_seconds"],
                   loss=history.records[0]["loss"], estimated=False,
                   batches=math.ceil(len(train) / args.batch_size))
    row.update(rss_before_data_mb=rss_start, rss_after_data_mb=rss_data,
               peak_rss_mb=peak_rss_mb())
    if device.type == "cuda":
        row["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    result.rows.append(row)
    return result
