"""Encoders (MF, LightGCN, SGC) and the supervised BPR objective."""

from graphcl_rec.models.base import (
    ENCODERS,
    OBJECTIVES,
    Batch,
    Encoder,
    EncoderOutput,
    Recommender,
)
from graphcl_rec.models.bpr import BPRRecommender, hardest_negatives
from graphcl_rec.models.lightgcn import LightGCN
from graphcl_rec.models.mf import MF
from graphcl_rec.models.mixgcf import mixgcf_negatives
from graphcl_rec.models.sgc import SGC

__all__ = [
    "ENCODERS",
    "OBJECTIVES",
    "MF",
    "SGC",
    "BPRRecommender",
    "Batch",
    "Encoder",
    "EncoderOutput",
    "LightGCN",
    "Recommender",
    "hardest_negatives",
    "mixgcf_negatives",
]
