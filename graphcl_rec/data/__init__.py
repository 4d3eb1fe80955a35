"""Interactions, readers, splits, samplers and named datasets."""

from graphcl_rec.data.interactions import Interactions, concat

__all__ = ["Interactions", "concat"]
