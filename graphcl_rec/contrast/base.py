"""Shared pieces of the contrastive objectives: the InfoNCE term and EMA targets."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from graphcl_rec.augment.base import Augmentation, make_views
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.losses.contrastive import info_nce, unique_anchors
from graphcl_rec.models.base import Encoder
from graphcl_rec.models.bpr import BPRRecommender
from graphcl_rec.models.output import EncoderOutput

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
        ssl_warmup: Optimiser steps over which the contrastive weight ramps
            linearly from 0 to ``ssl_weight`` (1000 by default, chosen on ML-100K
            validation; 0: the full weight from the first step, as in the papers
            and their configs). The ramp lets BPR grow the embeddings first:
            through the normalisation, InfoNCE's gradient scales as
            :math:`1/(\tau \lVert e \rVert)` and BPR's as
            :math:`\lVert e \rVert`, so at a small initial scale the contrastive
            term swamps BPR (see
            ``benchmarks/results/robustness/README.md``).

    Examples:
        >>> import torch
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.graph import adjacency
        >>> from graphcl_rec.models import Batch, LightGCN
        >>> _ = torch.manual_seed(0)
        >>> inter = Interactions(torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0]), 3, 3)
        >>> batch = Batch(*torch.tensor([[0, 1], [1, 2], [0, 0]]))  # user, pos, neg
        >>> model = ContrastiveRecommender(LightGCN(3, 3, dim=8, num_layers=2))
        >>> model.sample_views(inter, torch.Generator()) is None  # no views: BPR only
        True
        >>> generator = torch.Generator().manual_seed(0)
        >>> views = model.sample_views(inter, generator)
        >>> terms = model.loss(batch, [adjacency(inter)] * 2, views, generator)
        >>> sorted(terms), terms["loss"].shape
        (['bpr', 'loss', 'reg'], torch.Size([]))
    """

    ssl_step: Tensor
    """Optimiser steps taken (a buffer, so checkpoints carry the ramp's position)."""

    def __init__(self, encoder: Encoder, *, tau: float = 0.2, ssl_weight: float = 0.1,
                 reg_weight: float = 1e-4, negatives: str = "all",
                 reduction: str = "mean", hard_negatives: bool | str = False,
                 nce_precision: str = "full", ssl_warmup: int = 1000) -> None:
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
        self.ssl_warmup = check_warmup(ssl_warmup)
        self.register_buffer("ssl_step", torch.zeros((), dtype=torch.long))

    def anchor_rows(self, batch: Batch) -> Tensor:
        """Node ids of the contrasted nodes: the batch's users and positive items."""
        return torch.cat([batch.user, batch.pos + self.encoder.num_users])

    def candidate_rows(self, batch: Batch) -> Tensor | None:
        """Rows the second view must hold: the anchors', or all (``None``)."""
        return self.anchor_rows(batch) if self.negatives == "batch" else None

    def contrast(self, batch: Batch, view1: EncoderOutput, view2: EncoderOutput
                 ) -> Tensor:
        r"""User plus item InfoNCE of the batch's unique users and positive items.

        Anchor :math:`z'_v` (``view1``) is pulled to :math:`z''_v` (``view2``) against
        the candidates :math:`z''_w` of every user (item) with ``negatives="all"``,
        or of the batch's unique users (items) with ``"batch"``.

        Off the CPU with all-node negatives, repeats are weighted by 0 instead of
        removed (:func:`~graphcl_rec.losses.contrastive.unique_anchors`): the same
        loss, without the host–device synchronisation of ``torch.unique``.
        """
        every = self.negatives == "all"
        sync_free = every and batch.user.device.type != "cpu"
        users, user_w = unique_anchors(batch.user, sync_free)
        items, item_w = unique_anchors(batch.pos, sync_free)
        if every:
            return (self.nce(view1.users(users), view2.users(), users, user_w)
                    + self.nce(view1.items(items), view2.items(), items, item_w))
        return (self.nce(view1.users(users), view2.users(users))
                + self.nce(view1.items(items), view2.items(items)))

    def nce(self, anchor: Tensor, candidates: Tensor, target: Tensor | None = None,
            weight: Tensor | None = None) -> Tensor:
        """InfoNCE with this objective's temperature, reduction and precision.

        See :func:`~graphcl_rec.losses.contrastive.info_nce`; ``target=None`` pairs
        row ``b`` of ``anchor`` with row ``b`` of ``candidates``.
        """
        if target is None:
            target = torch.arange(anchor.shape[0], device=anchor.device)
        return info_nce(anchor, candidates, target, self.tau, self.reduction, weight,
                        matmul_dtype=NCE_PRECISIONS[self.nce_precision])

    def combine(self, terms: dict[str, Tensor], ssl: Tensor) -> dict[str, Tensor]:
        """Adds the weighted contrastive term to the BPR terms."""
        terms["loss"] = terms["loss"] + ramped(self.ssl_weight, self.ssl_step,
                                               self.ssl_warmup) * ssl
        terms["ssl"] = ssl.detach()
        return terms

    def on_step_end(self) -> None:
        """Counts optimiser steps for the ``ssl_warmup`` ramp."""
        self.ssl_step.add_(1)

    def reset_parameters(self) -> None:
        """Re-initialises the encoder and restarts the ``ssl_warmup`` ramp."""
        super().reset_parameters()
        self.ssl_step.zero_()

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return (f"tau={self.tau}, ssl_weight={self.ssl_weight}, "
                f"reg_weight={self.reg_weight}, negatives='{self.negatives}', "
                f"reduction='{self.reduction}'"
                + (f", hard_negatives={self.hard_negatives!r}"
                   if self.hard_negatives else "")
                + ("" if self.nce_precision == "full"
                   else f", nce_precision='{self.nce_precision}'")
                + (f", ssl_warmup={self.ssl_warmup}" if self.ssl_warmup else ""))


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
    """A frozen copy of ``encoder`` for EMA (momentum) targets.

    Args:
        encoder: The online encoder; it is deep-copied, not shared.

    Returns:
        The copy, with ``requires_grad`` off on every parameter.

    Examples:
        >>> from graphcl_rec.models import MF
        >>> online = MF(2, 3, dim=4)
        >>> target = make_target(online)
        >>> target is online, any(p.requires_grad for p in target.parameters())
        (False, False)
    """
    target = copy.deepcopy(encoder)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    r"""In-place :math:`\theta_t \leftarrow m \theta_t + (1 - m) \theta_o`.

    Args:
        target: Module whose parameters are updated in place (:math:`\theta_t`).
        online: Module with the same parameter shapes, read only (:math:`\theta_o`).
        momentum: :math:`m` in ``[0, 1]``; 1 keeps ``target`` unchanged.

    Examples:
        >>> import torch
        >>> target, online = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
        >>> _ = torch.nn.init.zeros_(target.weight), torch.nn.init.ones_(online.weight)
        >>> ema_update(target, online, momentum=0.75)
        >>> target.weight.item()
        0.25
    """
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(momentum).add_(o.detach(), alpha=1.0 - momentum)


def check_warmup(ssl_warmup: int) -> int:
    """Validates an ``ssl_warmup`` step count (an int >= 0)."""
    if isinstance(ssl_warmup, bool) or not isinstance(ssl_warmup, int) \
            or ssl_warmup < 0:
        raise ValueError(f"'ssl_warmup' must be an int >= 0 (got {ssl_warmup!r})")
    return ssl_warmup


def ramped(weight: float, step: Tensor, warmup: int) -> float | Tensor:
    r"""``weight`` times :math:`\min(1, \mathrm{step} / \mathrm{warmup})`.

    Returns the plain float when ``warmup`` is 0, and otherwise a 0-d tensor (no
    host–device synchronisation).

    Examples:
        >>> float(ramped(0.5, torch.tensor(2), 8))
        0.125
        >>> ramped(0.5, torch.tensor(2), 0)
        0.5
    """
    if warmup == 0:
        return weight
    return weight * (step.float() / warmup).clamp(max=1.0)


def check_momentum(momentum: float) -> float:
    """Validates an EMA momentum in ``[0, 1]``."""
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"'momentum' has to be in [0, 1] (got {momentum})")
    return float(momentum)
