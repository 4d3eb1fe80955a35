"""The ``robust`` report and comparison, made from the run JSON files alone.

:func:`report` reads ``<folder>/<dataset>/<model>-seed<N>.json`` and writes a
Markdown table per dataset (mean ± sample std over seeds, with the seeds each cell
has) with the flags of issue 18; :func:`compare` sets two such folders side by side.
Nothing here imports the library, so a report can be regenerated anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REFERENCE_ROWS = ("popularity", "lightgcn-1epoch", "lightgcn")
FLAGS = (("below popularity", "popularity"),
         ("below LightGCN 1-epoch", "lightgcn-1epoch"),
         ("worse than LightGCN", "lightgcn"))
"""``(column, reference model)``: a model is flagged when its mean test Recall@20
over seeds is below the reference's."""

METRIC = "recall@20"


def load(folder: Path) -> list[dict[str, Any]]:
    """Every run record directly under ``folder/<dataset>/``."""
    out = []
    for path in sorted(Path(folder).glob("*/*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and record.get("kind") == "robust-run":
            out.append(record)
    return out


Table = dict[str, dict[str, dict[int, dict[str, Any]]]]


def table(records: Iterable[dict[str, Any]]) -> Table:
    """``dataset -> model -> seed -> record``."""
    out: Table = defaultdict(lambda: defaultdict(dict))
    for r in records:
        out[r["dataset"]][r["model"]][int(r["seed"])] = r
    return out


def _order(models: Iterable[str]) -> list[str]:
    rest = [m for m in models if m not in REFERENCE_ROWS and m != "mf"]
    head = [m for m in ("popularity", "lightgcn-1epoch", "mf", "lightgcn")
            if m in models]
    return head + sorted(rest)


def _mean_sd(values: list[float]) -> tuple[float, float | None]:
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else None


def _fmt(values: list[float]) -> str:
    if not values:
        return "–"
    mean, sd = _mean_sd(values)
    return f"{mean:.4f}" + (f" ± {sd:.4f}" if sd is not None else "")


def _metric(runs: dict[int, dict[str, Any]], key: str = METRIC,
            part: str = "test") -> list[float]:
    return [float(runs[s][part][key]) for s in sorted(runs)
            if key in (runs[s].get(part) or {})]


def flag(runs: dict[int, dict[str, Any]], ref: dict[int, dict[str, Any]] | None
         ) -> dict[str, Any] | None:
    """Whether the mean test Recall@20 of ``runs`` is below ``ref``'s, the gap of
    the means, and in how many shared seeds the run is below the same seed's
    reference."""
    if not ref or not runs:
        return None
    mine, theirs = _metric(runs), _metric(ref)
    if not mine or not theirs:
        return None
    gap = statistics.fmean(mine) - statistics.fmean(theirs)
    shared = sorted(set(runs) & set(ref))
    below = sum(float(runs[s]["test"][METRIC]) < float(ref[s]["test"][METRIC])
                for s in shared)
    return {"flag": gap < 0, "gap": gap, "below": below, "shared": len(shared)}


def _flag_cell(f: dict[str, Any] | None) -> str:
    if f is None:
        return "–"
    word = "**yes**" if f["flag"] else "no"
    return f"{word} ({f['gap']:+.4f}; {f['below']}/{f['shared']} seeds)"


def _epochs(runs: dict[int, dict[str, Any]]) -> str:
    done = [r for r in runs.values() if r.get("epochs_run")]
    if not done:
        return "–"
    best = statistics.fmean(r["best_epoch"] or 0 for r in done)
    ran = statistics.fmean(r["epochs_run"] for r in done)
    capped = sum(bool(r.get("time_capped")) for r in done)
    return f"{best:.0f} / {ran:.0f}" + (f" ({capped} time cap)" if capped else "")


def _notes(runs: dict[int, dict[str, Any]]) -> str:
    kinds: dict[str, int] = defaultdict(int)
    for r in runs.values():
        for kind in {w["category"] for w in r.get("library_warnings") or []}:
            kinds[kind] += 1
    one = [s for s, r in runs.items() if r.get("best_epoch") == 1
           and r.get("epochs_run", 0) > 1]
    notes = [f"{k} in {n}/{len(runs)} runs" for k, n in sorted(kinds.items())]
    failed = sorted({r["failed"].split(":")[0] for r in runs.values()
                     if r.get("failed")})
    if failed:
        n = sum(bool(r.get("failed")) for r in runs.values())
        notes.insert(0, f"**failed** in {n}/{len(runs)} runs ({', '.join(failed)}; "
                        "counted as 0)")
    if one:
        notes.append(f"epoch 1 selected (seed {', '.join(map(str, one))})")
    return "; ".join(notes) or ""


def _distinct(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(v for v in values if v not in (None, "")))


def _header(records: list[dict[str, Any]], folder: Path) -> list[str]:
    metas = [r.get("meta", {}) for r in records]
    dates = sorted(m.get("date", "") for m in metas if m.get("date"))
    revisions = _distinct(f"`{m.get('revision') or '?'}` (graphcl_rec "
                          f"{m.get('graphcl_rec', '?')} at {m.get('library', '?')})"
                          for m in metas)
    runners = _distinct(f"`{m.get('runner_revision') or '?'}`" for m in metas)
    machines = _distinct(f"{m.get('host', '?')} ({m.get('cpu', '?')}, "
                         f"{m.get('cpus', '?')} CPUs), torch {m.get('torch', '?')}, "
                         f"{m.get('threads', '?')} threads, {m.get('device', 'cpu')}"
                         for m in metas)
    commands = _distinct(r.get("command") for r in records)
    settings = _distinct(json.dumps({k: v for k, v in r.get("settings", {}).items()
                                     if k not in ("dataset", "data_seed")},
                                    sort_keys=True) for r in records)
    budgets = _distinct(f"{r['settings']['budget_seconds']:g} s" for r in records
                        if "settings" in r)
    loads = [m["load_average"][0] for m in metas if m.get("load_average")]
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    lines = [
        f"Generated {now} from the {len(records)} run files in `{folder}` "
        f"(regenerate: `python -m benchmarks.run robust --report-only --out "
        f"{folder}`).", "",
        f"* Budget: **{', '.join(budgets) or '?'} of wall-clock time per run** "
        f"(`Trainer(max_seconds=...)`: the epoch that passes it finishes).",
        "* Commands: " + "; ".join(f"`{c}`" for c in commands),
        "* Library imported: " + "; ".join(revisions),
        "* Runner: " + ", ".join(runners),
        "* Machine: " + "; ".join(machines)
        + (f"; load average {min(loads):.1f}–{max(loads):.1f} at the runs' starts"
           if loads else ""),
        f"* Runs dated {dates[0] if dates else '?'} – {dates[-1] if dates else '?'}",
        "* Settings: " + "; ".join(f"`{s}`" for s in settings),
        "* Every model at its library defaults (LightGCN encoder, 64-d, 3 layers; MF "
        "for `mf`); epoch selected on validation Recall@20, test evaluated once "
        "with train and validation excluded. `popularity` ranks items by training "
        "degree; `lightgcn-1epoch` is LightGCN after exactly one epoch.",
        "* Cells: mean ± sample std of test figures over the seeds in the `seeds` "
        "column (no ± for a single seed). A flag is **yes** when the model's mean "
        "test Recall@20 is below the reference's; in brackets the gap of the means "
        "and in how many seeds the model is below the same seed's reference.",
        ""]
    return lines


def _violations(tab: Table) -> list[str]:
    lines = []
    for dataset in sorted(tab):
        models = tab[dataset]
        for model in _order(models):
            if model in REFERENCE_ROWS[:2]:
                continue
            hit = []
            for column, ref in FLAGS:
                if ref == model:
                    continue
                f = flag(models[model], models.get(ref))
                if f and f["flag"]:
                    hit.append(f"{column} ({f['gap']:+.4f})")
            if hit:
                lines.append(f"* {dataset} / {model}: " + ", ".join(hit))
    return lines


def report(folder: Path) -> str:
    """The Markdown report of every run in ``folder``."""
    folder = Path(folder)
    records = load(folder)
    out = ["# Robustness suite: every objective at its library defaults", ""]
    if not records:
        return "\n".join(out + [f"No run files in `{folder}` yet.", ""])
    out += _header(records, folder)
    tab = table(records)
    out += ["## Against the targets", "",
            "Issue 18's target: no objective below LightGCN's 1-epoch figure and "
            "none below popularity, on any dataset; where one is worse than "
            "LightGCN, the table says so.", ""]
    violations = _violations(tab)
    out += violations or ["* none: every model is at or above all three references."]
    out.append("")
    for dataset in sorted(tab, key=_dataset_key):
        models = tab[dataset]
        out += [f"## {dataset}", ""] + _dataset_lines(models) + [
            "| model | seeds | test Recall@20 | test NDCG@20 | validation Recall@20 "
            "(best) | best / run epochs | s / run | "
            + " | ".join(c for c, _ in FLAGS) + " | notes |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
        for model in _order(models):
            runs = models[model]
            cells = []
            for _, ref in FLAGS:
                if model == ref or (model == "popularity") or (
                        model == "lightgcn-1epoch" and ref == "lightgcn"):
                    cells.append("(reference)" if model == ref else "–")
                else:
                    cells.append(_flag_cell(flag(runs, models.get(ref))))
            name = f"{model} (reference)" if model in REFERENCE_ROWS else model
            seconds = statistics.fmean(float(r.get("seconds", 0))
                                       for r in runs.values())
            out.append(
                f"| {name} | {len(runs)}: {','.join(map(str, sorted(runs)))} | "
                f"{_fmt(_metric(runs))} | {_fmt(_metric(runs, 'ndcg@20'))} | "
                f"{_fmt(_metric(runs, METRIC, 'val_best'))} | {_epochs(runs)} | "
                f"{seconds:.1f} | " + " | ".join(cells) + f" | {_notes(runs)} |")
        constructors = _distinct(f"`{m}`: `{r.get('constructor')}`"
                                 for m in _order(models) for r in models[m].values()
                                 if m not in ("popularity",))
        out += ["", "<details><summary>constructors</summary>", "",
                *(f"* {c}" for c in constructors), "", "</details>", ""]
    return "\n".join(out)


def _dataset_key(name: str) -> tuple[int, str]:
    order = ("ml-100k", "ml-100k-pos", "gowalla-2k", "yelp-5k", "synthetic")
    return (order.index(name) if name in order else len(order), name)


def _dataset_lines(models: dict[str, dict[int, dict[str, Any]]]) -> list[str]:
    infos = _distinct(json.dumps(r.get("dataset_info", {}), sort_keys=True)
                      for runs in models.values() for r in runs.values())
    lines = []
    for text in infos:
        i = json.loads(text)
        if not i:
            continue
        lines.append(
            f"{i.get('description', '')}: {i['users']:,} users x {i['items']:,} "
            f"items, {i['pairs']:,} pairs (density {i['density']:.4%}); user degree "
            f"mean {i['user_degree_mean']:.1f}, median {i['user_degree_median']:g}; "
            f"item degree mean {i['item_degree_mean']:.1f}, median "
            f"{i['item_degree_median']:g}; split {i['train']:,} / {i['val']:,} / "
            f"{i['test']:,} (data seed {i['data_seed']}, fingerprint "
            f"`{i['fingerprint']}`).")
        lines.append("")
    return lines


# --- two folders side by side -------------------------------------------------------

def _side(folder: Path) -> tuple[list[dict[str, Any]], Table]:
    records = load(folder)
    return records, table(records)


def _flags_short(models: dict[str, dict[int, dict[str, Any]]], model: str) -> str:
    if model not in models or model == "popularity":
        return "–"
    short = {"popularity": "< pop", "lightgcn-1epoch": "< 1-ep",
             "lightgcn": "< LightGCN"}
    hit = [short[ref] for _, ref in FLAGS if ref != model and model != "popularity"
           and not (model == "lightgcn-1epoch" and ref == "lightgcn")
           and (flag(models[model], models.get(ref)) or {}).get("flag")]
    return ", ".join(hit) or "ok"


def compare(before: Path, after: Path) -> str:
    """Markdown: the runs of ``before`` and ``after`` side by side."""
    rec_b, tab_b = _side(Path(before))
    rec_a, tab_a = _side(Path(after))
    out = [f"# Robustness suite: `{before}` (before) against `{after}` (after)", ""]
    for label, folder, records in (("before", before, rec_b), ("after", after, rec_a)):
        revs = _distinct(r.get("meta", {}).get("revision") for r in records)
        budgets = _distinct(r.get("settings", {}).get("budget_seconds")
                            for r in records)
        out.append(f"* {label}: `{folder}`, {len(records)} runs, library "
                   f"{', '.join(f'`{v}`' for v in revs) or '?'}, budget "
                   f"{', '.join(f'{b:g} s' for b in budgets) or '?'}")
    out += ["", "Cells: mean ± std of test Recall@20 over the seeds each side has "
            "(n in brackets); Δ = after − before of the means. Flags: `< pop` below "
            "popularity, `< 1-ep` below LightGCN after one epoch, `< LightGCN` below "
            "LightGCN, each on the mean.", ""]
    for dataset in sorted(set(tab_a) | set(tab_b), key=_dataset_key):
        mb, ma = tab_b.get(dataset, {}), tab_a.get(dataset, {})
        out += [f"## {dataset}", ""]
        prints = {side: _distinct(r.get("dataset_info", {}).get("fingerprint")
                                  for runs in m.values() for r in runs.values())
                  for side, m in (("before", mb), ("after", ma))}
        if prints["before"] and prints["after"] and prints["before"] != prints["after"]:
            out += [f"**The two sides hold different data** (fingerprints "
                    f"{prints['before']} / {prints['after']}).", ""]
        out += ["| model | before Recall@20 | after Recall@20 | Δ | before NDCG@20 | "
                "after NDCG@20 | best / run epochs before → after | flags before | "
                "flags after |",
                "|---|---|---|---|---|---|---|---|---|"]
        for model in _order(set(mb) | set(ma)):
            rb, ra = mb.get(model, {}), ma.get(model, {})
            vb, va = _metric(rb), _metric(ra)
            delta = (f"{statistics.fmean(va) - statistics.fmean(vb):+.4f}"
                     if va and vb else "–")
            out.append(
                f"| {model} | {_fmt(vb)} ({len(vb)}) | {_fmt(va)} ({len(va)}) | "
                f"{delta} | {_fmt(_metric(rb, 'ndcg@20'))} | "
                f"{_fmt(_metric(ra, 'ndcg@20'))} | {_epochs(rb)} → {_epochs(ra)} | "
                f"{_flags_short(mb, model)} | "
                f"{_flags_short(ma, model)} |")
        out.append("")
    changed = _changed_defaults(rec_b, rec_a)
    out += ["## Defaults that differ", ""]
    out += changed or ["* none (the objectives' signatures have the same defaults)."]
    out.append("")
    return "\n".join(out)


def _changed_defaults(before: list[dict[str, Any]], after: list[dict[str, Any]]
                      ) -> list[str]:
    def defaults(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {r["model"]: r.get("defaults") or {} for r in records}

    db, da = defaults(before), defaults(after)
    lines = []
    for model in _order(set(db) & set(da)):
        diff = [f"{k} {db[model].get(k, '(none)')} → {da[model].get(k, '(none)')}"
                for k in sorted(set(db[model]) | set(da[model]))
                if db[model].get(k, "(none)") != da[model].get(k, "(none)")]
        if diff:
            lines.append(f"* {model}: " + ", ".join(diff))
    return lines
