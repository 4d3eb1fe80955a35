"""MoCo-style contrast: a momentum encoder makes keys, a queue supplies negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from graphcl_rec.augment.base import Augmentation
from graphcl_rec.contrast.base import (
    ContrastiveRecommender,
    check_momentum,
    ema_update,
    make_target,
    paired_views,
)
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.models.base import OBJECTIVES, Encoder


def queue_nce(query: Tensor, key: Tensor, queue: Tensor, tau: float,
              reduction: str = "mean") -> Tensor:
    r"""MoCo's InfoNCE: the key is the positive, the queued keys the negatives.

    .. math::
        \mathcal{L} = -\sum_b \log \frac{\exp(q_b^\top k_b/\tau)}
            {\exp(q_b^\top k_b/\tau) + \sum_{j} \exp(q_b^\top n_j/\tau)}

    on L2-normalised vectors.

    Args:
        query: ``[B, d]`` online embeddings.
        key: ``[B, d]`` momentum-encoder embeddings (constants).
        queue: ``[Q, d]`` normalised past keys (``Q`` may be 0).
        tau: Temperature.
        reduction: ``"mean"`` or ``"sum"``.

    Returns:
        Scalar loss.

    Examples:
        >>> import torch
        >>> query = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> queue_nce(query, query, torch.zeros(0, 2), tau=0.5).abs().item()
        0.0
        >>> queue = torch.tensor([[1.0, 0.0]])
        >>> round(queue_nce(query, query, queue, tau=1.0).item(), 4)
        0.5032
    """
    q = F.normalize(query, dim=-1)
    k = F.normalize(key.detach(), dim=-1)
    logits = torch.cat([(q * k).sum(-1, keepdim=True), q @ queue.T], dim=1) / tau
    target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, target, reduction=reduction)


@OBJECTIVES.register("moco")
class MoCo(ContrastiveRecommender):
    r"""BPR plus MoCo contrast between an online and a momentum (EMA) encoder.

    Queries come from the online encoder, keys from its EMA copy
    :math:`\theta_k \leftarrow m\theta_k + (1-m)\theta_q` (updated after every
    step), negatives from a FIFO queue of past keys (one queue for users, one for
    items). With ``augment`` the query and key encoders see two augmented views;
    otherwise (``augment=None``) both see the training graph and the EMA lag alone
    makes them differ.

    Args:
        encoder: Any encoder.
        augment: Optional augmentation for the two views.
        momentum: EMA momentum :math:`m`.
        queue_size: Number of past keys kept per queue. The keys are compared
            with every query of the batch, so the step's cost grows with it; the
            measurements that chose the default are the ``variants`` runs in
            ``benchmarks/results/robustness/``.
        tau: Temperature.
        ssl_weight: Weight of the contrastive terms.
        reg_weight: L2 weight.
        reduction: ``"mean"`` or ``"sum"``.
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
        >>> model = MoCo(LightGCN(3, 3, dim=8, num_layers=2), queue_size=4)
        >>> generator = torch.Generator().manual_seed(0)
        >>> views = model.sample_views(inter, generator)
        >>> terms = model.loss(batch, [adjacency(inter)] * 2, views, generator)
        >>> sorted(terms), terms["loss"].shape
        (['bpr', 'loss', 'reg', 'ssl'], torch.Size([]))
    """

    def __init__(self, encoder: Encoder, *, augment: Augmentation | None = None,
                 momentum: float = 0.99, queue_size: int = 1024, tau: float = 0.2,
                 ssl_weight: float = 0.1, reg_weight: float = 1e-4,
                 reduction: str = "mean", hard_negatives: bool | str = False,
                 ssl_warmup: int = 1000) -> None:
        super().__init__(encoder, tau=tau, ssl_weight=ssl_weight,
                         reg_weight=reg_weight, negatives="batch",
                         reduction=reduction, hard_negatives=hard_negatives,
                         ssl_warmup=ssl_warmup)
        if queue_size < 0:
            raise ValueError(f"'queue_size' must be >= 0 (got {queue_size})")
        self.augment, self.momentum = augment, check_momentum(momentum)
        self.queue_size = queue_size
        self.target = make_target(encoder)
        for name in ("user", "item"):
            self.register_buffer(f"{name}_queue", torch.zeros(queue_size, encoder.dim))
            self.register_buffer(f"{name}_filled", torch.zeros((), dtype=torch.long))
            self.register_buffer(f"{name}_ptr", torch.zeros((), dtype=torch.long))
        self._pending: tuple[Tensor, Tensor] | None = None

    def reset_parameters(self) -> None:
        """Re-initialises the encoder, copies it into the target, empties queues."""
        self.encoder.reset_parameters()
        self.target.load_state_dict(self.encoder.state_dict())
        self.ssl_step.zero_()
        for name in ("user", "item"):
            getattr(self, f"{name}_filled").zero_()
            getattr(self, f"{name}_ptr").zero_()

    def sample_views(self, inter: Interactions, generator: torch.Generator
                     ) -> list[list[Tensor]] | None:
        """Query and key views when an augmentation is set, else ``None``."""
        return paired_views(inter, self.augment, self.encoder.num_layers, generator)

    def queue(self, name: str) -> Tensor:
        """The filled part of the ``"user"`` or ``"item"`` queue."""
        return getattr(self, f"{name}_queue")[: int(getattr(self, f"{name}_filled"))]

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR plus queue InfoNCE of online queries against momentum keys."""
        out = self.encoder(adjs)
        terms = self.bpr_terms(batch, out, generator)
        query = self.encoder(views[0]) if views else out
        with torch.no_grad():
            key = self.target(views[1] if views else adjs)
        users, items = torch.unique(batch.user), torch.unique(batch.pos)
        ssl = (queue_nce(query.users(users), key.users(users), self.queue("user"),
                         self.tau, self.reduction)
               + queue_nce(query.items(items), key.items(items), self.queue("item"),
                           self.tau, self.reduction))
        self._pending = (F.normalize(key.users(users), dim=-1),
                         F.normalize(key.items(items), dim=-1))
        return self.combine(terms, ssl)

    @torch.no_grad()
    def _enqueue(self, name: str, keys: Tensor) -> None:
        size = self.queue_size
        if size == 0:
            return
        keys = keys[-size:]
        queue, ptr = getattr(self, f"{name}_queue"), getattr(self, f"{name}_ptr")
        idx = (int(ptr) + torch.arange(keys.shape[0], device=keys.device)) % size
        queue[idx] = keys
        ptr.fill_((int(ptr) + keys.shape[0]) % size)
        filled = getattr(self, f"{name}_filled")
        filled.fill_(min(size, int(filled) + keys.shape[0]))

    def on_step_end(self) -> None:
        """EMA update of the key encoder, then enqueue this step's keys."""
        super().on_step_end()
        ema_update(self.target, self.encoder, self.momentum)
        if self._pending is not None:
            self._enqueue("user", self._pending[0])
            self._enqueue("item", self._pending[1])
            self._pending = None

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return (f"augment={self.augment!r}, momentum={self.momentum}, "
                f"queue_size={self.queue_size}, tau={self.tau}, "
                f"ssl_weight={self.ssl_weight}, reg_weight={self.reg_weight}")
