"""Training checkpoints: atomic, sealed writes; weights-only, verified loads.

A checkpoint is one ``torch.save`` dict of plain values only (tensors, dicts, lists,
tuples, strings, numbers, booleans, ``None``), so it loads with
``torch.load(weights_only=True)`` and loading it never runs code. The file ends
with a seal, the sha256 of all its bytes (:mod:`graphcl_rec.train.integrity`), so
a single flipped byte anywhere is refused on load, and so are weights holding NaN
or inf. The trainer writes (format version 2):

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

import errno
import logging
import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch

from graphcl_rec._version import __version__
from graphcl_rec.errors import CheckpointError
from graphcl_rec.train.compare import first_difference, with_recorded
from graphcl_rec.train.integrity import (
    file_kind,
    first_non_finite,
    recorded_digest,
    safe_load,
    save_sealed,
    sealed_digest,
)

log = logging.getLogger("graphcl_rec")

FORMAT_VERSION = 2
"""Version of the checkpoint layout; bumped when keys change meaning (2: sealed)."""
LAST, BEST = "last.pt", "best.pt"
"""File names the trainer writes inside its ``checkpoint_dir``."""
__all__ = ["BEST", "FORMAT_VERSION", "LAST", "first_difference", "load_checkpoint",
           "remove_stale_temporaries", "save_checkpoint"]

REQUIRED = ("format_version", "library_version", "config", "epoch", "model")
_SCALARS = (str, int, float, bool, type(None))
_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")
"""Names :func:`save_checkpoint` gives its temporary files (``mkstemp``)."""


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
    """Writes ``state`` to ``path`` atomically, sealed with its sha256.

    The dict is written to a temporary file in the same directory, sealed
    (:func:`~graphcl_rec.train.integrity.save_sealed`), flushed and ``fsync``-ed,
    then moved over ``path`` with :func:`os.replace` and the directory is
    ``fsync``-ed, so ``path`` always holds either the old or the new checkpoint,
    even if the process is killed mid-write. Temporary files that such a kill left
    in the directory are removed first. ``format_version`` and
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FileExistsError(f"cannot write checkpoint {path}: a file stands where "
                              f"its folder {path.parent} should be") from None
    remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            save_sealed(full, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def remove_stale_temporaries(directory: str | Path) -> list[Path]:
    """Deletes the temporary files an interrupted :func:`save_checkpoint` left.

    Only names of the form ``.<file>.<8 characters>.tmp`` are touched. One process
    writes a run's checkpoints, so any such file present before a write is stale.

    Returns:
        The files removed.
    """
    removed = []
    for entry in Path(directory).iterdir():
        if _TEMPORARY.fullmatch(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
            log.info("removed %s, left by an interrupted checkpoint write", entry)
    return removed


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


def _check_map_location(map_location: str | torch.device) -> None:
    """Refuses a device a load could not map to (else it reads as a corrupt file)."""
    try:
        device = torch.device(map_location)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"'map_location' is not a device: {map_location!r} "
                         f"({str(exc).splitlines()[0][:120]})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"'map_location' is {map_location!r} but CUDA is not "
                         "available")


def load_checkpoint(path: str | Path, expected_config: Mapping[str, Any] | None = None,
                    map_location: str | torch.device = "cpu",
                    allow_change: Collection[str] = ()) -> dict[str, Any]:
    """Loads a checkpoint with ``torch.load(weights_only=True)`` and checks it.

    In order: the file's seal (sha256 of its bytes) must match, the content must
    be plain values, the format and library versions must be this library's, no
    floating-point tensor may hold NaN or inf, and ``config`` must equal
    ``expected_config`` except at the dotted keys of ``allow_change``.

    Args:
        path: A file written by :func:`save_checkpoint`.
        expected_config: The current run's configuration; when given, the
            checkpoint's ``config`` must equal it.
        map_location: Where tensors are loaded.
        allow_change: Dotted keys of ``expected_config`` (e.g. ``"trainer.lr"``)
            whose values may differ from the checkpoint's.

    Returns:
        The checkpoint dict.

    Raises:
        ValueError: If ``map_location`` is not an available device.
        CheckpointError: One line naming the file and what is wrong: missing,
            empty, not a checkpoint, truncated or corrupt, a seal that does not
            match (bytes changed after writing) or is absent, unsafe pickle
            content (objects that could execute code), another format, library
            version or configuration (naming the first differing key), or a
            non-finite tensor (naming it).

    Examples:
        >>> import tempfile
        >>> from graphcl_rec.errors import CheckpointError
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     p = save_checkpoint(Path(tmp) / "last.pt", {
        ...         "config": {"lr": 0.1}, "epoch": 3, "model": {}})
        ...     try:
        ...         load_checkpoint(p, expected_config={"lr": 0.2})
        ...     except CheckpointError as err:
        ...         print(str(err).split(": ", 1)[1])
        ...     state = load_checkpoint(p, expected_config={"lr": 0.2},
        ...                             allow_change=["lr"])
        lr: checkpoint has 0.1, run has 0.2
        >>> state["epoch"]
        3
    """
    path = Path(path)
    _check_map_location(map_location)
    if not path.exists() and path.is_symlink():
        try:
            os.stat(path)
        except OSError as exc:
            what = ("a symbolic link loop" if exc.errno == errno.ELOOP
                    else f"a broken symbolic link (to {os.readlink(path)})")
            raise CheckpointError(f"cannot read checkpoint {path}: {what}") from None
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if not path.is_file():
        raise CheckpointError(f"cannot read checkpoint {path}: not a regular file")
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(8)
        kind = file_kind(head)
        if size == 0 or kind == "other":
            what = "the file is empty" if size == 0 else (
                "not a checkpoint (neither a torch zip archive nor a pickle: it "
                f"starts with {head!r})")
            raise CheckpointError(f"cannot read checkpoint {path}: {what}")
        recorded = recorded_digest(fh, size) if kind == "zip" else None
        if recorded is not None and sealed_digest(fh, size) != recorded:
            raise CheckpointError(
                f"checkpoint {path} is corrupt: its bytes changed after it was "
                f"written (their sha256 differs from the one recorded in the file)")
        state = safe_load(fh, path, map_location)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict, got {type(state).__name__}")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a graphcl_rec checkpoint (missing keys "
                              f"{missing})")
    recorded_versions = {"format_version": state["format_version"],
                         "library_version": state["library_version"]}
    current = {"format_version": FORMAT_VERSION, "library_version": __version__}
    diff = first_difference(recorded_versions, current)
    if diff is not None:
        raise CheckpointError(f"checkpoint {path} does not match this run: {diff}")
    if recorded is None:
        raise CheckpointError(
            f"checkpoint {path} has no checksum seal: it was not written by "
            f"save_checkpoint, or its end was damaged")
    bad = first_non_finite(state)
    if bad is not None:
        raise CheckpointError(f"checkpoint {path} is unusable: {bad}")
    if expected_config is not None:
        expected = with_recorded(expected_config, state["config"], allow_change)
        diff = first_difference(state["config"], expected)
        if diff is not None:
            raise CheckpointError(f"checkpoint {path} does not match this run: {diff}")
    if state.get("torch_version") != str(torch.__version__):
        log.warning("%s was written by torch %s (running %s); resuming may not be "
                    "bit-identical", path, state.get("torch_version"),
                    torch.__version__)
    return state
