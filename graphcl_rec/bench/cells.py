"""Table cells the report's tables share: seed links, mean ± sd, evaluated runs."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def run_links(runs: Iterable[Mapping[str, Any]], base: Path) -> str:
    """Each run's seed, linked to its results file when that lies under ``base``.

    Examples:
        >>> run_links([{"seed": 0, "path": "/r/results/a.json"},
        ...            {"seed": 1, "path": "/elsewhere/b.json"}, {"seed": 2}],
        ...           Path("/r"))
        '[0](results/a.json) 1 2'
    """
    return " ".join(f"[{r['seed']}]({Path(r['path']).relative_to(base)})"
                    if Path(r.get("path", "")).is_relative_to(base)
                    else str(r["seed"]) for r in runs)


def mean_sd(values: list[float]) -> str:
    """``mean ± sd`` to four places; the value alone for one run.

    Examples:
        >>> mean_sd([0.1, 0.3]), mean_sd([0.25])
        ('0.2000 ± 0.1414', '0.2500')
    """
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def evaluated(run: Mapping[str, Any]) -> bool:
    """Whether any epoch of ``run`` was evaluated (a ``val`` entry in its history).

    A ``refit`` run evaluates none: it is tested once, after its last epoch.

    Examples:
        >>> evaluated({"history": [{"epoch": 1}, {"epoch": 2, "val": {}}]})
        True
        >>> evaluated({"history": [{"epoch": 1}]}), evaluated({})
        (False, False)
    """
    return any("val" in rec for rec in run.get("history") or ())
