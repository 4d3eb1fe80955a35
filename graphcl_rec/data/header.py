"""Which row is a header, and which column holds each role (user, item, ...)."""

from __future__ import annotations

import logging

from graphcl_rec.data.table import Table
from graphcl_rec.errors import DataError

logger = logging.getLogger("graphcl_rec")

#: Header names (compared case-insensitively) recognised for each role.
NAMES = {
    "user": ("user", "user_id", "userid"),
    "item": ("item", "item_id", "itemid"),
    "rating": ("rating",),
    "weight": ("weight", "count"),
    "timestamp": ("timestamp", "time"),
}
ROLES = tuple(NAMES)
NUMERIC = ("rating", "weight", "timestamp")


def _named(first: list[str], table: Table) -> dict[str, int]:
    """The roles that the fields of ``first`` name (see :data:`NAMES`)."""
    lowered = [f.lower() for f in first]
    found: dict[str, int] = {}
    for role, names in NAMES.items():
        hits = [c for c, f in enumerate(lowered) if f in names]
        if len(hits) > 1:
            shown = [first[c] for c in hits]
            raise table.error(f"the header names two {role} columns", 0, shown)
        if hits:
            found[role] = hits[0]
    return found


def _find(first: list[str], name: str) -> int | None:
    """The column called ``name``: exact match, else a unique case-insensitive one."""
    if name in first:
        return first.index(name)
    hits = [c for c, f in enumerate(first) if f.lower() == name.lower()]
    return hits[0] if len(hits) == 1 else None


def _parses(text: str) -> bool:
    """Whether ``float()`` reads ``text`` (``nan`` and ``inf`` too): not a name."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header_sign(table: Table, cols: dict[str, str | int]) -> str | None:
    """Why the first row is unambiguously a header, or ``None``."""
    first = table.row(0)
    named = _named(first, table)
    if "user" in named and "item" in named:
        return "it names the user and item columns"
    for role, c in cols.items():
        if role in NUMERIC and isinstance(c, int) and not _parses(first[c]):
            return f"its {role} field {first[c]!r} is not a number"
    return None


def _is_header(table: Table, cols: dict[str, str | int]) -> bool:
    """Whether the first row is a header (unambiguous signs, then weaker ones)."""
    if _header_sign(table, cols) is not None:
        return True
    first = table.row(0)
    named = _named(first, table)
    if "user" in named or "item" in named or len(named) >= 2:
        return True
    ids = (int(cols["user"]), int(cols["item"]))
    return (
        len(table.rows) > 1
        and not any(_parses(first[c]) for c in ids)
        and all(_parses(table.row(1)[c]) for c in ids)
    )


def resolve_columns(
    table: Table, columns: dict[str, str | int] | None, header: object
) -> dict[str, int]:
    """Decides on the header, maps roles to column indices, drops the header row."""
    width = len(table.rows[0])
    default: dict[str, str | int] = {"user": 0, "item": 1}
    cols = dict(columns) if columns is not None else default
    for role, c in cols.items():
        if isinstance(c, int) and not 0 <= c < width:
            raise table.error(
                f"column index {c} for {role!r} is out of range (the file has "
                f"{width} columns)",
                0,
            )
    sign = _header_sign(table, cols) if header is False else None
    if sign is not None:
        raise table.error(
            f"line looks like a header ({sign}); pass header=True, or fix the line", 0
        )
    if header == "auto":
        named = any(isinstance(c, str) for c in cols.values())
        header = named or _is_header(table, cols)
    if not header:
        if columns is None and width > 2:
            logger.warning(
                "%s: no header; reading column 0 as user and 1 as item and "
                "ignoring the other %d columns (pass columns= to read them)",
                table.path,
                width - 2,
            )
        return _distinct(table, {role: int(c) for role, c in cols.items()}, None)
    first = table.row(0)
    if columns is None:
        cols = {**cols, **_named(first, table)}
    index: dict[str, int] = {}
    for role, c in cols.items():
        found = _find(first, c) if isinstance(c, str) else c
        if found is None:
            raise table.error(f"column for {role!r} not in the header {first}", 0, c)
        index[role] = found
    _distinct(table, index, first)
    if len(table.rows) == 1:
        raise DataError(
            "no data rows after the header", table.path, int(table.lines[0]) + 1, ""
        )
    table.drop_first()
    again = next(
        (
            k
            for k, row in enumerate(table.rows)
            if row[0].strip() == first[0] and table.row(k) == first
        ),
        None,
    )
    if again is not None:
        raise table.error("the header row appears again (concatenated files?)", again)
    return index


def _distinct(
    table: Table, index: dict[str, int], first: list[str] | None
) -> dict[str, int]:
    """``index``, unless two roles read one column."""
    taken = list(index.values())
    clash = next((c for c in taken if taken.count(c) > 1), None)
    if clash is not None:
        roles = " and ".join(r for r, c in index.items() if c == clash)
        name = f"column {clash}" if first is None else f"column {first[clash]!r}"
        raise table.error(
            f"{name} is read as both {roles}; pass columns= (header names "
            f"known: {NAMES})",
            0,
            clash if first is None else first[clash],
        )
    return index
