"""Analysis of trained embeddings: alignment and uniformity."""

from graphcl_rec.analysis.embeddings import EmbeddingProbe, alignment, uniformity

__all__ = ["EmbeddingProbe", "alignment", "uniformity"]
