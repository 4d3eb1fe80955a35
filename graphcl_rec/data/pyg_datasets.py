"""PyG's recommendation datasets, read offline from the raw files PyG downloads.

``torch_geometric.datasets.MovieLens100K``, ``MovieLens1M`` and ``AmazonBook`` keep
their downloads in ``<root>/raw/``. :func:`read_pyg_raw` reads those files
without network access (and without pandas, which PyG's own processing needs) and
returns the user–item edges in the layout PyG's ``process()`` gives them: the
same edge types, edge order, ``rating``/``time`` edge attributes and
``edge_label_index`` test pairs. Node features are not built (no model here uses
them). :func:`load_pyg` turns them into ``(train, val, test)``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from graphcl_rec.data.cold import drop_cold
from graphcl_rec.data.files import read_bytes
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.lightgcn import read_lightgcn
from graphcl_rec.data.pyg import pyg_split
from graphcl_rec.data.split import holdout, random_split
from graphcl_rec.errors import DataError

logger = logging.getLogger("graphcl_rec")

RAW_FILES: dict[str, tuple[str, ...]] = {
    "AmazonBook": ("user_list.txt", "item_list.txt", "train.txt", "test.txt"),
    "MovieLens100K": ("u.item", "u.user", "u1.base", "u1.test"),
    "MovieLens1M": ("movies.dat", "users.dat", "ratings.dat"),
}
"""The raw files of each dataset, as its PyG class names them."""

AMAZON_BOOK_SOURCE = ("gusye1234/LightGCN-PyTorch",
                      "947ca2b3b1d2d3545b114145710cb06c4e57b3d2", "data/amazon-book")
"""Repository, commit and folder of the files PyG's ``AmazonBook`` downloads."""

AMAZON_BOOK_BLOBS = {
    "train.txt": "6ef55159c5f1fd7f6d86eb9ff290d0cc2854ac99",
    "test.txt": "09e5da4e0bf46c751c4ba0f4375e414fd13512cd",
    "user_list.txt": "9caeb9c0c9abd6ef1bdc2dbad1dcbda2dcffb8dc",
    "item_list.txt": "a855fe36654521c76a9fe1bb2144dc420f279c9d",
}
"""Git blob ids of those files at :data:`AMAZON_BOOK_SOURCE`'s commit."""


def git_blob_id(path: str | Path) -> str:
    r"""The git blob id (sha1 of ``"blob <size>\0"`` and the bytes) of a file."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(b"blob %d\0" % Path(path).stat().st_size)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_blob(path: Path, expected: str) -> None:
    """Raises :class:`DataError` unless ``path``'s git blob id is ``expected``."""
    actual = git_blob_id(path)
    if actual != expected:
        repo, commit, folder = AMAZON_BOOK_SOURCE
        raise DataError(f"not the published file: git blob {actual}, expected "
                        f"{expected} ({repo}@{commit[:7]}:{folder})", path=path)


def raw_paths(name: str, root: str | Path) -> list[Path]:
    """The raw files of ``name`` under ``<root>/raw``, checked to exist.

    Raises:
        ValueError: For an unknown ``name``.
        DataError: Naming the folder and every missing file.
    """
    if name not in RAW_FILES:
        raise ValueError(f"unknown PyG dataset {name!r} (choices: {sorted(RAW_FILES)})")
    folder = Path(root) / "raw"
    paths = [folder / f for f in RAW_FILES[name]]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"{name}: missing {', '.join(missing)} (this folder needs "
            f"{', '.join(RAW_FILES[name])}, as torch_geometric.datasets.{name}"
            f"(root) downloads them into <root>/raw)", path=folder)
    return paths


def _first_fields(path: Path, sep: str) -> list[int]:
    """The first field of every non-blank line, as an int (node id lists)."""
    text = read_bytes(path).decode("latin-1")
    try:
        return [int(line.split(sep, 1)[0]) for line in text.splitlines()
                if line.strip()]
    except ValueError as exc:
        raise DataError(f"expected an integer id before {sep!r}", path=path) from exc


def _table(path: Path, sep: str, columns: int) -> np.ndarray:
    """An integer table ``[rows, columns]`` of a ``sep``-separated file."""
    text = read_bytes(path).decode("latin-1").replace(sep, " ")
    try:
        values = np.array(text.split(), dtype=np.int64)
    except ValueError as exc:
        raise DataError("expected integers only", path=path) from exc
    if values.size % columns:
        raise DataError(f"expected {columns} fields per line", path=path)
    return values.reshape(-1, columns)


def _index(ids: list[int], values: np.ndarray, path: Path, what: str) -> torch.Tensor:
    """Positions of ``values`` in ``ids`` (PyG's ``{id: position}`` mapping)."""
    position = {raw: k for k, raw in enumerate(ids)}
    try:
        return torch.tensor([position[v] for v in values.tolist()], dtype=torch.long)
    except KeyError as exc:
        raise DataError(f"{what} id not listed in its node file", path=path,
                        value=exc.args[0]) from exc


