"""NCL: structural and prototype contrast of neighbourhoods (Lin et al., 2022)."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.contrast.base import ContrastiveRecommender, ramped
from graphcl_rec.contrast.kmeans import check_backend, kmeans
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.graph.rows import take_rows
from graphcl_rec.losses.contrastive import unique_anchors
from graphcl_rec.models.base import OBJECTIVES, Encoder

log = logging.getLogger("graphcl_rec")


@OBJECTIVES.register("ncl")
class NCL(ContrastiveRecommender):
    r"""Neighbourhood-enriched contrastive learning (Lin et al., WWW 2022).

    **Structural contrast.** A node's output of the even layer :math:`k`
    (``hop_layer``; layer 2 aggregates the node's 2-hop neighbours, users for a
    user) is pulled to the node's own ego embedding :math:`e^{(0)}`, against the
    ego embeddings of every user (item):

    .. math::
        \mathcal{L}_S^U = -\frac{1}{|B_U|}\sum_{u \in B_U} \log
          \frac{\exp(\cos(e_u^{(k)}, e_u^{(0)}) / \tau)}
               {\sum_{v \in \mathcal{U}} \exp(\cos(e_u^{(k)}, e_v^{(0)}) / \tau)}

    **Prototype contrast.** Once per epoch (:meth:`sample_views`, the trainer's
    per-epoch hook), k-means splits the ego embeddings of the users (items) into
    :math:`K` clusters with centroids :math:`c_1..c_K`; node :math:`u` in cluster
    :math:`a(u)` is pulled to its centroid against all of them:

    .. math::
        \mathcal{L}_P^U = -\frac{1}{|B_U|}\sum_{u \in B_U} \log
          \frac{\exp(\cos(e_u^{(0)}, c_{a(u)}) / \tau)}
               {\sum_{j=1}^{K} \exp(\cos(e_u^{(0)}, c_j) / \tau)}

    and likewise for items. The total, with :math:`r \in [0, 1]` the
    ``ssl_warmup`` ramp:

    .. math::
        \mathcal{L} = \mathcal{L}_{BPR} + \lambda_2 R + r \left(
          \lambda_S (\mathcal{L}_S^U + \alpha \mathcal{L}_S^I)
          + \lambda_P (\mathcal{L}_P^U + \mathcal{L}_P^I) \right)

    :math:`B_U` (:math:`B_I`) are the batch's unique users (positive items). The
    prototypes are clustered from epoch ``proto_warmup + 1`` on (before that
    :math:`\mathcal{L}_P = 0`); :meth:`sample_views` returns them as this epoch's
    "views", ``[[C_U [K_U, d], a_U [U]], [C_I [K_I, d], a_I [I]]]`` (centroids
    normalised, assignments), so nothing hidden carries them between epochs. With
    a graph-free encoder (``num_layers = 0``, MF) there are no neighbours and
    :math:`\mathcal{L}_S = 0`. A term whose weight is 0 is not computed.

    The reference code sums both terms over the batch rows; here they are means
    over unique nodes (``reduction="mean"``), so its weights times its batch size
    (4096) give these defaults (its Yelp settings, ``properties/yelp.yaml``, at
    ``tau`` 0.05; ``num_clusters`` from ``properties/NCL.yaml``).

    Args:
        encoder: Any encoder with ``num_layers >= hop_layer`` (or 0).
        tau: Temperature of both terms.
        ssl_weight: :math:`\lambda_S`, weight of the structural term.
        proto_weight: :math:`\lambda_P`, weight of the prototype term.
        alpha: :math:`\alpha`, weight of the item side of the structural term.
        hop_layer: :math:`k`, the even layer contrasted with the ego layer.
        num_clusters: :math:`K`, clusters per side (at most the users / items).
        proto_warmup: Epochs (calls of :meth:`sample_views`) before the prototype
            term starts (20 in the reference code).
        kmeans: ``"torch"`` (on the embeddings' device, no dependency; on par
            with scikit-learn's at NCL's sizes on CPU), ``"sklearn"`` or
            ``"faiss"`` (see :mod:`graphcl_rec.contrast.kmeans`; timings in
            ``benchmarks/results/kmeans``).
        kmeans_iters: Lloyd iterations per clustering.
        reg_weight: :math:`\lambda_2`.
        negatives: Structural candidates: ``"all"`` users / items (reference code)
            or ``"batch"`` (the batch's unique ones).
        reduction: ``"mean"`` or ``"sum"`` over the contrasted nodes.
        hard_negatives: Negative selection of the BPR term (see
            :class:`~graphcl_rec.models.bpr.BPRRecommender`).
        nce_precision: ``"full"`` or ``"bfloat16"`` InfoNCE products.
        ssl_warmup: Steps of the linear ramp of both contrastive weights.

    Examples:
        >>> from graphcl_rec.models import LightGCN
        >>> NCL(LightGCN(5, 6, dim=8, num_layers=2), num_clusters=3).hop_layer
        2
    """

    epochs_seen: Tensor
    """Calls of :meth:`sample_views` (a buffer: checkpoints carry the warm-up)."""

    def __init__(self, encoder: Encoder, *, tau: float = 0.05,
                 ssl_weight: float = 4e-3, proto_weight: float = 4e-4,
                 alpha: float = 1.0, hop_layer: int = 2, num_clusters: int = 1000,
                 proto_warmup: int = 20, kmeans: str = "torch",
                 kmeans_iters: int = 25, reg_weight: float = 1e-4,
                 negatives: str = "all", reduction: str = "mean",
                 hard_negatives: bool | str = False, nce_precision: str = "full",
                 ssl_warmup: int = 1000) -> None:
        super().__init__(encoder, tau=tau, ssl_weight=ssl_weight,
                         reg_weight=reg_weight, negatives=negatives,
                         reduction=reduction, hard_negatives=hard_negatives,
                         nce_precision=nce_precision, ssl_warmup=ssl_warmup)
        for name, value in (("proto_weight", proto_weight), ("alpha", alpha)):
            if not value >= 0:
                raise ValueError(f"'{name}' must be >= 0 (got {value})")
        ints = (("hop_layer", hop_layer, 2), ("num_clusters", num_clusters, 1),
                ("proto_warmup", proto_warmup, 0), ("kmeans_iters", kmeans_iters, 1))
        for name, value, low in ints:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"'{name}' must be an int >= {low} (got {value!r})")
        if hop_layer % 2:
            raise ValueError(f"'hop_layer' must be even: layer 2k holds the k-hop "
                             f"neighbours of the node's own type (got {hop_layer})")
        if 0 < encoder.num_layers < hop_layer:
            raise ValueError(f"'hop_layer' {hop_layer} is deeper than the encoder's "
                             f"{encoder.num_layers} layers")
        if encoder.num_layers == 0:
            log.warning("NCL on %s (no propagation layer): the structural term is "
                        "0, only the prototype term contrasts",
                        type(encoder).__name__)
        self.proto_weight, self.alpha, self.hop_layer = proto_weight, alpha, hop_layer
        self.num_clusters, self.proto_warmup = num_clusters, proto_warmup
        self.kmeans, self.kmeans_iters = check_backend(kmeans), kmeans_iters
        self.register_buffer("epochs_seen", torch.zeros((), dtype=torch.long))

    def sample_views(self, inter: Interactions, generator: torch.Generator
                     ) -> list[list[Tensor]] | None:
        """This epoch's prototypes (``None`` during ``proto_warmup``).

        k-means of the user and of the item ego embeddings (no gradient), returned
        as ``[[C_U, a_U], [C_I, a_I]]`` (see :meth:`prototypes`).
        """
        self.epochs_seen.add_(1)
        if self.proto_weight == 0 or int(self.epochs_seen) <= self.proto_warmup:
            return None
        return [self.prototypes(ego, generator) for ego in self.encoder.ego()]

    def prototypes(self, ego: Tensor, generator: torch.Generator | None = None
                   ) -> list[Tensor]:
        """``[C [K, d] unit-norm centroids, a [N] cluster of each node]`` of ``ego``."""
        k = min(self.num_clusters, ego.shape[0])
        centroids, assign = kmeans(ego, k, iters=self.kmeans_iters,
                                   backend=self.kmeans, generator=generator)
        return [F.normalize(centroids.to(ego.dtype), dim=1), assign]

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR plus the structural and (after the warm-up) prototype terms."""
        out = self.encoder(adjs, rows=self.batch_rows(batch))
        terms = self.bpr_terms(batch, out, generator)
        every = self.negatives == "all"
        sync_free = every and batch.user.device.type != "cpu"
        users, user_w = unique_anchors(batch.user, sync_free)
        items, item_w = unique_anchors(batch.pos, sync_free)
        ego_u, ego_i = self.encoder.ego()
        ssl = proto = terms["bpr"].new_zeros(())
        if self.encoder.num_layers > 0 and self.ssl_weight > 0:
            hop = out.layer(self.hop_layer)
            ssl = (self.structural(hop.users(users), ego_u, users, user_w)
                   + self.alpha * self.structural(hop.items(items), ego_i, items,
                                                  item_w))
        if views is not None:
            (c_u, a_u), (c_i, a_i) = views
            proto = (self.nce(take_rows(ego_u, users), c_u, a_u[users], user_w)
                     + self.nce(take_rows(ego_i, items), c_i, a_i[items], item_w))
        ramp = ramped(1.0, self.ssl_step, self.ssl_warmup)
        terms["loss"] = terms["loss"] + ramp * (self.ssl_weight * ssl
                                                + self.proto_weight * proto)
        terms["ssl"], terms["proto"] = ssl.detach(), proto.detach()
        return terms

    def structural(self, hop: Tensor, ego: Tensor, ids: Tensor,
                   weight: Tensor | None) -> Tensor:
        """InfoNCE of ``hop`` ``[B, d]`` rows against ego rows.

        The candidates are the ego rows of all nodes (``negatives="all"``, ``ego``
        ``[N, d]``, targets ``ids``) or of ``ids`` only (``"batch"``).
        """
        if self.negatives == "all":
            return self.nce(hop, ego, ids, weight)
        return self.nce(hop, take_rows(ego, ids))

    def reset_parameters(self) -> None:
        """Re-initialises the encoder and restarts both warm-ups."""
        super().reset_parameters()
        self.epochs_seen.zero_()

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return (f"proto_weight={self.proto_weight}, alpha={self.alpha}, "
                f"hop_layer={self.hop_layer}, num_clusters={self.num_clusters}, "
                f"proto_warmup={self.proto_warmup}, kmeans='{self.kmeans}', "
                f"{super().extra_repr()}")
