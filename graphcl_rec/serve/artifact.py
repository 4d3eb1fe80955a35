"""A trained model's artifact: weights, config, graph and raw ids in one sealed file.

Every finished command-line run writes ``<out>/<name>-seed<k>/model.pt``
(:data:`MODEL_FILE`); :func:`graphcl_rec.serve.load` turns it back into a
:class:`~graphcl_rec.serve.recommender.TrainedRecommender`. The file is written by
the checkpoint module's writer (:func:`~graphcl_rec.train.checkpoint.save_checkpoint`:
atomic, plain values only, sealed with the sha256 of its bytes) and read with
``torch.load(weights_only=True)`` after the seal is verified, so loading never runs
code and a changed byte is refused. It holds one dict:

- ``format`` (``"graphcl_rec.model"``), ``artifact_version`` (:data:`VERSION`),
  plus the writer's ``format_version``, ``library_version`` and ``torch_version``;
- ``model_config``: the ``[model]`` table (``objective``, its arguments, the
  ``encoder`` and ``augment`` tables) that
  :func:`~graphcl_rec.models.build.build_recommender` rebuilds the model from;
- ``config``: the whole run configuration (or ``{"model": model_config}``);
- ``model``: the ``state_dict`` (CPU tensors) - the best-on-validation weights
  for a command-line run;
- ``num_users``, ``num_items``; ``user_ids``/``item_ids``: the raw id of each
  index (lists of ``str``, or ``None`` where the data had none);
- ``train_user``/``train_item``: ``[E]`` int64, the exact pairs the encoder
  propagates over (the training split; train + validation under the legacy
  protocol);
- ``epoch`` (the best epoch, or ``None``) and ``info``: what the run reported
  (name, protocol, seed, test metrics), for reference only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from graphcl_rec._version import __version__
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.errors import CheckpointError
from graphcl_rec.models.base import Recommender
from graphcl_rec.train.checkpoint import save_checkpoint
from graphcl_rec.train.integrity import (
    file_kind,
    first_non_finite,
    recorded_digest,
    safe_load,
    sealed_digest,
)

log = logging.getLogger("graphcl_rec")

MODEL_FILE = "model.pt"
"""The artifact's file name inside a run folder."""
FORMAT, VERSION = "graphcl_rec.model", 1
"""The artifact's ``format`` and ``artifact_version``."""
KEYS = ("format", "artifact_version", "library_version", "model_config", "model",
        "num_users", "num_items", "user_ids", "item_ids", "train_user",
        "train_item")
"""Keys an artifact must hold."""


def _ids(ids: tuple[str, ...] | None) -> list[str] | None:
    return None if ids is None else [str(raw) for raw in ids]


def save_model(path: str | Path, model: Recommender, train: Interactions,
               model_config: Mapping[str, Any], *,
               config: Mapping[str, Any] | None = None, epoch: int | None = None,
               info: Mapping[str, Any] | None = None) -> Path:
    """Writes a model artifact (see the module's description).

    Args:
        path: The file to write (its folder is created); a run's is
            ``<run folder>/model.pt``.
        model: The trained recommender.
        train: The interactions its encoder propagates over; its pairs, sizes and
            raw ids are stored.
        model_config: The ``[model]`` table ``model`` was built from (plain
            values), such that ``build_recommender(model_config, U, I)`` builds
            the same architecture.
        config: The whole run configuration, if any.
        epoch: The epoch the weights are from.
        info: Anything else to record (plain values).

    Returns:
        ``path``.

    Raises:
        ValueError: If the encoder's size differs from ``train``'s.
        TypeError: For a value a weights-only load would refuse.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import torch
        >>> import graphcl_rec
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.models.build import build_recommender
        >>> _ = torch.manual_seed(0)
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3,
        ...                      user_ids=("ann", "bob"), item_ids=("x", "y", "z"))
        >>> table = {"encoder": {"name": "mf", "dim": 4}}
        >>> model = build_recommender(table, 2, 3)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = save_model(Path(tmp) / "model.pt", model, train, table, epoch=3)
        ...     rec = graphcl_rec.load(path)
        >>> path.name, rec.recommend("ann", k=2)[0].tolist()
        ('model.pt', ['y', 'z'])
    """
    enc = model.encoder
    if (enc.num_users, enc.num_items) != train.shape:
        raise ValueError(f"the model's encoder has {enc.num_users} users and "
                         f"{enc.num_items} items but 'train' is {train!r}")
    weights = {key: value.detach().to("cpu", copy=True)
               for key, value in model.state_dict().items()}
    state = {
        "format": FORMAT, "artifact_version": VERSION,
        "model_config": dict(model_config),
        "config": dict(config) if config is not None else {"model": dict(model_config)},
        "epoch": epoch, "info": dict(info or {}), "model": weights,
        "num_users": train.num_users, "num_items": train.num_items,
        "user_ids": _ids(train.user_ids), "item_ids": _ids(train.item_ids),
        "train_user": train.user.detach().to("cpu", torch.long, copy=True),
        "train_item": train.item.detach().to("cpu", torch.long, copy=True),
    }
    out = save_checkpoint(path, state)
    log.info("wrote the model artifact %s", out)
    return out


