"""Hand-written pieces against the package that would replace them, one process.

Usage:
    python -m benchmarks.handwritten_timing [--threads 1] [--rounds 3]
        [--rows 1000000] [--out benchmarks/results/handwritten]

Three comparisons for ``docs/design-choices.md``, each alternating the two (or
three) implementations round by round so that they share the machine's load, and
each checking that they agree before timing:

* ``read``: ``data.load_interactions`` against ``pandas.read_csv`` followed by
  the same deduplication, first-appearance re-indexing and ``(user, item)``
  order, and against a plain ``csv.reader`` loop; on the packaged ML-100K file
  and on ``--rows`` synthetic rows. pandas is optional (put it on ``PYTHONPATH``).
* ``k_core``: ``data.k_core`` against ``networkx.k_core`` of the bipartite graph
  (equal thresholds for users and items, where the two are the same filter).
* ``clustering``: ``analysis.graph_stats.latapy_clustering`` against
  ``networkx.bipartite.latapy_clustering`` on sampled users.

Writes ``timing.json`` (medians, ratios, versions, command, revision, load) and a
Markdown table generated from it (``README.md``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.resources
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import torch

from benchmarks.bench.common import meta
from graphcl_rec.analysis.graph_stats import latapy_clustering, to_networkx
from graphcl_rec.data import k_core, load_interactions


def race(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median seconds of each function, the order alternating round by round."""
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            fns[name]()
            seconds[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in seconds.items()}


def read_pandas(path: Path, sep: str) -> tuple[torch.Tensor, torch.Tensor]:
    import pandas as pd

    df = pd.read_csv(path, sep=sep, dtype={"user": str, "item": str})
    df = df.drop_duplicates(["user", "item"])
    users, _ = pd.factorize(df["user"])
    items, _ = pd.factorize(df["item"])
    order = np.lexsort((items, users))
    return torch.from_numpy(users[order]), torch.from_numpy(items[order])


def read_csv_module(path: Path, sep: str) -> tuple[torch.Tensor, torch.Tensor]:
    opener = gzip.open if path.suffix == ".gz" else open
    user_ids: dict[str, int] = {}
    item_ids: dict[str, int] = {}
    seen: dict[tuple[int, int], None] = {}
    with opener(path, "rt", newline="") as fh:
        rows = csv.reader(fh, delimiter=sep)
        next(rows)
        for row in rows:
            u = user_ids.setdefault(row[0].strip(), len(user_ids))
            i = item_ids.setdefault(row[1].strip(), len(item_ids))
            float(row[2]), float(row[3])
            seen.setdefault((u, i))
    pairs = torch.tensor(sorted(seen), dtype=torch.long)
    return pairs[:, 0], pairs[:, 1]


def synthetic_file(folder: Path, rows: int) -> Path:
    g = np.random.default_rng(0)
    path = folder / "synthetic.csv"
    users = g.integers(0, max(rows // 20, 1), rows)  # 20 rows a user on average
    items = (50_000 * g.random(rows) ** 3).astype(np.int64)  # a few popular items
    data = np.column_stack([users, items, g.integers(1, 6, rows),
                            g.integers(10**9, 2 * 10**9, rows)])
    np.savetxt(path, data, fmt="%d", delimiter=",", header="user,item,rating,timestamp",
               comments="")
    return path


def time_reads(files: dict[str, tuple[Path, str]], rounds: int) -> list[dict]:
    out = []
    for name, (path, sep) in files.items():
        ours = load_interactions(path, sep=sep)
        fns: dict[str, Callable[[], Any]] = {
            "graphcl_rec": lambda p=path, s=sep: load_interactions(p, sep=s),
            "csv_module": lambda p=path, s=sep: read_csv_module(p, s)}
        want = (ours.user, ours.item)
        for other in ["csv_module"] + (["pandas"] if _has("pandas") else []):
            if other == "pandas":
                fns["pandas"] = lambda p=path, s=sep: read_pandas(p, s)
            got = fns[other]()
            assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]), other
        seconds = race(fns, rounds)
        out.append({"case": f"read {name}", "rows": len(ours),
                    "seconds": seconds, "ratio_to_graphcl_rec": _ratios(seconds)})
    return out


def time_k_core(inter: Any, name: str, k: int, rounds: int) -> dict:
    ours = k_core(inter, user_k=k, item_k=k)
    graph = to_networkx(inter)
    assert nx.k_core(graph, k).number_of_edges() == len(ours)
    seconds = race({"graphcl_rec": lambda: k_core(inter, user_k=k, item_k=k),
                    "networkx": lambda: nx.k_core(to_networkx(inter), k)}, rounds)
    return {"case": f"k_core {name} k={k}", "pairs": len(inter),
            "seconds": seconds, "ratio_to_graphcl_rec": _ratios(seconds),
            "note": "networkx includes building its graph from the pairs"}


