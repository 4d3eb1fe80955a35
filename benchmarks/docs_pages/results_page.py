"""``docs/results.md``: the reproduction table, sparsity groups and training curves.

The tables are :mod:`graphcl_rec.bench.report`'s (the same code that writes
``benchmarks/RESULTS.md`` after every ``graphcl-rec bench``), the figures
:mod:`graphcl_rec.bench.plots`', all from the results JSON files under
``benchmarks/results/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.docs_pages.common import (
    ROOT,
    Page,
    commit_date,
    header,
    rel,
    repo_url,
    short,
    source_link,
)

IGNORED = "benchmarks/results/tmp/"
"""Scratch results (git-ignored) never reach a page."""


def _datasets(results: list[dict[str, Any]]) -> list[str]:
    return sorted({r["config"]["data"].get("dataset") or "custom" for r in results})


def _provenance(results: list[dict[str, Any]], root: Path) -> list[str]:
    from graphcl_rec.bench.devices import device_cell

    lines = ["| results file | protocol | device | threads | allocator | torch | "
             "platform | graphcl_rec commit | commit date | finished (UTC) |",
             "|" + "---|" * 10]
    for r in sorted(results, key=lambda r: r["path"]):
        path = rel(Path(r["path"]), root)
        dev = r.get("device", {})
        versions = r.get("versions", {})
        finished = (r.get("finished_at") or "—").replace("T", " ").removesuffix(
            "+00:00")
        lines.append(
            f"| {source_link(path, Path(path).name, root)} | {r['protocol']} | "
            f"{device_cell([r])} "
            f"| {dev.get('threads', '?')} | {_allocator(r)} | "
            f"{versions.get('torch', '?')} | "
            f"{versions.get('platform', '?')} | `{short(r.get('git_revision'))}` | "
            f"{commit_date(r.get('git_revision'), root)} | {finished} |")
    return lines


def _allocator(r: dict[str, Any]) -> str:
    """``held`` (glibc's thresholds fixed by the run), else ``system``.

    Examples:
        >>> _allocator({"allocator": {"allocator": "glibc"}}), _allocator({})
        ('held', 'system')
    """
    from graphcl_rec.bench.devices import timing_key

    return "held" if timing_key(r)[3] == "glibc" else "system"


def _link_files(lines: list[str], root: Path) -> list[str]:
    """The report's links to results files, pointed at the forge."""
    base = f"{repo_url(root)}/blob/main/"
    return [re.sub(r"\]\((benchmarks/)", lambda m: f"]({base}{m[1]}", line)
            for line in lines]


def _reference_line(ref: dict[str, Any], root: Path) -> str:
    """One bullet: a published log, where it is, what command made it."""
    src = ref["source"]
    url = f"https://github.com/{src['repo']}/blob/{src['commit']}/{src['path']}"
    return (f"* {ref['name']} ({ref['dataset']}): [`{src['repo']}/{src['path']}`]"
            f"({url}) at `{src['commit'][:7]}`, `{src['command']}`; "
            f"{ref.get('note', '')} Points: "
            f"{source_link(rel(Path(ref['path']), root), root=root)}.")


def _peer_line(ref: dict[str, Any], root: Path) -> str:
    """One bullet: a peer library's run on this machine, and how far it went."""
    done = len(ref.get("history") or [])
    planned = ref.get("config", {}).get("max.epoch", "?")
    state = ("finished" if ref.get("finished")
             else f"stopped after epoch {done} of {planned}")
    commit = (ref.get("commit") or "?")[:7]
    model = ref.get("selfrec_model", ref["model"])
    return (f"* {ref['name']} ({ref['dataset']}): {ref.get('library', 'peer')} at "
            f"`{commit}`, model `{model}` with its own configuration, "
            f"{ref.get('threads', '?')} thread(s), {state}; "
            f"{ref.get('stopped_note', '')} Points: "
            f"{source_link(rel(Path(ref['path']), root), root=root)}.")


def build(root: Path = ROOT) -> Page:
    """The page, from every results file under ``benchmarks/results/``."""
    from graphcl_rec.bench.challengers import challenger_table
    from graphcl_rec.bench.plots import curve_figures, plot_curves, plot_sparsity
    from graphcl_rec.bench.quality import is_peer_run, quality_table
    from graphcl_rec.bench.report import (
        CHALLENGER_NOTE,
        PUBLISHED,
        QUALITY_NOTE,
        SELECTION_NOTE,
        VARIANT_NOTE,
        VARIANT_TIME_NOTE,
        is_selection,
        load_references,
        load_results,
        results_table,
        sparsity_table,
        stopped_by,
    )
    from graphcl_rec.bench.variants import variant_table, variant_time_table

    results = [r for r in load_results(root / "benchmarks" / "results")
               if not rel(Path(r["path"]), root).startswith(IGNORED)]
    folder = root / "benchmarks" / "results"
    references = load_references(folder)
    sources = [Path(r["path"]) for r in [*results, *references]]
    with_groups = _datasets([r for r in results if r.get("sparsity")])
    text = header("Reproduction results", sources, root)
    text += [
        f"Every row below is a run of `graphcl-rec bench` whose results file is in "
        f"{source_link('benchmarks/results', '`benchmarks/results/`', root)} "
        f"({len(results)} files; the seed links open them). "
        "`legacy` selects the epoch on the test split, as the papers did, and is "
        "only for comparison with their numbers; `validated` selects on a "
        "validation split carved from the training data and evaluates test once "
        "([why the difference matters](tutorials/06-reproducing.md)). A run "
        "stopped by a time budget has not converged, so its gap to a published "
        "number is not a reproduction result. How each config was checked against "
        f"the authors' code: {source_link('benchmarks/REPRODUCTION.md', root=root)}.",
        "", "## Against the published figures", ""]
    main = [r for r in results if not is_selection(r, folder)]
    tuning = [r for r in results if is_selection(r, folder)]
    text += _link_files(results_table(main, root), root) if main else [
        "No results files yet."]
    text += ["", "The published figures are those of the papers' tables (LightGCN: "
             "He et al., SIGIR 2020; SGL: Wu et al., SIGIR 2021; SimGCL: Yu et al., "
             "SIGIR 2022; XSimGCL: Yu et al., TKDE 2023; DirectAU, NCL and MixGCF: the "
             "SELFRec leaderboard, which ran them on the same split). Speed columns "
             "are explained on the [performance page](performance.md).", ""]
    challengers = challenger_table(main, PUBLISHED, stopped_by, root)
    if challengers:
        text += ["## Beyond the published table", "", CHALLENGER_NOTE, ""]
        text += _link_files(challengers, root) + [""]
    variants = variant_table(main, root)
    if variants:
        text += ["## Variants against their base configs", "", VARIANT_NOTE, ""]
        text += _link_files(variants, root) + [""]
        text += ["## Variants: time to their base's level", "", VARIANT_TIME_NOTE, ""]
        text += _link_files(variant_time_table(main, root), root) + [""]
    if tuning:
        text += ["## Selection runs", "", SELECTION_NOTE, ""]
        text += _link_files(results_table(tuning, root), root) + [""]
    text += ["## Where and when each run was made", "",
             "The results files record the revision of the code the run's process "
             "loaded, its device (the CPU model from the files that name it), threads "
             "and versions, and (newer files) its allocator setting and when the run "
             "finished; an older file is dated by its commit only (it ran that day or "
             "later) and ran with the system's allocator.", ""]
    text += _provenance(results, root)
    quality = quality_table(main, PUBLISHED, references)
    if quality:
        text += ["", "## Time to quality", "", QUALITY_NOTE + " A run whose row says "
                 "\"not reached\" under 100 % and that stopped by a time budget may "
                 "still reach it. Rows on the authors' hardware are read from the "
                 "per-epoch logs their repositories publish (below): their epochs "
                 "compare with ours, their minutes do not. Rows on \"cpu (… code, N "
                 "threads)\" are a peer library's code run on this machine "
                 "(`benchmarks/peers/`), beside this library's runs: their minutes "
                 "compare with ours.", ""] + quality
        logs = [r for r in references if not is_peer_run(r)]
        peers = [r for r in references if is_peer_run(r)]
        if logs:
            text += ["", "Published logs read:", ""] + [_reference_line(ref, root)
                                                         for ref in logs]
        if peers:
            text += ["", "Peer runs on this machine:", ""] + [_peer_line(ref, root)
                                                              for ref in peers]
    text += ["", "## Sparsity groups", "",
             "Test Recall@20 of the test users split into quartiles by their "
             "number of training pairs (degree range in brackets), one row per run. "
             "Contrastive objectives are argued to help the sparse users (Q1) most.",
             ""]
    text += sparsity_table(results)
    figures = []
    for ds in with_groups:
        figures.append(f"sparsity_{ds}.png")
        text += ["", f"![Test Recall@20 by training-degree quartile on {ds}]"
                     f"(figures/sparsity_{ds}.png)"]
    text += ["", "## Training curves", "",
             "Recall@20 on the selection split after every evaluated epoch, against "
             "the epoch and against wall-clock minutes of training and evaluation, "
             "from each run's per-epoch history (the records its `*.epochs.jsonl` "
             "log holds); one figure per dataset and protocol, since a `legacy` "
             "curve is test Recall@20 and a `validated` one is Recall@20 on a "
             "validation split, on another scale. Wall-clock curves of runs on "
             "different machines, or on a shared one, are not a speed comparison. "
             "Dashed grey lines (legacy figures only) are the authors' published "
             "logs and peer code run here (listed under the time-to-quality "
             "table), test Recall@20 at their evaluated epochs.", ""]
    for ds, protocol, name in curve_figures(main):
        figures.append(name)
        text += [f"![{protocol.capitalize()} Recall@20 per epoch and per minute on "
                 f"{ds}](figures/{name})", ""]

    def draw(out: Path) -> None:
        plot_curves(main, out, references)
        plot_sparsity(results, out)

    return Page("docs/results.md", "\n".join(text).rstrip() + "\n", figures, draw)
