"""Loss functions (plain functions, math in the docstrings)."""

from graphcl_rec.losses.contrastive import cosine_alignment, info_nce
from graphcl_rec.losses.ranking import bpr_loss, l2_reg

__all__ = ["bpr_loss", "cosine_alignment", "info_nce", "l2_reg"]
