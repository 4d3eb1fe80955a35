"""Turns configuration tables into data splits and model objects."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from graphcl_rec import data
from graphcl_rec.cli.checks import ConfigError
from graphcl_rec.cli.config import DataConfig
from graphcl_rec.cli.model_schema import check_model
from graphcl_rec.data import Interactions
from graphcl_rec.errors import DataError
from graphcl_rec.models import Recommender
from graphcl_rec.models.build import ModelTableError, build_recommender

Parts = tuple[Interactions, Interactions, Interactions]

log = logging.getLogger("graphcl_rec")


def load_data(cfg: DataConfig) -> Parts:
    """Train, validation and test interactions for a data section.

    Args:
        cfg: The ``[data]`` section: a named ``dataset``, or a ``path`` to a
            delimited file (split by ``ratios``) or to a LightGCN folder
            (``format = "lightgcn"``; see :func:`load_lightgcn_folder`).

    Returns:
        ``(train, val, test)`` over one index space.

    Raises:
        DataError: Also when no test user could rank an item that is not one of
            their own (:func:`check_rankable`).
    """
    parts = _load_parts(cfg)
    check_rankable(parts, cfg.path if cfg.path is not None else cfg.dataset)
    return parts


def _load_parts(cfg: DataConfig) -> Parts:
    """``(train, val, test)`` as :func:`load_data` describes, unchecked."""
    if cfg.path is not None:
        if cfg.format == "lightgcn":
            return load_lightgcn_folder(cfg.path, cfg.val_ratio, cfg.split_seed)
        kwargs: dict[str, Any] = {"sep": cfg.sep, "header": cfg.header,
                                  "min_rating": cfg.min_rating}
        if cfg.columns is not None:
            kwargs["columns"] = cfg.columns
        inter = data.load_interactions(cfg.path, **kwargs)
        if len(cfg.ratios) != 3:
            raise ValueError(f"[data] ratios must have 3 entries (got {cfg.ratios})")
        train, val, test = data.random_split(inter, ratios=tuple(cfg.ratios),
                                             seed=cfg.split_seed)
        return train, val, test
    if cfg.dataset is None:
        raise ValueError("[data] needs either 'dataset' or 'path'")
    return data.load(cfg.dataset, val_ratio=cfg.val_ratio, seed=cfg.split_seed)


def check_rankable(parts: Parts, source: str | Path | None = None) -> None:
    """Refuses data on which every test ranking is trivial.

    A test user's ranking runs over the items they have no training or validation
    pair with; if that user has a pair with every item, the only candidates are
    their own test items, so every metric is a perfect 1.0 whatever the model (a
    file with one user is the common case). Test users with no other item are
    counted and reported.

    Args:
        parts: ``(train, val, test)`` (disjoint, without repeated pairs).
        source: The file or dataset, named in the error.

    Raises:
        DataError: If no test user has an item outside their own pairs.
    """
    train, val, test = parts
    if len(test) == 0:
        return
    seen = train.user_degree() + val.user_degree() + test.user_degree()
    users = test.user.unique()
    full = seen[users] >= train.num_items
    trivial = int(full.sum())
    if trivial == len(users):
        raise DataError(
            f"each of the {len(users)} test user(s) has a pair with every one of the "
            f"{train.num_items} items, so a ranking holds only the user's own test "
            f"items and every metric would be 1.0 whatever the model; the data needs "
            f"items a user has not interacted with (more users or items)",
            path=source)
    if trivial:
        log.warning("%s of %s test users have a pair with every item; their metrics "
                    "are 1.0 whatever the model", trivial, len(users))


def load_lightgcn_folder(path: str | Path, val_ratio: float = 0.1,
                         seed: int = 0) -> Parts:
    """``(train, val, test)`` from a folder in the LightGCN split format.

    The folder holds ``train.txt`` and ``test.txt`` (or ``.gz``), read with
    :func:`~graphcl_rec.data.read_lightgcn`. As for the named LightGCN datasets
    (:func:`~graphcl_rec.data.load`): ids are indices (``max id + 1`` over both
    files), repeated pairs are collapsed, a test pair whose user or item has no
    training pair is an error, and ``val_ratio`` of each user's training pairs
    are held out (:func:`~graphcl_rec.data.holdout`).

    Raises:
        DataError: For a missing file, a bad id or a test pair unseen in training.
    """
    if not 0 <= val_ratio < 1:
        raise ValueError(f"'val_ratio' must be in [0, 1) (got {val_ratio})")
    folder = Path(path)
    if not folder.is_dir():
        what = ("folder not found" if not folder.exists() and not folder.is_symlink()
                else "not a folder; format = \"lightgcn\" reads a folder holding "
                "train.txt and test.txt")
        raise DataError(what, path=folder)
    pairs = {}
    for part in ("train", "test"):
        found = [f for f in (folder / f"{part}.txt", folder / f"{part}.txt.gz")
                 if f.exists() or f.is_symlink()]  # read_lightgcn says what it is
        if not found:
            raise DataError(f"no {part}.txt or {part}.txt.gz in this LightGCN folder",
                            path=folder)
        pairs[part] = data.read_lightgcn(found[0])
        if pairs[part][0].numel() == 0:
            raise DataError("holds no (user, item) pair: each line names a user and "
                            "no item", path=found[0])
    users = torch.cat([pairs["train"][0], pairs["test"][0]])
    items = torch.cat([pairs["train"][1], pairs["test"][1]])
    num_users = int(users.max()) + 1 if users.numel() else 0
    num_items = int(items.max()) + 1 if items.numel() else 0
    user_ids, item_ids = (tuple(map(str, range(n))) for n in (num_users, num_items))
    space = Interactions(users[:0], items[:0], num_users, num_items, user_ids,
                         item_ids)
    train, test = (space.with_pairs(*pairs[p]).deduplicate()[0]
                   for p in ("train", "test"))
    cold = (train.user_degree()[test.user] == 0) | (train.item_degree()[test.item] == 0)
    if bool(cold.any()):
        k = int(cold.nonzero()[0, 0])
        raise DataError(f"{int(cold.sum())} test pairs have a user or item with no "
                        "training pair", path=folder / "test.txt",
                        value=f"{int(test.user[k])} {int(test.item[k])}")
    train, val = data.holdout(train, val_ratio, seed)
    data.check_disjoint(train, val, test, names=["train", "val", "test"])
    return train, val, test


def build_model(table: Mapping[str, Any], num_users: int,
                num_items: int) -> Recommender:
    """Builds ``OBJECTIVES[objective](encoder=..., augment=..., **rest)``.

    The table is checked against the constructors' signatures first
    (:func:`~graphcl_rec.cli.model_schema.check_model`), so nothing is constructed
    from an invalid table; the classes are then resolved and built by
    :func:`graphcl_rec.models.build.build_recommender`, which
    :func:`graphcl_rec.serve.load` also uses to rebuild a saved run's model.

    Args:
        table: The ``[model]`` table: ``objective`` plus the objective's keyword
            arguments, an ``[model.encoder]`` table (``name`` + arguments) and, for
            objectives that take one, an ``[model.augment]`` table.
        num_users: Size of the user index space.
        num_items: Size of the item index space.

    Returns:
        The recommender.

    Raises:
        ConfigError: For an unknown key, a wrong type or a missing argument, naming
            the section and its valid keys.
        ValueError: For an unregistered objective, encoder or augmentation.
    """
    check_model(table)
    try:
        return build_recommender(table, num_users, num_items)
    except ModelTableError as exc:  # a value a constructor refuses
        raise ConfigError(str(exc)) from None
