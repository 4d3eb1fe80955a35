"""Every declared dependency earns its place; optional ones name their extra."""

import importlib
import re
import sys
from pathlib import Path

import pytest
import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
MODULE = {"scikit-learn": "sklearn", "faiss-cpu": "faiss",
          "torch-sparse": "torch_sparse", "torch-scatter": "torch_scatter"}
"""Distribution name -> the module it installs, where they differ."""
LIBRARY_EXTRAS = ("analysis", "ann", "bench", "serve", "sparse")
"""Extras that code in graphcl_rec/ or benchmarks/ imports (the rest are tools)."""


def _name(requirement: str) -> str:
    return re.split(r"[<>=;\[ ]", requirement, maxsplit=1)[0].strip()


def _imported_in(module: str, *folders: str) -> bool:
    pattern = re.compile(rf"^\s*(?:import|from) {re.escape(module)}\b", re.MULTILINE)
    return any(pattern.search(path.read_text(encoding="utf-8"))
               for folder in folders for path in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("requirement", PROJECT["dependencies"])
def test_every_required_dependency_is_imported_by_the_package(requirement):
    name = _name(requirement)
    assert _imported_in(MODULE.get(name, name), "graphcl_rec"), name


@pytest.mark.parametrize("extra", LIBRARY_EXTRAS)
def test_every_library_extra_is_imported_by_the_code(extra):
    for requirement in PROJECT["optional-dependencies"][extra]:
        name = _name(requirement)
        if name == "torch-scatter":  # torch_sparse imports it
            continue
        assert _imported_in(MODULE.get(name, name), "graphcl_rec", "benchmarks"), name


def test_features_page_says_what_uses_each_dependency_and_extra():
    text = (ROOT / "docs" / "features.md").read_text()
    section = text.split("## Dependencies", 1)[1].split("\n## ", 1)[0]
    names = {_name(r) for r in PROJECT["dependencies"]}
    for extra, requirements in PROJECT["optional-dependencies"].items():
        assert f"`{extra}`" in section, extra
        names |= {_name(r) for r in requirements if not r.startswith("graphcl-rec")}
    missing = sorted(n for n in names if f"`{n}`" not in section)
    assert missing == [], f"not in features.md's Dependencies: {missing}"


def test_graph_stats_without_networkx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "networkx", None)
    monkeypatch.delitem(sys.modules, "graphcl_rec.analysis.graph_stats", raising=False)
    with pytest.raises(ImportError, match=r"graphcl-rec\[analysis\]"):
        importlib.import_module("graphcl_rec.analysis.graph_stats")


def test_tsne_without_scikit_learn_names_the_extra(monkeypatch):
    from graphcl_rec.analysis import tsne_2d

    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    with pytest.raises(ImportError, match=r"graphcl-rec\[analysis\]"):
        tsne_2d(torch.randn(10, 4), perplexity=3.0)


def test_sklearn_kmeans_without_scikit_learn_names_the_extra(monkeypatch):
    from graphcl_rec.contrast.kmeans import check_backend

    assert check_backend("sklearn") == "sklearn"
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"graphcl-rec\[analysis\]"):
        check_backend("sklearn")
    assert check_backend("torch") == "torch"
