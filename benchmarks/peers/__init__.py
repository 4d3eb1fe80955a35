"""Comparisons with other libraries, run as ``python -m benchmarks.run peers NAME``.

``recbole_runner.py`` is not imported: it runs as a script in RecBole's own virtual
environment (made by ``setup_recbole.sh``), started by ``recbole_compare.py``.
"""
