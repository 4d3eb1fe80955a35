"""Named benchmark datasets: checksummed, parsed once, cached, split reproducibly."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Literal

import torch

from graphcl_rec.data.cache import cached, sha256_file, verify_sha256
from graphcl_rec.data.checks import check_disjoint
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.io import load_interactions
from graphcl_rec.data.lightgcn import read_lightgcn
from graphcl_rec.data.split import holdout, random_split
from graphcl_rec.errors import DataError

logger = logging.getLogger("graphcl_rec")

_FILES = {
    # PyG's AmazonBook(root=<data>/amazon-book) layout, pinned by git blob id
    "amazon-book": ("amazon-book/raw/train.txt", "amazon-book/raw/test.txt"),
    "gowalla": ("gowalla/train.txt.gz", "gowalla/test.txt.gz"),
    "ml-100k": ("ml-100k/ratings.tsv.gz",),
    "yelp2018": ("yelp2018/train.txt.gz", "yelp2018/test.txt.gz"),
}
#: Files shipped inside the package, so the small default dataset works from a wheel.
_PACKAGED = {"ml-100k/ratings.tsv.gz": "ml-100k.ratings.tsv.gz"}
_ML_COLUMNS = {role: role for role in ("user", "item", "rating", "timestamp")}
Parts = tuple[Interactions, Interactions, Interactions]


def _check_name(name: str) -> None:
    if name not in _FILES:
        raise ValueError(f"unknown dataset {name!r} (choices: {sorted(_FILES)})")


def data_root(root: str | Path | None = None) -> Path | None:
    """``root``, else ``$GRAPHCL_REC_DATA``, else the repository's ``data/`` if any."""
    if root is not None:
        return Path(root)
    if os.environ.get("GRAPHCL_REC_DATA"):
        return Path(os.environ["GRAPHCL_REC_DATA"])
    repo_data = Path(__file__).resolve().parents[2] / "data"  # beside graphcl_rec/
    return repo_data if repo_data.is_dir() else None


def _verify(base: Path, rel: str) -> str:
    """The sha256 of a source file, after checking it (``SHA256SUMS`` or a pin)."""
    if rel.startswith("amazon-book/"):
        from graphcl_rec.data.pyg_datasets import AMAZON_BOOK_BLOBS, verify_blob

        verify_blob(base / rel, AMAZON_BOOK_BLOBS[Path(rel).name])
        return sha256_file(base / rel)
    return verify_sha256(base / rel, base / "SHA256SUMS", rel)


@contextlib.contextmanager
def _sources(name: str, root: str | Path | None) -> Iterator[list[tuple[Path, str]]]:
    """Yields ``(path, sha256)`` of each verified source file of ``name``."""
    _check_name(name)
    rels = _FILES[name]
    base = data_root(root)
    if base is not None and all((base / rel).is_file() for rel in rels):
        yield [(base / rel, _verify(base, rel)) for rel in rels]
        return
    if all(rel in _PACKAGED for rel in rels):
        package = files("graphcl_rec") / "datasets_data"
        with contextlib.ExitStack() as stack:
            sums = stack.enter_context(as_file(package / "SHA256SUMS"))
            out = []
            for rel in rels:
                path = stack.enter_context(as_file(package / _PACKAGED[rel]))
                out.append((path, verify_sha256(path, sums, _PACKAGED[rel])))
            logger.info("using the packaged copy of %s", name)
            yield out
        return
    if base is None:
        raise DataError(
            f"no data folder for {name!r}: pass root= or set GRAPHCL_REC_DATA"
        )
    missing = [rel for rel in rels if not (base / rel).is_file()]
    raise DataError(
        f"{name}: not found: {', '.join(missing)} (this folder needs "
        f"{', '.join(rels)}; pass root= or set GRAPHCL_REC_DATA)",
        path=base,
    )


def _read_pairs(path: Path, sha: str, cache_dir: str | Path | None) -> dict[str, Any]:
    def parse() -> dict[str, Any]:
        user, item = read_lightgcn(path)
        return {"user": user, "item": item}

    return cached("lightgcn", sha, parse, cache_dir)