def time_clustering(inter: Any, name: str, sample: int, rounds: int) -> dict:
    nodes = torch.randperm(inter.num_users, generator=torch.Generator().manual_seed(0))
    nodes = nodes[:sample].sort().values
    graph = to_networkx(inter)
    ours = latapy_clustering(inter, nodes, "users")
    want = nx.bipartite.latapy_clustering(graph, nodes=nodes.tolist(), mode="dot")
    torch.testing.assert_close(ours, torch.tensor([want[v] for v in nodes.tolist()],
                                                  dtype=ours.dtype))
    seconds = race({
        "graphcl_rec": lambda: latapy_clustering(inter, nodes, "users"),
        "networkx": lambda: nx.bipartite.latapy_clustering(
            graph, nodes=nodes.tolist(), mode="dot")}, rounds)
    return {"case": f"latapy_clustering {name} {sample} users",
            "pairs": len(inter), "seconds": seconds,
            "ratio_to_graphcl_rec": _ratios(seconds),
            "note": "networkx's graph is built once, outside the timing"}


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _ratios(seconds: dict[str, float]) -> dict[str, float]:
    return {k: round(v / seconds["graphcl_rec"], 2) for k, v in seconds.items()}


def markdown(result: dict) -> str:
    """The table of ``timing.json`` (README.md beside it)."""
    m = result["meta"]
    lines = [
        "# Hand-written pieces against packages (generated by "
        "`benchmarks/handwritten_timing.py`)", "",
        f"Command: `{m['command']}`; revision {m['revision']}, {m['date']}, "
        f"{m['cpu']} ({m['cpus']} CPUs, shared: load average {m['load_average']} "
        f"at the start), {m['threads']} thread(s), torch {m['torch']}, "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items()
                    if not k.endswith("_path")) + ".", "",
        "Medians of the rounds, the implementations alternating in one process; each "
        "pair agreed on its output before the timing. The machine was shared, so "
        "read the ratios, not the seconds.", "",
        "| case | size | implementation | seconds | × graphcl_rec |",
        "|---|---|---|---|---|"]
    for row in result["rows"]:
        size = row.get("rows", row.get("pairs"))
        for name, sec in row["seconds"].items():
            lines.append(f"| {row['case']} | {size} | {name} | {sec:.3f} | "
                         f"{row['ratio_to_graphcl_rec'][name]:.2f} |")
    notes = [f"- {r['case']}: {r['note']}" for r in result["rows"] if "note" in r]
    return "\n".join(lines + [""] + notes) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/handwritten"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    result: dict[str, Any] = {"meta": meta(), "versions": {"networkx": nx.__version__}}
    result["meta"]["machine_note"] = "shared machine: compare ratios, not seconds"
    result["meta"]["command"] = "python -m benchmarks.handwritten_timing " + " ".join(
        result["meta"]["argv"])
    if _has("pandas"):
        import pandas as pd

        result["versions"]["pandas"] = pd.__version__
        result["versions"]["pandas_path"] = str(Path(pd.__file__).parent)
        if not pd.__file__.startswith(sys.prefix):  # from PYTHONPATH, not installed
            where, command = Path(pd.__file__).parent.parent, result["meta"]["command"]
            result["meta"]["command"] = f"PYTHONPATH={where} {command}"
    ml100k = importlib.resources.files("graphcl_rec") / "datasets_data"
    ml100k_path = Path(str(ml100k / "ml-100k.ratings.tsv.gz"))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {"ml-100k (tsv.gz)": (ml100k_path, "\t"),
                 f"synthetic {args.rows} rows (csv)": (
                     synthetic_file(Path(tmp), args.rows), ",")}
        rows += time_reads(files, args.rounds)
        big = load_interactions(files[f"synthetic {args.rows} rows (csv)"][0])
    inter = load_interactions(ml100k_path)
    rows.append(time_k_core(inter, "ml-100k", 10, args.rounds))
    rows.append(time_k_core(big, f"synthetic {args.rows} rows", 5, args.rounds))
    rows.append(time_clustering(inter, "ml-100k", 300, args.rounds))
    result["rows"] = rows
    for row in rows:
        print(row["case"], {k: f"{v:.3f}s" for k, v in row["seconds"].items()},
              row["ratio_to_graphcl_rec"], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "timing.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "README.md").write_text(markdown(result))


if __name__ == "__main__":
    main()
