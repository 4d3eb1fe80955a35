"""The ``diagnose`` part of ``docs/robustness.md``: a table and a figure per file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.docs_pages.common import (
    pyplot,
    read_json,
    rel,
    save,
    short,
    source_link,
)

FOLDER = Path("benchmarks/results/robustness")
COLUMNS = (("bpr", "BPR term", 3), ("bpr_grad_share", "BPR share of the gradient", 3),
           ("grad_cos", "cos(g_BPR, g_SSL)", 2), ("user_norm", "mean ‖e‖ users", 2),
           ("item_norm", "mean ‖e‖ items", 2), ("val_recall@20", "val Recall@20", 3))


def _files(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted((root / FOLDER).glob("diagnose_*.json")):
        data = read_json(path)
        if isinstance(data, dict) and data.get("subcommand") == "diagnose":
            out.append((path, data))
    return out


def _lines(path: Path, data: dict[str, Any], root: Path) -> list[str]:
    meta = data["meta"]
    rows = data["rows"]
    last = max(r["epoch"] for r in rows)
    lines = [f"{source_link(path, rel(path, root), root)}: "
             f"`python -m benchmarks.run {' '.join(meta.get('argv', []))}`, run "
             f"{meta.get('date', '?')} at graphcl_rec `{short(meta.get('revision'))}`, "
             f"{meta.get('threads', '?')} thread(s), load "
             f"{(meta.get('load_average') or ['?'])[0]} at the start. Variants are "
             "`objective:init:ssl_warmup`; per-epoch means over the epoch's steps, "
             f"shown for the first and last ({last}) epochs.", "",
             "| variant | epoch | " + " | ".join(c[1] for c in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for r in rows:
        if r["epoch"] in (1, last):
            cells = [f"{r[k]:.{d}f}" if k in r else "–" for k, _, d in COLUMNS]
            lines.append(f"| {r['variant']} | {r['epoch']} | " + " | ".join(cells)
                         + " |")
    return lines + [""]


def _figure(files: list[tuple[Path, dict[str, Any]]], out: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for _, data in files:
        curves: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in data["rows"]:
            curves[r["variant"]].append(r)
        for variant, rows in curves.items():
            rows.sort(key=lambda r: r["epoch"])
            epochs = [r["epoch"] for r in rows]
            axes[0].plot(epochs, [r["bpr_grad_share"] for r in rows], marker="o",
                         label=variant)
            axes[1].plot(epochs, [r["val_recall@20"] for r in rows], marker="o",
                         label=variant)
    axes[0].set_ylabel("BPR share of the embedding gradient")
    axes[1].set_ylabel("validation recall@20")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, out / "robustness_diagnose.png")


def diagnose_part(root: Path) -> tuple[list[str], list[Path],
                                       Callable[[Path], None]]:
    """``(Markdown lines, source files, draw)``; no lines without a file."""
    files = _files(root)
    lines: list[str] = []
    for path, data in files:
        lines += _lines(path, data, root)
    if files:
        lines += ["![BPR's share of the gradient and validation Recall@20 per epoch]"
                  "(figures/robustness_diagnose.png)"]

    def draw(out: Path) -> None:
        if files:
            _figure(files, out)

    return lines, [p for p, _ in files], draw
