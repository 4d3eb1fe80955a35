"""Export embeddings with their raw ids (npz + JSON, no pickle) and load them back.

An export folder holds:

- ``embeddings.npz``: ``user_emb [U, d]``, ``item_emb [I, d]``, and the seen pairs
  ``seen_user``/``seen_item [E]`` (int64 indices), written by :func:`numpy.savez`
  and read with ``allow_pickle=False``;
- ``meta.json``: ``format``, ``format_version``, ``library_version``,
  ``num_users``, ``num_items``, ``dim``, ``dtype``, ``model`` (the model's repr, or
  ``null``), ``user_ids``/``item_ids`` (raw id of each index), ``sha256`` of every
  other file, and ``ann`` (the index settings, or ``null``);
- ``items.faiss`` (only with faiss, the ``ann`` extra): an HNSW inner-product
  index over the item embeddings for approximate top-K.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphcl_rec._version import __version__
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.serve.embeddings import EmbeddingRecommender

log = logging.getLogger("graphcl_rec")

FORMAT, FORMAT_VERSION = "graphcl_rec.embeddings", 1
ARRAYS, META, ANN = "embeddings.npz", "meta.json", "items.faiss"


def faiss_available() -> bool:
    """Whether ``import faiss`` can work (the optional ``ann`` extra).

    Examples:
        >>> faiss_available() in (True, False)
        True
    """
    return importlib.util.find_spec("faiss") is not None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_ann_index(item_emb: np.ndarray, m: int = 32) -> Any:
    """An HNSW index of ``[I, d]`` item embeddings for maximum inner product.

    Args:
        item_emb: ``[I, d]`` item embeddings.
        m: HNSW neighbours per node.

    Returns:
        A ``faiss.IndexHNSWFlat`` with ``METRIC_INNER_PRODUCT``.

    Raises:
        ImportError: Without faiss.

    Examples:
        >>> import numpy as np
        >>> items = np.eye(3, dtype=np.float32)
        >>> index = build_ann_index(items, m=4) if faiss_available() else None
        >>> index is None or index.search(items[1:2], 1)[1].tolist() == [[1]]
        True
    """
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("an ANN index needs faiss: pip install "
                          "'graphcl-rec[ann]'") from exc
    data = np.ascontiguousarray(item_emb, dtype=np.float32)
    index = faiss.IndexHNSWFlat(data.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.add(data)
    return index


def export(rec: EmbeddingRecommender, path: str | Path, *, ann: bool | None = None,
           overwrite: bool = False) -> Path:
    """Writes a recommender's embeddings, raw ids and seen items to a folder.

    The folder is written beside ``path`` under a temporary name and then renamed,
    so ``path`` never holds a half-written export.

    Args:
        rec: Any :class:`~graphcl_rec.serve.embeddings.EmbeddingRecommender`
            (folded-in users and items included).
        path: The folder to create.
        ann: Also write a faiss index: ``None`` when faiss is importable, ``True``
            always (fails without faiss), ``False`` never.
        overwrite: Replace an existing ``path``.

    Returns:
        ``path``.

    Raises:
        FileExistsError: If ``path`` exists and ``overwrite`` is false.
        ImportError: For ``ann=True`` without faiss.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import torch
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.models import MF, BPRRecommender
        >>> from graphcl_rec.serve import TrainedRecommender
        >>> _ = torch.manual_seed(0)
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3,
        ...                      user_ids=("ann", "bob"), item_ids=("x", "y", "z"))
        >>> rec = TrainedRecommender(BPRRecommender(MF(2, 3, dim=4)), train)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = export(rec, Path(tmp) / "export", ann=False)
        ...     sorted(p.name for p in out.iterdir())
        ['embeddings.npz', 'meta.json']
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"'path' exists: {path} (pass overwrite=True)")
    if ann is None:
        ann = faiss_available()
    elif ann and not faiss_available():
        raise ImportError("ann=True needs faiss: pip install 'graphcl-rec[ann]'")
    user_emb, item_emb = (t.detach().cpu() for t in (rec.user_emb, rec.item_emb))
    if user_emb.dtype not in (torch.float16, torch.float32, torch.float64):
        user_emb, item_emb = user_emb.float(), item_emb.float()
    seen_user, seen_item = (t.cpu() for t in rec.seen.pairs())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        np.savez(tmp / ARRAYS, user_emb=user_emb.numpy(), item_emb=item_emb.numpy(),
                 seen_user=seen_user.numpy(), seen_item=seen_item.numpy())
        files = [ARRAYS]
        ann_meta = None
        if ann:
            import faiss

            faiss.write_index(build_ann_index(item_emb.numpy()), str(tmp / ANN))
            files.append(ANN)
            ann_meta = {"kind": "IndexHNSWFlat", "metric": "inner_product", "m": 32}
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "library_version": __version__, "num_users": rec.num_users,
            "num_items": rec.num_items, "dim": int(user_emb.size(1)),
            "dtype": str(user_emb.dtype).removeprefix("torch."),
            "model": rec.description, "ann": ann_meta,
            "sha256": {name: _sha256(tmp / name) for name in files},
            "user_ids": rec.users.ids, "item_ids": rec.items.ids,
        }
        (tmp / META).write_text(json.dumps(meta), encoding="utf-8")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %d users and %d items to %s", rec.num_users, rec.num_items,
             path)
    return path


