"""BYOL-style objective: online encoder + predictor against an EMA target."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphcl_rec.augment.base import Augmentation
from graphcl_rec.contrast.base import (
    check_momentum,
    check_warmup,
    ema_update,
    make_target,
    paired_views,
    ramped,
)
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.losses.contrastive import cosine_alignment
from graphcl_rec.models.base import OBJECTIVES, Encoder
from graphcl_rec.models.bpr import BPRRecommender

PAIRS = ("interaction", "node")


@OBJECTIVES.register("byol")
class BYOL(BPRRecommender):
    r"""BPR plus a negative-free alignment term (BUIR / SelfCF style).

    An online encoder with a linear predictor :math:`q` is pulled towards an EMA
    target encoder (no gradient reaches the target):

    - ``pairs="interaction"`` (BUIR): :math:`\ell(q(o_u), t_i) + \ell(q(o_i), t_u)`
      for every batch pair :math:`(u, i)`;
    - ``pairs="node"`` (SelfCF): :math:`\ell(q(o_v), t_v)` for the batch's users and
      items, the two encoders seeing two augmented views when ``augment`` is set;

    with :math:`\ell(p, z) = 2 - 2\cos(p, z)`. Ranking uses the online encoder.

    Args:
        encoder: Any encoder (the online one).
        augment: Optional augmentation giving the online and target views.
        momentum: EMA momentum of the target.
        ssl_weight: Weight of the alignment term.
        pairs: ``"interaction"`` or ``"node"``.
        reg_weight: L2 weight.
        hard_negatives: Negative selection of the BPR term: ``False``,
            ``True``/``"hardest"`` or ``"mixgcf"`` (see
            :class:`~graphcl_rec.models.bpr.BPRRecommender`).
        ssl_warmup: Steps of linear ramp of ``ssl_weight`` (see
            :class:`~graphcl_rec.contrast.base.ContrastiveRecommender`).

    Examples:
        >>> import torch
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.graph import adjacency
        >>> from graphcl_rec.models import Batch, LightGCN
        >>> _ = torch.manual_seed(0)
        >>> inter = Interactions(torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0]), 3, 3)
        >>> batch = Batch(*torch.tensor([[0, 1], [1, 2], [0, 0]]))  # user, pos, neg
        >>> model = BYOL(LightGCN(3, 3, dim=8, num_layers=2), pairs="node")
        >>> generator = torch.Generator().manual_seed(0)
        >>> views = model.sample_views(inter, generator)
        >>> terms = model.loss(batch, [adjacency(inter)] * 2, views, generator)
        >>> sorted(terms), terms["loss"].shape
        (['bpr', 'loss', 'reg', 'ssl'], torch.Size([]))
    """

    ssl_step: Tensor
    """Optimiser steps taken (a buffer, so checkpoints carry the ramp's position)."""

    def __init__(self, encoder: Encoder, *, augment: Augmentation | None = None,
                 momentum: float = 0.99, ssl_weight: float = 0.1,
                 pairs: str = "interaction", reg_weight: float = 1e-4,
                 hard_negatives: bool | str = False, ssl_warmup: int = 1000) -> None:
        super().__init__(encoder, reg_weight=reg_weight, hard_negatives=hard_negatives)
        if pairs not in PAIRS:
            raise ValueError(f"Could not resolve pairs '{pairs}' among choices "
                             f"{list(PAIRS)}")
        if ssl_weight < 0:
            raise ValueError(f"'ssl_weight' must be >= 0 (got {ssl_weight})")
        self.augment, self.momentum = augment, check_momentum(momentum)
        self.ssl_weight, self.pairs = ssl_weight, pairs
        self.ssl_warmup = check_warmup(ssl_warmup)
        self.register_buffer("ssl_step", torch.zeros((), dtype=torch.long))
        self.target = make_target(encoder)
        self.predictor = nn.Linear(encoder.dim, encoder.dim)
        self._reset_predictor()

    def _reset_predictor(self) -> None:
        nn.init.eye_(self.predictor.weight)
        nn.init.zeros_(self.predictor.bias)

    def reset_parameters(self) -> None:
        """Re-initialises encoder and predictor; the target copies the encoder."""
        self.encoder.reset_parameters()
        self.target.load_state_dict(self.encoder.state_dict())
        self._reset_predictor()
        self.ssl_step.zero_()

    def sample_views(self, inter: Interactions, generator: torch.Generator
                     ) -> list[list[Tensor]] | None:
        """Online and target views when an augmentation is set, else ``None``."""
        return paired_views(inter, self.augment, self.encoder.num_layers, generator)

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR plus the alignment of predicted online and target embeddings."""
        out = self.encoder(adjs)
        terms = self.bpr_terms(batch, out, generator)
        online = self.encoder(views[0]) if views else out
        with torch.no_grad():
            target = self.target(views[1] if views else adjs)
        q = self.predictor
        if self.pairs == "interaction":
            u, i = batch.user, batch.pos
            ssl = (cosine_alignment(q(online.users(u)), target.items(i))
                   + cosine_alignment(q(online.items(i)), target.users(u)))
        else:
            u, i = torch.unique(batch.user), torch.unique(batch.pos)
            ssl = (cosine_alignment(q(online.users(u)), target.users(u))
                   + cosine_alignment(q(online.items(i)), target.items(i)))
        weight = ramped(self.ssl_weight, self.ssl_step, self.ssl_warmup)
        terms["loss"] = terms["loss"] + weight * ssl
        terms["ssl"] = ssl.detach()
        return terms

    def on_step_end(self) -> None:
        """EMA update of the target encoder; counts steps for ``ssl_warmup``."""
        self.ssl_step.add_(1)
        ema_update(self.target, self.encoder, self.momentum)

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return (f"augment={self.augment!r}, momentum={self.momentum}, "
                f"ssl_weight={self.ssl_weight}, pairs='{self.pairs}', "
                f"reg_weight={self.reg_weight}")
