"""Builds a recommender from a ``[model]`` table by registry names (no checks).

The table names a registered objective (``objective = "sgl"``) and holds its
keyword arguments; the ``encoder`` and ``augment`` arguments are sub-tables naming
a registered class (``name = "lightgcn"``) with that class's arguments. The
contrastive objectives register themselves when :mod:`graphcl_rec.contrast` is
imported, which ``import graphcl_rec`` (any of its modules) does.

This is the pure part of the command line's builder
(:func:`graphcl_rec.cli.build.build_model`, which first checks the table against
the constructors' signatures); :func:`graphcl_rec.serve.load` rebuilds a saved
run's model with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphcl_rec.augment import AUGMENTATIONS
from graphcl_rec.models.base import ENCODERS, OBJECTIVES, Recommender
from graphcl_rec.registry import Registry

DEFAULT_OBJECTIVE = "bpr"
"""The objective of a ``[model]`` table without ``objective``."""
DEFAULT_ENCODER = "lightgcn"
"""The encoder of a ``[model]`` table without an ``[model.encoder]`` table."""
DEFAULT_NAMES = {"encoder": DEFAULT_ENCODER}
"""The ``name`` of a sub-table that has none."""
SUBTABLES: dict[str, Registry] = {"encoder": ENCODERS, "augment": AUGMENTATIONS}
"""Objective arguments given as ``[model.<key>]`` tables: ``name`` plus arguments."""
FROM_DATA = ("num_users", "num_items")
"""Encoder arguments the builder takes from the data, never from a config."""


class ModelTableError(ValueError):
    """A constructor refused a value of the table; the message names the section."""


def with_default_encoder(table: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a ``[model]`` table with the default encoder table if it has none."""
    return {"encoder": {"name": DEFAULT_ENCODER}, **table}


def build_recommender(table: Mapping[str, Any], num_users: int,
                      num_items: int) -> Recommender:
    """``OBJECTIVES[objective](encoder=..., augment=..., **rest)`` from a table.

    Args:
        table: The ``[model]`` table: ``objective`` (default ``"bpr"``) plus the
            objective's keyword arguments, an ``encoder`` table (``name``, default
            ``"lightgcn"``, plus arguments) and, for objectives that take one, an
            ``augment`` table.
        num_users: Size of the user index space (passed to the encoder).
        num_items: Size of the item index space.

    Returns:
        The recommender, freshly initialised.

    Raises:
        ModelTableError: For a value a constructor refuses, naming the section
            (``[model.encoder] ...``).
        ValueError: For an unregistered objective, encoder or augmentation.
        TypeError: For a keyword a constructor does not take (the command line
            checks tables first, see :func:`graphcl_rec.cli.model_schema.check_model`).

    Examples:
        >>> model = build_recommender({"encoder": {"name": "mf", "dim": 4}}, 3, 5)
        >>> type(model).__name__, model.encoder.num_users, model.encoder.num_items
        ('BPRRecommender', 3, 5)
    """
    kwargs = with_default_encoder(table)
    objective = kwargs.pop("objective", DEFAULT_OBJECTIVE)
    for key, registry in SUBTABLES.items():
        if key in kwargs:
            sub = dict(kwargs[key])
            name = sub.pop("name", DEFAULT_NAMES.get(key))
            if key == "encoder":
                sub.update(num_users=num_users, num_items=num_items)
            cls = registry.get(name)
            try:
                kwargs[key] = cls(**sub)
            except ValueError as exc:  # a value the constructor refuses
                raise ModelTableError(f"[model.{key}] {exc}") from None
    cls = OBJECTIVES.get(objective)
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ModelTableError(f"[model] {exc}") from None
