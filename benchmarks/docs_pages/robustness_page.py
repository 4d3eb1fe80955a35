"""``docs/robustness.md``: the library defaults on data nobody tuned them for.

From ``benchmarks/results/robustness/``: the robustness suite's sides
(``suite/<label>/<dataset>/<model>-seed<N>.json``, read by
``benchmarks.bench.robust_report``) side by side, with a figure; the ``diagnose``
file (BPR's share of the gradient while the contrastive term trains) and the
``sweep`` files (validation curves under ``init`` / ``ssl_warmup`` variants), each
with a figure. The reasoning that chose the defaults is in the folder's README.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.docs_pages.common import (
    ROOT,
    Page,
    commit_date,
    fmt,
    header,
    pyplot,
    read_json,
    rel,
    save,
    short,
    source_link,
)

FOLDER = Path("benchmarks/results/robustness")


def _sides(root: Path) -> dict[str, list[dict[str, Any]]]:
    """``label -> run records``, ordered by the commit time of each side's library."""
    from benchmarks.bench.robust_report import load

    sides = {}
    for folder in sorted((root / FOLDER / "suite").glob("*")):
        records = load(folder) if folder.is_dir() else []
        if records:
            sides[folder.name] = records

    def when(records: list[dict[str, Any]]) -> tuple[str, str]:
        revs = [r.get("meta", {}).get("revision") for r in records]
        return (max(commit_date(v, root, "%ct") for v in revs),
                min(r.get("meta", {}).get("date", "") for r in records))

    return dict(sorted(sides.items(), key=lambda kv: when(kv[1])))


def _mean(records: list[dict[str, Any]], dataset: str, model: str) -> float | None:
    vals = [float(r["test"]["recall@20"]) for r in records
            if r["dataset"] == dataset and r["model"] == model and r.get("test")]
    return statistics.fmean(vals) if vals else None


def _side_lines(sides: dict[str, list[dict[str, Any]]], root: Path) -> list[str]:
    lines = []
    for label, records in sides.items():
        metas = [r.get("meta", {}) for r in records]
        dates = sorted(m.get("date", "?") for m in metas)
        revs = sorted({short(m.get("revision")) for m in metas})
        budgets = sorted({r["settings"]["budget_seconds"] for r in records})
        threads = sorted({str(m.get("threads", "?")) for m in metas})
        loads = [m["load_average"][0] for m in metas if m.get("load_average")]
        machines = sorted({f"{m.get('host', '?')} ({m.get('cpu', '?')}, "
                           f"{m.get('cpus', '?')} CPUs)" for m in metas})
        seeds = sorted({int(r["seed"]) for r in records})
        lines.append(
            f"* **{label}** ({source_link(FOLDER / 'suite' / label, root=root)}): "
            f"{len(records)} runs, graphcl_rec {', '.join(f'`{v}`' for v in revs)}, "
            f"{dates[0][:16]} to {dates[-1][:16]} UTC, seeds "
            f"{', '.join(map(str, seeds))}, {', '.join(f'{b:g}' for b in budgets)} s "
            f"of wall-clock per run, {', '.join(threads)} thread(s), "
            f"{'; '.join(machines)}, load {min(loads):.1f}–{max(loads):.1f} at the "
            f"runs' starts. Command: `{records[0].get('command', '?')}`.")
    return lines


def _table(sides: dict[str, list[dict[str, Any]]]) -> list[str]:
    from benchmarks.bench.robust_report import _dataset_key, _order

    labels = list(sides)
    records = [r for rs in sides.values() for r in rs]
    lines = ["| dataset | model | " + " | ".join(labels) + " |",
             "|---|---|" + "---|" * len(labels)]
    for ds in sorted({r["dataset"] for r in records}, key=_dataset_key):
        for model in _order({r["model"] for r in records if r["dataset"] == ds}):
            cells = [fmt(_mean(sides[label], ds, model)) for label in labels]
            lines.append(f"| {ds} | {model} | " + " | ".join(cells) + " |")
    return lines


def _suite_figure(sides: dict[str, list[dict[str, Any]]], out: Path) -> None:
    from benchmarks.bench.robust_report import _dataset_key, _order

    plt = pyplot()
    records = [r for rs in sides.values() for r in rs]
    datasets = sorted({r["dataset"] for r in records}, key=_dataset_key)
    fig, axes = plt.subplots(len(datasets), 1, figsize=(10, 2.3 * len(datasets)),
                             squeeze=False)
    width = 0.8 / len(sides)
    for ax, ds in zip(axes[:, 0], datasets):
        models = _order({r["model"] for r in records if r["dataset"] == ds})
        for j, (label, recs) in enumerate(sides.items()):
            ys = [_mean(recs, ds, m) or 0.0 for m in models]
            xs = [i + (j - (len(sides) - 1) / 2) * width for i in range(len(models))]
            ax.bar(xs, ys, width, label=label)
        ax.set_xticks(range(len(models)), models, fontsize=8)
        ax.set_ylabel("test recall@20")
        ax.set_title(ds, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8, title="side", title_fontsize=8)
    save(fig, out / "robustness_suite.png")


