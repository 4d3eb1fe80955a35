"""LightGCL: the graph view against a truncated-SVD view (Cai et al., ICLR 2023)."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.contrast.base import NCE_PRECISIONS, ContrastiveRecommender
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.losses.contrastive import info_nce
from graphcl_rec.models.base import OBJECTIVES, Encoder
from graphcl_rec.models.output import EncoderOutput

SVD_SEED = 0
"""Seed of ``svd_lowrank``'s random start, so the factors depend on the graph only."""
SIMILARITIES = ("cosine", "dot")
POSITIVE_CLAMP = 5.0
r"""Bound on the positive logit :math:`g_v^\top e_v / \tau` with
``similarity="dot"`` (the authors' code clamps it to ``[-5, 5]``)."""


def normalized_interactions(inter: Interactions, dtype: torch.dtype = torch.float32
                            ) -> Tensor:
    r"""The user–item block of the normalised adjacency, :math:`\hat{R}`.

    .. math::
        \hat{R}_{u,i} = \frac{1}{\sqrt{d_u d_i}} \text{ for every pair } (u, i)

    Args:
        inter: Interactions with unique pairs.
        dtype: Value dtype.

    Returns:
        ``[U, I]`` sparse COO tensor on ``inter``'s device.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 0]), torch.tensor([0, 1]), 1, 2)
        >>> normalized_interactions(inter).to_dense()
        tensor([[0.7071, 0.7071]])
    """
    deg_u = torch.bincount(inter.user, minlength=inter.num_users).to(dtype)
    deg_i = torch.bincount(inter.item, minlength=inter.num_items).to(dtype)
    values = (deg_u[inter.user] * deg_i[inter.item]).rsqrt()
    return torch.sparse_coo_tensor(torch.stack([inter.user, inter.item]), values,
                                   (inter.num_users, inter.num_items),
                                   check_invariants=True)


