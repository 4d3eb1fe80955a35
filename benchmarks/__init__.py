"""Benchmarks of graphcl_rec: one runner, ``python -m benchmarks.run SUBCOMMAND``.

See ``benchmarks/README.md`` for what each subcommand measures. The runner uses only
the library's public API, so it also runs against an earlier revision of the
library (``python -m benchmarks.run ab --old REV -- SUBCOMMAND ...``).
"""
