"""Checkpoint integrity: a sha256 of the file's bytes, and safe, classified loads.

``torch.save`` writes a zip archive whose records carry no checksum that
``torch.load`` checks, so a flipped byte in a tensor loads silently. A checkpoint
therefore ends with a seal: the archive's comment (a standard zip field, so plain
``torch.load`` still reads the file) holds ``graphcl_rec-sha256:<hex>``, the sha256
of every byte before it as ``torch.save`` wrote them (the comment length field
reading 0). Any change to the file, anywhere, fails :func:`sealed_digest`'s check.

Loads are always ``weights_only`` and their failures are told apart: the file is
not a checkpoint at all, it is truncated or corrupt, or it holds pickled objects
that could execute code.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from graphcl_rec.errors import CheckpointError

ZIP_MAGIC = b"PK\x03\x04"
"""How a ``torch.save`` zip archive starts."""
EOCD_MAGIC = b"PK\x05\x06"
"""Signature of a zip archive's end-of-central-directory record (22 bytes)."""
EOCD_SIZE = 22
SEAL_PREFIX = b"graphcl_rec-sha256:"
SEAL_SIZE = len(SEAL_PREFIX) + 64
_CHUNK = 1 << 22
_UNSAFE = ("GLOBAL", "reduce", "Can only create new object", "Can only build",
           "persistent")
"""Phrases of torch's weights-only unpickler when a file names a callable/class."""


class _HashingWriter:
    """A write-only file object hashing what passes through; keeps the last bytes."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.sha, self.tail = fh, hashlib.sha256(), b""

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.tail = (self.tail + bytes(memoryview(data)[-EOCD_SIZE:]))[-EOCD_SIZE:]
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def save_sealed(obj: Any, fh: IO[bytes]) -> str:
    """``torch.save(obj, fh)`` followed by the seal; returns the sha256 (hex).

    Args:
        obj: What to save.
        fh: A seekable binary file opened for writing, positioned at its start.

    Raises:
        RuntimeError: If ``torch.save`` did not end with a plain end record.
    """
    writer = _HashingWriter(fh)
    torch.save(obj, writer)  # type: ignore[arg-type]  # any object with write()
    if writer.tail[:4] != EOCD_MAGIC or writer.tail[-2:] != b"\0\0":
        raise RuntimeError("torch.save did not end with a zip end record; "
                           "cannot seal the checkpoint")
    digest = writer.sha.hexdigest()
    fh.seek(-2, os.SEEK_END)
    fh.write(SEAL_SIZE.to_bytes(2, "little") + SEAL_PREFIX + digest.encode())
    return digest


def recorded_digest(fh: IO[bytes], size: int) -> str | None:
    """The sha256 recorded in the seal at the end of ``fh``, or ``None`` if absent."""
    if size < EOCD_SIZE + SEAL_SIZE:
        return None
    fh.seek(size - SEAL_SIZE - EOCD_SIZE)
    end = fh.read(EOCD_SIZE + SEAL_SIZE)
    eocd, seal = end[:EOCD_SIZE], end[EOCD_SIZE:]
    if (eocd[:4] != EOCD_MAGIC or int.from_bytes(eocd[-2:], "little") != SEAL_SIZE
            or not seal.startswith(SEAL_PREFIX)):
        return None
    digest = seal[len(SEAL_PREFIX):]
    return digest.decode() if re.fullmatch(rb"[0-9a-f]{64}", digest) else None


def sealed_digest(fh: IO[bytes], size: int) -> str:
    """The sha256 of a sealed file's bytes as written (comment length read as 0)."""
    sha, left = hashlib.sha256(), size - SEAL_SIZE - 2
    fh.seek(0)
    while left > 0:
        chunk = fh.read(min(_CHUNK, left))
        if not chunk:
            break
        sha.update(chunk)
        left -= len(chunk)
    sha.update(b"\0\0")
    return sha.hexdigest()


def safe_load(fh: IO[bytes], path: Path, map_location: str | torch.device) -> Any:
    """``torch.load(weights_only=True)`` whose failures say what was wrong.

    Raises:
        CheckpointError: ``refusing to load ... could execute code`` for pickled
            objects other than tensors and plain containers; ``cannot read
            checkpoint ... truncated or corrupt`` for anything else.
    """
    fh.seek(0)
    try:
        return torch.load(fh, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _unpickler_reason(str(exc))
        if any(word in reason for word in _UNSAFE):
            raise CheckpointError(
                f"refusing to load {path}: unsafe pickle content, objects other than "
                f"tensors and plain containers, which could execute code when "
                f"unpickled ({reason})") from None
        raise CheckpointError(
            f"cannot read checkpoint {path}: not a torch checkpoint, or corrupt "
            f"pickle data ({reason})") from None
    except Exception as exc:  # noqa: BLE001 - any other reader failure: corrupt
        first = (str(exc).strip().splitlines() or [""])[0].split(". ")[0]
        raise CheckpointError(f"cannot read checkpoint {path}: truncated or corrupt "
                              f"({type(exc).__name__}: {first})") from None


def _unpickler_reason(message: str) -> str:
    """The line of torch's weights-only error that says what was refused."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for k, line in enumerate(lines):
        if line.startswith("WeightsUnpickler error:"):
            rest = line.removeprefix("WeightsUnpickler error:").strip()
            return rest or (lines[k + 1] if k + 1 < len(lines) else "")
    return next((ln for ln in lines if any(w in ln for w in _UNSAFE)),
                lines[-1] if lines else "")


def file_kind(head: bytes) -> str:
    r"""``"zip"``, ``"pickle"`` (torch's legacy format) or ``"other"``.

    Examples:
        >>> file_kind(b"PK\x03\x04"), file_kind(b"\x80\x02\x8a"), file_kind(b"abc")
        ('zip', 'pickle', 'other')
    """
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    return "other"


def tensors(value: Any, where: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """``(dotted name, tensor)`` for every tensor in nested dicts, lists, tuples."""
    if isinstance(value, torch.Tensor):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from tensors(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            yield from tensors(item, f"{where}[{k}]")


def first_non_finite(state: Mapping[str, Any]) -> str | None:
    """A message naming the first floating-point tensor with NaN or inf, or ``None``.

    Examples:
        >>> first_non_finite({"model": {"w": torch.tensor([1.0, float("nan")])}})
        "tensor 'model.w' holds non-finite values (1 NaN, 0 inf of 2)"
    """
    for name, value in tensors(state):
        if value.is_floating_point() or value.is_complex():
            finite = torch.isfinite(value)
            if not bool(finite.all()):
                nan = int(torch.isnan(value).sum())
                bad = int((~finite).sum())
                return (f"tensor '{name}' holds non-finite values ({nan} NaN, "
                        f"{bad - nan} inf of {value.numel()})")
    return None