def _read_table(path: Path, sha: str, cache_dir: str | Path | None) -> Interactions:
    def parse() -> dict[str, Any]:
        inter = load_interactions(path, sep="\t", columns=_ML_COLUMNS, header=True)
        fields = ("user", "item", "num_users", "num_items", "user_ids", "item_ids")
        out = {key: getattr(inter, key) for key in fields}
        out = {key: list(v) if isinstance(v, tuple) else v for key, v in out.items()}
        return {**out, "timestamp": inter.timestamp}

    table = cached("ratings-tsv", sha, parse, cache_dir)
    ids = {key: tuple(table[key]) for key in ("user_ids", "item_ids")}
    return Interactions(**{**table, **ids})


def _lightgcn(
    train_pairs: dict[str, Any],
    test_pairs: dict[str, Any],
    unknown: str,
    test_path: Path,
) -> tuple[Interactions, Interactions]:
    """Builds train and test over one index space (``max id + 1`` over both)."""
    users = torch.cat([train_pairs["user"], test_pairs["user"]])
    items = torch.cat([train_pairs["item"], test_pairs["item"]])
    num_users = int(users.max()) + 1 if users.numel() else 0
    num_items = int(items.max()) + 1 if items.numel() else 0
    user_ids, item_ids = (tuple(map(str, range(n))) for n in (num_users, num_items))
    space = Interactions(users[:0], items[:0], num_users, num_items, user_ids, item_ids)
    parts = []
    for pairs, part in ((train_pairs, "train"), (test_pairs, "test")):
        inter, removed = space.with_pairs(pairs["user"], pairs["item"]).deduplicate()
        if removed:
            logger.warning(
                "%s: collapsed %d duplicate pairs in %s",
                test_path.parent,
                removed,
                part,
            )
        parts.append(inter)
    train, test = parts
    seen_user = train.user_degree() > 0
    seen_item = train.item_degree() > 0
    cold = ~(seen_user[test.user] & seen_item[test.item])
    count = int(cold.sum())
    if count and unknown == "error":
        k = int(cold.nonzero()[0, 0])
        raise DataError(
            f"{count} test pairs have a user or item with no training "
            f"pair (pass unknown='drop' to drop them)",
            path=test_path,
            value=f"{int(test.user[k])} {int(test.item[k])}",
        )
    if count:
        logger.warning(
            "%s: dropped %d test pairs whose user or item has no training pair",
            test_path,
            count,
        )
        test = test.subset(~cold)
    return train, test


