"""In-batch InfoNCE: users against their positive items, no sampled negatives."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.graph.rows import take_rows
from graphcl_rec.losses import l2_reg
from graphcl_rec.models.base import OBJECTIVES, Batch, Encoder, Recommender


@OBJECTIVES.register("inbatch_nce")
class InBatchNCE(Recommender):
    r"""Sampled softmax with in-batch negatives (CLRec / SSM style).

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_b
            \log \frac{\exp(s_{b b})}{\sum_{c} \exp(s_{b c})} + \lambda_2 R,
        \qquad s_{b c} = \cos(e_{u_b}, e_{i_c})/\tau - \log \hat q(i_c)

    Every other positive of the batch is a negative of user :math:`u_b`, so an item
    is drawn as a negative in proportion to how often the sampler draws it as a
    positive: without a correction the loss pushes popular items down for being
    popular. ``logq=True`` subtracts the log of :math:`\hat q(i)`, the item's share of
    all positives seen in training so far (a running count, the streaming estimate
    of Yi et al., RecSys 2019), which makes the sampled softmax an estimate of the
    full softmax. ``batch.neg`` is not used.

    Args:
        encoder: Any encoder.
        tau: Temperature.
        reg_weight: :math:`\lambda_2`, weight of the L2 term on the batch's ego rows.
        logq: Apply the sampling-bias correction (``benchmarks/results/robustness``
            has the comparison that made it the default).

    Examples:
        >>> from graphcl_rec.models import MF
        >>> model = InBatchNCE(MF(3, 4, dim=8))
        >>> batch = Batch(*[torch.tensor([0, 1])] * 3)
        >>> sorted(model.loss(batch, [], None))
        ['loss', 'nce', 'reg']
    """

    item_counts: Tensor

    def __init__(self, encoder: Encoder, *, tau: float = 0.2,
                 reg_weight: float = 1e-4, logq: bool = True) -> None:
        super().__init__()
        if tau <= 0 or reg_weight < 0:
            raise ValueError(f"need tau > 0 and reg_weight >= 0 (got {tau}, "
                             f"{reg_weight})")
        self.encoder, self.tau, self.reg_weight = encoder, tau, reg_weight
        self.logq = bool(logq)
        # Positives seen per item; grows with the item table (fold-in, update).
        self.register_buffer("item_counts", torch.zeros(0))

    def log_q(self, items: Tensor) -> Tensor:
        """``[B]`` log of each item's share of the positives counted so far.

        ``items`` are counted first (kept only in training mode), so a batch's own
        positives are in the estimate and no share is zero.
        """
        counts = self.item_counts
        if counts.numel() < self.encoder.num_items:
            grown = torch.zeros(self.encoder.num_items, device=items.device)
            grown[:counts.numel()] = counts
            self.item_counts = counts = grown
        seen = torch.bincount(items, minlength=counts.numel()).to(counts.dtype)
        if self.training:
            counts.add_(seen)
        else:
            counts = counts + seen
        return (counts[items] / counts.sum()).log()

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Corrected in-batch softmax of each user over the positives, plus L2."""
        rows = torch.cat([batch.user, batch.pos + self.encoder.num_users])
        out = self.encoder(adjs, rows=rows)
        logits = (F.normalize(out.users(batch.user), dim=1)
                  @ F.normalize(out.items(batch.pos), dim=1).T) / self.tau
        if self.logq:
            logits = logits - self.log_q(batch.pos)[None, :]
        target = torch.arange(batch.user.numel(), device=batch.user.device)
        nce = F.cross_entropy(logits, target)
        ego_u, ego_i = self.encoder.ego()
        reg = l2_reg(take_rows(ego_u, batch.user), take_rows(ego_i, batch.pos))
        return {"loss": nce + self.reg_weight * reg, "nce": nce.detach(),
                "reg": reg.detach()}

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              *args: Any) -> None:
        key = prefix + "item_counts"
        if key in state_dict:  # sized by training so far, not by the constructor
            self.item_counts = torch.zeros_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args)

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"tau={self.tau}, reg_weight={self.reg_weight}, logq={self.logq}"
