"""Per-epoch curves from the training logs published in the authors' repositories.

``python -m benchmarks.reference_logs SOURCE_LOG --repo OWNER/NAME --commit SHA
--path PATH --dataset yelp2018 --name NAME --command "..." --out FILE.json``
reads one log and writes a JSON file holding where it came from and its points;
the reports (``graphcl_rec.bench.report.load_references``) plot those points
beside the runs of this library and put them in the time-to-quality table (their
seconds are of the authors' hardware).

Format read: the logs of ``huangtinglin/MixGCF`` (``training_log/*/*.txt``): a
``prettytable`` row ``| epoch | training time(s) | tesing time(s) | loss |
[recall@Ks] | [ndcg@Ks] | ...`` after every evaluated epoch, and a line ``using
time 35.16s, training loss at epoch 1: ...`` after every other one. Epochs are
counted from 0 there and from 1 here; ``Ks`` is ``[20, 40, 60]`` (the first
value is @20).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*([0-9.eE+-]+)\s*\|\s*([0-9.eE+-]+)\s*\|"
                  r"\s*([0-9.eE+-]+)\s*\|\s*\[([^\]]*)\]\s*\|\s*\[([^\]]*)\]")
_PLAIN = re.compile(r"^using time ([0-9.eE+-]+)s, training loss at epoch (\d+):"
                    r"\s*([0-9.eE+-]+)")


def parse_mixgcf_log(text: str, source: str = "<log>") -> list[dict[str, Any]]:
    """Every epoch of a MixGCF-style log, in order, numbered from 1.

    Args:
        text: The whole log.
        source: What error messages call it.

    Returns:
        One record per epoch: ``epoch``, ``train_seconds``, ``loss``, and for the
        evaluated epochs ``eval_seconds`` and ``val`` (``recall@20``,
        ``ndcg@20``, the test split's: the log's protocol selects on test).

    Raises:
        ValueError: On an epoch seen twice or missing (the line is named), or a
            log without any evaluated epoch.
    """
    records: list[dict[str, Any]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        row, plain = _ROW.match(line), _PLAIN.match(line)
        if row is None and plain is None:
            continue
        if row is not None:
            epoch, train, test, loss = (int(row[1]), float(row[2]), float(row[3]),
                                        float(row[4]))
            recall, ndcg = (float(v) for v in (row[5].split()[0], row[6].split()[0]))
            rec: dict[str, Any] = {"epoch": epoch + 1, "train_seconds": train,
                                   "loss": loss, "eval_seconds": test,
                                   "val": {"recall@20": recall, "ndcg@20": ndcg}}
        else:
            assert plain is not None
            rec = {"epoch": int(plain[2]) + 1, "train_seconds": float(plain[1]),
                   "loss": float(plain[3])}
        want = len(records) + 1
        if rec["epoch"] != want:
            raise ValueError(f"{source}, line {line_no}: epoch {rec['epoch'] - 1} "
                             f"(0-based) where {want - 1} was expected: "
                             f"{line.strip()!r}")
        records.append(rec)
    if not any("val" in r for r in records):
        raise ValueError(f"{source}: no evaluated epoch (no result row) in the log")
    return records


def reference_file(records: list[dict[str, Any]], *, name: str, model: str,
                   dataset: str, repo: str, commit: str, path: str, command: str,
                   note: str = "") -> dict[str, Any]:
    """The JSON document: provenance, the published run's settings and its points.

    ``model`` is the key of the published figure the curve is measured against
    (``graphcl_rec.bench.report.PUBLISHED``), e.g. ``"mixgcf"``.
    """
    return {"kind": "reference_log", "name": name, "model": model,
            "dataset": dataset, "protocol": "legacy",
            "source": {"repo": repo, "commit": commit,
                                             "path": path, "command": command},
            "note": note, "history": records}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.reference_logs",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("log", type=Path, help="the log file, as published")
    p.add_argument("--repo", required=True, help="owner/name of the repository")
    p.add_argument("--commit", required=True, help="the commit the log was read at")
    p.add_argument("--path", required=True, help="the log's path in the repository")
    p.add_argument("--dataset", required=True)
    p.add_argument("--name", required=True, help="what the page calls the curve")
    p.add_argument("--model", required=True,
                   help="key of the published figure it is read against (mixgcf)")
    p.add_argument("--command", required=True, help="the command the log came from")
    p.add_argument("--note", default="")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    records = parse_mixgcf_log(args.log.read_text(encoding="utf-8"), str(args.log))
    doc = reference_file(records, name=args.name, model=args.model,
                         dataset=args.dataset,
                         repo=args.repo, commit=args.commit, path=args.path,
                         command=args.command, note=args.note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    evaluated = [r for r in records if "val" in r]
    best = max(evaluated, key=lambda r: r["val"]["recall@20"])
    print(f"{args.out}: {len(records)} epochs, {len(evaluated)} evaluated, best "
          f"Recall@20 {best['val']['recall@20']:.4f} at epoch {best['epoch']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
