"""The supervised objective: BPR with L2 on the batch's ego embeddings."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.graph.rows import take_rows
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
        return self._hardest(batch, take_rows(out.user, batch.user),
                             take_rows(out.item, batch.neg))[0]

    def _hardest(self, batch: Batch, u: Tensor, neg_emb: Tensor
                 ) -> tuple[Tensor, Tensor]:
        """Negative ids and embeddings kept: the best-scored of each row if hard."""
        if not self.hard_negatives or batch.neg.dim() == 1:
            return batch.neg, neg_emb
        with torch.no_grad():
            best = (u.unsqueeze(1) * neg_emb).sum(-1).argmax(dim=1)
        rows = torch.arange(best.numel(), device=best.device)
        return batch.neg[rows, best], neg_emb[rows, best]

    def bpr_terms(self, batch: Batch, out: EncoderOutput) -> dict[str, Tensor]:
        """BPR and L2 terms for the batch, given the encoder's full output."""
        return self.terms_from(batch, take_rows(out.user, batch.user),
                               take_rows(out.item, batch.pos),
                               take_rows(out.item, batch.neg))

    def batch_terms(self, batch: Batch, adjs: list[Tensor]) -> dict[str, Tensor]:
        """BPR and L2 terms, propagating only what the batch's nodes need.

        Equal to ``bpr_terms(batch, self.encoder(adjs))`` (same value and
        gradients, up to float rounding), through
        :meth:`~graphcl_rec.models.base.Encoder.forward_rows` when the encoder says
        that restricting to the batch's rows saves work (large graphs).
        """
        nodes = self.batch_nodes(batch)
        if not self.encoder.restricts_rows(adjs, nodes.numel()):
            return self.bpr_terms(batch, self.encoder(adjs))
        rows, inverse = torch.unique(nodes, return_inverse=True)
        return self.row_terms(batch, self.encoder.forward_rows(adjs, rows)[0], inverse)

    def batch_nodes(self, batch: Batch) -> Tensor:
        """Node ids of the batch's users, positives and negatives, in that order."""
        num_users = self.encoder.num_users
        return torch.cat([batch.user, batch.pos + num_users,
                          batch.neg.flatten() + num_users])

    def row_terms(self, batch: Batch, final: Tensor, inverse: Tensor
                  ) -> dict[str, Tensor]:
        """BPR and L2 terms from ``[R, d]`` row embeddings and each batch node's row.

        ``inverse`` maps :meth:`batch_nodes` to rows of ``final``.
        """
        b = batch.user.numel()
        emb = take_rows(final, inverse)
        neg = emb[2 * b:].view(*batch.neg.shape, emb.size(1))
        return self.terms_from(batch, emb[:b], emb[b:2 * b], neg)

    def terms_from(self, batch: Batch, u: Tensor, pos_emb: Tensor, neg_emb: Tensor
                   ) -> dict[str, Tensor]:
        """BPR and L2 terms from the batch's final embeddings.

        Args:
            batch: The triples.
            u: ``[B, d]`` user embeddings.
            pos_emb: ``[B, d]`` positive-item embeddings.
            neg_emb: ``[B, d]`` or ``[B, n, d]`` negative-item embeddings.

        Returns:
            ``{"loss", "bpr", "reg"}``.
        """
        neg_idx, neg_emb = self._hardest(batch, u, neg_emb)
        pos = (u * pos_emb).sum(-1)
        neg = ((u.unsqueeze(1) * neg_emb).sum(-1) if neg_emb.dim() == 3
               else (u * neg_emb).sum(-1))
        bpr = bpr_loss(pos, neg)
        ego_u, ego_i = self.encoder.ego()
        reg = l2_reg(
            take_rows(ego_u, batch.user),
            take_rows(ego_i, batch.pos),
            take_rows(ego_i, neg_idx),
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
        return self.batch_terms(batch, adjs)

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"reg_weight={self.reg_weight}, hard_negatives={self.hard_negatives}"
