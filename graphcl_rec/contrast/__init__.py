"""Contrastive objectives: BPR plus one self-supervised term each."""

from graphcl_rec.contrast.base import ContrastiveRecommender, ema_update, make_target
from graphcl_rec.contrast.byol import BYOL
from graphcl_rec.contrast.directau import DirectAU, alignment_loss, uniformity_loss
from graphcl_rec.contrast.inbatch import InBatchNCE
from graphcl_rec.contrast.lightgcl import LightGCL
from graphcl_rec.contrast.moco import MoCo, queue_nce
from graphcl_rec.contrast.ncl import NCL
from graphcl_rec.contrast.sgl import SGL
from graphcl_rec.contrast.simgcl import SimGCL, XSimGCL, uniform_noise

__all__ = [
    "BYOL",
    "NCL",
    "SGL",
    "ContrastiveRecommender",
    "DirectAU",
    "InBatchNCE",
    "LightGCL",
    "MoCo",
    "SimGCL",
    "XSimGCL",
    "alignment_loss",
    "ema_update",
    "make_target",
    "queue_nce",
    "uniform_noise",
    "uniformity_loss",
]
