"""Opening data files safely: what the path is, its bytes, its text, its lines."""

from __future__ import annotations

import errno
import gzip
import os
import re
import stat
import zlib
from pathlib import Path

import numpy as np

from graphcl_rec.errors import DataError

_KINDS = (
    (stat.S_ISDIR, "is a directory, expected a file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), expected a regular file"),
    (stat.S_ISSOCK, "is a socket, expected a regular file"),
    (stat.S_ISCHR, "is a character device, expected a regular file"),
    (stat.S_ISBLK, "is a block device, expected a regular file"),
)


def check_file(path: str | Path) -> Path:
    """Checks that ``path`` is a readable regular file (following symbolic links).

    Nothing is opened, so a named pipe cannot block the caller.

    Args:
        path: The path.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: If ``path`` is not a ``str`` or ``os.PathLike``.
        DataError: Naming what the path is instead: missing, a broken or looping
            symbolic link, a directory, a FIFO, a socket, a device, or unreadable.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     try:
        ...         check_file(tmp)
        ...     except DataError as exc:
        ...         print(exc.message)
        is a directory, expected a file
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"'path' must be a str or os.PathLike (got {path!r})")
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError("symbolic link loop", path=path) from None
        if exc.errno == errno.ENOENT and os.path.islink(path):
            target = os.readlink(path)
            raise DataError("broken symbolic link", path=path, value=target) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise DataError("file not found", path=path) from None
        raise DataError(f"cannot access the file ({exc.strerror})", path=path) from None
    for test, message in _KINDS:
        if test(info.st_mode):
            raise DataError(message, path=path)
    if not stat.S_ISREG(info.st_mode):
        raise DataError("not a regular file", path=path)
    return path


def read_bytes(path: str | Path) -> bytes:
    """Reads a plain or ``.gz`` file, rejecting missing, empty and binary files.

    Args:
        path: The file; a ``.gz`` suffix means gzip-compressed.

    Returns:
        The (decompressed) content.

    Raises:
        DataError: If the path is not a readable regular file (see
            :func:`check_file`), not valid gzip, empty, or holds NUL bytes.
    """
    path = check_file(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror})", path=path) from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"not a valid gzip file ({exc})", path=path, line=1, value=raw[:16]
            ) from None
    if not raw.strip():
        raise DataError(
            "empty file", path=path, line=1, value=raw[:16].decode("latin-1")
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(
            "binary content (NUL byte), expected text",
            path=path,
            line=line_of(raw, nul),
            value=around(raw, nul),
        )
    return raw


def read_text(path: str | Path) -> str:
    """Like :func:`read_bytes`, decoded as UTF-8 (an initial BOM is dropped).

    Raises:
        DataError: As :func:`read_bytes`, or if the content is not valid UTF-8.
    """
    raw = read_bytes(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            "not valid UTF-8 text (binary file?)",
            path=path,
            line=line_of(raw, exc.start),
            value=around(raw, exc.start),
        ) from None


_BREAK = re.compile(rb"\r\n|\r|\n")
"""A line break: LF (Unix), CR LF (Windows) or a lone CR (classic Mac OS)."""


def line_breaks(buf: np.ndarray) -> np.ndarray:
    r"""Byte offsets of the line breaks in ``buf`` (``[n]`` uint8), as :data:`_BREAK`.

    A CR LF pair counts once (at its LF).

    Examples:
        >>> line_breaks(np.frombuffer(b"a\rb\r\nc\nd", dtype=np.uint8)).tolist()
        [1, 4, 6]
    """
    lone_cr = (buf == 13) & np.append(buf[1:] != 10, True)
    return np.flatnonzero((buf == 10) | lone_cr)


def line_of(data: bytes, pos: int) -> int:
    """The 1-based line number of byte offset ``pos`` in ``data``."""
    return len(_BREAK.findall(data, 0, pos)) + 1


def around(data: bytes, pos: int) -> bytes:
    """The bytes of ``pos``'s line, up to a few bytes past ``pos`` (for messages)."""
    start = max(data.rfind(b"\n", 0, pos), data.rfind(b"\r", 0, pos)) + 1
    return data[start : pos + 8]
