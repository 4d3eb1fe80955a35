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


def table(results: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: ours (mean over seeds) against the published figure."""
    from graphcl_rec.bench.devices import device_cell, device_label
    from graphcl_rec.bench.published import PUBLISHED, published_key
    from graphcl_rec.bench.report import stopped_by

    groups: dict[tuple[str, str, str, str, str], list[dict[str, Any]]] = (
        defaultdict(list))
    for r in results:
        key = published_key(r, PUBLISHED)
        if key is not None and key.own:
            groups[(key.dataset, r["name"], r["protocol"], device_label(r),
                    key.model)].append(r)
    lines = ["| dataset | config | protocol | device | seeds | Recall@20 (published) "
             "| NDCG@20 (published) | stopped by |", "|" + "---|" * 8]
    for (ds, name, protocol, _, model), runs in sorted(groups.items()):
        pub = PUBLISHED[(model, ds)]
        rec = statistics.mean(r["test"]["recall@20"] for r in runs)
        ndcg = statistics.mean(r["test"]["ndcg@20"] for r in runs)
        lines.append(f"| {ds} | {name} | {protocol} | {device_cell(runs)} | "
                     f"{len(runs)} | "
                     f"{rec:.4f} ({pub[0]:.4f}) | {ndcg:.4f} ({pub[1]:.4f}) | "
                     f"{', '.join(sorted({stopped_by(r) for r in runs}))} |")
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
