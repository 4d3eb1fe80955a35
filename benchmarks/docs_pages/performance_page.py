"""``docs/performance.md``: speed and memory, from results files and ``PERF.md``.

Three parts: the seconds per epoch / evaluation and peak memory of every
``graphcl-rec bench`` run (results JSON), with a figure; every speed measurement
of the runner (``python -m benchmarks.run``, files with a ``subcommand``) and of
the peer comparisons (``benchmarks/peers/results/``), each with its date,
command, commit, machine, threads and load; and the performance log
``benchmarks/PERF.md`` itself, its headings moved one level down and its links
pointed at the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.docs_pages.common import (
    ROOT,
    Page,
    header,
    pyplot,
    read_json,
    rel,
    repo_url,
    save,
    short,
    source_link,
)
from benchmarks.docs_pages.results_page import IGNORED

QUALITY = ("diagnose", "sweep", "robust", "uniformity", "scale", "ddp")
"""Runner subcommands whose files other pages show (quality figures; the scale page's
cost against graph size)."""


def _bench_rows(results: list[dict[str, Any]], root: Path) -> list[str]:
    from graphcl_rec.bench.devices import median_epoch_seconds

    lines = ["| dataset | config | protocol | device | threads | s / epoch (median) | "
             "s / evaluation | peak MB | epochs run | commit | file |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["config"]["data"].get("dataset") or "",
                                            r["name"], r["path"])):
        dev = r.get("device", {})
        where = dev.get("type", "?") + (f" ({dev['name']})" if dev.get("name") else "")
        path = rel(Path(r["path"]), root)
        lines.append(
            f"| {r['config']['data'].get('dataset') or 'custom'} | {r['name']} | "
            f"{r['protocol']} | {where} | {dev.get('threads', '?')} | "
            f"{median_epoch_seconds(r):.2f} | {r['seconds_per_eval']:.2f} | "
            f"{r['peak_memory_mb']:.0f} | {r['epochs_run']} | "
            f"`{short(r.get('git_revision'))}` | "
            f"{source_link(path, Path(path).name, root)} |")
    return lines


def _runner_files(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted((root / "benchmarks" / "results").rglob("*.json")):
        data = read_json(path)
        if (isinstance(data, dict) and "subcommand" in data and "meta" in data
                and data["subcommand"] not in QUALITY
                and not rel(path, root).startswith(IGNORED)):
            out.append((path, data))
    return out


def _runner_lines(files: list[tuple[Path, dict[str, Any]]], root: Path) -> list[str]:
    lines: list[str] = []
    for path, data in files:
        meta = data["meta"]
        load = meta.get("load_average") or ["?"]
        lines += [f"### {source_link(path, rel(path, root), root)}", "",
                  f"`python -m benchmarks.run {' '.join(meta.get('argv') or [])}`", "",
                  f"Run {meta.get('date', '?')} at graphcl_rec "
                  f"`{short(meta.get('revision'))}` on {meta.get('host', '?')} "
                  f"({meta.get('cpu', '?')}, {meta.get('cpus', '?')} CPUs, load "
                  f"{load[0]} at the start), torch {meta.get('torch', '?')}, "
                  f"{meta.get('threads', '?')} threads.", "",
                  "| figure | value | unit |", "|---|---|---|"]
        for name, fig in data.get("figures", {}).items():
            lines.append(f"| {name} | {fig['value']:.4g} | {fig.get('unit', '')} |")
        lines.append("")
    return lines


def _peer_lines(root: Path) -> tuple[list[str], list[Path]]:
    folder = root / "benchmarks" / "peers" / "results"
    lines = ["| file | peer | dataset | model | threads | ours (s / epoch) | "
             "peer (s / epoch) | peer / ours |", "|---|---|---|---|---|---|---|---|"]
    used = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = read_json(path)
        if not isinstance(data, dict):
            continue
        args = data.get("args", {})
        link = source_link(path, path.name, root)
        if "median_epoch_s" in data:  # peers pyg
            s = data["median_epoch_s"]
            lines.append(f"| {link} | PyG | {args.get('dataset', '?')} | LightGCN | "
                         f"{args.get('threads', '?')} | {s['graphcl_rec']:.2f} | "
                         f"{s['pyg']:.2f} | {s['pyg'] / s['graphcl_rec']:.1f}× |")
            used.append(path)
        for res in data.get("results", []):  # peers recbole
            if "ratio_train" not in res:
                continue
            info = res.get("recbole_info", {})
            lines.append(f"| {link} | RecBole {info.get('recbole', '?')} | "
                         f"{args.get('dataset', '?')} | {res['model']} | "
                         f"{args.get('threads', '?')} | {res['ours_train_s']:.2f} | "
                         f"{res['recbole_train_s']:.2f} | {res['ratio_train']:.1f}× |")
            used.append(path)
    return lines, sorted(set(used))


def _perf_log(root: Path) -> list[str]:
    """``benchmarks/PERF.md``, headings one level down, relative links absolute."""
    text = (root / "benchmarks" / "PERF.md").read_text(encoding="utf-8")
    base = f"{repo_url(root)}/blob/main/benchmarks/"
    out, fenced = [], False
    for line in text.splitlines()[1:]:  # its own title is replaced
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            line = "#" + line
        out.append(re.sub(r"\]\((?!https?:|#)([^)]+)\)",
                          lambda m: f"]({base}{m[1]})", line))
    return out


def _figure(results: list[dict[str, Any]], out: Path) -> None:
    plt = pyplot()
    from graphcl_rec.bench.devices import median_epoch_seconds

    rows = sorted(results, key=median_epoch_seconds)
    labels = []
    for r in rows:
        dev = r.get("device", {})
        where = dev.get("name") or (f"{dev.get('type', '?')}, "
                                    f"{dev.get('threads', '?')} thr.")
        labels.append(f"{r['name']} [{r['protocol']}, {where}] seed {r['seed']}")
    fig, ax = plt.subplots(figsize=(9, 0.22 * len(rows) + 1.2))
    ax.barh(range(len(rows)), [median_epoch_seconds(r) for r in rows],
            color=["tab:orange" if r.get("device", {}).get("name") else "tab:blue"
                   for r in rows])
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("median seconds per training epoch (log scale; orange: GPU)")
    ax.grid(axis="x", alpha=0.3)
    save(fig, out / "seconds_per_epoch.png")


def build(root: Path = ROOT) -> Page:
    """The page, from the bench results, the runner's files, peers and PERF.md."""
    from graphcl_rec.bench.report import load_results

    results = [r for r in load_results(root / "benchmarks" / "results")
               if not rel(Path(r["path"]), root).startswith(IGNORED)]
    runner = _runner_files(root)
    peers, peer_files = _peer_lines(root)
    sources = ([Path(r["path"]) for r in results] + [p for p, _ in runner] + peer_files
               + [root / "benchmarks" / "PERF.md"])
    text = header("Performance", sources, root)
    text += [
        "Speed and memory of the library, from three kinds of files: the results of "
        "the benchmark runs, the speed measurements of the benchmark runner "
        "(`python -m benchmarks.run`, described in "
        f"{source_link('benchmarks/README.md', root=root)}), and the performance log "
        f"{source_link('benchmarks/PERF.md', root=root)}, reproduced in full below. "
        "The development machine is a shared 2-core CPU: absolute times depend on "
        "what else ran, so each figure is given with its threads and, where the file "
        "records it, the load; the log compares changes by ratios taken in one "
        "process. See also [running on a CPU](cpu.md).", "",
        "## Seconds per epoch of the benchmark runs", "",
        "From the results files of `graphcl-rec bench` ([results page](results.md)): "
        "the median training seconds per epoch (a paused epoch moves a mean by its "
        "whole pause, the median barely), the mean seconds per evaluation of the "
        "selection split, and the process's peak memory (on CPU the peak resident "
        "memory, which carries over between runs made by one `bench` call).", ""]
    text += _bench_rows(results, root)
    figures = []
    if results:
        figures.append("seconds_per_epoch.png")
        text += ["", "![Seconds per epoch of every benchmark run]"
                     "(figures/seconds_per_epoch.png)"]
    text += ["", "## Runner measurements", "",
             "Every file the runner wrote with `--json` under `benchmarks/results/`, "
             "but the quality studies of the [robustness](robustness.md) and "
             "[uniformity](uniformity.md) pages, with its headline figures (`ab` "
             "files: each side's median and new / old; below 1, the new side is "
             "faster).", ""]
    text += _runner_lines(runner, root) or ["None yet.", ""]
    text += ["## Against RecBole and PyG", "",
             "Training seconds per epoch side by side with the peers on the same "
             f"split ({source_link('benchmarks/peers/README.md', root=root)}; the "
             "date is in each file's name).", ""]
    text += peers
    text += ["", "## The performance log", "",
             f"{source_link('benchmarks/PERF.md', root=root)} as committed: each "
             "change with the effect predicted and measured, the commit and load.", ""]
    text += _perf_log(root)

    def draw(out: Path) -> None:
        if results:
            _figure(results, out)

    return Page("docs/performance.md", "\n".join(text).rstrip() + "\n", figures, draw)
