"""Plots for the benchmark report: learning curves and sparsity-group bars."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphcl_rec.bench.cells import evaluated
from graphcl_rec.bench.devices import device_label
from graphcl_rec.bench.quality import is_peer_run


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(plt: Any, fig: Any, path: Path) -> str:
    """Lays out, writes (100 dpi) and closes ``fig``; returns the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")  # keeps the legend beside the axes
    plt.close(fig)
    return str(path)


def _by_dataset(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Results grouped by their config's dataset name (``"custom"`` for paths)."""
    by_ds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_ds[r["config"]["data"].get("dataset") or "custom"].append(r)
    return by_ds


def _run_label(r: dict[str, Any], *extra: str) -> str:
    """``name (protocol[, device][, extra...])``: a GPU is named, the CPU is not."""
    dev = device_label(r)
    parts = [r["protocol"], *([] if dev == "cpu" else [dev]), *extra]
    return f"{r['name']} ({', '.join(parts)})"


PROTOCOL_AXIS = {"legacy": "test recall@20 (legacy: test selects the epoch)",
                 "validated": "validation recall@20"}
"""The y-axis of each protocol's curves: the split each one evaluates."""

RUN_COLOURS = tuple(i for i in range(20) if i not in (14, 15))
"""Indices into ``tab20`` for runs: its two greys are kept for reference curves."""


def curve_figures(results: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(dataset, protocol, file name)`` of each learning-curve figure.

    One figure per dataset and protocol: a legacy curve is test Recall@20 (the
    split the papers read their figures from, so published logs are drawn
    beside it), a validated one is Recall@20 on a validation split carved from
    train, on another scale; one axis for both would mislead. Runs that
    evaluated no epoch (``refit`` runs test once, at the end) draw no curve.
    """
    pairs = sorted({(ds, r["protocol"]) for ds, runs in _by_dataset(results).items()
                    for r in runs if evaluated(r)})
    return [(ds, protocol, f"curves_{ds}_{protocol}.png") for ds, protocol in pairs]


def plot_curves(results: list[dict[str, Any]], out: Path,
                references: Sequence[dict[str, Any]] = ()) -> list[str]:
    """Recall@20 vs epoch and vs wall-clock per dataset and protocol.

    Args:
        results: Results as returned by
            :func:`graphcl_rec.bench.report.load_results`.
        out: Folder the figures (:func:`curve_figures` names them) are written to.
        references: Published per-epoch logs and peer libraries' runs
            (:func:`graphcl_rec.bench.report.load_references`), drawn dashed in
            grey beside the legacy runs of their dataset (test Recall@20, as theirs).

    Returns:
        The image paths; empty when matplotlib is not installed.
    """
    plt = _pyplot()
    if plt is None:
        return []
    by_ds = _by_dataset(results)
    palette = plt.get_cmap("tab20").colors
    colours = [palette[i] for i in RUN_COLOURS]
    paths = []
    for ds, protocol, name in curve_figures(results):
        runs = [r for r in by_ds[ds] if r["protocol"] == protocol]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        refs = [{**ref, "_label": f"{ref['name']}, " + (
                    "this machine" if is_peer_run(ref)
                    else "their hardware")}
                for ref in references
                if ref.get("dataset") == ds and protocol == "legacy"]
        # One colour and one legend entry per config and device; its seeds share them.
        groups: dict[str, list[int]] = defaultdict(list)
        for r in runs:
            groups[_run_label(r)].append(r["seed"])
        colour = {key: colours[i % len(colours)] for i, key in enumerate(groups)}
        labelled: set[str] = set()
        lowest = [math.inf, math.inf]  # log axes need positive epochs and minutes
        for i, r in enumerate([*runs, *refs]):
            recs = [h for h in r["history"] if "val" in h]
            if "_label" in r:
                label = r["_label"]
                style = {"ls": ("--", ":", "-.")[(i - len(runs)) % 3], "color": "0.4"}
            else:
                key = _run_label(r)
                seeds = sorted(groups[key])
                label = None if key in labelled else _run_label(
                    r, f"seed{'s' if len(seeds) > 1 else ''} "
                       f"{', '.join(map(str, seeds))}")
                labelled.add(key)
                style = {"color": colour[key]}
            clock, xs, ts, ys = 0.0, [], [], []
            for h in r["history"]:
                clock += h.get("train_seconds", 0) + h.get("eval_seconds", 0)
                if "val" in h:
                    xs.append(h["epoch"])
                    ts.append(clock / 60)
                    ys.append(h["val"]["recall@20"])
            if recs:
                lowest = [min(lowest[0], *xs), min(lowest[1], *ts)]
                axes[0].plot(xs, ys, marker="o", ms=3, label=label, **style)
                axes[1].plot(ts, ys, marker="o", ms=3, label=label, **style)
        axes[0].set_xlabel("epoch")
        axes[1].set_xlabel("wall-clock minutes, train + eval")
        for ax, low in zip(axes, lowest):
            if 0 < low < math.inf:  # runs of 10 and of 1,000 epochs on one axis
                ax.set_xscale("log")
                ax.set_xlabel(ax.get_xlabel() + " (log scale)")
            ax.set_ylabel(PROTOCOL_AXIS.get(protocol, "selection-split recall@20"))
            ax.grid(alpha=0.3)
        axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(f"{ds}, {protocol} protocol")
        paths.append(_save(plt, fig, out / name))
    return paths


def plot_sparsity(results: list[dict[str, Any]], out: Path) -> list[str]:
    """Bar chart of test Recall@20 per training-degree group, one per dataset.

    Each (config, protocol, device) is one bar series, averaged over its seeds; the
    groups are labelled with the degree range they span across all runs of the
    dataset.
    Datasets without ``sparsity`` entries get no chart.

    Args:
        results: Results as returned by
            :func:`graphcl_rec.bench.report.load_results`.
        out: Folder the ``sparsity_<dataset>.png`` files are written to.

    Returns:
        The image paths; empty when matplotlib is not installed.
    """
    plt = _pyplot()
    if plt is None:
        return []
    by_ds = _by_dataset([r for r in results if r.get("sparsity")])
    paths = []
    for ds, runs in sorted(by_ds.items()):
        recall: dict[str, dict[int, list[float]]] = defaultdict(
            lambda: defaultdict(list))
        ranges: dict[int, tuple[int, int]] = {}
        for r in runs:
            for i, g in enumerate(r["sparsity"]):
                k = int(g.get("group", i))
                recall[_run_label(r)][k].append(g["recall@20"])
                lo, hi = ranges.get(k, (g["min_degree"], g["max_degree"]))
                ranges[k] = (min(lo, g["min_degree"]), max(hi, g["max_degree"]))
        groups = sorted(ranges)
        width = 0.8 / len(recall)
        fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(groups)) + 3.5, 4))
        for j, (label, per_group) in enumerate(sorted(recall.items())):
            ys = [statistics.mean(per_group[k]) if per_group[k] else float("nan")
                  for k in groups]
            xs = [i + (j - (len(recall) - 1) / 2) * width for i in range(len(groups))]
            ax.bar(xs, ys, width, label=label)
        ax.set_xticks(range(len(groups)),
                      [f"Q{k + 1}\n{ranges[k][0]}–{ranges[k][1]}" for k in groups])
        ax.set_xlabel("test users by training degree (group, degree range)")
        ax.set_ylabel("test recall@20 (mean over seeds)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title(ds)
        paths.append(_save(plt, fig, out / f"sparsity_{ds}.png"))
    return paths
