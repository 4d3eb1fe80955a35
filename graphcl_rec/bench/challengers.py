r"""Variants of a published objective, tested against that objective's figure.

A *challenger* is a config whose name has no published figure of its own but whose
objective has one on its dataset (e.g. ``xsimgcl_d128_yelp2018``, XSimGCL at another
width, against XSimGCL's published Yelp2018 figure). Over its seeds' test figures
:math:`x_1, \dots, x_n` with mean :math:`\bar x` and sample standard deviation
:math:`s`, its margin over the published :math:`x^*` is

.. math::
    m = \frac{\bar x - x^*}{s},

in standard deviations; it *beats* the figure when :math:`m > 2` for Recall@20
**and** NDCG@20 over at least :data:`MIN_SEEDS` seeds. Only runs trained on the
whole training split count (:data:`PROTOCOLS`): ``legacy`` runs, whose epoch is read
off the test curve as the published figures were, and ``refit`` runs, whose epoch
count was chosen on validation and which see test once.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from graphcl_rec.bench.cells import run_links
from graphcl_rec.bench.devices import device_cell, device_label
from graphcl_rec.bench.published import published_key

MIN_SEEDS = 3
"""Seeds a challenger needs before a verdict is given."""

MARGIN = 2.0
"""Standard deviations by which both figures must exceed the published ones."""

METRICS: tuple[str, str] = ("recall@20", "ndcg@20")

PROTOCOLS = ("legacy", "refit")
"""Protocols whose runs train on the published training split, as the papers'."""


def margin(values: list[float], published: float) -> float | None:
    """``(mean - published) / sd`` over ``values``; ``None`` below two values.

    A zero spread gives ``+inf`` or ``-inf`` (or 0 when the mean equals the figure).
    """
    if len(values) < 2:
        return None
    gap = statistics.mean(values) - published
    sd = statistics.stdev(values)
    if sd == 0.0:
        return math.copysign(math.inf, gap) if gap else 0.0
    return gap / sd


def verdict(margins: list[float | None], seeds: int) -> str:
    """``"yes"``/``"no"`` from ``seeds`` >= :data:`MIN_SEEDS`, else what is missing."""
    if seeds < MIN_SEEDS:
        return f"not yet ({seeds} of {MIN_SEEDS} seeds)"
    return "yes" if all(m is not None and m > MARGIN for m in margins) else "no"


def _fmt(m: float | None) -> str:
    return "—" if m is None else f"{m:+.1f}"


def challenger_table(results: list[dict[str, Any]],
                     published: Mapping[tuple[str, str], tuple[float, float]],
                     stopped_by: Callable[[dict[str, Any]], str],
                     base: Path) -> list[str]:
    """Markdown rows: each challenger (per protocol) against its objective's figure.

    Args:
        results: Results JSON objects (``name``, ``protocol``, ``config``,
            ``test``, as :func:`~graphcl_rec.bench.report.load_results` reads).
        published: ``(model key, dataset) -> (Recall@20, NDCG@20)``.
        stopped_by: A run to what ended it.
        base: The report's folder: links to result files are relative to it.

    Returns:
        The table's lines, or ``[]`` when no run is a challenger.
    """
    groups: dict[tuple[str, str, str, str, str], list[dict[str, Any]]] = (
        defaultdict(list))
    for r in results:
        key = published_key(r, published)
        if r["protocol"] not in PROTOCOLS or key is None or key.own:
            continue
        groups[(key.dataset, r["name"], r["protocol"], key.model,
                device_label(r))].append(r)
    if not groups:
        return []
    lines = ["| dataset | config | protocol | against | device | seeds | recall@20 |"
             " published | margin (sd) | ndcg@20 | published | margin (sd) |"
             " beats by > 2 sd | stopped by | runs |", "|" + "---|" * 15]
    for (ds, name, protocol, objective, _), runs in sorted(groups.items()):
        pub = published[(objective, ds)]
        cells, margins = [], []
        for metric, figure in zip(METRICS, pub):
            values = [r["test"][metric] for r in runs]
            m = margin(values, figure)
            margins.append(m)
            sd = f" ± {statistics.stdev(values):.5f}" if len(values) > 1 else ""
            cells += [f"{statistics.mean(values):.4f}{sd}", f"{figure}", _fmt(m)]
        links = run_links(runs, base)
        lines.append(
            f"| {ds} | {name} | {protocol} | {objective} | {device_cell(runs)} | "
            f"{len(runs)} | "
            + " | ".join(cells)
            + f" | {verdict(margins, len(runs))} | "
            f"{', '.join(sorted({stopped_by(r) for r in runs}))} | {links} |")
    return lines
