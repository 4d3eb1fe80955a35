r"""The fused top-K kernel (``topk_dot.c``): built on first use, loaded with ctypes.

The kernel computes :math:`s_{ui} = e_u^\top e_i` tile by tile in registers and
keeps each user's top-``K`` on the fly, so a full ranking writes no score matrix at
all; on this project's CPU it runs at about 90 % of the sgemm rate (PERF.md). It is
compiled once per machine with the host's C compiler (``$CC``, else ``cc``; plain
C, no Python or torch headers, about a second) into
the library's cache folder (:func:`~graphcl_rec.data.cache.cache_root`:
``$GRAPHCL_REC_CACHE``, default ``~/.cache/graphcl_rec``). Nothing here is needed
for the library to work: without a compiler, or with ``GRAPHCL_REC_NATIVE=0``,
:func:`status` says why and the evaluator ranks with torch operators.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import Tensor

from graphcl_rec.data.cache import cache_root

SOURCE = Path(__file__).with_name("topk_dot.c")
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC")
"""Compiler flags of the default build (the AVX-512 micro-kernel where the host
has it)."""

CHUNK = 384
"""Rows per kernel call (a multiple of the kernel's 96-user cache blocks)."""

_P, _I = ctypes.c_void_p, ctypes.c_int64


class NativeUnavailable(RuntimeError):
    """The kernel cannot be built or loaded here (the message says why)."""


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
    """Builds (once per source, flags, compiler and host) and loads the kernel.

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
    """Compiles ``topk_dot.c`` into the cache unless there already, and loads it."""
    compiler = shutil.which(cc)
    if compiler is None:
        raise NativeUnavailable(f"no C compiler found (CC={cc})")
    key = hashlib.sha256(
        "\0".join([SOURCE.read_text(), *flags, compiler, _host()]).encode()
    ).hexdigest()[:16]
    target = cache_root() / f"topk_dot-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            done = subprocess.run([compiler, *flags, "-o", tmp, str(SOURCE), "-lm"],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise NativeUnavailable(
                    f"{compiler} {' '.join(flags)} {SOURCE} failed:\n{done.stderr}")
            os.replace(tmp, target)  # atomic: concurrent builders agree
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    try:
        lib = ctypes.CDLL(str(target))
    except OSError as err:
        raise NativeUnavailable(f"cannot load {target}: {err}") from err
    lib.topk_dot.argtypes = [_P, _I, _P, _I, _I, _I, _I, _P, _P, _P, _P]
    lib.topk_dot.restype = None
    lib.topk_dot_simd.restype = _I
    return lib


def status() -> tuple[bool, str]:
    """Whether the default build is usable with its SIMD micro-kernel, and why not.

    Returns:
        ``(True, "avx512")``, or ``(False, reason)``; the evaluator's
        ``ranker="auto"`` uses the kernel only in the first case.
    """
    try:
        lib = load()
    except NativeUnavailable as err:
        return False, str(err)
    if lib.topk_dot_simd() != 512:
        return False, "built without the AVX-512 micro-kernel (plain C is slower "\
                      "than torch's products here)"
    return True, "avx512"


def topk_dot(rows: Tensor, slabs: Tensor, num_items: int, k: int, ex_ptr: Tensor,
             ex_items: Tensor, threads: int | None = None,
             flags: tuple[str, ...] = FLAGS) -> tuple[Tensor, Tensor]:
    r"""Top-``k`` items of each row by :math:`s_{ui} = e_u^\top e_i`, fused.

    Shapes:
        - rows: ``[n, d]`` float32 user rows (CPU).
        - slabs: ``[G, d, 64]`` float32 items
          (:func:`~graphcl_rec.eval.blocks.item_slabs`; ``64 G >= num_items``).
        - ex_ptr: ``[n + 1]`` int64 offsets: row ``r``'s excluded items are
          ``ex_items[ex_ptr[r]:ex_ptr[r + 1]]``, ascending.
        - returns: ``values [n, k]`` (largest first) and int64 ``indices [n, k]``.

    Args:
        rows: User rows.
        slabs: Item slabs.
        num_items: Real items (later slab columns are padding and never ranked).
        k: List length, ``1 <= k <= num_items``.
        ex_ptr: Exclusion offsets.
        ex_items: Excluded item indices.
        threads: Worker threads (default :func:`torch.get_num_threads`); they take
            chunks of :data:`CHUNK` rows from a shared queue, so a thread slowed
            by other work on the machine holds the others up by one chunk at
            most. The kernel releases the GIL.
        flags: The build to use (see :func:`load`).

    Returns:
        ``(values, indices)``. A value of :math:`-\infty` (index 0) marks a position
        with nothing rankable left; ties keep the lower item index first.
    """
    lib = load(flags)
    n, dim = rows.shape
    groups = slabs.size(0)
    if not (rows.dtype == slabs.dtype == torch.float32 and rows.is_cpu
            and slabs.is_cpu):
        raise ValueError("the native kernel takes float32 CPU tensors")
    if slabs.shape[1:] != (dim, 64) or not 0 < num_items <= 64 * groups:
        raise ValueError(f"'slabs' {tuple(slabs.shape)} do not fit rows of {dim} "
                         f"values and {num_items} items")
    if not 1 <= k <= num_items:
        raise ValueError(f"'k' must be in [1, {num_items}] (got {k})")
    rows, slabs = rows.contiguous(), slabs.contiguous()
    ex_ptr = ex_ptr.to(torch.int64).contiguous()
    ex_items = ex_items.to(torch.int64).contiguous()
    values = torch.empty(n, k)
    indices = torch.empty(n, k, dtype=torch.int64)
    starts = range(0, n, CHUNK)
    threads = max(1, min(threads or torch.get_num_threads(), len(starts)))

    def chunk(lo: int) -> None:
        hi = min(lo + CHUNK, n)
        lib.topk_dot(rows[lo].data_ptr(), hi - lo, slabs.data_ptr(), groups,
                     num_items, dim, k, ex_ptr[lo].data_ptr(), ex_items.data_ptr(),
                     values[lo].data_ptr(), indices[lo].data_ptr())

    if threads == 1:
        for lo in starts:
            chunk(lo)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(chunk, starts))
    return values, indices