def load_exported(path: str | Path) -> EmbeddingRecommender:
    """Loads an :func:`export` folder into a recommend-capable object.

    Checks the format and each file's sha256; arrays are read without pickle. The
    faiss index, when the folder has one and faiss is importable, is attached as
    ``ann_index`` (else ``ann_index`` is ``None``).

    Args:
        path: The export folder.

    Returns:
        An :class:`~graphcl_rec.serve.embeddings.EmbeddingRecommender` with the
        exported embeddings, raw ids and seen items.

    Raises:
        FileNotFoundError: If a file is missing.
        ValueError: For another format or version, or a checksum mismatch.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import torch
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.models import MF, BPRRecommender
        >>> from graphcl_rec.serve import TrainedRecommender
        >>> _ = torch.manual_seed(0)
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3,
        ...                      user_ids=("ann", "bob"), item_ids=("x", "y", "z"))
        >>> rec = TrainedRecommender(BPRRecommender(MF(2, 3, dim=4)), train)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     served = load_exported(export(rec, Path(tmp) / "export", ann=False))
        >>> [r.recommend("ann", k=2)[0].tolist() for r in (served, rec)]
        [['y', 'z'], ['y', 'z']]
        >>> served.ann_index is None
        True
    """
    path = Path(path)
    meta = json.loads((path / META).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path / META}: not a {FORMAT} v{FORMAT_VERSION} export "
                         f"(got format={meta.get('format')!r}, "
                         f"format_version={meta.get('format_version')!r})")
    for name, digest in meta["sha256"].items():
        if _sha256(path / name) != digest:
            raise ValueError(f"{path / name}: sha256 does not match meta.json "
                             "(file changed or corrupt)")
    with np.load(path / ARRAYS, allow_pickle=False) as arrays:
        tensors = {key: torch.from_numpy(arrays[key].copy()) for key in arrays.files}
    seen = Interactions(tensors["seen_user"], tensors["seen_item"],
                        meta["num_users"], meta["num_items"],
                        user_ids=tuple(meta["user_ids"]),
                        item_ids=tuple(meta["item_ids"]))
    rec = EmbeddingRecommender(tensors["user_emb"], tensors["item_emb"], seen,
                               description=meta.get("model"))
    if ANN in meta["sha256"]:
        if faiss_available():
            import faiss

            rec.ann_index = faiss.read_index(str(path / ANN))
        else:
            log.warning("%s: has a faiss index but faiss is not installed; "
                        "ann_index is None", path)
    return rec
