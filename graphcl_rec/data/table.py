"""Delimited text as a table of fields: RFC 4180 quoting, ids and numeric columns."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphcl_rec.data.files import read_text
from graphcl_rec.errors import DataError

_BREAK = re.compile(r"\r\n|\r|\n")
"""A line break: LF, CR LF or a lone CR (as the byte-level readers count lines)."""
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTS = re.compile(rf"(?:{_INT.pattern}\n)*")
_FLOATS = re.compile(rf"(?:{_FLOAT.pattern}\n)*")
"""Whole columns, joined by line breaks (one regex pass instead of one per field)."""
_INTEGRAL = re.compile(r"([+-]?[0-9]+)\.0*")
"""An integer written as a decimal (``12.0``, ``12.``): the id is ``12``."""


def is_number(text: str) -> bool:
    """Whether ``text`` is a plain ASCII decimal number (``12``, ``-1.5``, ``2e3``)."""
    return _FLOAT.fullmatch(text) is not None


@dataclass
class Table:
    """The rows of a delimited file, fields unquoted (strip them: :meth:`row`).

    Args:
        path: The file (for messages).
        raw: The file's lines, without their line breaks.
        lines: ``[R]`` the 1-based line on which each row starts.
        rows: ``R`` rows of fields.
    """

    path: Path
    raw: list[str]
    lines: np.ndarray
    rows: list[list[str]]

    def error(self, message: str, k: int, value: object = None) -> DataError:
        """A :class:`DataError` for row ``k`` (showing its line unless ``value``)."""
        line = int(self.lines[k])
        shown = self.raw[line - 1] if value is None else value
        return DataError(message, path=self.path, line=line, value=shown)

    def drop_first(self) -> list[str]:
        """Removes and returns the first row (a header)."""
        first = self.rows[0]
        self.rows, self.lines = self.rows[1:], self.lines[1:]
        return first

    def row(self, k: int) -> list[str]:
        """The fields of row ``k``, stripped."""
        return [f.strip() for f in self.rows[k]]

    def column(self, index: int) -> list[str]:
        """Field ``index`` of every row, stripped."""
        return [row[index].strip() for row in self.rows]

    def numbers(self, index: int, role: str) -> np.ndarray:
        """A numeric column: int64 (timestamps, when all integral) or float64.

        Raises:
            DataError: At the first field that is not a finite ASCII number.
        """
        col = self.column(index)
        joined = "\n".join(col) + "\n"
        bad = None
        if not _FLOATS.fullmatch(joined):
            bad = next(k for k, v in enumerate(col) if not _FLOAT.fullmatch(v))
        if bad is None and role == "timestamp" and _INTS.fullmatch(joined):
            try:
                return np.array(col, dtype=np.int64)
            except OverflowError:
                pass
        values = np.array(col if bad is None else [], dtype=np.float64)
        if bad is None and not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
        if bad is not None:
            hint = " (e.g. Unix seconds)" if role == "timestamp" else ""
            raise self.error(f"{role} is not a finite number{hint}", bad, col[bad])
        return values

    def ids(self, index: int, role: str) -> list[str]:
        """An id column, with integral decimals (``1.0``) written as integers (``1``).

        Raises:
            DataError: For an empty id, or for two spellings of one number where one
                is not a plain integer (``1e3`` and ``1000``, ``+1`` and ``1``).
        """
        col = self.column(index)
        if "" in col:
            raise self.error(f"empty {role} id", col.index(""))
        fixed = {v: m.group(1) for v in set(col) if (m := _INTEGRAL.fullmatch(v))}
        out = [fixed.get(v, v) for v in col] if fixed else col
        spellings: dict[float, list[str]] = {}
        for v in set(out):
            if _FLOAT.fullmatch(v) and math.isfinite(number := float(v)):
                spellings.setdefault(number, []).append(v)
        for group in spellings.values():
            if len(group) > 1 and any(c in v for v in group for c in ".eE+"):
                first, second = sorted(out.index(v) for v in group)[:2]
                raise self.error(
                    f"{role} id is the same number as {col[first]!r} on line "
                    f"{int(self.lines[first])}, spelled differently; write each "
                    f"id one way",
                    second,
                    col[second],
                )
        return out


def _unquote(field: str) -> str:
    """Strips a field and removes enclosing double quotes (``""`` stands for one)."""
    field = field.strip()
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1].replace('""', '"')
    return field


def _records(raw: list[str], sep: str) -> list[tuple[int, list[str]]]:
    """``(first line, fields)`` of each record; blank lines are skipped."""
    if len(sep) > 1:
        return [
            (n, [_unquote(f) for f in line.split(sep)])
            for n, line in enumerate(raw, start=1)
            if line.strip()
        ]
    if not any('"' in line for line in raw):  # nothing to unquote: split directly
        return [
            (n, line.split(sep)) for n, line in enumerate(raw, start=1) if line.strip()
        ]
    out = []
    lead = " " if sep != " " else ""  # blanks before an opening quote are dropped
    reader = csv.reader(
        (line.lstrip(lead) + "\n" for line in raw),
        delimiter=sep,
        skipinitialspace=sep != " ",
        strict=True,
    )
    done = 0
    try:
        for fields in reader:
            start, done = done + 1, reader.line_num
            if start == done and not raw[start - 1].strip():
                continue
            if start != done:
                raise DataError(
                    f"quoted field runs over lines {start}-{done} (unbalanced quote?)",
                    line=start,
                    value=raw[start - 1],
                )
            out.append((start, fields))
    except csv.Error as exc:
        raise DataError(
            f"malformed quoting ({exc})", line=done + 1, value=raw[done]
        ) from None
    return out


def read_table(path: str | Path, sep: str) -> Table:
    """Reads ``path`` and splits its non-blank lines into fields.

    With a one-character ``sep`` fields follow RFC 4180 (``csv`` module, strict):
    a field may be enclosed in double quotes, which are removed, and ``""`` inside
    stands for ``"``; spaces may precede the opening quote but not follow the
    closing one, and a quoted field may not span lines. With a longer ``sep``
    (``::``) lines are split literally and a field enclosed in double quotes is
    unquoted the same way. Every field is then stripped of surrounding blanks,
    so ``"1"``, ``1`` and `` 1 `` are the same value.

    Raises:
        DataError: For unreadable files, bad quoting, a file without rows, or rows
            of different widths (naming the line).
    """
    path = Path(path)
    raw = _BREAK.split(read_text(path))
    try:
        records = _records(raw, sep)
    except DataError as exc:
        raise DataError(exc.message, path, exc.line, exc.value) from None
    if not records:  # only non-ASCII blanks (e.g. U+00A0), kept by read_bytes
        raise DataError("no data rows (only blank lines)", path=path, line=1)
    lines = np.array([n for n, _ in records], dtype=np.int64)
    table = Table(path, raw, lines, [fields for _, fields in records])
    width = len(table.rows[0])
    bad = next((k for k, r in enumerate(table.rows) if len(r) != width), None)
    if bad is not None:
        found = len(table.rows[bad])
        raise table.error(
            f"expected {width} fields separated by {sep!r}, found {found}", bad
        )
    return table
