"""Shared pieces of the contrastive objectives: the InfoNCE term and EMA targets."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from graphcl_rec.augment.base import Augmentation, make_views
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.graph.rows import take_rows
from graphcl_rec.losses.contrastive import info_nce, unique_anchors
from graphcl_rec.models.base import Encoder, EncoderOutput
from graphcl_rec.models.bpr import BPRRecommender

NEGATIVES = ("all", "batch")
NCE_PRECISIONS = {"full": None, "bfloat16": torch.bfloat16}
"""``nce_precision`` choices and the InfoNCE product dtype each selects."""


class ContrastiveRecommender(BPRRecommender):
    r"""BPR plus a weighted InfoNCE term between two embeddings of the batch's nodes.

    .. math::
        \mathcal{L} = \mathcal{L}_{BPR} + \lambda_2 R
            + \lambda_{ssl} (\mathcal{L}^{user}_{NCE} + \mathcal{L}^{item}_{NCE})

    The contrasted nodes are the batch's unique users and unique positive items.
    With ``negatives="all"`` every user (item) of the second view is a candidate
    (SGL's reference code); with ``"batch"`` only the batch's unique users (items)
    are (SELFRec, SimGCL, XSimGCL).

    Args:
        encoder: Any encoder.
        tau: Temperature.
        ssl_weight: :math:`\lambda_{ssl}`.
        reg_weight: :math:`\lambda_2`.
        negatives: ``"all"`` or ``"batch"``.
        reduction: ``"mean"`` over anchors (matches SELFRec/SimGCL weights; with the
            mean BPR term this keeps SGL's sum-over-everything ratio) or ``"sum"``.
        hard_negatives: Passed to :class:`BPRRecommender`.
        nce_precision: ``"full"`` (default): the InfoNCE products in the
            embeddings' dtype. ``"bfloat16"``: its three matrix products (logits
            and both gradients) in bf16, everything else unchanged (see
            ``matmul_dtype`` in :func:`~graphcl_rec.losses.contrastive.info_nce`);
            faster where bf16 products are (CPUs with AVX-512 BF16 or AMX, GPUs),
            at the cost of 8-bit mantissas in the logits.
    """

    def __init__(self, encoder: Encoder, tau: float = 0.2, ssl_weight: float = 0.1,
                 reg_weight: float = 1e-4, negatives: str = "all",
                 reduction: str = "mean", hard_negatives: bool = False,
                 nce_precision: str = "full") -> None:
        super().__init__(encoder, reg_weight=reg_weight, hard_negatives=hard_negatives)
        if tau <= 0:
            raise ValueError(f"'tau' must be positive (got {tau})")
        if ssl_weight < 0:
            raise ValueError(f"'ssl_weight' must be >= 0 (got {ssl_weight})")
        if negatives not in NEGATIVES:
            raise ValueError(f"Could not resolve negatives '{negatives}' among choices "
                             f"{list(NEGATIVES)}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"Could not resolve reduction '{reduction}' among choices "
                             "['mean', 'sum']")
        if nce_precision not in NCE_PRECISIONS:
            raise ValueError(f"Could not resolve nce_precision '{nce_precision}' among "
                             f"choices {list(NCE_PRECISIONS)}")
        self.tau, self.ssl_weight = tau, ssl_weight
        self.negatives, self.reduction = negatives, reduction
        self.nce_precision = nce_precision

    def nce(self, view1: Tensor, view2: Tensor, index: Tensor,
            weight: Tensor | None = None) -> Tensor:
        """InfoNCE of rows ``index`` of ``view1`` against ``view2``.

        Args:
            view1: ``[N, d]`` anchors' view.
            view2: ``[N, d]`` positives' (and negatives') view.
            index: ``[B]`` unique node indices, or indices with repeats and
                ``weight`` from :func:`~graphcl_rec.losses.contrastive.unique_anchors`
                (all-node negatives only).
            weight: ``[B]`` anchor weights, or ``None``.

        Returns:
            Scalar loss.
        """
        if self.negatives == "all":
            return self.nce_anchors(take_rows(view1, index), view2, index, weight)
        low = NCE_PRECISIONS[self.nce_precision]
        if weight is not None:
            raise ValueError("anchor weights need negatives='all': in-batch "
                             "candidates would repeat with the anchors")
        target = torch.arange(index.numel(), device=index.device)
        return info_nce(take_rows(view1, index), take_rows(view2, index), target,
                        self.tau, self.reduction, matmul_dtype=low)

    def nce_anchors(self, anchor: Tensor, view2: Tensor, index: Tensor,
                    weight: Tensor | None = None) -> Tensor:
        """All-node InfoNCE of ``[B, d]`` anchor rows against every row of ``view2``.

        ``anchor[j]`` is node ``index[j]`` of the first view; its positive is
        ``view2[index[j]]`` and every other row of ``view2`` is a negative.
        """
        return info_nce(anchor, view2, index, self.tau, self.reduction, weight,
                        matmul_dtype=NCE_PRECISIONS[self.nce_precision])

    def contrast(self, batch: Batch, user1: Tensor, item1: Tensor, user2: Tensor,
                 item2: Tensor) -> Tensor:
        """User and item InfoNCE terms for the batch's unique users and items.

        Off the CPU with all-node negatives, repeats are weighted by 0 instead of
        removed (:func:`~graphcl_rec.losses.contrastive.unique_anchors`): the same
        loss, without the host–device synchronisation of ``torch.unique``.
        """
        sync_free = self.negatives == "all" and batch.user.device.type != "cpu"
        users, user_w = unique_anchors(batch.user, sync_free)
        items, item_w = unique_anchors(batch.pos, sync_free)
        return (self.nce(user1, user2, users, user_w)
                + self.nce(item1, item2, items, item_w))

    def row_contrast(self, batch: Batch, rows: Tensor, view1: Tensor, view2: Tensor
                     ) -> Tensor:
        """:meth:`contrast` on ``[R, d]`` views of the sorted node ids ``rows``.

        ``rows`` must hold the batch's users and positive items (items offset by
        ``num_users``); only in-batch negatives can be computed from rows.
        """
        items = torch.unique(batch.pos) + self.encoder.num_users
        users = torch.searchsorted(rows, torch.unique(batch.user))
        items = torch.searchsorted(rows, items)
        return self.nce(view1, view2, users) + self.nce(view1, view2, items)

    def combine(self, terms: dict[str, Tensor], ssl: Tensor) -> dict[str, Tensor]:
        """Adds the weighted contrastive term to the BPR terms."""
        terms["loss"] = terms["loss"] + self.ssl_weight * ssl
        terms["ssl"] = ssl.detach()
        return terms

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return (f"tau={self.tau}, ssl_weight={self.ssl_weight}, "
                f"reg_weight={self.reg_weight}, negatives='{self.negatives}', "
                f"reduction='{self.reduction}'"
                + ("" if self.nce_precision == "full"
                   else f", nce_precision='{self.nce_precision}'"))


def paired_views(inter: Interactions, augment: Augmentation | None, num_layers: int,
                 generator: torch.Generator) -> list[list[Tensor]] | None:
    """Two independent augmented views, each ``num_layers`` adjacencies.

    Returns ``None`` without an augmentation (both encoders then see the graph).
    """
    if augment is None:
        return None
    return [make_views(inter, augment, num_layers, generator),
            make_views(inter, augment, num_layers, generator)]


def make_target(encoder: Encoder) -> Encoder:
    """A frozen copy of ``encoder`` for EMA (momentum) targets."""
    target = copy.deepcopy(encoder)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


def online_and_target(online: Encoder, target: Encoder, out: EncoderOutput,
                      adjs: list[Tensor], views: list[list[Tensor]] | None
                      ) -> tuple[EncoderOutput, EncoderOutput]:
    """Online pass on view 1 and gradient-free target pass on view 2.

    Without views both see ``adjs``, and the online pass reuses ``out`` (the
    forward already made for BPR) instead of propagating again.
    """
    first = online(views[0]) if views else out
    with torch.no_grad():
        second = target(views[1] if views else adjs)
    return first, second


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    r"""In-place :math:`\theta_t \leftarrow m \theta_t + (1 - m) \theta_o`."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(momentum).add_(o.detach(), alpha=1.0 - momentum)


def check_momentum(momentum: float) -> float:
    """Validates an EMA momentum in ``[0, 1]``."""
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"'momentum' has to be in [0, 1] (got {momentum})")
    return float(momentum)
