"""The Markdown report of benchmark runs, written from their results JSON files."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphcl_rec.bench.cells import evaluated, mean_sd, run_links
from graphcl_rec.bench.challengers import challenger_table
from graphcl_rec.bench.devices import (
    UNLIKE_MARK,
    UNLIKE_NOTE,
    device_cell,
    device_label,
    median_epoch_seconds,
    timing_cell,
)
from graphcl_rec.bench.plots import plot_curves, plot_sparsity
from graphcl_rec.bench.published import PUBLISHED, dataset_of, published_key
from graphcl_rec.bench.quality import REFERENCE_KINDS, quality_table
from graphcl_rec.bench.variants import variant_table, variant_time_table

SELECTION_NOTE = (
    "Runs made to choose a setting on the validation split (files under a "
    "`selection/` folder, one seed each): the rows above that use the chosen "
    "settings are the results; these show what was tried.")

QUALITY_NOTE = (
    "The first evaluated epoch whose test Recall@20 reached 95 % and 100 % of the "
    "published figure, and the minutes of training up to it (then with the "
    "evaluations made on the way). Minutes are of the run's own device and load, "
    "so they compare runs made on one machine only; a pause (e.g. `kill -STOP` "
    "while other work was timed) counts in them, which the median epoch beside "
    "them shows.")

CHALLENGER_NOTE = (
    "Configs with no published figure of their own, each against the published "
    "figure of its objective, from runs trained on the whole training split as "
    "the papers' were: `legacy` (test selects the epoch, as the papers did) and "
    "`refit` (validation chose the epochs, test is read once): the margin is "
    "(mean − published) / sd over the seeds, and a config beats the figure when "
    "both margins exceed 2 over at least three seeds.")

VARIANT_NOTE = (
    "Each variant (a config whose name extends another's at `_` or `-`, e.g. "
    "`xsimgcl_d128` of `xsimgcl`) against its base config's runs on the same "
    "dataset, protocol and device kind, so also where no figure is published: "
    "the difference of the "
    "means, relative to the base's, and Welch's t (— below two seeds a side); "
    "`differs in` lists the config keys whose values differ, i.e. what made the "
    "difference. Keys one results file does not record (settings added or "
    "renamed after it was written) are listed apart, not compared.")

VARIANT_TIME_NOTE = (
    "For each variant and its base, the level every base seed reached (the lowest "
    "of their best Recall@20 on the selection split: validation for `validated` "
    "runs, test for `legacy` ones) and when each run first reached it: the epoch, "
    "the training minutes up to it, then with the evaluations made on the way. "
    "Minutes compare only runs timed alike (the `timed on` column; † where a "
    "resumed run's parts were timed on different settings); a pause counts in "
    "them, which the median epoch beside them shows.")

SELECTION_DIR = "selection"
"""Results under a folder of this name are hyperparameter-selection runs."""


def is_selection(result: dict[str, Any], results_dir: str | Path) -> bool:
    """Whether a results file lies in a ``selection/`` folder below ``results_dir``.

    Such files are tuning runs; a ``results_dir`` that is itself named
    ``selection`` does not make its files tuning runs.
    """
    path, root = Path(result.get("path", "")), Path(results_dir)
    inside = path.relative_to(root) if path.is_relative_to(root) else path
    return SELECTION_DIR in inside.parent.parts


def _json_documents(results_dir: str | Path,
                    keep: Callable[[Any], bool]) -> list[dict[str, Any]]:
    """The JSON objects under ``results_dir`` (recursively) that ``keep`` accepts.

    In path order, each with its ``path`` added; unreadable files are skipped.
    """
    out = []
    for path in sorted(Path(results_dir).rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(doc, dict) and keep(doc):
            doc["path"] = str(path)
            out.append(doc)
    return out


def load_references(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every curve of someone else's code in ``results_dir``, recursively.

    Two kinds (``"kind"``, :data:`~graphcl_rec.bench.quality.REFERENCE_KINDS`):
    ``"reference_log"``, a log from the authors' repository (written by ``python
    -m benchmarks.reference_logs``), and ``"peer_run"``, a peer library's code
    run on this machine (``benchmarks/peers/selfrec_runner.py``). Both hold
    ``name``, ``model`` (the key of its published figure), ``dataset`` and a
    ``history`` shaped like a run's.
    """
    return _json_documents(results_dir, lambda d: d.get("kind") in REFERENCE_KINDS)


