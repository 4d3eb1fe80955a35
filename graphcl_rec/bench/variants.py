r"""Variants of a config, against their base config's own runs.

A *variant* is a config whose model key (its name without ``_<dataset>``,
:func:`~graphcl_rec.bench.published.model_key`) extends another config's at an
underscore or a hyphen: ``xsimgcl_d128`` is a variant of ``xsimgcl``, ``sgl_ed_bf16`` of
``sgl_ed``. Its *base* is the config with the longest such key among the runs of
the same dataset, protocol and device kind. Unlike the challenger table, which
needs a published figure, this comparison works on every dataset, so a variant
chosen on one dataset is also reported on the others.

Over the variant's seeds (mean :math:`\bar x`, sample variance :math:`s_x^2`,
:math:`n_x` seeds) and the base's (:math:`\bar y`, :math:`s_y^2`, :math:`n_y`) the
table gives the difference :math:`\bar x - \bar y` and Welch's statistic

.. math::
    t = \frac{\bar x - \bar y}{\sqrt{s_x^2 / n_x + s_y^2 / n_y}},

and names the config keys in which the two differ: what made the difference.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from graphcl_rec.bench.cells import evaluated, mean_sd, run_links
from graphcl_rec.bench.devices import (
    UNLIKE_MARK,
    device_cell,
    device_label,
    median_epoch_seconds,
    timing_key,
    timing_keys,
)
from graphcl_rec.bench.published import dataset_of, model_key
from graphcl_rec.bench.quality import first_reached
from graphcl_rec.cli.config import flatten

METRICS: tuple[str, str] = ("recall@20", "ndcg@20")

NOT_SETTINGS = frozenset({
    "name", "seed", "output_dir", "train.max_seconds", "train.device",
    "train.eval_batch_size", "train.checkpoint_every", "train.step_guard"})
"""Config keys that do not change what is trained (run naming, time budget, where
the run went): left out of the differences."""


def base_key(key: str, keys: set[str]) -> str | None:
    """The longest of ``keys`` that ``key`` extends at an ``_`` or a ``-``, if any.

    Examples:
        >>> base_key("sgl_ed_bf16", {"sgl", "sgl_ed", "xsimgcl"})
        'sgl_ed'
        >>> base_key("ml-100k-lightgcl-dot-sum", {"ml-100k-lightgcl",
        ...                                       "ml-100k-lightgcl-dot"})
        'ml-100k-lightgcl-dot'
        >>> base_key("xsimgcl", {"xsimgcl", "xsim"}) is None
        True
    """
    cuts = sorted((m.start() for m in re.finditer(r"[_-]", key)), reverse=True)
    return next((key[:cut] for cut in cuts if key[:cut] in keys), None)


class ConfigDiff(NamedTuple):
    """How a variant's config differs from its base's.

    Attributes:
        changed: ``{key: (base value, variant value)}`` for keys both record.
        base_only: ``{key: value}`` recorded by the base's file alone.
        variant_only: ``{key: value}`` recorded by the variant's file alone.

    A key one file lacks was not written by the code that made it (a setting
    added or renamed since): its value there is whatever that code's default
    was, so it is listed apart rather than guessed.
    """

    changed: dict[str, tuple[Any, Any]]
    base_only: dict[str, Any]
    variant_only: dict[str, Any]


def config_diff(base: Mapping[str, Any], variant: Mapping[str, Any]) -> ConfigDiff:
    """The keys in which two configs differ (:data:`NOT_SETTINGS` left out).

    Examples:
        >>> d = config_diff({"name": "a", "model": {"dim": 64}, "lr": 1},
        ...                 {"name": "b", "model": {"dim": 128, "bf16": True}, "lr": 1})
        >>> d.changed, d.base_only, d.variant_only
        ({'model.dim': (64, 128)}, {}, {'model.bf16': True})
    """
    a = {k: v for k, v in flatten(base).items() if k not in NOT_SETTINGS}
    b = {k: v for k, v in flatten(variant).items() if k not in NOT_SETTINGS}
    return ConfigDiff(
        changed={k: (a[k], b[k]) for k in sorted(a.keys() & b.keys()) if a[k] != b[k]},
        base_only={k: a[k] for k in sorted(a.keys() - b.keys())},
        variant_only={k: b[k] for k in sorted(b.keys() - a.keys())})


def describe(diff: ConfigDiff) -> str:
    """A table cell for a :class:`ConfigDiff`.

    Examples:
        >>> describe(ConfigDiff({"dim": (64, 128)}, {"old": 1}, {}))
        '`dim` 64 → 128; recorded by one file only: `old` = 1 (base)'
    """
    text = ", ".join(f"`{k}` {a} → {b}" for k, (a, b) in diff.changed.items())
    alone = [f"`{k}` = {v} (base)" for k, v in diff.base_only.items()] + [
        f"`{k}` = {v} (variant)" for k, v in diff.variant_only.items()]
    if alone:
        text += (("; " if text else "") + "recorded by one file only: "
                 + ", ".join(alone))
    return text or "nothing"


def welch_t(x: list[float], y: list[float]) -> float | None:
    """Welch's ``t`` of ``mean(x) - mean(y)``; ``None`` below two values a side.

    Zero spread on both sides gives ``±inf`` (or 0 for equal means).

    Examples:
        >>> round(welch_t([3.0, 4.0, 5.0], [1.0, 2.0, 3.0]), 4)
        2.4495
    """
    if len(x) < 2 or len(y) < 2:
        return None
    gap = statistics.mean(x) - statistics.mean(y)
    se = math.sqrt(statistics.variance(x) / len(x) + statistics.variance(y) / len(y))
    if se == 0.0:
        return math.copysign(math.inf, gap) if gap else 0.0
    return gap / se


def pairs(results: list[dict[str, Any]]
          ) -> list[tuple[str, str, list[dict[str, Any]], list[dict[str, Any]]]]:
    """``(dataset, protocol, variant runs, base runs)`` for each variant with a base.

    Runs are grouped by dataset, protocol, device kind and model key; a group's
    base is the group of the same dataset, protocol and device kind whose model
    key :func:`base_key` picks.
    """
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        ds = dataset_of(r)
        groups[(ds, r["protocol"], device_label(r), model_key(r["name"], ds))].append(r)
    out = []
    for (ds, protocol, label, key), runs in sorted(groups.items()):
        keys = {k for (d, p, lab, k) in groups if (d, p, lab) == (ds, protocol, label)}
        parent = base_key(key, keys)
        if parent is not None:
            out.append((ds, protocol, runs, groups[(ds, protocol, label, parent)]))
    return out


def variant_table(results: list[dict[str, Any]], base: Path) -> list[str]:
    """Markdown rows: each variant against its base config's runs.

    Args:
        results: Results JSON objects (``name``, ``protocol``, ``config``,
            ``test``, ``seed``, ``path``).
        base: The report's folder: links to result files are relative to it.

    Returns:
        The table's lines, or ``[]`` when no variant has a base among ``results``.
    """
    lines = ["| dataset | protocol | variant | base | device | seeds | recall@20 |"
             " base | diff (Welch t) | ndcg@20 | base | diff (Welch t) | differs in |"
             " runs |", "|" + "---|" * 14]
    for ds, protocol, runs, others in pairs(results):
        cells = []
        for metric in METRICS:
            x = [r["test"][metric] for r in runs]
            y = [r["test"][metric] for r in others]
            t = welch_t(x, y)
            gap = statistics.mean(x) - statistics.mean(y)
            shown = "—" if t is None else f"{t:+.1f}"
            cells += [mean_sd(x), mean_sd(y),
                      f"{gap:+.4f} ({gap / statistics.mean(y) * 100:+.1f} %; {shown})"]
        # The seeds of one config share it but for the seed (left out of the diff).
        differs = describe(config_diff(others[0]["config"], runs[0]["config"]))
        lines.append(
            f"| {ds} | {protocol} | {runs[0]['name']} | {others[0]['name']} | "
            f"{device_cell(runs)} | {len(runs)} / {len(others)} | "
            + " | ".join(cells) + f" | {differs} | {run_links(runs, base)} |")
    return lines if len(lines) > 2 else []


def best_selection(r: Mapping[str, Any], metric: str = "recall@20") -> float:
    """The best ``metric`` a run's history reached on its selection split."""
    return max(((rec.get("val") or {}).get(metric) or 0.0
                for rec in r.get("history") or []), default=0.0)


