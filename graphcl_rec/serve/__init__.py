"""Using a trained model: recommend by raw id, fold in, update, export.

:class:`TrainedRecommender` wraps a trained
:class:`~graphcl_rec.models.base.Recommender` and its training graph;
:class:`EmbeddingRecommender` serves fixed embeddings (what :func:`load_exported`
returns).
"""

from graphcl_rec.serve.embeddings import EmbeddingRecommender
from graphcl_rec.serve.export import (
    build_ann_index,
    export,
    faiss_available,
    load_exported,
)
from graphcl_rec.serve.foldin import fit_new_rows, propagate_new_nodes
from graphcl_rec.serve.ids import IdMap, RawId, UnknownIdError
from graphcl_rec.serve.recommender import TrainedRecommender
from graphcl_rec.serve.update import grow_table, update

__all__ = [
    "EmbeddingRecommender",
    "IdMap",
    "RawId",
    "TrainedRecommender",
    "UnknownIdError",
    "build_ann_index",
    "export",
    "faiss_available",
    "fit_new_rows",
    "grow_table",
    "load_exported",
    "propagate_new_nodes",
    "update",
]
