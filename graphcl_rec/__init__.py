"""graphcl_rec: graph-based contrastive recommendation on PyTorch Geometric."""

from graphcl_rec import augment, contrast, data, eval, graph, losses, models
from graphcl_rec._version import __version__
from graphcl_rec.data import Interactions
from graphcl_rec.eval import evaluate, topk_metrics
from graphcl_rec.serve import load
from graphcl_rec.train import EarlyStopping, History, Trainer

__all__ = [
    "EarlyStopping",
    "History",
    "Interactions",
    "Trainer",
    "__version__",
    "augment",
    "contrast",
    "data",
    "eval",
    "evaluate",
    "graph",
    "load",
    "losses",
    "models",
    "topk_metrics",
]