def _sweeps(root: Path) -> list[tuple[Path, dict[str, Any] | None, list[dict]]]:
    """``(file, runner meta or None, rows)`` of every sweep file, JSON or JSON lines."""
    out = []
    for path in sorted((root / FOLDER).glob("sweep_*")):
        if path.suffix == ".json":
            data = read_json(path)
            if isinstance(data, dict) and data.get("subcommand") == "sweep":
                out.append((path, data["meta"], data["rows"]))
        elif path.suffix == ".jsonl":
            rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            for r in rows:  # the one-off script's keys, before the runner had one
                r.setdefault("variant",
                             f"{r.get('obj')}:{r.get('init')}:{r.get('warm')}")
            out.append((path, None, rows))
    return out


def _run_line(meta: dict[str, Any] | None) -> str:
    if meta is None:
        return ("The file records no date, command or commit of its own (see the "
                "folder's README).")
    return (f"`python -m benchmarks.run {' '.join(meta.get('argv', []))}`, run "
            f"{meta.get('date', '?')} at graphcl_rec `{short(meta.get('revision'))}`, "
            f"{meta.get('threads', '?')} thread(s), load "
            f"{(meta.get('load_average') or ['?'])[0]} at the start.")


def _curves_figure(sweeps: list[tuple[Path, Any, list[dict]]], out: Path) -> None:
    plt = pyplot()
    rows = [r for _, _, rs in sweeps for r in rs]
    objectives = sorted({r["variant"].split(":")[0] for r in rows})
    fig, axes = plt.subplots(1, len(objectives), figsize=(3.2 * len(objectives), 3.2),
                             sharey=True, squeeze=False)
    for ax, obj in zip(axes[0], objectives):
        for r in rows:
            if r["variant"].split(":")[0] == obj:
                ax.plot(range(1, len(r["curve"]) + 1), r["curve"], marker=".",
                        label=":".join(r["variant"].split(":")[1:]))
        ax.set_title(obj, fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, title="init:ssl_warmup", title_fontsize=6)
    axes[0][0].set_ylabel("validation recall@20")
    save(fig, out / "robustness_sweep.png")


def build(root: Path = ROOT) -> Page:
    """The page, from every file under ``benchmarks/results/robustness/``."""
    from benchmarks.docs_pages.robustness_diagnose import diagnose_part

    sides = _sides(root)
    sweeps = _sweeps(root)
    diag_lines, diag_sources, diag_draw = diagnose_part(root)
    suite = [p for folder in sorted((root / FOLDER / "suite").glob("*"))
             for p in sorted(folder.glob("*/*.json"))]
    sources = suite + [p for p, _, _ in sweeps] + diag_sources
    text = header("Robustness: the defaults on untuned data", sources, root)
    text += [
        "Does every objective, with nothing but its library defaults, beat "
        "popularity and LightGCN on datasets nobody tuned it for? The runs below "
        "answer it; why the defaults are what they are (the contrastive weight "
        "ramped in over `ssl_warmup` steps) is argued in "
        f"{source_link(FOLDER / 'README.md', root=root)}.", "",
        "## The robustness suite", "",
        "Each side is every model at the library defaults of one commit, each run "
        "stopped by the same wall-clock budget, on five datasets "
        "(`python -m benchmarks.run robust`, "
        f"{source_link('benchmarks/README.md', root=root)}). Cells: test Recall@20, "
        "mean over the side's seeds.", ""]
    text += _side_lines(sides, root) + [""] + _table(sides)
    figures = []
    if sides:
        figures.append("robustness_suite.png")
        text += ["", "![Test Recall@20 per model, dataset and side]"
                     "(figures/robustness_suite.png)"]
    text += ["", "## Why contrastive runs stalled", "",
             "BPR's share of the gradient on the embedding table, and validation "
             "Recall@20, over the first epochs: BPR alone against contrastive "
             "objectives under `init` / `ssl_warmup` variants.", ""] + diag_lines
    if diag_lines:
        figures.append("robustness_diagnose.png")
    text += ["", "## Choosing `init` and `ssl_warmup`", "",
             "Validation Recall@20 per epoch on ML-100K for each objective under "
             "`init:ssl_warmup` variants.", ""]
    for path, meta, rows in sweeps:
        best = max(rows, key=lambda r: r["best"])
        text += [f"* {source_link(path, rel(path, root), root)}: {len(rows)} curves; "
                 f"{_run_line(meta)} Best: `{best['variant']}`, "
                 f"{best['best']:.4f} at epoch {best['best_epoch']}."]
    if sweeps:
        figures.append("robustness_sweep.png")
        text += ["", "![Validation Recall@20 per epoch under init / ssl_warmup "
                     "variants](figures/robustness_sweep.png)"]

    def draw(out: Path) -> None:
        if sides:
            _suite_figure(sides, out)
        if sweeps:
            _curves_figure(sweeps, out)
        diag_draw(out)

    return Page("docs/robustness.md", "\n".join(text).rstrip() + "\n", figures, draw)
