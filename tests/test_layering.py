"""Imports go one way: no module of graphcl_rec imports from a layer above its own.

Every ``import`` and ``from ... import`` in the package is read with :mod:`ast`
(inside functions too, since a deferred import is still a dependency); only those
under ``if TYPE_CHECKING:`` are exempt.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "graphcl_rec"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "errors", "paths", "registry", "tensor_types"),  # leaves
    ("native",),
    ("data",),
    ("graph",),
    ("augment", "losses", "models"),
    ("contrast",),
    ("eval", "train", "analysis"),
    ("serve",),
    ("bench", "cli"),
)
"""Bottom to top; a module may import from its own layer and those below it.
``graphcl_rec/__init__.py`` (the package itself) is above all of them."""

TOP = len(LAYERS)

ALLOWED: dict[tuple[str, str], str] = {}
"""Known upward imports in files this change does not own, to be removed once they
are fixed: ``(importer, imported): why``."""


def layer_of(module: str) -> int:
    """The layer index of a dotted module name under ``graphcl_rec``."""
    parts = module.split(".")
    if parts == ["graphcl_rec"]:
        return TOP
    for index, names in enumerate(LAYERS):
        if parts[1] in names:
            return index
    raise AssertionError(f"{module}: 'graphcl_rec.{parts[1]}' has no layer; add it "
                         f"to LAYERS in {Path(__file__).name}")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_submodule(dotted: str) -> bool:
    base = PACKAGE.parent.joinpath(*dotted.split("."))
    return base.is_dir() or base.with_suffix(".py").is_file()


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """The graphcl_rec modules that the import statements under ``node`` name."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and is_type_checking(child.test):
            for other in child.orelse:
                yield from imported(other, module, is_package)
            continue
        if isinstance(child, ast.Import):
            yield from (alias.name for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                package = module.split(".")
                package = package if is_package else package[:-1]
                package = package[: len(package) - child.level + 1]
                base = ".".join(package + ([base] if base else []))
            for alias in child.names:
                full = f"{base}.{alias.name}"
                yield full if is_submodule(full) else base
        yield from imported(child, module, is_package)


def upward_imports() -> list[tuple[str, str, int, int]]:
    """``(importer, imported, importer's layer, imported layer)`` going upwards."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        own = layer_of(module)
        for target in imported(tree, module, path.name == "__init__.py"):
            if target != "graphcl_rec" and not target.startswith("graphcl_rec."):
                continue
            if layer_of(target) > own:
                found.append((module, target, own, layer_of(target)))
    return found


def test_every_subpackage_and_module_has_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_no_module_imports_from_a_layer_above_its_own():
    bad = [f"{src} (layer {a}) imports {dst} (layer {b})"
           for src, dst, a, b in upward_imports() if (src, dst) not in ALLOWED]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_allowed_exceptions_still_exist():
    found = {(src, dst) for src, dst, _, _ in upward_imports()}
    stale = [f"{src} -> {dst}" for src, dst in ALLOWED if (src, dst) not in found]
    assert not stale, "fixed: remove from ALLOWED: " + ", ".join(stale)


def test_the_checker_sees_upward_and_deferred_imports():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import graphcl_rec.eval.metrics\n"
        "from graphcl_rec import native\n"
        "from graphcl_rec import __version__\n"
        "from ..train import checkpoint\n"
        "if TYPE_CHECKING:\n"
        "    from graphcl_rec.cli import main\n"
        "def later():\n"
        "    from graphcl_rec.contrast import sgl\n")
    names = list(imported(tree, "graphcl_rec.data.io", False))
    assert names == ["typing", "graphcl_rec.eval.metrics", "graphcl_rec.native",
                     "graphcl_rec", "graphcl_rec.train.checkpoint",
                     "graphcl_rec.contrast.sgl"]
    assert [layer_of(n) for n in names[1:]] == [6, 1, TOP, 6, 5]
