"""Runs the whole corpus and prints the counts table.

From the repository root: ``python -m tests.corpus.report`` (``-v`` also lists every
case with its outcome and message). The exit status is 0 when every case ended as
expected (clear or correct), 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

from tests.corpus.runner import Outcome, counts, run_case, table


def run_all() -> list[Outcome]:
    """Every case of :data:`tests.corpus.cases.CASES`, each in a fresh folder."""
    from tests.corpus.cases import CASES

    outcomes = []
    with tempfile.TemporaryDirectory(prefix="graphcl-corpus-") as root:
        for k, case in enumerate(CASES):
            tmp = Path(root) / f"case{k}"
            tmp.mkdir()
            outcomes.append(run_case(case, tmp))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.corpus.report",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="list every case with its outcome and message")
    args = parser.parse_args(argv)
    # The library's warnings are collected per case; keep them off the terminal
    # (and keep the CLI's logging.basicConfig from binding to a captured stream).
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    outcomes = run_all()
    seconds = time.perf_counter() - t0
    if args.verbose:
        for o in outcomes:
            print(f"{o.outcome:9} {o.seconds:5.2f}s {o.case.name} [{o.case.entry}]: "
                  f"{o.detail}")
        print()
    print(table(outcomes))
    print(f"\n{len(outcomes)} cases in {seconds:.1f} s")
    bad = [o for o in outcomes if not o.ok]
    for o in bad:
        print(f"UNEXPECTED {o.outcome} (expected {o.case.expect}): {o.case.name} "
              f"[{o.case.entry}]: {o.detail}", file=sys.stderr)
    total = counts(outcomes)
    return 0 if not bad and total["clear"] + total["correct"] == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
