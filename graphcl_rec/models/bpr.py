"""The supervised objective: BPR with L2 on the batch's ego embeddings."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.graph.rows import take_rows
from graphcl_rec.losses.ranking import bpr_loss, l2_reg
from graphcl_rec.models.base import OBJECTIVES, Batch, Encoder, Recommender
from graphcl_rec.models.mixgcf import check_hard_negatives, mixgcf_negatives
from graphcl_rec.models.output import EncoderOutput


def hardest_negatives(user: Tensor, neg: Tensor, neg_emb: Tensor
                      ) -> tuple[Tensor, Tensor]:
    """The best-scored of each row's candidate negatives (dynamic negative sampling).

    Args:
        user: ``[B, d]`` user embeddings.
        neg: ``[B, n]`` candidate item ids.
        neg_emb: ``[B, n, d]`` their embeddings.

    Returns:
        ``([B] item ids, [B, d] embeddings)`` of the highest-scored candidates.

    Examples:
        >>> u = torch.tensor([[1.0, 0.0]])
        >>> emb = torch.tensor([[[0.0, 1.0], [2.0, 0.0]]])
        >>> hardest_negatives(u, torch.tensor([[7, 9]]), emb)[0].tolist()
        [9]
    """
    with torch.no_grad():
        best = (user.unsqueeze(1) * neg_emb).sum(-1).argmax(dim=1)
    rows = torch.arange(best.numel(), device=best.device)
    return neg[rows, best], neg_emb[rows, best]


@OBJECTIVES.register("bpr")
class BPRRecommender(Recommender):
    r"""BPR ranking objective around any encoder.

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_b \log\sigma(e_u^\top e_{i^+} - e_u^\top e_{i^-})
                      + \lambda_2 \frac{1}{2B} \left(\lVert e^{(0)}_u\rVert^2 +
                      \lVert e^{(0)}_{i^+}\rVert^2 + \lVert e^{(0)}_{i^-}\rVert^2\right)

    When the batch carries several negatives per triple (``neg`` of shape ``[B, n]``,
    ``Trainer(num_negatives=n)``), ``hard_negatives`` chooses how they are used:
    ``False``, every candidate enters the loss; ``True`` (or ``"hardest"``), the
    candidate the model currently scores highest (dynamic negative sampling);
    ``"mixgcf"``, one negative synthesised from the candidates and the positive
    (:func:`~graphcl_rec.models.mixgcf.mixgcf_negatives`; its L2 term reads the
    synthetic negative's layer-0 embedding).

    Args:
        encoder: Any :class:`~graphcl_rec.models.base.Encoder`.
        reg_weight: :math:`\lambda_2`, weight of the L2 term (1e-4 in LightGCN/SGL).
        hard_negatives: ``False``, ``True``/``"hardest"`` or ``"mixgcf"``.

    Examples:
        >>> from graphcl_rec.models import MF
        >>> model = BPRRecommender(MF(3, 4, dim=8))
        >>> t = torch.tensor
        >>> batch = Batch(t([0, 1]), t([0, 1]), t([2, 3]))
        >>> sorted(model.loss(batch, [], None))
        ['bpr', 'loss', 'reg']
    """

    def __init__(self, encoder: Encoder, *, reg_weight: float = 1e-4,
                 hard_negatives: bool | str = False) -> None:
        super().__init__()
        if reg_weight < 0:
            raise ValueError(f"'reg_weight' must be >= 0 (got {reg_weight})")
        self.encoder = encoder
        self.reg_weight = reg_weight
        self.hard_negatives = check_hard_negatives(hard_negatives)

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR + L2 terms; see :meth:`graphcl_rec.models.base.Recommender.loss`."""
        return self.bpr_terms(batch, self.encoder(adjs, rows=self.batch_rows(batch)),
                              generator)

    def batch_rows(self, batch: Batch) -> Tensor:
        """Node ids of the batch's users, positives and negatives (items + ``U``)."""
        num_users = self.encoder.num_users
        return torch.cat([batch.user, batch.pos + num_users,
                          batch.neg.flatten() + num_users])

    def bpr_terms(self, batch: Batch, out: EncoderOutput,
                  generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR and L2 terms of the batch, read from an encoder output.

        Args:
            batch: The triples; ``neg`` is ``[B]`` or ``[B, n]``.
            out: An output holding at least the batch's users and items.
            generator: For the draws of ``hard_negatives="mixgcf"`` (``None``:
                torch's global generator).

        Returns:
            ``{"loss", "bpr", "reg"}``.
        """
        u, pos_emb = out.users(batch.user), out.items(batch.pos)
        neg, neg_ego = batch.neg, None
        if self.hard_negatives == "mixgcf":
            neg_emb, neg_ego = mixgcf_negatives(out, u, batch.pos, neg,
                                                self.encoder.pool, generator)
        else:
            neg_emb = out.items(neg)
            if self.hard_negatives and neg.dim() == 2:
                neg, neg_emb = hardest_negatives(u, neg, neg_emb)
        pos = (u * pos_emb).sum(-1)
        neg_scores = (u.unsqueeze(1) * neg_emb if neg_emb.dim() == 3
                      else u * neg_emb).sum(-1)
        bpr = bpr_loss(pos, neg_scores)
        ego_u, ego_i = self.encoder.ego()
        reg = l2_reg(take_rows(ego_u, batch.user), take_rows(ego_i, batch.pos),
                     take_rows(ego_i, neg) if neg_ego is None else neg_ego,
                     batch_size=batch.user.numel())
        return {"loss": bpr + self.reg_weight * reg, "bpr": bpr.detach(),
                "reg": reg.detach()}

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"reg_weight={self.reg_weight}, hard_negatives={self.hard_negatives!r}"