def load(
    name: str,
    val_ratio: float = 0.1,
    seed: int = 0,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    unknown: Literal["error", "drop"] = "error",
) -> Parts:
    """Loads a named dataset as ``(train, val, test)`` over one index space.

    * ``"gowalla"``, ``"yelp2018"``: the published LightGCN split
      (``<root>/<name>/train.txt.gz``, ``test.txt.gz``). ``num_users``/``num_items``
      are ``max id + 1`` over both files and the raw ids are the original ids as
      strings. Validation is carved out of each user's training pairs with
      :func:`~graphcl_rec.data.split.holdout`; ``val_ratio=0`` gives the exact
      published split and an empty validation part.
    * ``"amazon-book"``: the same, from the files PyG's ``AmazonBook`` downloads
      (``<root>/amazon-book/raw/train.txt``, ``test.txt``; plain text), checked
      against their published git blob ids instead of ``SHA256SUMS``.
    * ``"ml-100k"``: every rating counts as a positive; each user's pairs are split
      at random ``0.9 - val_ratio`` / ``val_ratio`` / ``0.1`` (80/10/10 by default;
      the test part does not depend on ``val_ratio``), timestamps kept.

    Files are found under ``root``, else ``$GRAPHCL_REC_DATA``, else the
    repository's ``data/`` folder; ML-100K falls back to the copy shipped in the
    package. Each ``.gz`` is checked against ``SHA256SUMS`` in the same root before
    it is read. Parsed files are cached in ``cache_dir`` (see
    :func:`~graphcl_rec.paths.cache_root`), keyed by their sha256.

    Args:
        name: One of :func:`available` (``"amazon-book"``, ``"gowalla"``,
            ``"ml-100k"``, ``"yelp2018"``).
        val_ratio: Share of the training pairs held out for validation.
        seed: Seed of the validation (and, for ML-100K, test) draw.
        root: The data folder.
        cache_dir: The cache folder.
        unknown: Test pairs whose user or item never occurs in train: ``"error"``
            raises, ``"drop"`` removes them (logging the count).

    Returns:
        ``(train, val, test)``; ``len()`` of each is its number of pairs.

    Raises:
        ValueError: For an unknown ``name`` or ``unknown``.
        DataError: For a missing, corrupt or tampered file.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     train, val, test = load("ml-100k", cache_dir=tmp)
        >>> len(train) + len(val) + len(test), train.num_users, train.num_items
        (100000, 943, 1682)
    """
    _check_name(name)
    if unknown not in ("error", "drop"):
        raise ValueError(
            f"'unknown' must be one of ['drop', 'error'] (got {unknown!r})"
        )
    with _sources(name, root) as sources:
        if name == "ml-100k":
            if not 0.0 <= val_ratio < 0.9:
                raise ValueError(f"'val_ratio' must be in [0, 0.9) (got {val_ratio})")
            inter = _read_table(*sources[0], cache_dir)
            train, val, test = random_split(
                inter, (0.9 - val_ratio, val_ratio, 0.1), seed=seed
            )
            return train, val, test
        (train_path, train_sha), (test_path, test_sha) = sources
        train, test = _lightgcn(
            _read_pairs(train_path, train_sha, cache_dir),
            _read_pairs(test_path, test_sha, cache_dir),
            unknown,
            test_path,
        )
    train, val = holdout(train, val_ratio, seed)
    check_disjoint(train, val, test, names=["train", "val", "test"])
    return train, val, test


def available(root: str | Path | None = None) -> list[str]:
    """Names of the datasets whose files are present (ML-100K always is).

    Args:
        root: Folder holding the downloaded datasets, or ``None`` for the default
            data root (see :func:`data_root`).

    Returns:
        Sorted dataset names, each usable with :func:`load` and :func:`info`.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as empty:
        ...     available(empty)  # only the packaged dataset
        ['ml-100k']
    """
    base = data_root(root)
    return [
        name
        for name, rels in sorted(_FILES.items())
        if all(
            rel in _PACKAGED or (base is not None and (base / rel).is_file())
            for rel in rels
        )
    ]


def info(
    name: str, root: str | Path | None = None, cache_dir: str | Path | None = None
) -> dict[str, Any]:
    """Files (path, bytes, sha256) and counts of a dataset.

    ``num_train`` counts the pairs available for training and validation
    (``load(name, val_ratio=0)``); ``num_test`` the test pairs.

    Args:
        name: A dataset name (see :func:`available`).
        root: Folder holding the downloaded datasets, or ``None`` for the default.
        cache_dir: Where the parsed splits are cached, or ``None`` for the default.

    Returns:
        ``{"name", "files": [{"path", "bytes", "sha256"}], "num_users",
        "num_items", "num_train", "num_test"}``.

    Raises:
        ValueError: If ``name`` is not a known dataset.

    Examples:
        >>> info("no-such-dataset")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: unknown dataset 'no-such-dataset' (choices: [...'ml-100k'...])
    """
    with _sources(name, root) as sources:
        found = [
            {"path": str(path), "bytes": path.stat().st_size, "sha256": sha}
            for path, sha in sources
        ]
    train, _, test = load(name, val_ratio=0.0, root=root, cache_dir=cache_dir)
    return {
        "name": name,
        "files": found,
        "num_users": train.num_users,
        "num_items": train.num_items,
        "num_train": len(train),
        "num_test": len(test),
    }
