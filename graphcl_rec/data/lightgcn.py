"""Reader for the LightGCN split format: one ``user item item ...`` line per user."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from graphcl_rec.data.files import around, line_breaks, line_of, read_bytes
from graphcl_rec.errors import DataError

_MAX_DIGITS = 18  # every id of at most 18 digits fits in int64
_WHITESPACE = b" \t\r\n"
_TOKEN = re.compile(rb"[^ \t\r\n]+")
_SLACK = 1_000_000
"""Ids up to ``100 × tokens + _SLACK`` are accepted by default (see ``max_id``)."""


def default_max_id(num_tokens: int) -> int:
    """The largest id :func:`read_lightgcn` accepts in a file of ``num_tokens`` ids.

    Ids index embedding tables of ``max id + 1`` rows, so an id far beyond the
    size of the file is almost surely a typo that would end in a memory error.

    Examples:
        >>> default_max_id(10)
        1001000
    """
    return 100 * num_tokens + _SLACK


def read_lightgcn(path: str | Path, max_id: int | None = None) -> tuple[Tensor, Tensor]:
    r"""Reads a LightGCN ``train.txt``/``test.txt`` file (plain or ``.gz``).

    Each line holds a user id followed by the ids of the items it interacted with,
    separated by blanks. A line with a user and no items is allowed (it adds no
    pair); blank lines are skipped. Ids must be non-negative integers. The whole
    file is validated with vectorised byte checks; only when those fail is it
    scanned token by token to report the first offending line.

    Args:
        path: The file; a ``.gz`` suffix means gzip-compressed.
        max_id: The largest id accepted; default :func:`default_max_id` of the
            number of ids (users and items) in the file: ``100 × ids + 10⁶``.

    Returns:
        ``(user, item)``: two ``[E]`` int64 tensors of raw ids, one entry per pair,
        in file order.

    Raises:
        DataError: If the path is not a readable file, the file is empty or binary,
            or an id is not a non-negative integer or exceeds ``max_id``; names the
            file, line and value.

    Examples:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "train.txt"
        ...     _ = f.write_text("0 5 7\n1\n2 5\n")
        ...     user, item = read_lightgcn(f)
        >>> user.tolist(), item.tolist()
        ([0, 0, 2], [5, 7, 5])
    """
    if max_id is not None and (
        isinstance(max_id, bool) or not isinstance(max_id, int) or max_id < 0
    ):
        raise ValueError(f"'max_id' must be a non-negative int (got {max_id!r})")
    data = read_bytes(path)
    buf = np.frombuffer(data, dtype=np.uint8)
    digit = (buf >= ord("0")) & (buf <= ord("9"))
    blank = np.isin(buf, np.frombuffer(_WHITESPACE, dtype=np.uint8))
    if not bool((digit | blank).all()):
        _raise_first_bad_token(data, path)
    # A token starts at a digit preceded by a blank (or the file start).
    starts = np.flatnonzero(digit & ~np.concatenate(([False], digit[:-1])))
    ends = np.flatnonzero(digit & ~np.concatenate((digit[1:], [False]))) + 1
    too_long = np.flatnonzero(ends - starts > _MAX_DIGITS)
    if too_long.size:
        s, e = int(starts[too_long[0]]), int(ends[too_long[0]])
        raise DataError(
            "id too large for int64",
            path=path,
            line=line_of(data, s),
            value=data[s:e].decode(),
        )
    values = np.array(data.split(), dtype=np.int64)
    bound = default_max_id(values.size) if max_id is None else max_id
    over = np.flatnonzero(values > bound)
    if over.size:
        s = int(starts[over[0]])
        how = f"100 × {values.size} ids + {_SLACK}" if max_id is None else "max_id"
        raise DataError(
            f"id above {bound} ({how}): far beyond the size of the file, and it "
            f"would need an embedding table that large; pass max_id= if it is real",
            path=path,
            line=line_of(data, s),
            value=int(values[over[0]]),
        )
    line = np.searchsorted(line_breaks(buf), starts)
    is_user = np.ones(starts.size, dtype=bool)
    is_user[1:] = line[1:] != line[:-1]
    # Each item takes the value of the last user token before it.
    owner = np.cumsum(is_user) - 1
    users = values[is_user]
    user = torch.from_numpy(users[owner[~is_user]])
    item = torch.from_numpy(values[~is_user])
    return user, item


def _raise_first_bad_token(data: bytes, path: str | Path) -> None:
    """Scans ``data`` token by token and raises on the first invalid one."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    else:
        bad_at = len(data)
    for match in _TOKEN.finditer(data):
        token = match.group()
        if token.isdigit():
            continue
        if match.end() > bad_at:
            raise DataError(
                "not valid UTF-8 text (binary file?)",
                path=path,
                line=line_of(data, bad_at),
                value=around(data, bad_at),
            )
        shown = token.decode("utf-8", errors="replace")
        if token.startswith(b"-") and token[1:].isdigit():
            message = "negative id"
        else:
            message = "id is not an integer"
        raise DataError(
            message, path=path, line=line_of(data, match.start()), value=shown
        )
    raise DataError("unexpected content", path=path)
