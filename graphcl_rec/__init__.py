"""graphcl_rec: graph-based contrastive recommendation on PyTorch Geometric."""

__version__ = "0.1.0"
