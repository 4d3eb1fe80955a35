"""``python -m benchmarks.docs_pages [--check] [--no-figures] [--root DIR]``.

Without options, rewrites the generated pages under ``docs/``, their figures under
``docs/figures/`` and the results block of ``README.md``. ``--check`` writes
nothing and exits 1 when a page's text differs from what the results files make
now, or one of its figures is missing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.docs_pages.common import GENERATOR, ROOT, Page

FIGURES = Path("docs/figures")


def build_pages(root: Path = ROOT) -> list[Page]:
    """Every generated page, made from the files under ``root``."""
    from benchmarks.docs_pages import (
        performance_page,
        readme_table,
        results_page,
        robustness_page,
        scale_page,
        uniformity_page,
    )

    return [module.build(root) for module in (results_page, performance_page,
                                              robustness_page, uniformity_page,
                                              scale_page, readme_table)]


def stale(pages: list[Page], root: Path = ROOT) -> list[str]:
    """What is out of date: pages whose text differs, figures that are missing."""
    out = []
    for page in pages:
        path = root / page.path
        if not path.exists() or path.read_text(encoding="utf-8") != page.text:
            out.append(f"{page.path}: not what the results files make now")
        out += [f"{FIGURES / f}: missing" for f in page.figures
                if not (root / FIGURES / f).exists()]
    return out


def write(pages: list[Page], root: Path = ROOT, figures: bool = True) -> None:
    """Writes every page (and, with ``figures``, draws its figures)."""
    folder = root / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    for page in pages:
        (root / page.path).write_text(page.text, encoding="utf-8")
        print(f"wrote {page.path}", flush=True)
        if figures and page.draw is not None:
            page.draw(folder)
            print(f"  figures: {', '.join(page.figures) or 'none'}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=GENERATOR, description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a page or figure is out of date")
    p.add_argument("--no-figures", action="store_true",
                   help="write the pages only, not the figures")
    p.add_argument("--root", type=Path, default=ROOT,
                   help="the repository to read and write (default: this one)")
    args = p.parse_args(argv)
    pages = build_pages(args.root)
    if args.check:
        problems = stale(pages, args.root)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print(f"run `{GENERATOR}` to regenerate", file=sys.stderr)
        return 1 if problems else 0
    write(pages, args.root, figures=not args.no_figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
