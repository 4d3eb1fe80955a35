r"""Builds the C kernels of this folder on first use and loads them with ctypes.

All ``*.c`` files here are compiled together, once per machine, with the host's C
compiler (``$CC``, else ``cc``; plain C, no Python or torch headers) into the
library's cache folder (:func:`~graphcl_rec.paths.cache_root`:
``$GRAPHCL_REC_CACHE``, default ``~/.cache/graphcl_rec``). Nothing here is needed
for the library to work: without a compiler, or with ``GRAPHCL_REC_NATIVE=0``,
:func:`status` says why and callers use torch operators.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from graphcl_rec.paths import cache_root

SOURCES = tuple(sorted(Path(__file__).parent.glob("*.c")))
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC")
"""Compiler flags of the default build (the AVX-512 micro-kernels where the host
has AVX-512, else the AVX2 + FMA ones where it has those)."""

AVX2_FLAGS = ("-O3", "-march=native", "-mno-avx512f", "-shared", "-fPIC")
"""A build with the AVX2 + FMA micro-kernels on an AVX-512 host: how the default
build runs on hosts without AVX-512 (for tests and benchmarks)."""

_P, _I = ctypes.c_void_p, ctypes.c_int64


class NativeUnavailable(RuntimeError):
    """The kernel cannot be built or loaded here (the message says why).

    Examples:
        >>> try:
        ...     raise NativeUnavailable("no C compiler found")
        ... except RuntimeError as err:
        ...     print(type(err).__name__, err)
        NativeUnavailable no C compiler found
    """


def _host() -> str:
    """What ``-march=native`` depends on: the machine and its CPU flags."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


def load(flags: tuple[str, ...] = FLAGS) -> ctypes.CDLL:
    """Builds (once per sources, flags, compiler and host) and loads the kernels.

    A build's outcome, failure included, is remembered for the process, so that a
    missing compiler costs one attempt.

    Args:
        flags: Compiler flags; tests also build a portable variant without the
            SIMD micro-kernel.

    Returns:
        The loaded library.

    Raises:
        NativeUnavailable: When disabled by ``GRAPHCL_REC_NATIVE=0``, when no
            compiler is found, or when compiling or loading fails (with the
            compiler's message).

    Examples:
        >>> try:
        ...     lib = load()
        ... except NativeUnavailable:  # no compiler here: callers fall back to torch
        ...     lib = None
        >>> lib is None or lib.native_simd() in (0, 256, 512)
        True
    """
    if os.environ.get("GRAPHCL_REC_NATIVE", "1") == "0":
        raise NativeUnavailable("disabled by GRAPHCL_REC_NATIVE=0")
    cc = os.environ.get("CC", "cc")
    key = (flags, cc, str(cache_root()))
    if key not in _BUILDS:
        try:
            _BUILDS[key] = _build(flags, cc)
        except NativeUnavailable as err:
            _BUILDS[key] = err
    outcome = _BUILDS[key]
    if isinstance(outcome, NativeUnavailable):
        raise outcome
    return outcome


_BUILDS: dict[tuple[tuple[str, ...], str, str], ctypes.CDLL | NativeUnavailable] = {}


def _build(flags: tuple[str, ...], cc: str) -> ctypes.CDLL:
    """Compiles the sources into the cache unless there already, and loads them."""
    compiler = shutil.which(cc)
    if compiler is None:
        raise NativeUnavailable(f"no C compiler found (CC={cc})")
    key = hashlib.sha256(
        "\0".join([*(src.read_text() for src in SOURCES), *flags, compiler,
                   _host()]).encode()
    ).hexdigest()[:16]
    target = cache_root() / f"native-{key}.so"
    if not target.exists():
        try:
            _compile(compiler, flags, target)
        except OSError as err:  # an unwritable cache, a compiler that cannot start
            raise NativeUnavailable(f"cannot build {target}: {err}") from err
    try:
        lib = ctypes.CDLL(str(target))
    except OSError as err:
        raise NativeUnavailable(f"cannot load {target}: {err}") from err
    lib.topk_dot.argtypes = [_P, _I, _P, _I, _I, _I, _I, _P, _P, _P, _P]
    lib.topk_dot.restype = None
    lib.nce_fused.argtypes = [_P, _I, _I, _P, _P, _I, _P, _I, _P, _I, _P, _P, _P, _P,
                              _P]
    lib.nce_fused.restype = None
    lib.native_simd.restype = _I
    return lib


COMPILE_TIMEOUT_S = 300
"""Seconds a compilation may take before the kernels count as unavailable."""


def _compile(compiler: str, flags: tuple[str, ...], target: Path) -> None:
    """Compiles the sources into ``target`` through a temporary file in its folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        command = [compiler, *flags, "-o", tmp, *map(str, SOURCES), "-lm"]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired as err:
            raise NativeUnavailable(f"{' '.join(command)} took over "
                                    f"{COMPILE_TIMEOUT_S} s") from err
        if done.returncode != 0:
            raise NativeUnavailable(f"{' '.join(command)} failed:\n{done.stderr}")
        os.replace(tmp, target)  # atomic: concurrent builders agree
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def status() -> tuple[bool, str]:
    """Whether the default build is usable with SIMD micro-kernels, and why not.

    Returns:
        ``(True, "avx512")``, ``(True, "avx2")`` (AVX2 + FMA, no AVX-512), or
        ``(False, reason)``. The evaluator's ``ranker="auto"`` takes the top-K
        kernel in both first cases; :func:`~graphcl_rec.losses.info_nce` takes its
        kernel only with AVX-512 (its AVX2 build ran slower than torch on some
        shapes, ``benchmarks/PERF.md``).

    Examples:
        >>> usable, why = status()
        >>> (usable and why in ("avx512", "avx2")) or (not usable and why != "")
        True
    """
    try:
        lib = load()
    except NativeUnavailable as err:
        return False, str(err)
    width = lib.native_simd()
    if width == 512:
        return True, "avx512"
    if width == 256:
        return True, "avx2"
    return False, "built without SIMD micro-kernels (the plain-C loops are slower "\
                  "than torch's products)"


def parallel(fn: Callable[[int], None], jobs: Iterable[int], threads: int) -> None:
    """Runs ``fn(job)`` for every job on ``threads`` threads taking jobs in order.

    The kernels release the GIL inside ctypes calls, so the threads run in parallel.
    One thread runs the jobs in the caller's thread.
    """
    if threads == 1:
        for job in jobs:
            fn(job)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fn, jobs))
