"""In-batch InfoNCE: users against their positive items, no sampled negatives."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.graph.rows import take_rows
from graphcl_rec.losses import info_nce, l2_reg
from graphcl_rec.models.base import OBJECTIVES, Batch, Encoder, Recommender


@OBJECTIVES.register("inbatch_nce")
class InBatchNCE(Recommender):
    r"""Sampled softmax with in-batch negatives (CLRec / SSM style).

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_b \log \frac{\exp(\cos(e_{u_b}, e_{i_b})/\tau)}
            {\sum_{c} \exp(\cos(e_{u_b}, e_{i_c})/\tau)} + \lambda_2 R

    Every other positive of the batch is a negative of user :math:`u_b` (a repeated
    item is then also a false negative). ``batch.neg`` is not used.

    Args:
        encoder: Any encoder.
        tau: Temperature.
        reg_weight: :math:`\lambda_2`, weight of the L2 term on the batch's ego rows.

    Examples:
        >>> from graphcl_rec.models import MF
        >>> model = InBatchNCE(MF(3, 4, dim=8))
        >>> batch = Batch(*[torch.tensor([0, 1])] * 3)
        >>> sorted(model.loss(batch, [], None))
        ['loss', 'nce', 'reg']
    """

    def __init__(self, encoder: Encoder, *, tau: float = 0.2,
                 reg_weight: float = 1e-4) -> None:
        super().__init__()
        if tau <= 0 or reg_weight < 0:
            raise ValueError(f"need tau > 0 and reg_weight >= 0 (got {tau}, "
                             f"{reg_weight})")
        self.encoder, self.tau, self.reg_weight = encoder, tau, reg_weight

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """InfoNCE of each user against the batch's positives, plus L2."""
        rows = torch.cat([batch.user, batch.pos + self.encoder.num_users])
        out = self.encoder(adjs, rows=rows)
        target = torch.arange(batch.user.numel(), device=batch.user.device)
        nce = info_nce(out.users(batch.user), out.items(batch.pos), target, self.tau)
        ego_u, ego_i = self.encoder.ego()
        reg = l2_reg(take_rows(ego_u, batch.user), take_rows(ego_i, batch.pos))
        return {"loss": nce + self.reg_weight * reg, "nce": nce.detach(),
                "reg": reg.detach()}

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"tau={self.tau}, reg_weight={self.reg_weight}"
