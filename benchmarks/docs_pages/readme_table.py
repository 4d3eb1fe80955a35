"""The results table of ``README.md``: the rows that have a published figure.

Only the text between ``<!-- results:start -->`` and ``<!-- results:end -->`` is
generated; the rest of the README is written by hand.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.docs_pages.common import ROOT, Page, rel

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _stopped(r: dict[str, Any]) -> str:
    if r.get("stopped_early"):
        return "early stopping"
    train = r["config"]["train"]
    return "max epochs" if r["epochs_run"] >= train["epochs"] else "time budget"


def table(results: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: ours (mean over seeds) against the published figure."""
    from graphcl_rec.bench.plots import device_label
    from graphcl_rec.bench.report import PUBLISHED

    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        ds = r["config"]["data"].get("dataset") or "custom"
        if (r["name"].removesuffix(f"_{ds}"), ds) in PUBLISHED:
            groups[(ds, r["name"], r["protocol"], device_label(r))].append(r)
    lines = ["| dataset | config | protocol | device | seeds | Recall@20 (published) "
             "| NDCG@20 (published) | stopped by |", "|" + "---|" * 8]
    for (ds, name, protocol, device), runs in sorted(groups.items()):
        pub = PUBLISHED[(name.removesuffix(f"_{ds}"), ds)]
        rec = statistics.mean(r["test"]["recall@20"] for r in runs)
        ndcg = statistics.mean(r["test"]["ndcg@20"] for r in runs)
        lines.append(f"| {ds} | {name} | {protocol} | {device} | {len(runs)} | "
                     f"{rec:.4f} ({pub[0]:.4f}) | {ndcg:.4f} ({pub[1]:.4f}) | "
                     f"{', '.join(sorted({_stopped(r) for r in runs}))} |")
    return lines


def build(root: Path = ROOT) -> Page:
    """``README.md`` with its results block regenerated."""
    from benchmarks.docs_pages.results_page import IGNORED
    from graphcl_rec.bench.report import load_results

    path = root / "README.md"
    text = path.read_text(encoding="utf-8")
    if text.count(START) != 1 or text.count(END) != 1 or (
            text.index(START) > text.index(END)):
        raise SystemExit(f"{path}: needs one '{START}' line before one '{END}' line")
    results = [r for r in load_results(root / "benchmarks" / "results")
               if not rel(Path(r["path"]), root).startswith(IGNORED)]
    block = [START, "", *table(results), "", END]
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    return Page("README.md", head + "\n".join(block) + tail)
