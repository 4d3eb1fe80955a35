"""The documentation site: every page's Python blocks run, and the site builds.

Each page under ``docs/`` with Python blocks (every tutorial has some) is run block
by block, in order, in one namespace per page, in a fresh working directory, with
``GRAPHCL_REC_DOCS_QUICK=1`` (small data, one or two epochs) and matplotlib's Agg
backend. A block fenced as ```` ```python ```` runs; a fence with
``title="name.py"`` is written to ``name.py`` in the working directory instead (a
module that later blocks import); put ``<!-- no-run -->`` on the line before a
fence to show a block without running it (docs/index.md documents all three).
Bash blocks are shown, never run. The pages made from results files
(``python -m benchmarks.docs_pages``) must be what those files make now.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
QUICK_ENV = "GRAPHCL_REC_DOCS_QUICK"
NO_RUN = "<!-- no-run -->"
TITLE = re.compile(r'title="([\w.-]+\.py)"')

FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})[ ]*(?P<info>[^\n`]*)$")


@dataclass
class Block:
    number: int  # 1-based among the page's runnable python blocks
    line: int  # 1-based line of the opening fence
    code: str
    file: str | None = None  # ``title="name.py"``: written to the directory, not run


class DocsBlockError(AssertionError):
    """A block of a page raised; the message names the page, block and line."""


def extract_blocks(text: str) -> list[Block]:
    """The runnable ```` ```python ```` blocks of a Markdown text, in order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m["fence"], m["info"].strip()
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(m["indent"]):])
            i += 1
        i += 1  # closing fence
        lang = info.split()[0].lstrip(".{").rstrip("}") if info else ""
        prev = lines[start - 1].strip() if start else ""
        title = TITLE.search(info)
        if lang in ("python", "py") and prev != NO_RUN:
            blocks.append(Block(len(blocks) + 1, start + 1, "\n".join(body) + "\n",
                                title[1] if title else None))
    return blocks


def run_page(text: str, page: str) -> dict:
    """Runs a page's blocks in one namespace; raises ``DocsBlockError`` on failure."""
    namespace: dict = {"__name__": "__docs__"}
    for block in extract_blocks(text):
        try:
            if block.file is not None:  # a module the page's later blocks import
                compile(block.code, block.file, "exec")
                Path(block.file).write_text(block.code)
                continue
            code = compile(block.code, f"<{page} block {block.number}>", "exec")
            exec(code, namespace)  # noqa: S102 - running the docs is the point
        except Exception as exc:
            tb = "".join(traceback.format_exception(exc, limit=-3))
            raise DocsBlockError(
                f"{page}: block {block.number} (line {block.line}) raised "
                f"{type(exc).__name__}: {exc}\n{tb}") from exc
    return namespace


@pytest.fixture
def quick(tmp_path, monkeypatch):
    """Quick mode, Agg backend, a fresh working directory on sys.path."""
    monkeypatch.setenv(QUICK_ENV, "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # the files a page writes import
    import matplotlib

    from graphcl_rec.augment import AUGMENTATIONS
    from graphcl_rec.models import ENCODERS, OBJECTIVES

    matplotlib.use("Agg")
    registries = [(r, dict(r._items)) for r in (AUGMENTATIONS, ENCODERS, OBJECTIVES)]
    modules = set(sys.modules)
    yield tmp_path
    for registry, items in registries:  # a page's own classes leave with it
        registry._items.clear()
        registry._items.update(items)
    for name in set(sys.modules) - modules:
        if getattr(sys.modules[name], "__file__", "") and str(tmp_path) in str(
                sys.modules[name].__file__):
            del sys.modules[name]
    import matplotlib.pyplot as plt

    plt.close("all")


def test_there_are_tutorials():
    assert len(TUTORIALS) >= 5


PAGES = sorted(set(TUTORIALS) | {p for p in DOCS.rglob("*.md")
                                  if extract_blocks(p.read_text())})
"""Every tutorial, and every other page that has a runnable Python block."""


@pytest.mark.parametrize("page", PAGES,
                         ids=[p.relative_to(DOCS).with_suffix("").as_posix()
                              for p in PAGES])
def test_page_runs(page, quick):
    blocks = extract_blocks(page.read_text())
    assert blocks, f"{page.name} has no runnable python block"
    run_page(page.read_text(), page.relative_to(DOCS).as_posix())


def test_readme_quickstart_runs(quick):
    """README.md's example, with one epoch instead of its hundred."""
    text = (ROOT / "README.md").read_text()
    assert text.count("epochs=100,") == 1, "the README example's epochs changed"
    ns = run_page(text.replace("epochs=100,", "epochs=1,"), "README.md")
    assert ns["trainer"].epochs == 1 and len(ns["model"].state_dict()) > 0


def test_generated_pages_are_up_to_date():
    from benchmarks.docs_pages.__main__ import build_pages, stale

    problems = stale(build_pages(ROOT), ROOT)
    assert not problems, ("\n".join(problems)
                          + "\nregenerate with `python -m benchmarks.docs_pages`")


BROKEN = """\
# A page

```python
x = 1
```

<!-- no-run -->
```python
raise RuntimeError("never runs")
```

```text
not python
```

```python
y = x + undefined_name
```
"""


def test_a_broken_block_fails_with_its_page_and_number():
    blocks = extract_blocks(BROKEN)
    assert [(b.number, b.line) for b in blocks] == [(1, 3), (2, 16)]
    with pytest.raises(DocsBlockError, match=r"broken\.md: block 2 \(line 16\) "
                                             r"raised NameError"):
        run_page(BROKEN, "broken.md")


def test_no_run_blocks_are_skipped_and_namespace_is_shared():
    ns = run_page(BROKEN.split("```python\ny = x")[0], "ok.md")
    assert ns["x"] == 1


def _nav_pages() -> set[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    return set(re.findall(r"([\w./-]+\.md)", text))


def test_every_page_is_in_the_nav():
    nav = _nav_pages()
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - nav == set(), "pages missing from mkdocs.yml's nav"
    assert nav - pages == set(), "nav entries without a page"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None
                    or importlib.util.find_spec("mkdocstrings") is None,
                    reason="mkdocs not installed (pip install -e '.[docs]')")
def test_site_builds_strict(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "site" / "index.html").exists()
