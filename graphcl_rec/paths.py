"""Where the library keeps files between runs (a leaf: imports nothing of its own).

Both the parse cache (:mod:`graphcl_rec.data.cache`) and the compiled kernels
(:mod:`graphcl_rec.native.build`) live under :func:`cache_root`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$GRAPHCL_REC_CACHE``, else the default.

    The default is ``~/.cache/graphcl_rec``. The environment is read on every call,
    not at import.

    Args:
        cache_dir: An explicit folder, or ``None``.

    Returns:
        The folder (not created here).

    Examples:
        >>> str(cache_root("/tmp/somewhere"))
        '/tmp/somewhere'
    """
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("GRAPHCL_REC_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "graphcl_rec"
