"""Reading delimited interaction files (csv/tsv, plain or gzip) into Interactions."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from graphcl_rec.data.files import check_file
from graphcl_rec.data.header import NUMERIC, ROLES, resolve_columns
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.table import Table, read_table
from graphcl_rec.errors import DataError

logger = logging.getLogger("graphcl_rec")

_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}


def _check_options(
    sep: str | None,
    columns: Mapping[str, str | int] | None,
    header: object,
    on_duplicate: str,
    thresholds: dict[str, float | None],
) -> dict[str, str | int] | None:
    """Validates the arguments of :func:`load_interactions`."""
    if not (header is True or header is False or header == "auto"):
        raise ValueError(f"'header' must be 'auto', True or False (got {header!r})")
    if on_duplicate not in ("collapse", "error"):
        raise ValueError(
            f"'on_duplicate' must be 'collapse' or 'error' (got {on_duplicate!r})"
        )
    if sep is not None and (not isinstance(sep, str) or sep == ""):
        raise ValueError(f"'sep' must be a non-empty string such as ',' (got {sep!r})")
    if sep is not None and ('"' in sep or "\r" in sep or "\n" in sep):
        raise ValueError(f"'sep' may not hold a quote or a line break (got {sep!r})")
    for name, bound in thresholds.items():
        if bound is not None and (
            isinstance(bound, bool)
            or not isinstance(bound, int | float)
            or not math.isfinite(bound)
        ):
            raise ValueError(f"'{name}' must be a finite number (got {bound!r})")
    if columns is None:
        return None
    if not isinstance(columns, Mapping):
        raise ValueError(
            f"'columns' must map roles to names or indices (got {columns!r})"
        )
    cols = dict(columns)
    if set(cols) - set(ROLES) or "user" not in cols or "item" not in cols:
        raise ValueError(
            f"'columns' needs 'user' and 'item' and only roles among "
            f"{list(ROLES)} (got {sorted(cols)})"
        )
    for role, c in cols.items():
        if isinstance(c, bool) or not isinstance(c, int | str):
            raise ValueError(f"'columns' maps {role!r} to {c!r}: give a name or index")
    if header is False and any(isinstance(c, str) for c in cols.values()):
        raise ValueError("'columns' gives header names but header=False")
    return cols


def _infer_sep(path: Path) -> str:
    suffix = Path(path.name.removesuffix(".gz")).suffix.lower()
    if suffix not in _SEPARATORS:
        raise ValueError(
            f"cannot infer 'sep' from the file name {path.name!r}; "
            f"pass sep= (suffixes known: {sorted(_SEPARATORS)})"
        )
    return _SEPARATORS[suffix]


def _reindex(ids: list[str]) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Codes ``0..n-1`` in order of first appearance, and the raw id of each code."""
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    codes = torch.from_numpy(rank[inverse.reshape(-1)].astype(np.int64))
    return codes, tuple(uniq[order].tolist())


def _filter(
    table: Table, values: dict[str, np.ndarray], bounds: dict[str, float | None]
) -> np.ndarray:
    """Rows kept by ``min_rating``/``min_weight``; an error if none is."""
    kept = np.ones(len(table.rows), dtype=bool)
    for name, bound in bounds.items():
        if bound is None:
            continue
        role = name.removeprefix("min_")
        if role not in values:
            other = "weight" if role == "rating" else "rating"
            hint = (
                f" (this file has a {other} column: use min_{other})"
                if (other in values)
                else ""
            )
            raise DataError(
                f"'{name}' needs a '{role}' column, and none is read{hint}; name "
                f"it in the header or in 'columns'",
                path=table.path,
            )
        kept &= values[role] >= bound
        if not kept.any():
            col = values[role]
            raise DataError(
                f"{name}={bound} keeps none of the {col.size} rows ({role} ranges "
                f"{col.min():g}..{col.max():g})",
                path=table.path,
            )
    return np.flatnonzero(kept)


