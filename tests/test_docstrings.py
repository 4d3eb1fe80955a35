"""Every public class and function documents its arguments and shows an example.

The public API is every name in ``__all__`` of ``graphcl_rec`` and of each
subpackage listed in ``SUBPACKAGES`` that is a class or a function defined inside
``graphcl_rec`` (re-exported modules, constants and aliases are not checked). Each
must have

* a docstring;
* when its signature has parameters (other than ``self``/``cls``, ``*args`` and
  ``**kwargs``), an ``Args:`` section (Google style) naming every one of them; for a
  class the section may sit in the class docstring or in ``__init__``'s, and a
  dataclass or ``NamedTuple`` may name its fields under ``Attributes:`` instead;
* an ``Examples:`` section with at least one ``>>>`` line that is neither an
  import nor marked ``# doctest: +SKIP``.

The examples themselves run under pytest's ``--doctest-modules`` (see ``addopts`` in
``pyproject.toml``), so an example that stops working fails the suite.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
from collections.abc import Callable, Iterator

import pytest

PACKAGE = "graphcl_rec"
SUBPACKAGES = (
    "data",
    "graph",
    "augment",
    "losses",
    "models",
    "contrast",
    "eval",
    "train",
    "analysis",
    "serve",
    "native",
)

# Names still missing part of their documentation, as ``module:name``. This set must
# only shrink: the test fails when a name listed here is complete, so fix the name and
# delete it from the set in the same change.
PENDING: frozenset[str] = frozenset()

SECTION = re.compile(r"^(?P<indent>[ ]*)(?P<title>[A-Z][A-Za-z ]*):[ ]*$", re.MULTILINE)
ARG_LINE = re.compile(r"^[ ]*\*{0,2}(?P<name>\w+)(?:[ ]*\([^)]*\))?[ ]*:", re.MULTILINE)
# A ``>>>`` line that does something: not an import, not skipped.
RUNS = re.compile(
    r"^[ ]*>>>[ ]+(?!import |from )(?!.*doctest:.*\+SKIP).*\S.*$", re.MULTILINE
)
NO_EXAMPLE = "Examples section with a >>> line that runs (not only imports or +SKIP)"
SKIPPED_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _public_objects() -> Iterator[tuple[str, str, object]]:
    """Yield ``(module, name, object)`` for every checked public name."""
    seen: set[int] = set()
    for module_name in (PACKAGE, *(f"{PACKAGE}.{sub}" for sub in SUBPACKAGES)):
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            defined_in = getattr(obj, "__module__", "") or ""
            if not (defined_in == PACKAGE or defined_in.startswith(PACKAGE + ".")):
                continue
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            yield module_name, name, obj


def _sections(doc: str) -> dict[str, str]:
    """Split a cleaned docstring into its Google-style sections by title."""
    found: dict[str, str] = {}
    matches = list(SECTION.finditer(doc))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(doc)
        found.setdefault(match["title"], "")
        found[match["title"]] += doc[match.end() : end]
    return found


def _documented_names(section: str) -> set[str]:
    """Names that a section's entries start with (``name:`` / ``name (type):``)."""
    lines = [line for line in section.splitlines() if line.strip()]
    if not lines:
        return set()
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    entries = "\n".join(
        line for line in lines if len(line) - len(line.lstrip()) == indent
    )
    return {match["name"] for match in ARG_LINE.finditer(entries)}


def _parameters(obj: object) -> list[str]:
    """Parameters a caller passes, without ``self``/``cls``/``*args``/``**kwargs``."""
    if inspect.isclass(obj) and issubclass(obj, (enum.Enum, BaseException)):
        return []
    if inspect.isclass(obj) and issubclass(obj, tuple) and hasattr(obj, "_fields"):
        return list(obj._fields)  # a NamedTuple: its fields
    target: Callable[..., object]
    if inspect.isclass(obj):
        if "__init__" not in vars(obj) and not dataclasses.is_dataclass(obj):
            init = obj.__init__
            own = getattr(init, "__module__", "").startswith(PACKAGE)
            if init is object.__init__ or not own:
                return []
        target = obj
    else:
        target = obj  # type: ignore[assignment]
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [
        name
        for name, param in signature.parameters.items()
        if name not in ("self", "cls") and param.kind not in SKIPPED_KINDS
    ]


