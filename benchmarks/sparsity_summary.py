"""Per-sparsity-group test Recall@20 of result JSONs, against a baseline model.

Usage: python benchmarks/sparsity_summary.py DIR [--baseline ml-100k-lightgcn]
       [--metric recall@20]

Reads every ``*.json`` result in ``DIR`` (one per run, with the ``sparsity`` entries
``graphcl-rec`` writes: test users split by training degree), groups the runs by
name, and prints a Markdown table: per group, the mean ± sample standard deviation
over seeds and the relative difference of the mean to the baseline's.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--baseline", default="ml-100k-lightgcn")
    p.add_argument("--metric", default="recall@20")
    args = p.parse_args()
    values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    ranges: dict[int, tuple[int, int]] = {}
    seeds: dict[str, int] = defaultdict(int)
    for path in sorted(Path(args.folder).glob("*.json")):
        run = json.loads(path.read_text())
        if not run.get("sparsity"):
            continue
        seeds[run["name"]] += 1
        for g in run["sparsity"]:
            values[run["name"]][g["group"]].append(g[args.metric])
            lo, hi = ranges.get(g["group"], (g["min_degree"], g["max_degree"]))
            ranges[g["group"]] = (min(lo, g["min_degree"]), max(hi, g["max_degree"]))
    if args.baseline not in values:
        raise SystemExit(f"no runs named {args.baseline!r} in {args.folder}")
    groups = sorted(ranges)
    base = {k: statistics.mean(values[args.baseline][k]) for k in groups}
    head = " | ".join(f"Q{k + 1}: degree {ranges[k][0]}–{ranges[k][1]}" for k in groups)
    print(f"| model | seeds | {head} |")
    print("|---|---|" + "---|" * len(groups))
    for name in sorted(values):
        cells = []
        for k in groups:
            v = values[name][k]
            mean = statistics.mean(v)
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            rel = "" if name == args.baseline else f" ({(mean / base[k] - 1):+.1%})"
            cells.append(f"{mean:.4f} ± {sd:.4f}{rel}")
        print(f"| {name} | {seeds[name]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
