"""Analysis of trained embeddings: alignment, uniformity and 2-D projections."""

from graphcl_rec.analysis.embeddings import EmbeddingProbe, alignment, uniformity
from graphcl_rec.analysis.projection import angles, gaussian_kde, to_circle, tsne_2d

__all__ = ["EmbeddingProbe", "alignment", "angles", "gaussian_kde", "to_circle",
           "tsne_2d", "uniformity"]
