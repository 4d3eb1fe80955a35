"""Full-ranking evaluation: top-K metrics, batched evaluator, group reports."""

from graphcl_rec.eval.groups import coverage, group_report, sparsity_groups
from graphcl_rec.eval.metrics import METRICS, metrics_from_hits, topk_metrics
from graphcl_rec.eval.ranking import evaluate, evaluate_embeddings

__all__ = [
    "METRICS",
    "coverage",
    "evaluate",
    "evaluate_embeddings",
    "group_report",
    "metrics_from_hits",
    "sparsity_groups",
    "topk_metrics",
]