def _problems(obj: object) -> list[str]:
    """What ``obj``'s documentation lacks, as short phrases (empty when complete)."""
    doc = inspect.getdoc(obj) if obj.__doc__ else None
    if not doc:
        return ["docstring"]
    problems: list[str] = []
    sections = _sections(doc)
    params = _parameters(obj)
    if params:
        documented = _documented_names(sections.get("Args", ""))
        if inspect.isclass(obj):
            init = vars(obj).get("__init__")
            if init is not None and init.__doc__:
                init_doc = inspect.getdoc(init) or ""
                documented |= _documented_names(_sections(init_doc).get("Args", ""))
            if dataclasses.is_dataclass(obj) or hasattr(obj, "_fields"):
                documented |= _documented_names(sections.get("Attributes", ""))
        if "Args" not in sections and not documented:
            problems.append("Args section")
        missing = [name for name in params if name not in documented]
        if missing and documented:
            problems.append("Args entries for " + ", ".join(missing))
    if not RUNS.search(sections.get("Examples", "")):
        problems.append(NO_EXAMPLE)
    return problems


def _report() -> dict[str, list[str]]:
    return {
        f"{module}:{name}": _problems(obj) for module, name, obj in _public_objects()
    }


def test_public_api_is_found() -> None:
    names = {f"{module}:{name}" for module, name, _ in _public_objects()}
    assert "graphcl_rec:Trainer" in names
    assert "graphcl_rec.models:LightGCN" in names
    assert len(names) > 50


def test_every_public_name_is_documented() -> None:
    report = _report()
    unexpected = {
        key: found for key, found in report.items() if found and key not in PENDING
    }
    lines = sorted(f"{key}: missing {'; '.join(v)}" for key, v in unexpected.items())
    assert not unexpected, (
        f"{len(unexpected)} public names lack documentation:\n" + "\n".join(lines)
    )


def test_pending_only_shrinks() -> None:
    report = _report()
    unknown = sorted(PENDING - report.keys())
    assert not unknown, f"PENDING names that are not public any more: {unknown}"
    complete = sorted(key for key in PENDING if not report[key])
    assert not complete, f"complete now, delete from PENDING: {complete}"


def _documented(doc: str) -> object:
    def function(alpha: int, beta: int = 0, *args: int, **kwargs: int) -> None:
        pass

    function.__doc__ = doc
    return function


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (None, ["docstring"]),
        ("Sum.\n\nExamples:\n    >>> 1\n    1\n", ["Args section"]),
        (
            "Sum.\n\nArgs:\n    alpha: a.\n    beta: b.\n\nExample:\n    >>> 1\n",
            [NO_EXAMPLE],
        ),
        (
            "Sum.\n\nArgs:\n    alpha: first.\n\nExamples:\n    >>> 1\n    1\n",
            ["Args entries for beta"],
        ),
        ("Sum.\n\nArgs:\n    alpha: a.\n    beta (int): b.\n", [NO_EXAMPLE]),
        (
            "Sum.\n\nArgs:\n    alpha: a.\n    beta: b.\n\n"
            "Examples:\n    >>> 1  # doctest: +SKIP\n    1\n",
            [NO_EXAMPLE],
        ),
        (
            "Sum.\n\nArgs:\n    alpha: a.\n    beta: b.\n\n"
            "Examples:\n    >>> import math\n    >>> math.pi  # doctest: +SKIP\n",
            [NO_EXAMPLE],
        ),
        (
            "Sum.\n\nArgs:\n    alpha: a,\n        beta: not an entry.\n"
            "    beta: b.\n\n"
            "Examples:\n    >>> 1\n    1\n",
            [],
        ),
    ],
)
def test_problems_are_detected(doc: str | None, expected: list[str]) -> None:
    assert _problems(_documented(doc)) == expected  # type: ignore[arg-type]
