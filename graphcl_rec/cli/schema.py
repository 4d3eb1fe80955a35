"""Config schemas read from constructor signatures.

A config section's keys are the parameters of the constructor it feeds, and each
value must match that parameter's annotation (:mod:`graphcl_rec.cli.checks`).
Nothing here repeats a default: :func:`parameters` reads names, defaults and types
from ``inspect.signature`` and ``typing.get_type_hints``, so a new keyword argument
of a model is a new config key, and :func:`from_signatures` makes a dataclass of
such parameters.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

REQUIRED: Any = inspect.Parameter.empty
"""The default of a parameter that has none."""


@dataclasses.dataclass(frozen=True)
class Param:
    """One config key: a constructor parameter.

    Attributes:
        name: The keyword.
        hint: The resolved annotation (``Any`` when there is none).
        default: The constructor's default, or :data:`REQUIRED`.
    """

    name: str
    hint: Any
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        """Whether the constructor has no default for it."""
        return self.default is REQUIRED


def parameters(obj: Callable[..., Any],
               exclude: Iterable[str] = ()) -> dict[str, Param]:
    """The keyword parameters of a class's constructor (or a function).

    Positional-or-keyword and keyword-only parameters count; ``self``, ``*args`` and
    ``**kwargs`` do not. String annotations (``from __future__ import annotations``)
    are resolved in the defining module; one that cannot be resolved is not checked.

    Args:
        obj: A class (its ``__init__`` is read) or a function.
        exclude: Names left out (filled by the caller, not by a config).

    Returns:
        ``{name: Param}`` in signature order.

    Examples:
        >>> def f(a: int, *, b: float | None = 0.5, **kw): ...
        >>> [(p.name, p.required) for p in parameters(f).values()]
        [('a', True), ('b', False)]
        >>> parameters(f)["b"].hint
        float | None
    """
    func = obj.__init__ if isinstance(obj, type) else obj  # type: ignore[misc]
    sig = inspect.signature(func)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - an unresolvable name: resolve one at a time
        hints = {name: _hint(func, name, p.annotation)
                 for name, p in sig.parameters.items()}
    skip = set(exclude) | {"self"}
    out = {}
    for name, p in sig.parameters.items():
        if p.kind not in kinds or name in skip:
            continue
        hint = hints.get(name, Any)
        unannotated = p.annotation is inspect.Parameter.empty
        if unannotated and p.default is not REQUIRED and p.default is not None:
            hint = type(p.default)  # the default's type stands in
        out[name] = Param(name, hint, p.default)
    return out


def dataclass_params(cls: type) -> dict[str, Param]:
    """The schema of a dataclass: its fields, resolved types and defaults.

    Examples:
        >>> @dataclasses.dataclass
        ... class Section:
        ...     lr: float = 1e-3
        >>> dataclass_params(Section)["lr"]
        Param(name='lr', hint=<class 'float'>, default=0.001)
    """
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        elif default is dataclasses.MISSING:
            default = REQUIRED
        out[f.name] = Param(f.name, hints.get(f.name, Any), default)
    return out


def _hint(func: Callable[..., Any], name: str, annotation: Any) -> Any:
    """One resolved annotation of ``func``, or ``Any`` when it cannot be resolved."""
    if annotation is inspect.Parameter.empty:
        return Any

    def probe() -> None: ...

    probe.__annotations__ = {name: annotation}
    try:
        return typing.get_type_hints(probe, getattr(func, "__globals__", None))[name]
    except Exception:  # noqa: BLE001 - e.g. a name imported only for type checkers
        return Any


def _field(default: Any) -> Any:
    """A dataclass field for a constructor default (TOML lists for tuples)."""
    if default is REQUIRED:
        return dataclasses.field()
    if isinstance(default, tuple):
        return dataclasses.field(default_factory=lambda: list(default))
    if type(default).__hash__ is None:  # list, dict, set: one copy per instance
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default))
    return dataclasses.field(default=default)


def from_signatures(*sources: type, exclude: Iterable[str] = ()
                    ) -> Callable[[type[T]], type[T]]:
    """Class decorator: a dataclass whose fields are the sources' parameters.

    Args:
        *sources: Classes whose constructor parameters become fields (names must
            not repeat across them).
        exclude: Parameters that are not fields.

    Returns:
        The decorator; the class also gets ``SOURCES = {source: [its field names]}``.

    Examples:
        >>> class Opt:
        ...     def __init__(self, *, lr: float, betas: tuple[float, ...] = (0.9,)):
        ...         ...
        >>> @from_signatures(Opt)
        ... class OptConfig:
        ...     pass
        >>> OptConfig(lr=0.1)
        OptConfig(lr=0.1, betas=[0.9])
    """

    def wrap(cls: type[T]) -> type[T]:
        params: dict[str, Param] = {}
        owners: dict[type, list[str]] = {}
        for src in sources:
            for name, p in parameters(src, exclude).items():
                if name in params:
                    raise TypeError(f"{cls.__name__}: '{name}' is an argument of "
                                    f"more than one of {sources}")
                params[name] = p
                owners.setdefault(src, []).append(name)
        ordered = sorted(params.values(), key=lambda p: not p.required)
        cls.__annotations__ = {p.name: p.hint for p in ordered}
        for p in ordered:
            setattr(cls, p.name, _field(p.default))
        cls.SOURCES = owners  # type: ignore[attr-defined]
        return dataclasses.dataclass(cls)

    return wrap