def artifact_path(run: str | Path) -> Path:
    """The artifact of a run folder, a results file or the artifact itself.

    ``<out>/<stem>/`` and ``<out>/<stem>.json`` name ``<out>/<stem>/model.pt``;
    any other file is taken as the artifact.

    Raises:
        FileNotFoundError: Naming what is missing: the run, or the artifact in
            an existing run folder (with the files it does hold).
    """
    path = Path(run)
    if path.is_file() and path.suffix == ".json":
        path = path.with_suffix("")
        if not path.is_dir():
            raise FileNotFoundError(
                f"{run} is a results file, but its run folder {path} does not "
                f"exist (it holds the model artifact {MODEL_FILE})")
    if path.is_file():
        return path
    if not path.exists():
        raise FileNotFoundError(f"no run folder or model artifact at {path}")
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a run folder nor a model "
                                f"artifact (not a regular file)")
    found = path / MODEL_FILE
    if not found.is_file():
        held = sorted(p.name for p in path.iterdir())
        raise FileNotFoundError(
            f"{path} has no model artifact {MODEL_FILE} (the folder holds "
            f"{', '.join(held) if held else 'nothing'}); a run writes it when it "
            f"finishes, so this run was interrupted or predates it")
    return found


def read_artifact(path: str | Path,
                  map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Reads and verifies a model artifact; returns its dict.

    In order: the file's seal (sha256 of its bytes) must be present and match,
    the content must load with ``weights_only=True``, the format and artifact
    version must be this library's (another library version is logged), every
    key must be present and no floating-point tensor may be NaN or inf.

    Args:
        path: The artifact file.
        map_location: Where tensors are loaded.

    Returns:
        The artifact's dict: ``model`` (the state dict), ``model_config``,
        ``num_users``, ``num_items``, ``train_user``/``train_item`` (``[E]``
        int64), ``user_ids``/``item_ids``, ``epoch``, ``config``, ``info`` and the
        format and version fields.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: One line naming the file and what is wrong.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import torch
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.models.build import build_recommender
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3)
        >>> table = {"encoder": {"name": "mf", "dim": 4}}
        >>> model = build_recommender(table, 2, 3)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = save_model(Path(tmp) / "m.pt", model, train, table, epoch=3)
        ...     state = read_artifact(path)
        >>> state["epoch"], state["num_users"], state["train_item"].tolist()
        (3, 2, [0, 1])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model artifact at {path}")
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(8)
        if size == 0 or file_kind(head) != "zip":
            what = "the file is empty" if size == 0 else (
                f"not a torch zip archive (it starts with {head!r})")
            raise CheckpointError(f"cannot read model artifact {path}: {what}")
        recorded = recorded_digest(fh, size)
        if recorded is None:
            raise CheckpointError(
                f"model artifact {path} has no checksum seal: it was not written by "
                f"save_model, or its end was damaged")
        if sealed_digest(fh, size) != recorded:
            raise CheckpointError(
                f"model artifact {path} is corrupt: its bytes changed after it was "
                f"written (their sha256 differs from the one recorded in the file)")
        state = safe_load(fh, path, map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} is not a {FORMAT} artifact (format {got!r}; "
                              f"a training checkpoint is not a model artifact)")
    if state.get("artifact_version") != VERSION:
        raise CheckpointError(
            f"model artifact {path} has artifact_version "
            f"{state.get('artifact_version')!r}; this library reads {VERSION}")
    missing = [key for key in KEYS if key not in state]
    if missing:
        raise CheckpointError(f"model artifact {path} lacks {missing}")
    if state["library_version"] != __version__:
        log.warning("%s was written by graphcl_rec %s (running %s)", path,
                    state["library_version"], __version__)
    bad = first_non_finite(state)
    if bad is not None:
        raise CheckpointError(f"model artifact {path} is unusable: {bad}")
    return state
