r"""glibc's allocator kept from handing large freed blocks back to the kernel.

Training allocates and frees node-sized ``[U + I, d]`` buffers many times a step
(propagated layers, noise, gradients of row gathers). glibc serves a request above
its mmap threshold with a fresh ``mmap`` and unmaps it on ``free``, so the next
buffer of that size is faulted in again page by page. The threshold adapts upwards
after large frees, but only up to 32 MiB on 64-bit systems: a table of more than
32 MiB (e.g. ``[70839, 128]`` float32, Gowalla at width 128, or Amazon-Book at
width 64) is re-faulted at every allocation. :func:`hold_freed_memory` fixes both
thresholds above such buffers so that freed blocks stay in the heap for reuse; the
price is a larger resident set (freed blocks are kept, up to ``trim_threshold`` at
the heap's top). ``benchmarks/PERF.md`` has the measured effect.

The ``graphcl-rec`` training commands (``run``, ``train``, ``bench``) call it at
start (``--system-malloc`` leaves the allocator alone); the library never does on
import, since the setting is process-wide. Call it first thing in a training
script to get the same behaviour.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["ENVIRONMENT_KEYS", "allocator_state", "hold_freed_memory"]

#: ``mallopt`` parameters (``<malloc.h>``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Defaults: above the node tables of the public datasets at widths up to 256.
MMAP_THRESHOLD = 256 * 2**20
TRIM_THRESHOLD = 512 * 2**20
#: Environment variables through which a user has already chosen glibc's settings.
ENVIRONMENT_KEYS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                    "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
_INT_MAX = 2**31 - 1

_state: dict[str, Any] = {"allocator": "system", "reason": "not requested"}


def _glibc() -> Any | None:
    """The C library through ``ctypes`` if it is glibc, else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None  # musl and others: no mallopt with glibc's meaning
    libc.gnu_get_libc_version.restype = ctypes.c_char_p
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def _user_setting(environ: Mapping[str, str]) -> str | None:
    """The user's own glibc malloc setting in the environment, if any."""
    for key in ENVIRONMENT_KEYS:
        if key in environ:
            return f"{key}={environ[key]}"
    tunables = environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc." in tunables:
        return f"GLIBC_TUNABLES={tunables}"
    return None


def hold_freed_memory(mmap_threshold: int = MMAP_THRESHOLD,
                      trim_threshold: int = TRIM_THRESHOLD) -> dict[str, Any]:
    """Fixes glibc's mmap and trim thresholds so large freed blocks are reused.

    Process-wide and lasting: every later allocation of the process follows it.
    Nothing is changed when the process does not run on glibc, or when the user's
    environment already sets glibc's malloc (``MALLOC_MMAP_THRESHOLD_`` and the
    others of :data:`ENVIRONMENT_KEYS`, or ``glibc.malloc.*`` in
    ``GLIBC_TUNABLES``): their choice wins.

    Args:
        mmap_threshold: Bytes; requests below it come from the heap (glibc's
            ``M_MMAP_THRESHOLD``; its adaptive default stops at 32 MiB).
        trim_threshold: Bytes of free memory at the heap's top kept before it is
            returned to the kernel (``M_TRIM_THRESHOLD``).

    Returns:
        What the process's allocator now does (also :func:`allocator_state`):
        ``{"allocator": "glibc", "mmap_threshold": ..., "trim_threshold": ...}``
        when set, else ``{"allocator": "system", "reason": ...}``.

    Raises:
        ValueError: A threshold outside ``[1, 2**31 - 1]`` (``mallopt`` takes a C
            ``int``), or a trim threshold below the mmap threshold (blocks just
            kept would be trimmed again).

    Examples:
        The call is not run here: it would change the test process's allocator.

        >>> hold_freed_memory()  # doctest: +SKIP
        {'allocator': 'glibc', 'version': '2.36', 'mmap_threshold': 268435456, \
'trim_threshold': 536870912}
        >>> hold_freed_memory(mmap_threshold=2**30, trim_threshold=2**20)
        Traceback (most recent call last):
        ...
        ValueError: 'trim_threshold' (1048576) must be >= 'mmap_threshold' (1073741824)
    """
    for name, value in (("mmap_threshold", mmap_threshold),
                        ("trim_threshold", trim_threshold)):
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 1 <= value <= _INT_MAX:
            raise ValueError(f"'{name}' must be an int in [1, {_INT_MAX}] bytes "
                             f"(got {value!r})")
    if trim_threshold < mmap_threshold:
        raise ValueError(f"'trim_threshold' ({trim_threshold}) must be >= "
                         f"'mmap_threshold' ({mmap_threshold})")
    global _state
    _state = _apply(mmap_threshold, trim_threshold)
    return dict(_state)


def _apply(mmap_threshold: int, trim_threshold: int) -> dict[str, Any]:
    """Sets both thresholds unless the user or the C library rules it out."""
    user = _user_setting(os.environ)
    if user is not None:
        return {"allocator": "system", "reason": f"environment sets {user}"}
    libc = _glibc()
    if libc is None:
        return {"allocator": "system", "reason": "not glibc"}
    refused = [name for name, param, value in
               (("mmap_threshold", M_MMAP_THRESHOLD, mmap_threshold),
                ("trim_threshold", M_TRIM_THRESHOLD, trim_threshold))
               if libc.mallopt(param, value) != 1]
    if refused:
        return {"allocator": "system",
                "reason": f"mallopt refused {', '.join(refused)}"}
    return {"allocator": "glibc", "version": libc.gnu_get_libc_version().decode(),
            "mmap_threshold": mmap_threshold, "trim_threshold": trim_threshold}


def allocator_state() -> dict[str, Any]:
    """What :func:`hold_freed_memory` did in this process (for results files).

    Examples:
        >>> sorted(allocator_state())[0]
        'allocator'
    """
    return dict(_state)