def span(train: float, wall: float) -> str:
    """``train / wall`` in minutes, or in seconds when ``wall`` is under a minute.

    Examples:
        >>> span(90.0, 99.0), span(2.61, 2.72)
        ('1.5 / 1.6 min', '2.6 / 2.7 s')
    """
    if wall < 60.0:
        return f"{train:.1f} / {wall:.1f} s"
    return f"{train / 60:.1f} / {wall / 60:.1f} min"


def timed_on(r: Mapping[str, Any]) -> str:
    """What a run was timed on: device, CPU model, threads, allocator.

    Examples:
        >>> timed_on({"device": {"type": "cpu", "threads": 1, "model": "AMD EPYC"},
        ...           "allocator": {"allocator": "glibc"}})
        'cpu, AMD EPYC, 1 thread, held allocator'
        >>> timed_on({})
        'cpu, model not recorded, threads not recorded, system allocator'
    """
    label, model, threads, alloc = timing_key(r)
    count = ("threads not recorded" if threads is None
             else f"{threads} thread{'s' if threads != 1 else ''}")
    return (f"{label}, {model}, {count}, "
            f"{'held' if alloc == 'glibc' else alloc} allocator")


def variant_time_table(results: list[dict[str, Any]], base: Path) -> list[str]:
    """Markdown rows: minutes each variant and base run took to the base's level.

    The level is the lowest best selection-split Recall@20 among the base's
    seeds, so every base seed reaches it; each run's first evaluated epoch at or
    above it and the training minutes up to it (then with the evaluations), as in
    :func:`~graphcl_rec.bench.quality.first_reached`. Minutes compare only runs
    timed alike, so each row names what its run was timed on (:func:`timed_on`),
    marked with :data:`~graphcl_rec.bench.devices.UNLIKE_MARK` where a resumed
    run's parts were timed on different settings. Pairs with a run that
    evaluated no epoch (``refit`` runs) are left out.

    Args:
        results: Results JSON objects (as :func:`variant_table`, with ``history``).
        base: The report's folder: links to result files are relative to it.

    Returns:
        The table's lines, or ``[]`` when no variant has a base among ``results``.
    """
    lines = ["| dataset | protocol | variant | base | level (base's lowest best) |"
             " config | seed | timed on | reached (train / with eval) |"
             " median training s/epoch |", "|" + "---|" * 10]
    for ds, protocol, runs, others in pairs(results):
        if not all(evaluated(r) for r in [*others, *runs]):
            continue  # no selection curve to read (refit runs evaluate no epoch)
        level = min(best_selection(r) for r in others)
        for r in [*others, *runs]:
            hit = first_reached(r.get("history") or [], level)
            reached = ("not reached" if hit is None else f"epoch {hit.epoch}: "
                       + span(hit.train_seconds, hit.wall_seconds))
            median = median_epoch_seconds(r)
            mixed = f" {UNLIKE_MARK}" if len(timing_keys(r)) > 1 else ""
            lines.append(
                f"| {ds} | {protocol} | {runs[0]['name']} | {others[0]['name']} | "
                f"{level:.4f} | {r['name']} | {run_links([r], base)} | "
                f"{timed_on(r)}{mixed} | {reached} | {median:.1f} |")
    return lines if len(lines) > 2 else []
