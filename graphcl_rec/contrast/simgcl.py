"""SimGCL and XSimGCL: contrast views made by uniform noise on the embeddings."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from graphcl_rec.contrast.base import ContrastiveRecommender
from graphcl_rec.data.sampling import Batch
from graphcl_rec.models.base import OBJECTIVES, Encoder


def uniform_noise(eps: float, generator: torch.Generator | None
                  ) -> Callable[[Tensor], Tensor]:
    r"""SimGCL's perturbation of the node embeddings after each layer.

    .. math::
        e' = e + \epsilon \, \mathrm{sign}(e) \odot
             \frac{\Delta}{\lVert \Delta \rVert_2}, \qquad \Delta \sim U(0, 1)^d

    Args:
        eps: Noise magnitude :math:`\epsilon` (the L2 norm of each row's noise).
        generator: Source of randomness (on the embeddings' device).

    Returns:
        A function ``[N, d] -> [N, d]``.

    Examples:
        >>> import torch
        >>> perturb = uniform_noise(0.1, torch.Generator().manual_seed(0))
        >>> x = torch.tensor([[1.0, -2.0], [0.5, 0.5]])
        >>> noisy = perturb(x)
        >>> norms = torch.linalg.vector_norm(noisy - x, dim=1)
        >>> noisy.shape, norms.round(decimals=4).tolist()
        (torch.Size([2, 2]), [0.10000000149011612, 0.10000000149011612])
    """

    def perturb(x: Tensor) -> Tensor:
        # The noise is a constant of autograd (sign has a zero gradient): made in
        # place without a graph, so the backward is the identity and no [N, d]
        # product or zero gradient is formed for it. Same values, in the same
        # order of operations, as ``x + sign(x) * normalize(noise) * eps``.
        with torch.no_grad():
            noise = torch.rand(x.shape, generator=generator, device=x.device,
                               dtype=x.dtype)
            noise.div_(noise.norm(2, -1, keepdim=True).clamp_min_(1e-12))
            noise.mul_(torch.sign(x)).mul_(eps)
        return x + noise

    return perturb


def _check_eps(eps: float) -> float:
    if eps < 0:
        raise ValueError(f"'eps' must be >= 0 (got {eps})")
    return float(eps)


@OBJECTIVES.register("simgcl")
class SimGCL(ContrastiveRecommender):
    r"""SimGCL (Yu et al., SIGIR 2022): two noisy forward passes, no graph dropout.

    BPR uses a clean forward pass; the two contrastive views add
    :func:`uniform_noise` after every propagation layer. The reference code
    averages layers 1..L: use ``LightGCN(..., include_ego=False)`` to match it.

    Args:
        encoder: Any encoder.
        eps: Noise magnitude (0.1 for Yelp2018 in the paper).
        tau: Temperature (0.2).
        ssl_weight: Weight of the InfoNCE terms (0.5 for Yelp2018).
        reg_weight: L2 weight (1e-4).
        negatives: ``"batch"`` (reference code) or ``"all"``.
        reduction: ``"mean"`` or ``"sum"``.
        hard_negatives: Negative selection of the BPR term: ``False``,
            ``True``/``"hardest"`` or ``"mixgcf"`` (see
            :class:`~graphcl_rec.models.bpr.BPRRecommender`).
        nce_precision: ``"full"`` or ``"bfloat16"`` InfoNCE products (see
            :class:`~graphcl_rec.contrast.base.ContrastiveRecommender`).
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
        >>> model = SimGCL(LightGCN(3, 3, dim=8, num_layers=2), eps=0.1)
        >>> generator = torch.Generator().manual_seed(0)
        >>> views = model.sample_views(inter, generator)
        >>> terms = model.loss(batch, [adjacency(inter)] * 2, views, generator)
        >>> sorted(terms), terms["loss"].shape
        (['bpr', 'loss', 'reg', 'ssl'], torch.Size([]))
    """

    def __init__(self, encoder: Encoder, *, eps: float = 0.1, tau: float = 0.2,
                 ssl_weight: float = 0.5, reg_weight: float = 1e-4,
                 negatives: str = "batch", reduction: str = "mean",
                 hard_negatives: bool | str = False, nce_precision: str = "full",
                 ssl_warmup: int = 1000) -> None:
        super().__init__(encoder, tau=tau, ssl_weight=ssl_weight,
                         reg_weight=reg_weight, negatives=negatives,
                         reduction=reduction, hard_negatives=hard_negatives,
                         nce_precision=nce_precision, ssl_warmup=ssl_warmup)
        self.eps = _check_eps(eps)

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR on a clean pass plus InfoNCE between two noisy passes.

        The three passes start from one first-layer product
        (:meth:`~graphcl_rec.models.base.Encoder.sharing_first_layer`): the noise
        is added to its output, not to its input.
        """
        with self.encoder.sharing_first_layer():
            clean = self.encoder(adjs, rows=self.batch_rows(batch))
            terms = self.bpr_terms(batch, clean, generator)
            noise = uniform_noise(self.eps, generator)
            z1 = self.encoder(adjs, rows=self.anchor_rows(batch), perturb=noise)
            z2 = self.encoder(adjs, rows=self.candidate_rows(batch), perturb=noise)
        return self.combine(terms, self.contrast(batch, z1, z2))

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return f"eps={self.eps}, {super().extra_repr()}"


@OBJECTIVES.register("xsimgcl")
class XSimGCL(ContrastiveRecommender):
    r"""XSimGCL (Yu et al., TKDE 2023): one noisy pass, cross-layer contrast.

    A single forward pass with :func:`uniform_noise` after every layer gives both
    the embeddings used by BPR (the layer mean) and the contrastive view (the
    perturbed output of layer ``contrast_layer``, 1-based). Ranking at evaluation
    time uses a clean pass.

    Args:
        encoder: An encoder with ``num_layers >= contrast_layer``.
        eps: Noise magnitude (0.2 in the paper).
        tau: Temperature (0.15).
        ssl_weight: Weight of the InfoNCE terms (0.2).
        contrast_layer: Layer whose output is contrasted with the final embedding.
        reg_weight: L2 weight (1e-4).
        negatives: ``"batch"`` (reference code) or ``"all"``.
        reduction: ``"mean"`` or ``"sum"``.
        hard_negatives: Negative selection of the BPR term: ``False``,
            ``True``/``"hardest"`` or ``"mixgcf"`` (see
            :class:`~graphcl_rec.models.bpr.BPRRecommender`).
        nce_precision: ``"full"`` or ``"bfloat16"`` InfoNCE products (see
            :class:`~graphcl_rec.contrast.base.ContrastiveRecommender`).
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
        >>> model = XSimGCL(LightGCN(3, 3, dim=8, num_layers=2), contrast_layer=1)
        >>> generator = torch.Generator().manual_seed(0)
        >>> views = model.sample_views(inter, generator)
        >>> terms = model.loss(batch, [adjacency(inter)] * 2, views, generator)
        >>> sorted(terms), terms["loss"].shape
        (['bpr', 'loss', 'reg', 'ssl'], torch.Size([]))
    """

    def __init__(self, encoder: Encoder, *, eps: float = 0.2, tau: float = 0.15,
                 ssl_weight: float = 0.2, contrast_layer: int = 1,
                 reg_weight: float = 1e-4, negatives: str = "batch",
                 reduction: str = "mean", hard_negatives: bool | str = False,
                 nce_precision: str = "full", ssl_warmup: int = 1000) -> None:
        super().__init__(encoder, tau=tau, ssl_weight=ssl_weight,
                         reg_weight=reg_weight, negatives=negatives,
                         reduction=reduction, hard_negatives=hard_negatives,
                         nce_precision=nce_precision, ssl_warmup=ssl_warmup)
        self.eps = _check_eps(eps)
        depth = max(encoder.num_layers, 1)
        if not 1 <= contrast_layer <= depth:
            raise ValueError(f"'contrast_layer' must be in [1, {depth}] (got "
                             f"{contrast_layer})")
        self.contrast_layer = contrast_layer

    def loss(self, batch: Batch, adjs: list[Tensor], views: list[list[Tensor]] | None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """BPR on the noisy final embeddings plus cross-layer InfoNCE."""
        rows = self.batch_rows(batch) if self.negatives == "batch" else None
        out = self.encoder(adjs, rows=rows, perturb=uniform_noise(self.eps, generator))
        terms = self.bpr_terms(batch, out, generator)
        return self.combine(terms, self.contrast(batch, out,
                                                 out.layer(self.contrast_layer)))

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return (f"eps={self.eps}, contrast_layer={self.contrast_layer}, "
                f"{super().extra_repr()}")
