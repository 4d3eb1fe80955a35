"""The documentation pages made from results files: ``python -m benchmarks.docs_pages``.

Writes ``docs/results.md``, ``docs/performance.md``, ``docs/robustness.md`` and
``docs/uniformity.md``, and their figures under ``docs/figures/``, from the files in
``benchmarks/results/`` (and ``benchmarks/PERF.md``, ``benchmarks/peers/results/``)
alone: no figure on these pages is typed by hand. ``make docs`` runs it before
``mkdocs build``; ``--check`` (and ``tests/test_docs.py``) says whether the
committed pages are what the results files make now.
"""