def load_interactions(
    path: str | Path,
    sep: str | None = None,
    columns: Mapping[str, str | int] | None = None,
    header: Literal["auto"] | bool = "auto",
    min_rating: float | None = None,
    on_duplicate: Literal["collapse", "error"] = "collapse",
    min_weight: float | None = None,
) -> Interactions:
    r"""Reads ``user, item[, rating, weight, timestamp]`` rows from a delimited file.

    **Fields.** With a one-character ``sep`` fields follow RFC 4180 (the ``csv``
    module, strict): double quotes around a field are removed and ``""`` inside
    one stands for ``"``; spaces may precede an opening quote but not follow a
    closing one, and a quoted field may not span lines. A longer ``sep`` splits
    lines literally, then unquotes fields the same way. Every field is stripped
    of surrounding blanks, so ``"u1"``, ``u1`` and ``u1`` between spaces are one
    id: quoted and unquoted spellings of the same text are the same id. Blank
    lines are skipped. **Ids** are arbitrary strings, except that an integer
    written as a decimal is read as the integer (``1.0`` and ``1.`` are user
    ``1``); other spellings stay distinct (``01`` is not ``1``), but two spellings
    of one number where one has a ``.``, exponent or ``+`` (``1e3`` and ``1000``)
    are refused. Users and items are re-indexed to ``0..U-1``/``0..I-1`` in order
    of first appearance among the kept rows; the raw ids are kept in
    ``user_ids``/``item_ids``. Repeated ``(user, item)`` pairs keep their first
    occurrence, and the result is ordered by ``(user, item)``.

    **Header.** A header names columns (case-insensitively, see
    :data:`~graphcl_rec.data.header.NAMES`): ``user``/``user_id``/``userid``,
    ``item``/``item_id``/``itemid``, ``rating``, ``weight``/``count`` (play
    counts, clicks) and ``timestamp``/``time``; a user or item column the header
    does not name is column 0 or 1, and other names are ignored unless
    ``columns`` names them. ``header="auto"`` takes the first row as a header
    when it names a user or an item column or two known columns, when a column
    in ``columns`` is given by name, when its field in a numeric column given by
    index is not a number, or (with none of these) when its user and item fields
    are not numbers and the second row's are. A header row repeated further down
    is an error.

    Args:
        path: A ``.csv``/``.tsv``/``.txt`` file, optionally ``.gz``-compressed.
        sep: Field separator; by default ``","`` for ``.csv`` and a tab for
            ``.tsv``/``.txt``. A longer one (``"::"``) splits lines literally.
        columns: Maps roles ``"user"``, ``"item"``, ``"rating"``, ``"weight"``,
            ``"timestamp"`` to header names or 0-based indices. Default: the
            columns the header names, else ``{"user": 0, "item": 1}`` (other
            columns are then ignored, with a warning).
        header: Whether the first row is a header, or ``"auto"`` (above).
        min_rating: Keep only rows with ``rating >= min_rating``.
        on_duplicate: ``"collapse"`` logs a warning with the number of repeated
            pairs removed; ``"error"`` raises on the first repeat.
        min_weight: Keep only rows with ``weight >= min_weight``.

    Returns:
        The interactions, with ``timestamp`` (int64, or float64 when some value is
        fractional) and ``weight`` (float32 edge weights, non-negative; a repeated
        pair keeps its first row's) when those columns are read. Ratings only
        filter rows.

    Raises:
        ValueError: For invalid arguments.
        DataError: For a path that is not a readable file, malformed input (naming
            the file, line and value), or filters that keep no row.

    Examples:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     f = pathlib.Path(tmp) / "r.csv"
        ...     _ = f.write_text('user,item,count\nann,x,5\n"bob",y,1\nann,y,2\n')
        ...     inter = load_interactions(f, min_weight=2)
        >>> inter.user_ids, inter.item_ids, inter.item.tolist(), inter.weight.tolist()
        (('ann',), ('x', 'y'), [0, 1], [5.0, 2.0])
    """
    bounds = {"min_rating": min_rating, "min_weight": min_weight}
    cols = _check_options(sep, columns, header, on_duplicate, bounds)
    path = check_file(path)
    table = read_table(path, _infer_sep(path) if sep is None else sep)
    index = resolve_columns(table, cols, header)
    ids = {role: table.ids(index[role], role) for role in ("user", "item")}
    values = {r: table.numbers(index[r], r) for r in NUMERIC if r in index}
    if "weight" in values and (values["weight"] < 0).any():
        k = int(np.flatnonzero(values["weight"] < 0)[0])
        raise table.error("weight is negative", k, table.column(index["weight"])[k])
    kept = _filter(table, values, bounds)
    user, user_ids = _reindex([ids["user"][k] for k in kept])
    item, item_ids = _reindex([ids["item"][k] for k in kept])
    ts = torch.from_numpy(values["timestamp"][kept]) if "timestamp" in values else None
    weight = None
    if "weight" in values:
        weight = torch.from_numpy(values["weight"][kept]).float()
    inter = Interactions(
        user, item, len(user_ids), len(item_ids), user_ids, item_ids, ts, weight
    )
    out, removed = inter.deduplicate()
    if removed and on_duplicate == "error":
        _, first, inverse = np.unique(
            inter.keys().numpy(), return_index=True, return_inverse=True
        )
        k = int(np.flatnonzero(first[inverse] != np.arange(len(inter)))[0])
        raise table.error(
            f"repeated (user, item) pair ({removed} repeats in all)", int(kept[k])
        )
    if removed:
        logger.warning(
            "%s: collapsed %d duplicate (user, item) pairs, keeping the first",
            path,
            removed,
        )
    return out
