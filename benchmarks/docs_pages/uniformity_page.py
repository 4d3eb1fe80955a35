"""``docs/uniformity.md``: the SimGCL paper's uniformity picture, from results files.

Reads ``benchmarks/results/uniformity/*.json`` (written by ``python -m
benchmarks.run uniformity``) and draws each file's figures with
``benchmarks.bench.uniformity_plot.draw``, the code the subcommand itself uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.docs_pages.common import (
    ROOT,
    Page,
    header,
    read_json,
    rel,
    short,
    source_link,
)

FOLDER = Path("benchmarks/results/uniformity")


def _files(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted((root / FOLDER).glob("*.json")):
        data = read_json(path)
        if isinstance(data, dict) and data.get("subcommand") == "uniformity":
            out.append((path, data))
    return out


def _order(rows: list[dict[str, Any]], key: str) -> list[str]:
    return [r["model"] for r in sorted(rows, key=lambda r: r[key])]


def _section(path: Path, data: dict[str, Any],
             root: Path) -> tuple[list[str], list[str]]:
    meta, rows = data["meta"], data["rows"]
    ds = meta.get("dataset", {})
    name = ds.get("name", path.stem)
    args = data.get("args", {})
    load = meta.get("load_average") or ["?"]
    lines = [f"## {name}", "",
             f"{source_link(path, rel(path, root), root)}: "
             f"`python -m benchmarks.run {' '.join(meta.get('argv', []))}`, run "
             f"{meta.get('date', '?')} at graphcl_rec `{short(meta.get('revision'))}` "
             f"on {meta.get('host', '?')} ({meta.get('cpu', '?')}, "
             f"{meta.get('cpus', '?')} CPUs, load {load[0]} at the start), torch "
             f"{meta.get('torch', '?')}, {meta.get('threads', '?')} thread(s).", "",
             f"Budget: at most {args.get('epochs', '?')} epochs per model, early "
             f"stopping on validation Recall@20 with patience "
             f"{args.get('patience', '?')}, best weights restored; "
             f"{ds.get('users', '?')}"
             f" users, {ds.get('items', '?')} items, {ds.get('train', '?')} / "
             f"{ds.get('val', '?')} / {ds.get('test', '?')} train / validation / test "
             f"pairs; t-SNE perplexity {args.get('perplexity', '?')}, "
             f"{args.get('tsne_iter', '?')} iterations, seed {args.get('seed', '?')}.",
             "",
             "| model | best / run epochs | test Recall@20 | test NDCG@20 | "
             "uniformity users | uniformity items | alignment (train pairs) | "
             "alignment (test pairs) | training s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['best_epoch']} / {r['epochs_run']} | "
            f"{r['test']['recall@20']:.4f} | {r['test']['ndcg@20']:.4f} | "
            f"{r['uniformity_user']:.3f} | {r['uniformity_item']:.3f} | "
            f"{r['alignment_train']:.3f} | {r['alignment_test']:.3f} | "
            f"{r['train_seconds']:.0f} |")
    lines += ["", "Models, as built from their `[model]` tables (the main job's "
              "ML-100K settings, `graphcl_rec.bench.main_job`), Adam at the learning "
              "rate given, batch 2048:", ""]
    for r in rows:
        table = ", ".join(f"{k}={v}" for k, v in r.get("table", {}).items())
        lines.append(f"* {r['model']}: lr={r.get('lr', '?')}, {table}")
    lines += ["", "From most to least uniform (lowest uniformity first): users "
              + " < ".join(_order(rows, "uniformity_user")) + "; items "
              + " < ".join(_order(rows, "uniformity_item"))
              + ". Best aligned on the test pairs (lowest first): "
              + " < ".join(_order(rows, "alignment_test")) + ".", ""]
    figures = []
    for plural in ("users", "items"):
        fig = f"uniformity_{name}_{plural}.png"
        figures.append(fig)
        lines += [f"![t-SNE of the {plural}' normalised embeddings on the unit circle, "
                  f"with density estimates](figures/{fig})", ""]
    return lines, figures


def build(root: Path = ROOT) -> Page:
    """The page, from every ``uniformity`` results file."""
    files = _files(root)
    text = header("Uniformity of the learned embeddings", [p for p, _ in files], root)
    text += [
        "SimGCL (Yu et al., SIGIR 2022) argues that what makes graph contrastive "
        "learning work for recommendation is less the augmented views than the "
        "InfoNCE term's push towards a *uniform* distribution of the normalised "
        "embeddings, which LightGCN alone does not have. It shows this by "
        "projecting the embeddings to the plane. These pictures repeat that "
        "experiment with this library's trained models.", "",
        "How they are made: each model is trained (below: the budget), its final "
        "user and item embeddings are L2-normalised and projected to 2-D with "
        "scikit-learn's t-SNE (`graphcl_rec.analysis.tsne_2d`), each projected "
        "point is moved to the unit circle, and a Gaussian kernel density estimate "
        "(`graphcl_rec.analysis.gaussian_kde`) is drawn over the plane (darker: "
        "more points) and over the points' angles. Uniformity (Wang & Isola, "
        "ICML 2020; `graphcl_rec.analysis.uniformity`, t = 2) is computed on the "
        "full 64-d normalised embeddings, not on the picture: 0 when every "
        "embedding points the same way, more negative the more they spread. "
        "Alignment (`graphcl_rec.analysis.alignment`) is the mean squared distance "
        "between the normalised embeddings of a user and an item it interacted "
        "with. t-SNE keeps neighbourhoods, not global geometry, so the pictures "
        "illustrate the numbers; the numbers are the measurement.", "",
        "Regenerate: `python -m benchmarks.run uniformity --threads 1` (then "
        f"`{'python -m benchmarks.docs_pages'}`).", ""]
    figures: list[str] = []
    for path, data in files:
        lines, figs = _section(path, data, root)
        text += lines
        figures += figs
    if not files:
        text += ["No uniformity results yet.", ""]

    def draw(out: Path) -> None:
        from benchmarks.bench.uniformity_plot import draw as draw_files

        for _, data in files:
            draw_files(data, out)

    return Page("docs/uniformity.md", "\n".join(text).rstrip() + "\n", figures, draw)
