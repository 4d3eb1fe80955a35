"""Reading delimited interaction files (csv/tsv, plain or gzip) into Interactions."""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.errors import DataError

logger = logging.getLogger("graphcl_rec")

ROLES = ("user", "item", "rating", "timestamp")
_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}


def read_bytes(path: str | Path) -> bytes:
    """Reads a plain or ``.gz`` file, rejecting missing, empty and binary files.

    Args:
        path: The file; a ``.gz`` suffix means gzip-compressed.

    Returns:
        The (decompressed) content.

    Raises:
        DataError: If the file is missing, not valid gzip, empty, or holds NUL bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    raw = path.read_bytes()
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


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_options(
    path: Path,
    sep: str | None,
    columns: Mapping[str, str | int] | None,
    header: object,
    on_duplicate: str,
) -> tuple[dict[str, str | int], str]:
    """Validates the arguments of :func:`load_interactions`; infers ``sep``."""
    for name, value, choices in (
        ("header", header, ("auto", True, False)),
        ("on_duplicate", on_duplicate, ("collapse", "error")),
    ):
        if value not in choices:
            raise ValueError(f"'{name}' must be one of {choices} (got {value!r})")
    default: dict[str, str | int] = {"user": 0, "item": 1}
    cols = dict(columns) if columns is not None else default
    if set(cols) - set(ROLES) or "user" not in cols or "item" not in cols:
        raise ValueError(
            f"'columns' needs 'user' and 'item' and only roles among "
            f"{list(ROLES)} (got {sorted(cols)})"
        )
    if header is False and any(isinstance(c, str) for c in cols.values()):
        raise ValueError("'columns' gives header names but header=False")
    if sep is None:
        suffix = Path(path.name.removesuffix(".gz")).suffix.lower()
        if suffix not in _SEPARATORS:
            raise ValueError(
                f"cannot infer 'sep' from the file name {path.name!r}; "
                f"pass sep= (suffixes known: {sorted(_SEPARATORS)})"
            )
        sep = _SEPARATORS[suffix]
    return cols, sep


def _looks_like_header(
    rows: list[list[str]], cols: dict[str, str | int], numeric: list[int]
) -> bool:
    """Header detection for ``header="auto"`` (all column indices are in range)."""
    first = [f.strip() for f in rows[0]]
    if numeric:
        return any(not _is_number(first[c]) for c in numeric)
    ids = [int(cols["user"]), int(cols["item"])]
    return (
        len(rows) > 1
        and not any(_is_number(first[c]) for c in ids)
        and all(_is_number(rows[1][c]) for c in ids)
    )


@dataclass
class _Rows:
    """The non-blank lines of a file split into fields, with their line numbers."""

    path: Path
    sep: str
    lines: np.ndarray
    rows: list[list[str]]

    def error(self, message: str, k: int, value: object = None) -> DataError:
        """A :class:`DataError` for row ``k`` (showing the row unless ``value``)."""
        shown = self.sep.join(self.rows[k]) if value is None else value
        return DataError(message, path=self.path, line=int(self.lines[k]), value=shown)

    def column(self, index: int) -> list[str]:
        """Field ``index`` of every row, stripped."""
        return [row[index].strip() for row in self.rows]

    def numbers(self, index: int, role: str) -> np.ndarray:
        """A numeric column: int64 (timestamps, when all integral) or float64."""
        col = self.column(index)
        if role == "timestamp":
            try:
                return np.array(col, dtype=np.int64)
            except (ValueError, OverflowError):
                pass
        try:
            values = np.array(col, dtype=np.float64)
        except ValueError:
            values = np.array([v if _is_number(v) else "nan" for v in col], float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise self.error(f"{role} is not a finite number", int(bad[0]), col[bad[0]])
        return values


def _split_rows(path: Path, sep: str) -> _Rows:
    """Reads ``path`` and splits its non-blank lines on ``sep``; checks the widths."""
    numbered = [
        (n, line)
        for n, line in enumerate(re.split(r"\r\n|\r|\n", read_text(path)), start=1)
        if line.strip()
    ]
    if not numbered:  # only non-ASCII blanks (e.g. U+00A0), kept by read_bytes
        raise DataError("no data rows (only blank lines)", path=path, line=1)
    lines = np.array([n for n, _ in numbered], dtype=np.int64)
    table = _Rows(path, sep, lines, [line.split(sep) for _, line in numbered])
    width = len(table.rows[0])
    bad = next((k for k, r in enumerate(table.rows) if len(r) != width), None)
    if bad is not None:
        found = len(table.rows[bad])
        raise table.error(
            f"expected {width} fields separated by {sep!r}, found {found}", bad
        )
    return table


def _resolve_columns(
    table: _Rows, cols: dict[str, str | int], header: object, defaults: bool
) -> dict[str, int]:
    """Decides on the header, maps roles to indices and drops the header row."""
    width = len(table.rows[0])
    for role, c in cols.items():
        if isinstance(c, int) and not 0 <= c < width:
            raise table.error(f"column index {c} for {role!r} is out of range", 0)
    first = [f.strip() for f in table.rows[0]]
    numeric = [
        c
        for r, c in cols.items()
        if r in ("rating", "timestamp") and isinstance(c, int)
    ]
    if header is False and any(not _is_number(first[c]) for c in numeric):
        raise table.error("line looks like a header; pass header=True", 0)
    if header == "auto":
        named = any(isinstance(c, str) for c in cols.values())
        header = named or _looks_like_header(table.rows, cols, numeric)
    if not header:
        return {role: int(c) for role, c in cols.items()}
    if defaults:
        lowered = [f.lower() for f in first]
        cols.update(
            {r: lowered.index(r) for r in ("rating", "timestamp") if r in lowered}
        )
    for role, c in cols.items():
        if isinstance(c, str) and c not in first:
            raise table.error(f"column for {role!r} not in the header {first}", 0, c)
    if len(table.rows) == 1:
        raise DataError(
            "no data rows after the header", table.path, int(table.lines[0]) + 1, ""
        )
    table.rows, table.lines = table.rows[1:], table.lines[1:]
    return {
        role: first.index(c) if isinstance(c, str) else c for role, c in cols.items()
    }


def _reindex(ids: list[str]) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Codes ``0..n-1`` in order of first appearance, and the raw id of each code."""
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    codes = torch.from_numpy(rank[inverse.reshape(-1)].astype(np.int64))
    return codes, tuple(uniq[order].tolist())


