"""Turns configuration tables into data splits and model objects."""

from __future__ import annotations

from typing import Any

from graphcl_rec.augment import AUGMENTATIONS
from graphcl_rec.cli.config import DataConfig
from graphcl_rec.data import Interactions
from graphcl_rec.models import ENCODERS, OBJECTIVES, Recommender


def load_data(cfg: DataConfig) -> tuple[Interactions, Interactions, Interactions]:
    """Train, validation and test interactions for a data section."""
    from graphcl_rec import data

    if cfg.path is not None:
        if cfg.format == "lightgcn":
            return data.load(cfg.path, val_ratio=cfg.val_ratio, seed=cfg.split_seed)
        if cfg.format != "delimited":
            raise ValueError(f"Could not resolve data format '{cfg.format}' among "
                             "choices ['delimited', 'lightgcn']")
        kwargs: dict[str, Any] = {"sep": cfg.sep, "min_rating": cfg.min_rating}
        if cfg.columns is not None:
            kwargs["columns"] = cfg.columns
        inter = data.load_interactions(cfg.path, **kwargs)
        parts = data.random_split(inter, ratios=tuple(cfg.ratios), seed=cfg.split_seed)
        if len(parts) != 3:
            raise ValueError(f"[data] ratios must have 3 entries (got {cfg.ratios})")
        return parts[0], parts[1], parts[2]
    if cfg.dataset is None:
        raise ValueError("[data] needs either 'dataset' or 'path'")
    return data.load(cfg.dataset, val_ratio=cfg.val_ratio, seed=cfg.split_seed)


def build_model(table: dict[str, Any], num_users: int, num_items: int) -> Recommender:
    """Builds ``OBJECTIVES[objective](encoder=..., augment=..., **rest)``.

    Args:
        table: The ``[model]`` table: ``objective`` plus the objective's keyword
            arguments, an ``[model.encoder]`` table (``name`` + arguments) and an
            optional ``[model.augment]`` table.
        num_users: Size of the user index space.
        num_items: Size of the item index space.

    Returns:
        The recommender. Unknown keys fail with the constructor's own ``TypeError``.
    """
    table = dict(table)
    objective = table.pop("objective", "bpr")
    enc = dict(table.pop("encoder", {"name": "lightgcn"}))
    enc_name = enc.pop("name", "lightgcn")
    encoder = ENCODERS.resolve(enc_name, num_users=num_users, num_items=num_items,
                               **enc)
    if "augment" in table:
        aug = dict(table.pop("augment"))
        table["augment"] = AUGMENTATIONS.resolve(aug.pop("name"), **aug)
    return OBJECTIVES.get(objective)(encoder=encoder, **table)