@OBJECTIVES.register("lightgcl")
class LightGCL(ContrastiveRecommender):
    r"""LightGCL: InfoNCE between the graph view and a low-rank SVD view, plus BPR.

    The normalised interaction matrix is factorised once,
    :math:`\hat{R} \approx U_q S_q V_q^\top` (``torch.svd_lowrank``, rank
    :math:`q`), and the SVD view replaces :math:`\hat{R}` by this reconstruction in
    every layer, reading the graph view's previous layer as in the paper:

    .. math::
        g_u = e^{(0)}_u + U_q S_q V_q^\top \sum_{l=0}^{L-1} E_I^{(l)}, \qquad
        g_i = e^{(0)}_i + V_q S_q U_q^\top \sum_{l=0}^{L-1} E_U^{(l)}

    with :math:`E^{(l)}` the encoder's layer-:math:`l` embeddings (one layer,
    :math:`L = 1`, for a layer-free encoder such as MF). The products run in the
    order :math:`U_q S_q (V_q^\top E)`, so the dense reconstruction is never formed.
    Per batch,

    .. math::
        \mathcal{L} = \mathcal{L}_{BPR} + \lambda_2 R
            - \lambda_{ssl} \sum_{v} \log
              \frac{\exp(\cos(g_v, e_v)/\tau)}{\sum_{w} \exp(\cos(g_v, e_w)/\tau)}

    (a mean over the user anchors plus one over the item anchors, each counted
    once) with ``similarity="cosine"``. With ``similarity="dot"`` (the authors'
    code) the cosines are dot products :math:`g_v^\top e_w` and the positive
    logit is clamped to :math:`[-5, 5]` (:data:`POSITIVE_CLAMP`) in the
    numerator only, so it stops pulling once :math:`g_v^\top e_v > 5\tau`. The
    anchors
    :math:`v` are the batch's users and all its sampled items (positives and
    negatives, as in the authors' code) and the candidates :math:`w` are every user
    (item) of the graph view :math:`e` (``negatives="all"``) or the batch's
    (``"batch"``). BPR and ranking use the graph view.

    The factors are computed by :meth:`sample_views`, which the trainer calls with
    the training graph every epoch: the first call factorises it and later calls
    reuse the cached (non-persistent) buffers until the graph changes (its number
    of users, items or pairs, or its pairs' id sums), for instance after
    :func:`graphcl_rec.serve.update` grows it. The factorisation runs on the CPU
    in float64 from a random start seeded with :data:`SVD_SEED`, so the factors
    depend on the graph only (not on the device or the run's generator).

    Args:
        encoder: Any encoder.
        rank: :math:`q`, the rank of the truncated SVD (5 in the paper).
        tau: Temperature (0.2 in the paper for Yelp and Gowalla).
        ssl_weight: :math:`\lambda_{ssl}` (0.2 in the paper).
        reg_weight: :math:`\lambda_2` on the batch's ego rows.
        negatives: ``"all"`` (authors' code) or ``"batch"``.
        reduction: ``"mean"`` or ``"sum"``.
        hard_negatives: How the BPR term uses several sampled negatives (see
            :class:`~graphcl_rec.models.bpr.BPRRecommender`).
        nce_precision: ``"full"`` or ``"bfloat16"`` InfoNCE products (see
            :class:`~graphcl_rec.contrast.base.ContrastiveRecommender`).
        ssl_warmup: Steps of linear ramp of ``ssl_weight`` (see
            :class:`~graphcl_rec.contrast.base.ContrastiveRecommender`).
        similarity: ``"cosine"`` (default; the InfoNCE of every other
            objective here) or ``"dot"`` (the authors' code: dot products, the
            positive logit clamped). Cosines make the contrastive gradient grow
            as :math:`1/\lVert e \rVert`; dot products make it shrink with the
            embeddings, as BPR's does.

    Shapes:
        - svd_u: ``[U, q]``, svd_s: ``[q]``, svd_v: ``[I, q]``

    Examples:
        >>> from graphcl_rec.models import LightGCN
        >>> LightGCL(LightGCN(4, 4, dim=8, num_layers=2), rank=3).rank
        3
    """

    svd_u: Tensor
    svd_s: Tensor
    svd_v: Tensor

    def __init__(self, encoder: Encoder, *, rank: int = 5, tau: float = 0.2,
                 ssl_weight: float = 0.2, reg_weight: float = 1e-4,
                 negatives: str = "all", reduction: str = "mean",
                 hard_negatives: bool | str = False, nce_precision: str = "full",
                 ssl_warmup: int = 1000, similarity: str = "cosine") -> None:
        super().__init__(encoder, tau=tau, ssl_weight=ssl_weight,
                         reg_weight=reg_weight, negatives=negatives,
                         reduction=reduction, hard_negatives=hard_negatives,
                         nce_precision=nce_precision, ssl_warmup=ssl_warmup)
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"'rank' must be an int >= 1 (got {rank!r})")
        if similarity not in SIMILARITIES:
            raise ValueError(f"Could not resolve similarity {similarity!r} among "
                             f"choices {list(SIMILARITIES)}")
        self.rank, self.similarity = rank, similarity
        for name, rows in (("svd_u", 0), ("svd_s", None), ("svd_v", 0)):
            shape = (rank,) if rows is None else (rows, rank)
            self.register_buffer(name, torch.zeros(shape), persistent=False)
        self._svd_key: tuple[int, ...] | None = None

    def sample_views(self, inter: Interactions, generator: torch.Generator
                     ) -> list[list[Tensor]] | None:
        """Factorises the training graph if it changed; no augmented views."""
        key = (inter.num_users, inter.num_items, len(inter), int(inter.user.sum()),
               int(inter.item.sum()))
        if key != self._svd_key:
            self.fit_svd(inter)
            self._svd_key = key
        return None

    @torch.no_grad()
    def fit_svd(self, inter: Interactions) -> None:
        r"""Computes :math:`U_q, S_q, V_q` of :math:`\hat{R}` into the buffers.

        Raises:
            ValueError: If the graph does not match the encoder, or ``rank``
                exceeds ``min(U, I)``.
        """
        enc = self.encoder
        if (inter.num_users, inter.num_items) != (enc.num_users, enc.num_items):
            raise ValueError(f"LightGCL: the graph has {inter.num_users} users and "
                             f"{inter.num_items} items, the encoder "
                             f"{enc.num_users} and {enc.num_items}")
        if self.rank > min(inter.num_users, inter.num_items):
            raise ValueError(f"'rank' must be <= min(num_users, num_items) = "
                             f"{min(inter.num_users, inter.num_items)} (got "
                             f"{self.rank})")
        ego = enc.ego()[0]
        matrix = normalized_interactions(inter.to("cpu"), torch.float64)
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(SVD_SEED)
            u, s, v = torch.svd_lowrank(matrix, q=self.rank)
        self.svd_u, self.svd_s, self.svd_v = (t.to(ego) for t in (u, s, v))

    def svd_view(self, out: EncoderOutput) -> EncoderOutput:
        """The SVD view ``g`` of every node, from the graph view's layers."""
        if self._svd_key is None:
            raise ValueError("LightGCL.loss needs the SVD of the training graph: "
                             "call sample_views(train, generator) first (the "
                             "Trainer does, every epoch)")
        layers = out.layers
        num_users = self.encoder.num_users
        summed = layers[0]
        for layer in layers[1:max(self.encoder.num_layers, 1)]:
            summed = summed + layer
        users = layers[0][:num_users] + (self.svd_u * self.svd_s) @ (
            self.svd_v.T @ summed[num_users:])
        items = layers[0][num_users:] + (self.svd_v * self.svd_s) @ (
            self.svd_u.T @ summed[:num_users])
        return EncoderOutput(torch.cat([users, items]), [], num_users)

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR on the graph view plus InfoNCE from the SVD view to the graph view."""
        out = self.encoder(adjs)
        terms = self.bpr_terms(batch, out, generator)
        items = torch.cat([batch.pos, batch.neg.flatten()])
        anchors = Batch(batch.user, items, batch.neg)
        return self.combine(terms, self.contrast(anchors, self.svd_view(out), out))

    def nce(self, anchor: Tensor, candidates: Tensor, target: Tensor | None = None,
            weight: Tensor | None = None) -> Tensor:
        r"""InfoNCE on cosines, or on dot products with the positive logit clamped.

        See :meth:`ContrastiveRecommender.nce`; ``similarity="dot"`` adds
        :math:`s_v - \mathrm{clamp}(s_v, -5, 5)` to each anchor's term, with
        :math:`s_v = g_v^\top e_v / \tau`, which turns the unclamped positive
        logit of :func:`~graphcl_rec.losses.contrastive.info_nce` into the clamped
        one.
        """
        if self.similarity == "cosine":
            return super().nce(anchor, candidates, target, weight)
        if target is None:
            target = torch.arange(anchor.shape[0], device=anchor.device)
        nll = info_nce(anchor, candidates, target, self.tau, "sum", weight,
                       matmul_dtype=NCE_PRECISIONS[self.nce_precision],
                       normalize=False)
        pos = (anchor * candidates[target]).sum(-1) / self.tau
        excess = pos - pos.clamp(-POSITIVE_CLAMP, POSITIVE_CLAMP)
        if weight is None:
            total = nll + excess.sum()
            count = float(max(anchor.shape[0], 1))
            return total / count if self.reduction == "mean" else total
        total = nll + (excess * weight.to(excess.dtype)).sum()
        if self.reduction == "sum":
            return total
        return total / weight.sum().to(total.dtype).clamp_min(1e-12)

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        extra = ("" if self.similarity == "cosine"
                 else f", similarity='{self.similarity}'")
        return f"rank={self.rank}, {super().extra_repr()}{extra}"
