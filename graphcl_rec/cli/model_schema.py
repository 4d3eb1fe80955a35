"""Schemas of ``[model]``, ``[model.encoder]`` and ``[model.augment]``.

Each table names a registered class (``objective = "sgl"``, ``name = "lightgcn"``)
and holds that class's keyword arguments; its schema is the class's constructor
signature (:func:`~graphcl_rec.cli.schema.parameters`). The builder fills the
``encoder`` and ``augment`` arguments from the sub-tables, and an encoder's
``num_users``/``num_items`` from the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphcl_rec.cli.checks import ConfigError, check_keys, check_table, check_value
from graphcl_rec.cli.schema import REQUIRED, Param, parameters
from graphcl_rec.models import OBJECTIVES
from graphcl_rec.models.build import (  # the builder's defaults, re-exported here
    DEFAULT_ENCODER,
    DEFAULT_NAMES,
    DEFAULT_OBJECTIVE,
    FROM_DATA,
    SUBTABLES,
    with_default_encoder,
)

__all__ = ["DEFAULT_ENCODER", "DEFAULT_NAMES", "DEFAULT_OBJECTIVE", "FROM_DATA",
           "SUBTABLES", "check_model", "component_params", "objective_params",
           "section_params", "with_default_encoder"]


def objective_params(table: Mapping[str, Any]) -> dict[str, Param]:
    """The ``[model]`` schema: ``objective`` plus the objective's constructor.

    Raises:
        ValueError: If the objective is not registered.
    """
    name = table.get("objective", DEFAULT_OBJECTIVE)
    check_value("model", "objective", name, str)
    cls = OBJECTIVES.get(name)
    return {"objective": Param("objective", str, DEFAULT_OBJECTIVE), **parameters(cls)}


def component_params(key: str, table: Mapping[str, Any]) -> dict[str, Param]:
    """The ``[model.<key>]`` schema: ``name`` plus the named class's constructor.

    Raises:
        ConfigError: If the table has no ``name``.
        ValueError: If ``name`` is not registered.
    """
    section, registry = f"model.{key}", SUBTABLES[key]
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table (got {table!r})")
    default = DEFAULT_NAMES.get(key, REQUIRED)
    name = table.get("name", default)
    if name is REQUIRED:
        raise ConfigError(f"[{section}] needs a 'name', one of {list(registry)}")
    check_value(section, "name", name, str)
    cls = registry.get(name)
    return {"name": Param("name", str, default), **parameters(cls, exclude=FROM_DATA)}


def section_params(model: Mapping[str, Any], path: Sequence[str]) -> dict[str, Param]:
    """The schema of ``[model]`` (``path=[]``) or ``[model.<key>]`` (``path=[key]``).

    Args:
        model: The whole ``[model]`` table (it names the classes).
        path: The section below ``model``.

    Raises:
        ConfigError: For a path that is no section of this model.
        ValueError: For an unregistered name.
    """
    if not path:
        return objective_params(model)
    if len(path) == 1 and path[0] in SUBTABLES:
        check_keys("model", {path[0]: None}, objective_params(model))
        return component_params(path[0], with_default_encoder(model)[path[0]])
    raise ConfigError(f"[model.{'.'.join(path)}] is not a section; sub-tables of "
                      f"[model]: {sorted(SUBTABLES)}")


def check_model(table: Mapping[str, Any]) -> None:
    """Validates ``[model]`` and its sub-tables against the constructors.

    Unknown keys fail listing the valid keys of their section; a wrong type names
    the section, key, value and expected type; a required argument without a key
    is named. Nothing is constructed.

    Raises:
        ConfigError: As above.
        ValueError: For an unregistered objective, encoder or augmentation.

    Examples:
        >>> check_model({"objective": "bpr", "encoder": {"name": "mf", "dim": 1.5}})
        Traceback (most recent call last):
        ...
        graphcl_rec.cli.checks.ConfigError: [model.encoder] dim = 1.5: expected int
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"[model] must be a table (got {table!r})")
    full = with_default_encoder(table)
    params = objective_params(full)
    subs = [key for key in SUBTABLES if key in params]
    check_table("model", full, params, tables=subs)
    for key in subs:
        if key in full:
            check_table(f"model.{key}", full[key], component_params(key, full[key]))
