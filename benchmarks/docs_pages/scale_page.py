"""``docs/scale.md``: how training and evaluation cost grow with the graph.

Reads ``benchmarks/results/scale/*.json``: the ``scale`` subcommand's files (cost
against the number of interactions on synthetic power-law graphs) and the ``ddp``
subcommand's (seconds per epoch with one and several processes). The memory model,
bytes per node and per interaction, is a least-squares fit over every training
point of every ``scale`` file (graphs fitted to different datasets have different
nodes-per-interaction ratios, which is what separates the two).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from benchmarks.docs_pages.common import (
    ROOT,
    Page,
    header,
    pyplot,
    read_json,
    rel,
    save,
    short,
    source_link,
)

FOLDER = Path("benchmarks/results/scale")
FIGURE = "scale_cost.png"
MACHINE_GB = 24
"""The memory of the machine the figures come from (the page says which)."""


def _files(root: Path, kind: str) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted((root / FOLDER).glob("*.json")):
        data = read_json(path)
        if isinstance(data, dict) and data.get("subcommand") == kind:
            out.append((path, data))
    return out


def _provenance(path: Path, data: dict[str, Any], root: Path) -> str:
    meta = data["meta"]
    load = meta.get("load_average") or ["?"]
    return (f"{source_link(path, rel(path, root), root)}: `python -m benchmarks.run "
            f"{' '.join(meta.get('argv', []))}`, run {meta.get('date', '?')} at "
            f"graphcl_rec `{short(meta.get('revision'))}` on {meta.get('host', '?')} "
            f"({meta.get('cpu', '?')}, {meta.get('cpus', '?')} CPUs, load {load[0]} "
            f"at the start), torch {meta.get('torch', '?')}, "
            f"{meta.get('threads', '?')} thread(s)"
            + (f", {meta['device']}." if meta.get("device") else "."))


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(y) over log(x), over the points with ``y > 0``
    (a point too small to need memory reads 0); NaN with fewer than two.

    Args:
        points: ``(x, y)`` pairs, ``x > 0``.

    Returns:
        The fitted exponent ``b`` of ``y = a x^b`` (``benchmarks.bench.scale``'s fit).

    Examples:
        >>> slope([(1, 2.0), (10, 20.0), (100, 0.0)])
        1.0
    """
    from benchmarks.bench.scale import _slope

    kept = [(x, y) for x, y in points if x > 0 and y > 0]
    return _slope(kept) if len(kept) >= 2 else math.nan


