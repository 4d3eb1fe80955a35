"""Comparing run configurations: the first differing key, allowed changes."""

from __future__ import annotations

import copy
import math
from collections.abc import Collection, Mapping
from typing import Any

import torch

_MISSING = "<missing>"


def with_recorded(config: Mapping[str, Any], recorded: Any,
                  keys: Collection[str]) -> dict[str, Any]:
    """A copy of ``config`` holding ``recorded``'s values at the dotted ``keys``.

    Examples:
        >>> with_recorded({"t": {"lr": 0.1, "k": 5}}, {"t": {"lr": 1.0}}, ["t.lr"])
        {'t': {'lr': 1.0, 'k': 5}}
    """
    out = copy.deepcopy(dict(config))
    for dotted in keys:
        *parents, last = dotted.split(".")
        node: Any = out
        source: Any = recorded
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
            source = source.get(key) if isinstance(source, Mapping) else None
        if isinstance(node, dict) and isinstance(source, Mapping) and last in source:
            node[last] = source[last]
    return out


def changes(recorded: Any, current: Mapping[str, Any],
            keys: Collection[str]) -> dict[str, dict[str, Any]]:
    """``{key: {"checkpoint": old, "run": new}}`` for the dotted ``keys`` that differ.

    Examples:
        >>> changes({"t": {"lr": 1.0}}, {"t": {"lr": 0.1}}, ["t.lr"])
        {'t.lr': {'checkpoint': 1.0, 'run': 0.1}}
    """
    out = {}
    for dotted in sorted(keys):
        old, new = _get(recorded, dotted), _get(current, dotted)
        if first_difference(old, new) is not None:
            out[dotted] = {"checkpoint": old, "run": new}
    return out


def _get(config: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        config = config.get(key) if isinstance(config, Mapping) else None
    return config


def first_difference(recorded: Any, current: Any, prefix: str = "") -> str | None:
    """The first key where two nested configurations differ, as a message.

    Dicts are compared key by key (the current run's order first), lists and tuples
    element by element (a list equals a tuple with the same items).

    Args:
        recorded: The value stored in the checkpoint.
        current: The current run's value.
        prefix: Dotted key of this level.

    Returns:
        ``"<key>: checkpoint has <a>, run has <b>"``, or ``None`` if equal.

    Examples:
        >>> first_difference({"model": {"dim": 64}}, {"model": {"dim": 32}})
        'model.dim: checkpoint has 64, run has 32'
    """
    name = prefix or "config"
    if isinstance(recorded, Mapping) and isinstance(current, Mapping):
        keys = list(current) + [k for k in recorded if k not in current]
        for key in keys:
            child = f"{prefix}.{key}" if prefix else str(key)
            if key not in recorded or key not in current:
                mine = recorded.get(key, _MISSING)
                theirs = current.get(key, _MISSING)
                return f"{child}: checkpoint has {_show(mine)}, run has {_show(theirs)}"
            diff = first_difference(recorded[key], current[key], child)
            if diff is not None:
                return diff
        return None
    if isinstance(recorded, (list, tuple)) and isinstance(current, (list, tuple)):
        if len(recorded) == len(current):
            for k, (a, b) in enumerate(zip(recorded, current)):
                diff = first_difference(a, b, f"{name}[{k}]")
                if diff is not None:
                    return diff
            return None
    elif _equal(recorded, current):
        return None
    return f"{name}: checkpoint has {_show(recorded)}, run has {_show(current)}"


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.shape == b.shape and bool(torch.equal(a, b)))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def _show(value: Any) -> str:
    return value if value is _MISSING else repr(value)
