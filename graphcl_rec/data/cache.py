"""Source-file integrity (sha256, ``SHA256SUMS``) and a parse cache keyed by it."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from graphcl_rec.errors import DataError
from graphcl_rec.paths import cache_root

logger = logging.getLogger("graphcl_rec")

#: Bump when the cached layout or the parsers' output changes.
FORMAT_VERSION = 2
_MAGIC = b"graphcl_rec cache\n"
_DIGEST = 32  # bytes of blake2b


class CorruptEntry(ValueError):
    """A cache entry whose bytes do not match the checksum stored with them."""


def pack(value: dict[str, Any]) -> bytes:
    """``value`` serialised by ``torch.save``, preceded by a blake2b checksum."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    payload = buffer.getvalue()
    return _MAGIC + hashlib.blake2b(payload, digest_size=_DIGEST).digest() + payload


def unpack(blob: bytes) -> dict[str, Any]:
    """The value of :func:`pack`, after verifying its checksum.

    Raises:
        CorruptEntry: If the header or the checksum does not match.
    """
    head = len(_MAGIC) + _DIGEST
    if len(blob) < head or not blob.startswith(_MAGIC):
        raise CorruptEntry("not a graphcl_rec cache entry (bad header)")
    digest, payload = blob[len(_MAGIC) : head], blob[head:]
    if hashlib.blake2b(payload, digest_size=_DIGEST).digest() != digest:
        raise CorruptEntry("checksum mismatch: the entry was altered or damaged")
    value = torch.load(io.BytesIO(payload), weights_only=True)
    if not isinstance(value, dict):
        raise CorruptEntry(f"expected a dict, found {type(value).__name__}")
    return value


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected_sha(sums: Path, rel: str) -> str:
    """The sha256 listed for ``rel`` in a ``SHA256SUMS`` file (``hash  relpath``)."""
    if not sums.is_file():
        raise DataError(
            "checksum list not found (needed to verify the data)", path=sums
        )
    for number, line in enumerate(sums.read_text().splitlines(), start=1):
        fields = line.split(maxsplit=1)
        if len(fields) == 2 and fields[1].strip().lstrip("*") == rel:
            return fields[0].lower()
        if line.strip() and len(fields) != 2:
            raise DataError(
                "expected 'sha256  relative/path'", path=sums, line=number, value=line
            )
    raise DataError("no checksum listed for the file", path=sums, value=rel)


def verify_sha256(path: Path, sums: Path, rel: str) -> str:
    """Checks a file against its entry in a ``SHA256SUMS`` list.

    Args:
        path: The file.
        sums: The list, one ``<sha256>  <relative path>`` line per file.
        rel: The entry's relative path (as written in ``sums``).

    Returns:
        The file's sha256.

    Raises:
        DataError: If the list, the entry or the file is missing, or the file's
            sha256 differs (naming the file, the expected and the actual hash).
    """
    expected = _expected_sha(sums, rel)
    if not path.is_file():
        raise DataError("file not found", path=path)
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(
            f"sha256 mismatch: expected {expected}, actual {actual}", path=path
        )
    return actual


def cached(
    kind: str,
    sha256: str,
    build: Callable[[], dict[str, Any]],
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Returns ``build()``, stored in (or loaded from) the cache.

    The entry is ``<cache>/<kind>-v<FORMAT_VERSION>-<sha256>.pt``, written atomically
    (a temporary file, then ``os.replace``): a header, the blake2b checksum of the
    payload, and the payload (``torch.save``). On load the checksum is verified
    before ``torch.load(weights_only=True)`` reads the payload, so the entry may
    hold only tensors, numbers, strings and lists/dicts of them. An entry that
    fails its checksum or cannot be read is rebuilt from the source and replaced;
    an unwritable cache folder only costs the re-parse next time (all logged).

    Args:
        kind: What the entry holds, including any parse options (file-name safe).
        sha256: The sha256 of the source file.
        build: Parses the source; called only on a cache miss.
        cache_dir: The cache folder (see :func:`graphcl_rec.paths.cache_root`).

    Returns:
        The (cached) result of ``build()``.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     first = cached("demo", "ab12", lambda: {"x": torch.arange(3)}, tmp)
        ...     again = cached("demo", "ab12", lambda: {}, tmp)
        >>> again["x"].tolist()
        [0, 1, 2]
    """
    path = cache_root(cache_dir) / f"{kind}-v{FORMAT_VERSION}-{sha256}.pt"
    if path.is_file():
        try:
            return unpack(path.read_bytes())
        except Exception as exc:  # any unreadable entry is rebuilt
            logger.warning(
                "corrupt or unreadable cache entry %s (%s); rebuilding it from the "
                "source",
                path,
                exc,
            )
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pack(value))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        logger.warning("could not write cache entry %s (%s)", path, exc)
    else:
        logger.debug("cached %s", path)
    return value