def memory_model(rows: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Bytes per node and per interaction: least squares of the memory a training
    point needed (peak minus the process before it loaded the graph) over
    ``a * (users + items) + b * pairs``, no intercept.

    Args:
        rows: Training points with ``users``, ``items``, ``pairs`` and the
            ``peak_rss_mb`` / ``rss_before_data_mb`` of their process.

    Returns:
        ``(bytes per node, bytes per interaction)``, or ``None`` when the points
        cannot separate the two (fewer than two, or proportional counts).

    Examples:
        >>> rows = [{"users": u, "items": i, "pairs": p, "rss_before_data_mb": 0,
        ...          "peak_rss_mb": (1000 * (u + i) + 50 * p) / 2**20}
        ...         for u, i, p in [(10, 20, 100), (40, 20, 1000), (5, 5, 400)]]
        >>> [round(v) for v in memory_model(rows)]
        [1000, 50]
    """
    xs = [(float(r["users"] + r["items"]), float(r["pairs"])) for r in rows]
    ys = [(r["peak_rss_mb"] - r["rss_before_data_mb"]) * 2**20 for r in rows]
    if len(xs) < 2:
        return None
    s11 = sum(a * a for a, _ in xs)
    s12 = sum(a * b for a, b in xs)
    s22 = sum(b * b for _, b in xs)
    t1 = sum(a * y for (a, _), y in zip(xs, ys))
    t2 = sum(b * y for (_, b), y in zip(xs, ys))
    det = s11 * s22 - s12 * s12
    if det <= 1e-9 * s11 * s22:
        return None
    return (t1 * s22 - t2 * s12) / det, (s11 * t2 - s12 * t1) / det


def _points(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in data["rows"] if "what" in r]


def _table(data: dict[str, Any]) -> list[str]:
    rows = _points(data)
    models = list(dict.fromkeys(r["what"] for r in rows if r["what"] != "eval"))
    sizes = list(dict.fromkeys(r["pairs"] for r in rows))
    head = ["pairs", "users", "items"]
    for m in models:
        head += [f"{m} s/step", f"{m} s/epoch", f"{m} memory (MB)"]
    head += ["ns per non-zero", "evaluation s", "evaluation memory (MB)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in sizes:
        at = {r["what"]: r for r in rows if r["pairs"] == p}
        first = next(iter(at.values()))
        cells = [f"{p:,}", f"{first['users']:,}", f"{first['items']:,}"]
        ns = []
        for m in models:
            r = at.get(m)
            if r is None or "failed" in r:
                cells += ["failed" if r else "–", "", ""]
                continue
            step = r.get("step_seconds", r["seconds"] / max(r.get("batches", 1), 1))
            est = " (est.)" if r.get("estimated") else ""
            cells += [f"{step:.3g}", f"{r['seconds']:,.0f}{est}",
                      f"{r['peak_rss_mb'] - r['rss_before_data_mb']:,.0f}"]
            if "spmm_ns_per_nnz" in r:
                ns.append(r["spmm_ns_per_nnz"])
        cells.append(" / ".join(f"{v:.1f}" for v in ns) or "–")
        ev = at.get("eval")
        if ev is None or "failed" in ev:
            cells += ["failed" if ev else "–", ""]
        else:
            sample = (f" (est. from {ev['ranked_users']:,} of {ev['test_users']:,} "
                      "users)" if ev.get("estimated") else "")
            cells += [f"{ev['seconds']:,.1f}{sample}",
                      f"{ev['peak_rss_mb'] - ev['rss_before_data_mb']:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _exponents(data: dict[str, Any]) -> list[str]:
    rows = [r for r in _points(data) if "failed" not in r]
    out = []
    for m in dict.fromkeys(r["what"] for r in rows):
        pts = [r for r in rows if r["what"] == m]
        if len(pts) < 2:
            continue
        if m == "eval":
            curve = [(r["pairs"], r["seconds"]) for r in pts]
            what = "time"
        else:
            curve = [(r["pairs"], r.get("step_seconds", r["seconds"]
                                        / max(r.get("batches", 1), 1))) for r in pts]
            what = "time per step"
        local = [slope([a, b]) for a, b in zip(curve, curve[1:])]
        mem = [(r["pairs"], r["peak_rss_mb"] - r["rss_before_data_mb"]) for r in pts]
        out.append(f"* {m}: {what} grows as pairs^{slope(curve):.2f} over the whole "
                   "range; between consecutive sizes "
                   + ", ".join(f"{e:.2f}" for e in local)
                   + f"; memory as pairs^{slope(mem):.2f}.")
    return out


def _ddp_section(path: Path, data: dict[str, Any], root: Path) -> list[str]:
    rows = [r for r in data.get("rows", []) if isinstance(r, dict) and "variant" in r]
    name = rows[0].get("name", "?") if rows else "?"
    lines = [f"### {name}", "", _provenance(path, data, root), "",
             "| variant | processes | threads each | batch per process | global batch "
             "| s/epoch (median) | min | epochs timed | speed-up | child wall s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['nproc']} | {r['threads_per_proc']} | "
            f"{r['batch_per_proc']} | {r['global_batch']} | {r['median']:.2f} | "
            f"{r['min']:.2f} | {r['n']} | {r['speedup']:.2f} | "
            f"{r['wall_median_s']:.0f} |")
    return lines + [""]


def build(root: Path = ROOT) -> Page:
    """The page, from every ``scale`` and ``ddp`` results file."""
    scale = _files(root, "scale")
    ddp = _files(root, "ddp")
    text = header("Scale: cost against the size of the graph",
                  [p for p, _ in scale + ddp], root)
    text += [
        "Synthetic implicit-feedback graphs whose user and item degrees follow power "
        "laws fitted to a real dataset (`graphcl_rec.data.synthetic`), at growing "
        "numbers of interactions; for each, the cost of training LightGCN and SGL-ED "
        "(64-d, 3 layers, batch 2048) and of full-ranking evaluation on this "
        "machine. Each point runs in a fresh process so that its peak memory is "
        "its own; *memory* is that peak minus the process before it loaded the "
        "graph. Training points time a few steps and scale them to the epoch "
        "(marked est.); evaluation may rank a sample of the test users and scale "
        "to all of them (ranking costs the same for every user). Every training "
        "step propagates over the whole graph, so a step grows with the graph and "
        "an epoch, having pairs / batch steps, grows as its square: the figure to "
        "compare with linear is the time *per step*. *ns per non-zero* is one 64-d "
        "product with the training adjacency divided by its non-zeros: flat while "
        "the gathered embedding rows stay in the CPU's cache, higher once the table "
        "outgrows it. How to read this for more than one process or device: "
        "[Scaling out](scale-out.md).", ""]
    train_rows: list[dict[str, Any]] = []
    for path, data in scale:
        args = data.get("args", {})
        text += [f"## Degrees fitted to {args.get('fit', '?')}", "",
                 _provenance(path, data, root), ""]
        text += _table(data) + [""] + _exponents(data) + [""]
        train_rows += [r for r in _points(data)
                       if r["what"] != "eval" and "failed" not in r]
    if scale:
        text += [f"![Seconds per training step, per epoch and per full evaluation, and "
                 f"memory, against the number of interactions, log-log, with each "
                 f"series' fitted exponent](figures/{FIGURE})", ""]
    text += _memory_section(train_rows)
    if ddp:
        text += ["## One process or several", ""]
        for path, data in ddp:
            text += _ddp_section(path, data, root)
    if not scale and not ddp:
        text += ["No scale results yet.", ""]

    def draw(out: Path) -> None:
        _draw(scale, out / FIGURE)

    return Page("docs/scale.md", "\n".join(text).rstrip() + "\n",
                [FIGURE] if scale else [], draw if scale else None)


def _memory_section(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["## Memory per node and per interaction", ""]
    for m in dict.fromkeys(r["what"] for r in rows):
        fit = memory_model([r for r in rows if r["what"] == m])
        if fit is None:
            lines.append(f"* {m}: the points do not separate nodes from "
                         "interactions (one dataset's ratio only).")
            continue
        per_node, per_pair = fit
        # The largest graph at the last point's nodes-per-interaction ratio.
        last = max((r for r in rows if r["what"] == m), key=lambda r: r["pairs"])
        ratio = (last["users"] + last["items"]) / last["pairs"]
        per = per_node * ratio + per_pair
        fits = MACHINE_GB * 2**30 / per if per > 0 else math.inf
        used = (last["peak_rss_mb"] - last["rss_before_data_mb"]) / 1024
        lines.append(
            f"* {m}: {per_node:,.0f} bytes per node (user or item: both are one "
            f"embedding row) and {per_pair:,.0f} bytes per interaction, fitted over "
            f"{sum(r['what'] == m for r in rows)} points; at the largest graph's "
            f"{ratio:.3f} nodes per interaction that is {per:,.0f} bytes per "
            f"interaction, so {MACHINE_GB} GB holds about {fits / 1e6:,.0f} M "
            f"interactions. The largest graph measured ({last['pairs']:,} "
            f"interactions) needed {used:.1f} GB and one epoch of it would take "
            f"{last['seconds'] / 3600:,.0f} h here: "
            + ("time runs out before memory does." if fits > last["pairs"]
               else "memory is the limit."))
    return lines + [""]


def _draw(files: list[tuple[Path, dict[str, Any]]], path: Path) -> None:
    plt = pyplot()
    fig, (step_ax, epoch_ax, mem_ax) = plt.subplots(1, 3, figsize=(15, 4))
    for _, data in files:
        fit = data.get("args", {}).get("fit", "?")
        rows = [r for r in _points(data) if "failed" not in r]
        for m in dict.fromkeys(r["what"] for r in rows):
            pts = sorted((r for r in rows if r["what"] == m), key=lambda r: r["pairs"])
            xs = [r["pairs"] for r in pts]
            if m != "eval":
                ys = [r.get("step_seconds", r["seconds"] / max(r.get("batches", 1), 1))
                      for r in pts]
                step_ax.plot(xs, ys, marker="o",
                             label=f"{m} ({fit}): pairs^{slope(list(zip(xs, ys))):.2f}")
            secs = [r["seconds"] for r in pts]
            what = "evaluation" if m == "eval" else f"{m} epoch"
            exponent = slope(list(zip(xs, secs)))
            epoch_ax.plot(xs, secs, marker="o",
                          label=f"{what} ({fit}): pairs^{exponent:.2f}")
            mem = [r["peak_rss_mb"] - r["rss_before_data_mb"] for r in pts]
            mem_ax.plot(xs, mem, marker="o",
                        label=f"{m} ({fit}): pairs^{slope(list(zip(xs, mem))):.2f}")
    for ax, ylabel in ((step_ax, "seconds per training step"),
                       (epoch_ax, "seconds per epoch / per full evaluation"),
                       (mem_ax, "memory (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("interactions")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    save(fig, path)
