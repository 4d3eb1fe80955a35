"""SGL: contrast two augmented graph views (Wu et al., SIGIR 2021)."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.augment.base import Augmentation
from graphcl_rec.contrast.base import ContrastiveRecommender, paired_views
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.models.base import OBJECTIVES, Encoder


@OBJECTIVES.register("sgl")
class SGL(ContrastiveRecommender):
    r"""Self-supervised graph learning with node/edge dropout or per-layer views.

    Two views :math:`\mathcal{G}', \mathcal{G}''` are drawn once per epoch with
    ``augment`` and normalised once each; per batch,

    .. math::
        \mathcal{L}^{user}_{NCE} = -\sum_{u \in B}
          \log \frac{\exp(\cos(z'_u, z''_u)/\tau)}
                     {\sum_{v} \exp(\cos(z'_u, z''_v)/\tau)}

    (and likewise for items), added to BPR on the un-augmented graph.

    Args:
        encoder: Any encoder.
        augment: ``NodeDropout(p)`` (SGL-ND), ``EdgeDropout(p)`` (SGL-ED),
            ``EdgeDropout(p, per_layer=True)`` (SGL-RW), or any augmentation.
        tau: Temperature (0.2 in the paper).
        ssl_weight: Weight of the InfoNCE terms (0.1 in the paper).
        reg_weight: L2 weight (1e-4).
        negatives: ``"all"`` (paper) or ``"batch"``.
        reduction: ``"mean"`` or ``"sum"``.
        hard_negatives: Negative selection of the BPR term: ``False``,
            ``True``/``"hardest"`` or ``"mixgcf"`` (see
            :class:`~graphcl_rec.models.bpr.BPRRecommender`).
        nce_precision: ``"full"`` or ``"bfloat16"`` InfoNCE products (see
            :class:`~graphcl_rec.contrast.base.ContrastiveRecommender`).
        ssl_warmup: Steps of linear ramp of ``ssl_weight`` (see
            :class:`~graphcl_rec.contrast.base.ContrastiveRecommender`).

    Examples:
        >>> from graphcl_rec.models import LightGCN
        >>> from graphcl_rec.augment import EdgeDropout
        >>> model = SGL(LightGCN(5, 5, dim=8, num_layers=2), augment=EdgeDropout(0.1))
        >>> model.augment
        EdgeDropout(p=0.1)
    """

    def __init__(self, encoder: Encoder, *, augment: Augmentation,
                 tau: float = 0.2, ssl_weight: float = 0.1, reg_weight: float = 1e-4,
                 negatives: str = "all", reduction: str = "mean",
                 hard_negatives: bool | str = False, nce_precision: str = "full",
                 ssl_warmup: int = 1000) -> None:
        super().__init__(encoder, tau=tau, ssl_weight=ssl_weight,
                         reg_weight=reg_weight, negatives=negatives,
                         reduction=reduction, hard_negatives=hard_negatives,
                         nce_precision=nce_precision, ssl_warmup=ssl_warmup)
        if not isinstance(augment, Augmentation):
            raise TypeError(f"SGL needs an Augmentation for its two views, e.g. "
                            f"EdgeDropout(0.1) (got {augment!r})")
        self.augment = augment

    def sample_views(self, inter: Interactions, generator: torch.Generator
                     ) -> list[list[Tensor]] | None:
        """Two independent augmented views, each ``num_layers`` adjacencies."""
        return paired_views(inter, self.augment, self.encoder.num_layers, generator)

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR on ``adjs`` plus InfoNCE between the two views."""
        if views is None or len(views) != 2:
            raise ValueError("SGL.loss needs the two views from sample_views()")
        terms = self.bpr_terms(batch, self.encoder(adjs, rows=self.batch_rows(batch)),
                               generator)
        z1 = self.encoder(views[0], rows=self.anchor_rows(batch))
        z2 = self.encoder(views[1], rows=self.candidate_rows(batch))
        return self.combine(terms, self.contrast(batch, z1, z2))

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"augment={self.augment!r}, {super().extra_repr()}"
