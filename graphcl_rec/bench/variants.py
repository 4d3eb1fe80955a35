r"""Variants of a config, against their base config's own runs.

A *variant* is a config whose model key (its name without ``_<dataset>``,
:func:`~graphcl_rec.bench.published.model_key`) extends another config's at an
underscore: ``xsimgcl_d128`` is a variant of ``xsimgcl``, ``sgl_ed_bf16`` of
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
import statistics
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from graphcl_rec.bench.devices import device_cell, device_label
from graphcl_rec.bench.published import dataset_of, model_key

METRICS: tuple[str, str] = ("recall@20", "ndcg@20")

NOT_SETTINGS = frozenset({
    "name", "seed", "output_dir", "train.max_seconds", "train.device",
    "train.eval_batch_size", "train.checkpoint_every", "train.step_guard"})
"""Config keys that do not change what is trained (run naming, time budget, where
the run went): left out of the differences."""


def base_key(key: str, keys: set[str]) -> str | None:
    """The longest of ``keys`` that ``key`` extends at an underscore, if any.

    Examples:
        >>> base_key("sgl_ed_bf16", {"sgl", "sgl_ed", "xsimgcl"})
        'sgl_ed'
        >>> base_key("xsimgcl", {"xsimgcl", "sgl"}) is None
        True
    """
    parts = key.split("_")
    for cut in range(len(parts) - 1, 0, -1):
        if (prefix := "_".join(parts[:cut])) in keys:
            return prefix
    return None


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"section.key": value}``.

    Examples:
        >>> flatten({"model": {"encoder": {"dim": 64}}, "seed": 0})
        {'model.encoder.dim': 64, 'seed': 0}
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


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


def _mean_sd(values: list[float]) -> str:
    sd = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.4f}{sd}"


def variant_table(results: list[dict[str, Any]], base: Path) -> list[str]:
    """Markdown rows: each variant against its base config's runs.

    Args:
        results: Results JSON objects (``name``, ``protocol``, ``config``,
            ``test``, ``seed``, ``path``).
        base: The report's folder: links to result files are relative to it.

    Returns:
        The table's lines, or ``[]`` when no variant has a base among ``results``.
    """
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        ds = dataset_of(r)
        groups[(ds, r["protocol"], device_label(r), model_key(r["name"], ds))].append(r)
    lines = ["| dataset | protocol | variant | base | device | seeds | recall@20 |"
             " base | diff (Welch t) | ndcg@20 | base | diff (Welch t) | differs in |"
             " runs |",
             "|" + "---|" * 14]
    for (ds, protocol, label, key), runs in sorted(groups.items()):
        keys = {k for (d, p, lab, k) in groups if (d, p, lab) == (ds, protocol, label)}
        parent = base_key(key, keys)
        if parent is None:
            continue
        others = groups[(ds, protocol, label, parent)]
        cells = []
        for metric in METRICS:
            x = [r["test"][metric] for r in runs]
            y = [r["test"][metric] for r in others]
            t = welch_t(x, y)
            gap = statistics.mean(x) - statistics.mean(y)
            shown = "—" if t is None else f"{t:+.1f}"
            cells += [_mean_sd(x), _mean_sd(y),
                      f"{gap:+.4f} ({gap / statistics.mean(y) * 100:+.1f} %; {shown})"]
        differs = describe(config_diff(others[0]["config"], runs[0]["config"]))
        links = " ".join(f"[{r['seed']}]({Path(r['path']).relative_to(base)})"
                         if Path(r.get("path", "")).is_relative_to(base)
                         else str(r["seed"]) for r in runs)
        lines.append(
            f"| {ds} | {protocol} | {runs[0]['name']} | {others[0]['name']} | "
            f"{device_cell(runs)} | {len(runs)} / {len(others)} | "
            + " | ".join(cells) + f" | {differs} | {links} |")
    return lines if len(lines) > 2 else []
