"""SGL: contrast two augmented graph views (Wu et al., SIGIR 2021)."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.augment.base import Augmentation
from graphcl_rec.augment.dropout import EdgeDropout
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
        hard_negatives: Dynamic negative sampling for the BPR term.
        nce_precision: ``"full"`` or ``"bfloat16"`` InfoNCE products (see
            :class:`~graphcl_rec.contrast.base.ContrastiveRecommender`).

    Examples:
        >>> from graphcl_rec.models import LightGCN
        >>> model = SGL(LightGCN(5, 5, dim=8, num_layers=2), EdgeDropout(0.1))
        >>> model.augment
        EdgeDropout(p=0.1)
    """

    def __init__(self, encoder: Encoder, augment: Augmentation | None = None,
                 tau: float = 0.2, ssl_weight: float = 0.1, reg_weight: float = 1e-4,
                 negatives: str = "all", reduction: str = "mean",
                 hard_negatives: bool = False, nce_precision: str = "full") -> None:
        super().__init__(encoder, tau, ssl_weight, reg_weight, negatives, reduction,
                         hard_negatives, nce_precision)
        self.augment = augment if augment is not None else EdgeDropout(0.1)

    def sample_views(self, inter: Interactions, generator: torch.Generator
                     ) -> list[list[Tensor]] | None:
        """Two independent augmented views, each ``num_layers`` adjacencies."""
        return paired_views(inter, self.augment, self.encoder.num_layers, generator)

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR on ``adjs`` plus InfoNCE between the two views."""
        if views is None or len(views) != 2:
            raise ValueError("SGL.loss needs the two views from sample_views()")
        terms = self.batch_terms(batch, adjs)
        most = batch.user.numel() + batch.pos.numel()  # a bound: no host sync
        if self.negatives == "all" and self.encoder.restricts_rows(views[0], most):
            return self.combine(terms, self.anchor_row_contrast(batch, views))
        z1, z2 = self.encoder(views[0]), self.encoder(views[1])
        return self.combine(terms, self.contrast(batch, z1.user, z1.item, z2.user,
                                                 z2.item))

    def anchor_row_contrast(self, batch: Batch, views: list[list[Tensor]]) -> Tensor:
        """:meth:`contrast` with the first view propagated for the anchors' rows only.

        With all-node negatives the first view enters the loss only through the
        batch's unique users and items, so its last layer reads only their rows
        (:meth:`~graphcl_rec.models.base.Encoder.forward_rows`, as BPR does); the
        second view, whose every row is a candidate, is propagated in full. Equal
        to ``contrast`` on the full first view (value and gradients, up to float
        rounding).
        """
        users, items = torch.unique(batch.user), torch.unique(batch.pos)
        rows = torch.cat([users, items + self.encoder.num_users])
        z1 = self.encoder.forward_rows(views[0], rows)[0]
        z2 = self.encoder(views[1])
        return (self.nce_anchors(z1[:users.numel()], z2.user, users)
                + self.nce_anchors(z1[users.numel():], z2.item, items))

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"augment={self.augment!r}, {super().extra_repr()}"
