"""graphcl_rec: graph-based contrastive recommendation on PyTorch Geometric."""

__version__ = "0.1.0"

from graphcl_rec import augment, contrast, data, eval, graph, losses, models  # noqa: E402
from graphcl_rec.data import Interactions  # noqa: E402
from graphcl_rec.eval import evaluate, topk_metrics  # noqa: E402
from graphcl_rec.train import EarlyStopping, History, Trainer  # noqa: E402

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
    "losses",
    "models",
    "topk_metrics",
]
