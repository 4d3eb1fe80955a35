"""Training checkpoints: atomic writes, weights-only loads, config checks.

A checkpoint is one ``torch.save`` dict of plain values only (tensors, dicts, lists,
tuples, strings, numbers, booleans, ``None``), so it loads with
``torch.load(weights_only=True)`` and loading it never runs code. The trainer
writes (format version 1):

- ``format_version``, ``library_version``, ``torch_version``;
- ``config``: the run configuration plus the trainer's settings (``"trainer"``);
- ``epoch`` (completed epochs), ``global_step`` (optimiser steps), ``seconds``;
- ``model``, ``optimizer``: the ``state_dict`` of each (EMA targets and MoCo
  queues are model buffers/parameters);
- ``generator`` (``gen.get_state()``) and ``torch_rng_state``;
- ``early_stopping``: :meth:`EarlyStopping.state_dict`;
- ``best_model`` (``None`` when the best epoch is this one), ``best_epoch``,
  ``best_metrics``, ``stopped_early``, and ``history`` (the per-epoch records).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from graphcl_rec._version import __version__
from graphcl_rec.errors import CheckpointError

log = logging.getLogger("graphcl_rec")

FORMAT_VERSION = 1
"""Version of the checkpoint layout; bumped when keys change meaning."""
LAST, BEST = "last.pt", "best.pt"
"""File names the trainer writes inside its ``checkpoint_dir``."""
REQUIRED = ("format_version", "library_version", "config", "epoch", "model")
_SCALARS = (str, int, float, bool, type(None))
_MISSING = "<missing>"


def _check_plain(value: Any, where: str) -> None:
    """Raises ``TypeError`` naming the first value a weights-only load would refuse."""
    if isinstance(value, Mapping):
        if type(value) not in (dict, OrderedDict):
            raise TypeError(f"{where}: {type(value).__name__} is not a plain dict")
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: key {key!r} is not a str or int")
            _check_plain(item, f"{where}.{key}")
    elif type(value) in (list, tuple):
        for k, item in enumerate(value):
            _check_plain(item, f"{where}[{k}]")
    elif type(value) not in _SCALARS and not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{where}: {type(value).__name__} cannot be stored in a weights-only "
            "checkpoint (use tensors, dicts, lists, strings and numbers)"
        )


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Writes ``state`` to ``path`` atomically.

    The dict is written to a temporary file in the same directory, flushed and
    ``fsync``-ed, then moved over ``path`` with :func:`os.replace` and the directory
    is ``fsync``-ed, so ``path`` always holds either the old or the new checkpoint,
    even if the process is killed mid-write. ``format_version`` and
    ``library_version`` are added when missing.

    Args:
        path: Destination file (its directory is created).
        state: Plain values only; must hold ``config``, ``epoch`` and ``model``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: If ``state`` holds a value a weights-only load would refuse.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     p = save_checkpoint(Path(tmp) / "last.pt", {
        ...         "config": {"lr": 0.1}, "epoch": 3, "model": {}})
        ...     load_checkpoint(p, expected_config={"lr": 0.1})["epoch"]
        3
    """
    path = Path(path)
    full = {"format_version": FORMAT_VERSION, "library_version": __version__,
            "torch_version": str(torch.__version__), **state}
    _check_plain(full, "checkpoint")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(full, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Makes a rename in ``directory`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | Path, expected_config: Mapping[str, Any] | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Loads a checkpoint with ``torch.load(weights_only=True)`` and checks it.

    Args:
        path: A file written by :func:`save_checkpoint`.
        expected_config: The current run's configuration; when given, the
            checkpoint's ``config`` must equal it.
        map_location: Where tensors are loaded.

    Returns:
        The checkpoint dict.

    Raises:
        CheckpointError: If the file is missing, corrupt, holds anything but plain
            values (e.g. a pickled object that would execute code), or was written
            by another checkpoint format, library version or configuration; the
            message names the first differing key.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines()]
        reason = next((ln for ln in lines if "Unsupported" in ln or "Unpickler" in ln),
                      lines[0] if lines else "")
        raise CheckpointError(
            f"refusing to load {path}: it holds objects other than tensors and "
            f"plain containers, which could execute code when unpickled "
            f"(weights-only load failed: {reason})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any reader failure means corrupt
        raise CheckpointError(
            f"cannot read checkpoint {path} (corrupt or not a checkpoint): "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict, got {type(state).__name__}")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a graphcl_rec checkpoint (missing keys "
                              f"{missing})")
    recorded = {"format_version": state["format_version"],
                "library_version": state["library_version"]}
    current = {"format_version": FORMAT_VERSION, "library_version": __version__}
    diff = first_difference(recorded, current)
    if diff is None and expected_config is not None:
        diff = first_difference(state["config"], expected_config)
    if diff is not None:
        raise CheckpointError(f"checkpoint {path} does not match this run: {diff}")
    if state.get("torch_version") != str(torch.__version__):
        log.warning("%s was written by torch %s (running %s); resuming may not be "
                    "bit-identical", path, state.get("torch_version"),
                    torch.__version__)
    return state


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
