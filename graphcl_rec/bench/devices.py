"""How the benchmark report names the device a run used.

Runs are grouped by device *kind* (:func:`device_label`: the CPU, or a GPU by its
name), so one config's seeds share a row; the cell shown for a group
(:func:`device_cell`) also names the CPU models its runs recorded, because
minutes measured on two CPU models are not comparable.
"""

from __future__ import annotations

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
