"""Random sub-graphs of the training interactions, turned into per-layer views."""

from graphcl_rec.augment.base import AUGMENTATIONS, Augmentation, Identity, make_views
from graphcl_rec.augment.dropout import EdgeDropout, NodeDropout
from graphcl_rec.augment.walk import RandomWalk, random_walk_pairs

__all__ = [
    "AUGMENTATIONS",
    "Augmentation",
    "EdgeDropout",
    "Identity",
    "NodeDropout",
    "RandomWalk",
    "make_views",
    "random_walk_pairs",
]
