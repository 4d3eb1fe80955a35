"""The checks a config section passes: known keys, values of the declared types.

A value fits an annotation by :func:`matches` (TOML's types against ``typing``'s);
every failure is one :class:`ConfigError` line naming the section, the key, the
value and what was expected.
"""

from __future__ import annotations

import collections.abc as cabc
import os
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from graphcl_rec.cli.schema import Param, dataclass_params


class ConfigError(ValueError, TypeError):
    """A config key unknown to its section, missing, or holding a wrong type.

    It is a ``ValueError`` (bad configuration) and a ``TypeError`` (what the
    constructor would have raised for the same keyword argument).
    """


def matches(value: Any, hint: Any) -> bool:
    """Whether a config value (TOML types) fits an annotation.

    ``bool`` is never an ``int`` or ``float``; an ``int`` is a ``float``; a string
    is a ``Path``; lists and tuples are sequences (a string is not).

    Examples:
        >>> matches(3, float), matches(True, int), matches(1.5, int)
        (True, False, False)
        >>> matches([1, 2], cabc.Sequence[int]), matches("a", cabc.Sequence[str])
        (True, False)
    """
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    if hint is None or hint is type(None):
        return value is None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is cabc.Callable:
        return callable(value)
    if origin is not None:
        return _matches_generic(value, origin, args)
    if not isinstance(hint, type):
        return True  # e.g. a NewType or a forward reference: not checked
    if isinstance(value, bool) and hint in (int, float):
        return False
    if hint is float:
        return isinstance(value, (int, float))
    if issubclass(hint, os.PathLike):
        return isinstance(value, (str, os.PathLike))
    return isinstance(value, hint)


def _matches_generic(value: Any, origin: type, args: tuple[Any, ...]) -> bool:
    """``matches`` for ``list[int]``, ``Sequence[float]``, ``dict[str, Any]``..."""
    if issubclass(origin, Mapping):
        key, val = args or (Any, Any)
        return isinstance(value, Mapping) and all(
            matches(k, key) and matches(v, val) for k, v in value.items())
    if issubclass(origin, (str, bytes)):
        return isinstance(value, origin)
    if issubclass(origin, cabc.Iterable):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(matches, value, args))
        item = args[0] if args else Any
        return all(matches(v, item) for v in value)
    return isinstance(value, origin)


def type_name(hint: Any) -> str:
    """A short readable name of an annotation.

    Examples:
        >>> type_name(cabc.Sequence[int]), type_name(typing.Literal["a", "b"])
        ('Sequence[int]', "one of 'a', 'b'")
    """
    if hint is None or hint is type(None):
        return "None"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))


def check_keys(section: str, table: Mapping[str, Any], valid: Iterable[str]) -> None:
    """Raises :class:`ConfigError` naming the unknown keys and listing the valid ones.

    Examples:
        >>> check_keys("train", {"learning_rate": 1}, ["lr", "epochs"])
        Traceback (most recent call last):
        ...
        graphcl_rec.cli.checks.ConfigError: unknown key 'learning_rate' in [train]; \
valid keys: ['epochs', 'lr']
    """
    valid = sorted(valid)
    unknown = sorted(set(table) - set(valid))
    if unknown:
        shown = ", ".join(repr(k) for k in unknown)
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} {shown} in "
                          f"[{section}]; valid keys: {valid}")


def check_value(section: str, key: str, value: Any, hint: Any) -> None:
    """Raises :class:`ConfigError` naming section, key, value and expected type.

    ``section=""`` is the top level of a config (no table).

    Examples:
        >>> check_value("train", "lr", "fast", float)
        Traceback (most recent call last):
        ...
        graphcl_rec.cli.checks.ConfigError: [train] lr = 'fast': expected float
    """
    if not matches(value, hint):
        where = f"[{section}] " if section else ""
        raise ConfigError(f"{where}{key} = {value!r}: expected {type_name(hint)}")


def check_table(section: str, table: Mapping[str, Any], params: Mapping[str, Param],
                tables: Iterable[str] = ()) -> None:
    """Validates a whole section: unknown keys, wrong types, missing required keys.

    Args:
        section: Its dotted name, quoted in errors (e.g. ``"model.encoder"``).
        table: The section's keys and values.
        params: Its schema (:func:`~graphcl_rec.cli.schema.parameters`).
        tables: Keys whose values are sub-tables checked separately.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table (got {table!r})")
    check_keys(section, table, params)
    nested = set(tables)
    for key, value in table.items():
        if key not in nested:
            check_value(section, key, value, params[key].hint)
    missing = sorted(n for n, p in params.items() if p.required and n not in table)
    if missing:
        hint = "; ".join(f"add a [{section}.{n}] table" for n in missing if n in nested)
        raise ConfigError(f"missing required key(s) {missing} in [{section}]"
                          + (f" ({hint})" if hint else ""))


def check_fields(obj: Any, section: str) -> None:
    """Checks every field of a dataclass instance against its annotation.

    Raises:
        ConfigError: Naming section, field, value and expected type.
    """
    for name, p in dataclass_params(type(obj)).items():
        check_value(section, name, getattr(obj, name), p.hint)