def load_results(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every results JSON (files with a ``protocol`` key) under ``results_dir``.

    Curves of someone else's code (:func:`load_references`) are not results.

    Sub-folders are searched too (e.g. ``results/h200/`` for runs made elsewhere).
    """
    return _json_documents(results_dir, lambda d: "protocol" in d and "test" in d
                           and d.get("kind") not in REFERENCE_KINDS)


def stopped_by(r: dict[str, Any]) -> str:
    """What ended a run: early stopping, its max epochs, or a time budget."""
    if r.get("stopped_early"):
        return "early stopping"
    train = r["config"]["train"]
    if r["epochs_run"] >= train["epochs"]:
        return "max epochs"
    return "time budget" if train.get("max_seconds") is not None else "?"


def results_table(results: list[dict[str, Any]], base: Path) -> list[str]:
    """Markdown rows: ours (mean ± sd over seeds) against the published numbers."""
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(dataset_of(r), r["name"], r["protocol"], device_label(r))].append(r)
    lines = ["| dataset | config | protocol | device | seeds | recall@20 | "
             "published | rel. diff | ndcg@20 | published | best epoch | epochs run |"
             " stopped by | s/epoch (median) | s/eval | peak MB | runs |",
             "|" + "---|" * 17]
    for (ds, name, protocol, _), runs in sorted(groups.items()):
        rec = [r["test"]["recall@20"] for r in runs]
        ndcg = [r["test"]["ndcg@20"] for r in runs]
        key = published_key(runs[0], PUBLISHED)
        pub = (PUBLISHED[(key.model, key.dataset)] if key is not None and key.own
               else None)
        rel = (f"{(statistics.mean(rec) - pub[0]) / pub[0] * 100:+.1f} %" if pub
               else "—")
        links = run_links(runs, base)
        eval_cell = (timing_cell([r["seconds_per_eval"] for r in runs], runs)
                     if any(evaluated(r) for r in runs) else "—")
        lines.append(
            f"| {ds} | {name} | {protocol} | {device_cell(runs)} | {len(runs)} | "
            f"{mean_sd(rec)} | {pub[0] if pub else '—'} | {rel} | {mean_sd(ndcg)} | "
            f"{pub[1] if pub else '—'} | "
            f"{statistics.mean(r['best_epoch'] or 0 for r in runs):.0f} | "
            f"{statistics.mean(r['epochs_run'] for r in runs):.0f} | "
            f"{', '.join(sorted({stopped_by(r) for r in runs}))} | "
            f"{timing_cell([median_epoch_seconds(r) for r in runs], runs)} | "
            f"{eval_cell} | "
            f"{timing_cell([r['peak_memory_mb'] for r in runs], runs, 0)} | {links} |")
    if any(UNLIKE_MARK in line for line in lines[2:]):
        lines += ["", UNLIKE_NOTE]
    return lines


def sparsity_table(results: list[dict[str, Any]]) -> list[str]:
    """Test Recall@20 per training-degree quartile, one row per run."""
    lines = ["| config | protocol | device | seed | " + " | ".join(
        f"Q{i + 1} recall@20 (degree)" for i in range(4)) + " |", "|" + "---|" * 8]
    for r in results:
        cells = [f"{g['recall@20']:.4f} ({g['min_degree']}–{g['max_degree']})"
                 for g in r.get("sparsity", [])]
        if cells:
            lines.append(f"| {r['name']} | {r['protocol']} | {device_cell([r])} | "
                         f"{r['seed']} | "
                         + " | ".join(cells) + " |")
    return lines


def write_report(results_dir: str | Path, report: str | Path) -> Path:
    """Writes the Markdown report (and plots next to it) from measured runs only.

    Args:
        results_dir: Folder searched (recursively) for results JSON files.
        report: The Markdown file to write; the plots go to its folder, and a
            ``REPRODUCTION.md`` there is linked.

    Returns:
        ``report``.
    """
    results_dir, report = Path(results_dir), Path(report)
    report.parent.mkdir(parents=True, exist_ok=True)
    results = load_results(results_dir)
    base = report.parent
    references = load_references(results_dir)
    main = [r for r in results if not is_selection(r, results_dir)]
    tuning = [r for r in results if is_selection(r, results_dir)]
    images = plot_curves(main, base, references) if main else []
    bars = plot_sparsity(results, base) if results else []
    shown = (results_dir.relative_to(base) if results_dir.is_relative_to(base)
             else results_dir)
    text = ["# Benchmark results", "",
            f"Generated by `graphcl-rec bench` from the JSON files in `{shown}`;"
            " every row is a measured run (linked by seed). Protocols: `validated` "
            "selects the epoch on a validation split carved from train and evaluates "
            "test once; `legacy` selects the epoch on test, as the papers did, and is "
            "only for comparison with published numbers; `refit` trains the "
            "validated run's config again on train and validation together for the "
            "epochs validation chose, and evaluates test once (no figure read off "
            "test, no training pair held out). Runs stopped by a time "
            "budget have not converged: their gap to a published number is not a "
            "reproduction result. On CPU, peak MB is the process's peak resident "
            "memory, which carries over between runs made by one `bench` call.", ""]
    if (base / "REPRODUCTION.md").exists():
        text += ["How each config was checked against the authors' code, and what "
                 "still differs: [REPRODUCTION.md](REPRODUCTION.md).", ""]
    text += results_table(main, base) if main else ["No runs yet."]
    challengers = challenger_table(main, PUBLISHED, stopped_by, base)
    if challengers:
        text += ["", "## Beyond the published table", "", CHALLENGER_NOTE, ""]
        text += challengers
    variants = variant_table(main, base)
    if variants:
        text += ["", "## Variants against their base configs", "", VARIANT_NOTE, ""]
        text += variants
        text += ["", "## Variants: time to their base's level", "",
                 VARIANT_TIME_NOTE, ""]
        text += variant_time_table(main, base)
    if tuning:
        text += ["", "## Selection runs", "", SELECTION_NOTE, ""]
        text += results_table(tuning, base)
    quality = quality_table(main, PUBLISHED, references)
    if quality:
        text += ["", "## Time to quality (legacy runs against the published "
                 "Recall@20)", "", QUALITY_NOTE, ""] + quality
    text += ["", "## Sparsity groups (test users by training-degree quartile)", ""]
    text += sparsity_table(results)
    for img in bars:
        text += ["", f"![sparsity]({Path(img).name})"]
    for img in images:
        text += ["", f"![curves]({Path(img).name})"]
    report.write_text("\n".join(text) + "\n", encoding="utf-8")
    return report
