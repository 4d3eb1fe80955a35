"""Full-ranking evaluation: top-K metrics, evaluator, groups, popularity baseline."""

from graphcl_rec.eval.groups import coverage, group_report, sparsity_groups
from graphcl_rec.eval.metrics import METRICS, metrics_from_hits, topk_metrics
from graphcl_rec.eval.popularity import popularity_embeddings, popularity_metrics
from graphcl_rec.eval.ranking import evaluate, evaluate_embeddings

__all__ = [
    "METRICS",
    "coverage",
    "evaluate",
    "evaluate_embeddings",
    "group_report",
    "metrics_from_hits",
    "popularity_embeddings",
    "popularity_metrics",
    "sparsity_groups",
    "topk_metrics",
]