def load_interactions(
    path: str | Path,
    sep: str | None = None,
    columns: Mapping[str, str | int] | None = None,
    header: Literal["auto"] | bool = "auto",
    min_rating: float | None = None,
    on_duplicate: Literal["collapse", "error"] = "collapse",
) -> Interactions:
    r"""Reads ``user, item[, rating, timestamp]`` rows from a delimited text file.

    Raw ids are arbitrary strings. Users and items are re-indexed to ``0..U-1`` and
    ``0..I-1`` in order of first appearance *among the kept rows* (after the
    ``min_rating`` filter, so an id whose rows were all dropped does not appear);
    the raw ids are kept in ``user_ids``/``item_ids``. Fields are split on ``sep``
    without quoting rules and stripped of surrounding blanks; blank lines are
    skipped. Repeated ``(user, item)`` pairs keep their first occurrence, and the
    result is ordered by ``(user, item)``.

    Args:
        path: A ``.csv``/``.tsv``/``.txt`` file, optionally ``.gz``-compressed.
        sep: Field separator; by default ``","`` for ``.csv`` and a tab for
            ``.tsv``/``.txt``.
        columns: Maps roles ``"user"``, ``"item"``, ``"rating"``, ``"timestamp"`` to
            header names or 0-based indices. Default ``{"user": 0, "item": 1}``, plus
            the header columns named ``rating``/``timestamp`` when there is a header.
        header: Whether the first row is a header. ``"auto"`` says yes when a column
            is given by name, when the first row's rating/timestamp field is not a
            number, or (with neither) when its user and item fields are not numbers
            but the second row's are.
        min_rating: Keep only rows with ``rating >= min_rating``.
        on_duplicate: ``"collapse"`` logs a warning with the number of repeated
            pairs removed; ``"error"`` raises on the first repeat.

    Returns:
        The interactions, with ``timestamp`` (int64, or float64 when some value is
        fractional) when a timestamp column is given.

    Raises:
        DataError: On any malformed input, naming the file, line and value.

    Examples:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "r.csv"
        ...     _ = f.write_text("u,i,r\nann,x,5\nbob,y,2\nann,y,4\n")
        ...     inter = load_interactions(f, min_rating=4, columns={
        ...         "user": "u", "item": "i", "rating": "r"})
        >>> inter.user_ids, inter.item_ids, inter.user.tolist(), inter.item.tolist()
        (('ann',), ('x', 'y'), [0, 0], [0, 1])
    """
    path = Path(path)
    cols, sep = _check_options(path, sep, columns, header, on_duplicate)
    table = _split_rows(path, sep)
    index = _resolve_columns(table, cols, header, defaults=columns is None)
    if min_rating is not None and "rating" not in index:
        raise ValueError("'min_rating' needs a 'rating' column in 'columns'")
    ids = {role: table.column(index[role]) for role in ("user", "item")}
    for role, col in ids.items():
        if "" in col:
            raise table.error(f"empty {role} id", col.index(""))
    values = {
        r: table.numbers(index[r], r) for r in ("rating", "timestamp") if r in index
    }
    kept = np.arange(len(table.rows))
    if min_rating is not None:
        kept = np.flatnonzero(values["rating"] >= min_rating)
    user, user_ids = _reindex([ids["user"][k] for k in kept])
    item, item_ids = _reindex([ids["item"][k] for k in kept])
    ts = torch.from_numpy(values["timestamp"][kept]) if "timestamp" in values else None
    inter = Interactions(
        user, item, len(user_ids), len(item_ids), user_ids, item_ids, ts
    )
    out, removed = inter.deduplicate()
    if removed and on_duplicate == "error":
        _, first, inverse = np.unique(
            inter.keys().numpy(), return_index=True, return_inverse=True
        )
        k = int(np.flatnonzero(first[inverse] != np.arange(len(inter)))[0])
        raise table.error(
            f"repeated (user, item) pair ({removed} repeats in all)", kept[k]
        )
    if removed:
        logger.warning(
            "%s: collapsed %d duplicate (user, item) pairs, keeping the first",
            path,
            removed,
        )
    return out
