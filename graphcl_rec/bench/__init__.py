"""Benchmark tooling: the main job's model list, the results report and its plots.

:mod:`graphcl_rec.bench.main_job` defines the models ``graphcl-rec run`` compares;
:func:`graphcl_rec.bench.report.write_report` turns results JSON files into a
Markdown report with plots (:mod:`graphcl_rec.bench.plots`). Nothing here writes
anywhere but to the paths it is given.
"""

__all__: list[str] = []
