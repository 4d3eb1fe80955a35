"""The library's version, in a leaf module that any layer may import.

``pyproject.toml`` reads it statically (``[tool.setuptools.dynamic]``) and
:mod:`graphcl_rec` re-exports it.
"""

__version__ = "0.1.0"
