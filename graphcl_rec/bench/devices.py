"""How the benchmark report names the device a run used.

Runs are grouped by device *kind* (:func:`device_label`: the CPU, or a GPU by its
name), so one config's seeds share a row; the cell shown for a group
(:func:`device_cell`) also names the CPU models its runs recorded, because
minutes measured on two CPU models are not comparable.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

UNRECORDED = "model not recorded"
"""Cell text for runs whose file predates the ``device.model`` field."""


def device_label(r: Mapping[str, Any]) -> str:
    """``cpu``, or ``cuda (<GPU name>)`` for runs made on a GPU."""
    dev = r.get("device", {"type": "cpu"})
    return f"{dev['type']} ({dev['name']})" if dev.get("name") else dev["type"]


def device_cell(runs: Iterable[Mapping[str, Any]]) -> str:
    """The device column for runs of one :func:`device_label`.

    A GPU is named by :func:`device_label`. CPU runs add the CPU models they
    recorded (``device.model``): ``cpu (AMD EPYC)`` when all share one, and each
    model with its count when they differ or some did not record one
    (``cpu (AMD EPYC ×2, model not recorded ×1)``); plain ``cpu`` when none did.

    Raises:
        ValueError: When ``runs`` is empty or mixes device labels.
    """
    runs = list(runs)
    labels = {device_label(r) for r in runs}
    if len(labels) != 1:
        raise ValueError(f"one device label expected, got {sorted(labels) or 'none'}")
    (label,) = labels
    if label != "cpu":
        return label
    models = Counter(r.get("device", {}).get("model") or UNRECORDED for r in runs)
    if set(models) == {UNRECORDED}:
        return label
    if len(models) == 1:
        return f"{label} ({next(iter(models))})"
    counts = ", ".join(f"{m} ×{n}" for m, n in sorted(models.items()))
    return f"{label} ({counts})"


UNLIKE_MARK = "†"
UNLIKE_NOTE = (f"{UNLIKE_MARK} The seeds of this row, or the parts of a resumed run, "
               "ran on different CPU models, thread counts or allocator settings (the "
               "results files' `device`, `allocator` and `parts`): the range of the "
               "seeds' figures is shown, not a mean; a run whose parts differ (or did "
               "not record theirs) is marked although its own figure is a mean.")
"""The note under a table that has a :func:`timing_cell` range."""


def timing_key(r: Mapping[str, Any]) -> tuple[str, str, int | None, str]:
    """What a run's seconds and memory depend on besides the config.

    The device kind, the CPU model, the thread count and the allocator setting
    (a file without ``allocator`` ran with the system's, as every run did before
    the field existed).

    Examples:
        >>> timing_key({"device": {"type": "cpu", "threads": 1, "model": "X"},
        ...             "allocator": {"allocator": "glibc"}})
        ('cpu', 'X', 1, 'glibc')
    """
    dev = r.get("device", {"type": "cpu"})
    alloc = (r.get("allocator") or {}).get("allocator", "system")
    return (device_label(r), dev.get("model") or UNRECORDED, dev.get("threads"),
            str(alloc))


def timing_keys(r: Mapping[str, Any]) -> set[tuple[str, str, int | None, str]]:
    """The :func:`timing_key` of each part of a run (``parts``: a resumed run).

    A file without ``parts`` is one part, the whole file. A part that recorded no
    device (epochs from a checkpoint older than the field) gets an unrecorded
    key, unlike any recorded one: what it ran on is not known.

    Examples:
        >>> cpu = {"type": "cpu", "threads": 1, "model": "X"}
        >>> len(timing_keys({"device": cpu})), len(timing_keys(
        ...     {"device": cpu, "parts": [{"from_epoch": 1, "device": cpu},
        ...                               {"from_epoch": 9, "device": cpu}]}))
        (1, 1)
        >>> len(timing_keys({"device": cpu, "parts": [
        ...     {"from_epoch": 1}, {"from_epoch": 9, "device": cpu}]}))
        2
    """
    parts = r.get("parts")
    if not parts:
        return {timing_key(r)}
    return {timing_key(p) for p in parts}


def median_train_seconds(history: Iterable[Mapping[str, Any]]) -> float | None:
    """The median ``train_seconds`` of per-epoch records (``None`` without any).

    A mean is moved by one paused epoch (``kill -STOP`` while something else is
    timed, a laptop asleep) by its whole pause; the median barely moves.

    Examples:
        >>> median_train_seconds([{"train_seconds": 10.0}, {"train_seconds": 100.0},
        ...                       {"train_seconds": 11.0}, {"epoch": 4}])
        11.0
    """
    times = [float(h["train_seconds"]) for h in history
             if h.get("train_seconds") is not None]
    return statistics.median(times) if times else None


def median_epoch_seconds(r: Mapping[str, Any]) -> float:
    """A run's median training seconds per epoch (:func:`median_train_seconds`).

    A run without per-epoch times gives its ``seconds_per_epoch`` (a mean).

    Examples:
        >>> median_epoch_seconds({"seconds_per_epoch": 40.0, "history": []})
        40.0
    """
    median = median_train_seconds(r.get("history") or [])
    return float(r["seconds_per_epoch"]) if median is None else median


def timing_cell(values: Iterable[float], runs: Iterable[Mapping[str, Any]],
                digits: int = 2) -> str:
    """The mean of a timing or memory column, or its range for unlike runs.

    Seeds measured alike (one :func:`timing_key` over all their parts,
    :func:`timing_keys`) give their mean; otherwise the cell is ``min–max``
    marked with :data:`UNLIKE_MARK`, since a mean over two CPU models or thread
    counts describes neither. When the range rounds to a point the cell is one
    number, marked only if a run's own parts differ (its figure is itself a mean
    over unlike parts).

    Examples:
        >>> a = {"device": {"type": "cpu", "threads": 1}}
        >>> b = {"device": {"type": "cpu", "threads": 2}}
        >>> timing_cell([1.0, 3.0], [a, a]), timing_cell([1.0, 3.0], [a, b])
        ('2.00', '1.00–3.00 †')
        >>> timing_cell([2.0], [{**a, "parts": [a, b]}])
        '2.00 †'
    """
    values, runs = list(values), list(runs)
    if not values:
        raise ValueError("timing_cell() needs at least one value")
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    per_run = [timing_keys(r) for r in runs]
    if len(set().union(*per_run)) <= 1:
        return f"{sum(values) / len(values):.{digits}f}"
    if low != high:
        return f"{low}–{high} {UNLIKE_MARK}"
    if any(len(keys) > 1 for keys in per_run):
        return f"{low} {UNLIKE_MARK}"
    return f"{sum(values) / len(values):.{digits}f}"
