"""Interactions, readers, splits, samplers and named datasets."""

from graphcl_rec.data.checks import check_disjoint
from graphcl_rec.data.cold import drop_cold, split_summary
from graphcl_rec.data.datasets import available, info, load
from graphcl_rec.data.interactions import Interactions, concat
from graphcl_rec.data.io import load_interactions
from graphcl_rec.data.kcore import k_core
from graphcl_rec.data.lightgcn import read_lightgcn
from graphcl_rec.data.split import (
    holdout,
    leave_one_out,
    random_split,
    temporal_split,
)

__all__ = [
    "Interactions",
    "available",
    "check_disjoint",
    "concat",
    "drop_cold",
    "holdout",
    "info",
    "k_core",
    "leave_one_out",
    "load",
    "load_interactions",
    "random_split",
    "read_lightgcn",
    "split_summary",
    "temporal_split",
]