def _ratings(data: HeteroData, users: list[int], movies: list[int], path: Path,
             sep: str, test: Path | None) -> HeteroData:
    table = _table(path, sep, 4)
    ei = torch.stack([_index(users, table[:, 0], path, "user"),
                      _index(movies, table[:, 1], path, "movie")])
    rating, time = torch.from_numpy(table[:, 2]), torch.from_numpy(table[:, 3])
    for et, index in ((("user", "rates", "movie"), ei),
                      (("movie", "rated_by", "user"), ei.flip(0))):
        data[et].edge_index, data[et].rating, data[et].time = index, rating, time
    if test is not None:
        table = _table(test, sep, 4)
        store = data["user", "rates", "movie"]
        store.edge_label_index = torch.stack([
            _index(users, table[:, 0], test, "user"),
            _index(movies, table[:, 1], test, "movie")])
        store.edge_label = torch.from_numpy(table[:, 2]).float()
    return data


def read_pyg_raw(name: str, root: str | Path) -> HeteroData:
    """The user–item edges PyG's dataset class ``name`` builds from ``<root>/raw``.

    Args:
        name: ``"MovieLens100K"``, ``"MovieLens1M"`` or ``"AmazonBook"``.
        root: The dataset's root folder (the one passed to PyG's class).

    Returns:
        A ``HeteroData`` with the node counts and PyG's edge types and attributes;
        ``AmazonBook``'s files are first checked against their published git blob
        ids (:data:`AMAZON_BOOK_BLOBS`).
    """
    paths = raw_paths(name, root)
    data = HeteroData()
    if name == "AmazonBook":
        for path in paths:
            verify_blob(path, AMAZON_BOOK_BLOBS[path.name])
        for path, node_type in zip(paths[:2], ("user", "book")):
            lines = read_bytes(path).splitlines()
            data[node_type].num_nodes = sum(1 for line in lines[1:] if line.strip())
        train, test = (read_lightgcn(p) for p in paths[2:])
        ei = torch.stack(train)
        data["user", "rates", "book"].edge_index = ei
        data["book", "rated_by", "user"].edge_index = ei.flip(0)
        data["user", "rates", "book"].edge_label_index = torch.stack(test)
        return data
    sep = "|" if name == "MovieLens100K" else "::"
    movies, users = (_first_fields(p, sep) for p in paths[:2])
    data["movie"].num_nodes, data["user"].num_nodes = len(movies), len(users)
    if name == "MovieLens100K":
        return _ratings(data, users, movies, paths[2], "\t", paths[3])
    return _ratings(data, users, movies, paths[2], "::", None)


def load_pyg(
    name: str, root: str | Path, *, val_ratio: float = 0.1, seed: int = 0,
    data: Any = None,
) -> tuple[Interactions, Interactions, Interactions]:
    """``(train, val, test)`` of one of PyG's recommendation datasets.

    * ``AmazonBook`` and ``MovieLens100K``: PyG's split (``edge_index`` for
      training, ``edge_label_index`` for test; MovieLens' ``u1.base``/``u1.test``).
      Test pairs whose user or item has no training pair are dropped (logged);
      validation is carved out of each user's training pairs
      (:func:`~graphcl_rec.data.split.holdout`).
    * ``MovieLens1M`` (no test split in PyG): every user's ratings split at random
      ``0.9 - val_ratio`` / ``val_ratio`` / ``0.1``.

    Every rating counts as a positive; timestamps are kept, ratings become weights.

    Args:
        name: The PyG class name (see :data:`RAW_FILES`).
        root: The folder PyG's class was given (raw files in ``<root>/raw``).
        val_ratio: Share of the training pairs held out for validation.
        seed: Seed of the validation (and ML-1M test) draw.
        data: The ``HeteroData`` itself (e.g. ``MovieLens100K(root)[0]`` from PyG's
            class, node features and all) instead of reading the raw files.
    """
    het = read_pyg_raw(name, root) if data is None else data
    weight = None if name == "AmazonBook" else "rating"
    if name == "MovieLens1M":
        inter = Interactions.from_pyg(het, weight=weight)
        inter = inter.with_pairs(inter.user, inter.item, inter.timestamp,
                                 None if inter.weight is None else inter.weight.float())
        train, val, test = random_split(inter, (0.9 - val_ratio, val_ratio, 0.1),
                                        seed=seed)
        return train, val, test
    train, test = pyg_split(het, weight=weight)
    if train.weight is not None:
        train = train.with_pairs(train.user, train.item, train.timestamp,
                                 train.weight.float())
    test, removed = drop_cold(train, test)
    if removed:
        logger.warning("%s: dropped %d test pairs whose user or item has no training "
                       "pair", name, removed)
    train, val = holdout(train, val_ratio, seed)
    return train, val, test
