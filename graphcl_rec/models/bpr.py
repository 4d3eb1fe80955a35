"""The supervised objective: BPR with L2 on the batch's ego embeddings."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.losses.ranking import bpr_loss, l2_reg
from graphcl_rec.models.base import (
    OBJECTIVES,
    Batch,
    Encoder,
    EncoderOutput,
    Recommender,
)


@OBJECTIVES.register("bpr")
class BPRRecommender(Recommender):
    r"""BPR ranking objective around any encoder.

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_b \log\sigma(e_u^\top e_{i^+} - e_u^\top e_{i^-})
                      + \lambda_2 \frac{1}{2B} \left(\lVert e^{(0)}_u\rVert^2 +
                      \lVert e^{(0)}_{i^+}\rVert^2 + \lVert e^{(0)}_{i^-}\rVert^2\right)

    When the batch carries several negatives per triple (``neg`` of shape ``[B, n]``),
    ``hard_negatives=True`` keeps the candidate the model currently scores highest
    (dynamic negative sampling); otherwise every candidate enters the loss.

    Args:
        encoder: Any :class:`~graphcl_rec.models.base.Encoder`.
        reg_weight: :math:`\lambda_2`, weight of the L2 term (1e-4 in LightGCN/SGL).
        hard_negatives: Pick the hardest of several sampled negatives.

    Examples:
        >>> from graphcl_rec.models import MF
        >>> model = BPRRecommender(MF(3, 4, dim=8))
        >>> t = torch.tensor
        >>> batch = Batch(t([0, 1]), t([0, 1]), t([2, 3]))
        >>> sorted(model.loss(batch, [], None))
        ['bpr', 'loss', 'reg']
    """

    def __init__(
        self, encoder: Encoder, reg_weight: float = 1e-4, hard_negatives: bool = False
    ) -> None:
        super().__init__()
        if reg_weight < 0:
            raise ValueError(f"'reg_weight' must be >= 0 (got {reg_weight})")
        self.encoder = encoder
        self.reg_weight = reg_weight
        self.hard_negatives = hard_negatives

    def select_negatives(self, batch: Batch, out: EncoderOutput) -> Tensor:
        """The negatives that enter the loss: ``[B]`` or ``[B, n]`` item indices."""
        if not self.hard_negatives or batch.neg.dim() == 1:
            return batch.neg
        with torch.no_grad():
            scores = (out.user[batch.user].unsqueeze(1) * out.item[batch.neg]).sum(-1)
            best = scores.argmax(dim=1, keepdim=True)
        return batch.neg.gather(1, best).squeeze(1)

    def bpr_terms(self, batch: Batch, out: EncoderOutput) -> dict[str, Tensor]:
        """BPR and L2 terms for the batch, given the encoder's output."""
        neg_idx = self.select_negatives(batch, out)
        u = out.user[batch.user]
        pos = (u * out.item[batch.pos]).sum(-1)
        neg_emb = out.item[neg_idx]
        neg = (
            (u.unsqueeze(1) * neg_emb).sum(-1)
            if neg_idx.dim() == 2
            else (u * neg_emb).sum(-1)
        )
        bpr = bpr_loss(pos, neg)
        ego_u, ego_i = self.encoder.ego()
        reg = l2_reg(
            ego_u[batch.user],
            ego_i[batch.pos],
            ego_i[neg_idx],
            batch_size=batch.user.numel(),
        )
        return {
            "loss": bpr + self.reg_weight * reg,
            "bpr": bpr.detach(),
            "reg": reg.detach(),
        }

    def loss(
        self,
        batch: Batch,
        adjs: list[Tensor],
        views: list[list[Tensor]] | None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """BPR + L2 terms; see :meth:`graphcl_rec.models.base.Recommender.loss`."""
        return self.bpr_terms(batch, self.encoder(adjs))

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"reg_weight={self.reg_weight}, hard_negatives={self.hard_negatives}"
