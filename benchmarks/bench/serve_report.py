"""The serving benchmarks' results page, generated from their JSON files only.

``python -m benchmarks.bench.serve_report [FOLDER]`` reads every ``*.json`` that
``foldin``, ``update``, ``ann``, ``latency``, ``ab`` or ``serve-load`` wrote into
``FOLDER`` (default ``benchmarks/results/serving``) and writes ``FOLDER/README.md``:
per file the command, date, revision, threads and machine load, a table of its main
results (not for ``serve-load``) and the list of every figure it recorded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parents[1] / "results" / "serving"
ORDER = ("foldin", "update", "ann", "latency", "ab", "serve-load")
TITLES = {"foldin": "Fold-in of users held out of training",
          "update": "New feedback: no update, fold-in, update, retrain",
          "ann": "Exported faiss index against exact top-K",
          "latency": "Exact recommend() latency and throughput",
          "ab": "Before and after (ab: the library at --old against the working tree)",
          "serve-load": "The HTTP service under load"}


def num(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(num(c) for c in row) + " |" for row in rows]
    return out + [""]


def foldin(data: dict[str, Any]) -> list[str]:
    rows = []
    for row in data["rows"]:
        if row["model"] == "popularity":
            pop = row["held_out"]
            rows.append(["popularity", "", pop["recall@20"], pop["ndcg@20"], "", "",
                         ""])
            continue
        ref = row["trained_normally"]
        normal, fold = row["normal_training"], row["foldin_model_training"]
        rows.append([row["model"], f"trained normally ({normal['epochs_run']} epochs, "
                     f"{normal['seconds']:.0f} s; the fold-in model: "
                     f"{fold['epochs_run']} epochs, {fold['seconds']:.0f} s)",
                     ref["recall@20"], ref["ndcg@20"], 1.0, "", ""])
        for v in row["variants"]:
            label = ", ".join(f"{k}={x}" for k, x in v["options"].items())
            diff = v.get("minus_trained_normally")
            shown = "" if diff is None else (
                f"{diff['mean']:+.4f} [{diff['ci95'][0]:+.4f}, {diff['ci95'][1]:+.4f}]")
            rows.append([row["model"], f"fold-in ({label})", v["recall@20"],
                         v["ndcg@20"], v["recall@20"] / ref["recall@20"], shown,
                         f"{v['ms_per_user']:.2f}"])
    return table(["model", "held-out users", "Recall@20", "NDCG@20",
                  "/ trained normally", "per-user Recall@20 difference [95 % CI]",
                  "fold-in ms/user (batch)"], rows)


def update(data: dict[str, Any]) -> list[str]:
    rows = [[r["variant"], _mean(r["runs"], "recall@20"), _mean(r["runs"], "ndcg@20"),
             _mean(r["runs"], "recall@20 new"), _mean(r["runs"], "recall@20 returning"),
             r["recall_share"], _mean(r["runs"], "seconds"), r["time_share"]]
            for r in data["rows"] if "variant" in r]
    out = table(["variant", "Recall@20", "NDCG@20", "Recall@20 new users",
                 "Recall@20 returning users", "/ retrain", "seconds",
                 "/ retrain seconds"], rows)
    val = next(r["validation"] for r in data["rows"] if "validation" in r)
    out += [f"Validation (train + the feedback's first half, scored on its second "
            f"half; retrain Recall@20 {val['retrain']['recall@20']:.4f} in "
            f"{val['retrain']['seconds']:.1f} s); chosen: epochs "
            f"{val['chosen']['epochs']}, lr {val['chosen']['lr']:g}.", ""]
    out += table(["epochs", "lr", "val Recall@20", "/ retrain", "/ retrain seconds"],
                 [[g["epochs"], g["lr"], g["recall@20"], g["recall_share"],
                   g["time_share"]] for g in val["grid"]])
    return out


def ann(data: dict[str, Any]) -> list[str]:
    k = data["args"]["k"]
    rows = [[r["reference"], "exact", r["median"], r["p99"], ""]
            for r in data["rows"] if "reference" in r]
    for r in data["rows"]:
        if "ef" in r:
            name = ("HNSW M=32 L2 after MIPS-to-L2 (not exported)" if r["m"] == "l2"
                    else f"HNSW M={r['m']}" + (" (exported)" if r["exported"] else ""))
            rows.append([f"{name} efSearch={r['ef']}", r["recall"],
                         r["latency"]["median"], r["latency"]["p99"], r["batch_qps"]])
            if "exclude_seen" in r:
                ex = r["exclude_seen"]
                rows.append([f"{name} efSearch={r['ef']}, seen excluded (over-fetch)",
                             ex["recall"], ex["latency"]["median"],
                             ex["latency"]["p99"], ""])
    return table(["index", f"recall@{k} vs exact", "median ms", "p99 ms",
                  "batch queries/s"], rows)


def latency(data: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for row in data["rows"]:
        if "stages" in row:
            out += ["Steps of the single-user path, each timed alone:", ""]
            out += table(["step", "median ms", "p99 ms"],
                         [[n, t["median"], t["p99"]] for n, t in row["stages"].items()])
        if "recommender" in row:
            out += [f"Recommender: {row['recommender']}.", ""]
    return out


def _mean(runs: list[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in runs if key in r]
    return sum(values) / len(values) if values else ""


def ab(data: dict[str, Any]) -> list[str]:
    names = [n.removesuffix(" old") for n in data["figures"] if n.endswith(" old")]
    fig = data["figures"]
    rows = [[n, fig[f"{n} old"]["value"], fig[f"{n} new"]["value"],
             fig[f"{n} new/old"]["value"], fig[f"{n} old"]["unit"]] for n in names]
    sides = data["rows"][0]["sides"] if data["rows"] else {}
    old, new = (sides.get(k, {}).get("rev", "?") for k in ("old", "new"))
    return ([f"Medians over the rounds; old: {old}, new: {new}.", ""]
            + table(["figure", "old", "new", "new / old", "unit"], rows))


TABLES = {"foldin": foldin, "update": update, "ann": ann, "latency": latency,
          "ab": ab}


def section(path: Path, data: dict[str, Any]) -> list[str]:
    meta = data["meta"]
    command = " ".join(["python -m benchmarks.run", *meta["argv"]])
    out = [f"## {TITLES[data['subcommand']]}: `{path.name}`", "",
           "```bash", command, "```", "",
           f"{meta['date']}, {meta['host']} ({meta['cpu']}, {meta['cpus']} CPUs, load "
           f"average {', '.join(map(str, meta['load_average']))} at the start), "
           f"torch {meta['torch']}, {meta['threads']} thread(s), graphcl_rec "
           f"{meta['revision']}.", ""]
    out += TABLES.get(data["subcommand"], lambda _: [])(data)
    out += ["<details><summary>Every figure</summary>", ""]
    out += table(["figure", "value", "unit"],
                 [[n, f["value"], f["unit"]] for n, f in data["figures"].items()])
    return out + ["</details>", ""]


def render(folder: Path) -> str:
    found = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("subcommand") in ORDER:
            found.append((ORDER.index(data["subcommand"]), path.name, path, data))
    lines = ["# Serving benchmarks (issue 19)", "",
             "Generated by `python -m benchmarks.bench.serve_report` from the JSON "
             "files in this folder; every number below is read from them. The "
             "subcommands are described in `benchmarks/README.md` and in their "
             "modules (`benchmarks/bench/serve_*.py`). Times are wall-clock on a "
             "shared machine (the load average each run started at is given): "
             "compare times within one file, not across files.", ""]
    for _, _, path, data in sorted(found, key=lambda f: f[:2]):
        lines += section(path, data)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> Path:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else FOLDER
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such folder")
    out = folder / "README.md"
    out.write_text(render(folder))
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
