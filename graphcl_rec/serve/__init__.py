"""Using a trained model: recommend by raw id, fold in, update, export.

:class:`TrainedRecommender` wraps a trained
:class:`~graphcl_rec.models.base.Recommender` and its training graph;
:class:`EmbeddingRecommender` serves fixed embeddings (what :func:`load_exported`
returns); :class:`LiveRecommender` and :func:`create_app` serve one over HTTP
while feedback updates it; :func:`load` reads a finished run's model artifact
(:func:`save_model`) back into a :class:`TrainedRecommender`.
"""

from graphcl_rec.serve.artifact import MODEL_FILE, read_artifact, save_model
from graphcl_rec.serve.embeddings import EmbeddingRecommender
from graphcl_rec.serve.export import (
    build_ann_index,
    export,
    faiss_available,
    load_exported,
)
from graphcl_rec.serve.foldin import fit_new_rows, propagate_new_nodes
from graphcl_rec.serve.http import create_app
from graphcl_rec.serve.ids import IdMap, RawId, UnknownIdError
from graphcl_rec.serve.live import LiveRecommender
from graphcl_rec.serve.load import load
from graphcl_rec.serve.recommender import TrainedRecommender
from graphcl_rec.serve.update import grow_table, update

__all__ = [
    "EmbeddingRecommender",
    "IdMap",
    "LiveRecommender",
    "MODEL_FILE",
    "RawId",
    "TrainedRecommender",
    "UnknownIdError",
    "build_ann_index",
    "create_app",
    "export",
    "faiss_available",
    "fit_new_rows",
    "grow_table",
    "load",
    "load_exported",
    "propagate_new_nodes",
    "read_artifact",
    "save_model",
    "update",
]
