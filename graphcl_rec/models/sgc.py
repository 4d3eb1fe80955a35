"""SGC: K propagation steps, last layer only."""

from __future__ import annotations

from torch import Tensor, nn

from graphcl_rec.models.base import ENCODERS, Perturb
from graphcl_rec.models.embedding import EmbeddingEncoder
from graphcl_rec.models.output import EncoderOutput


@ENCODERS.register("sgc")
class SGC(EmbeddingEncoder):
    r"""Simplified graph convolution (Wu et al., ICML 2019) on learnable embeddings.

    .. math::
        E = \hat{A}_{K-1} \cdots \hat{A}_0 E^{(0)} \, (W)

    The optional linear map :math:`W` (no bias) follows the last propagation. The
    adjacency is normalised once per view by the caller; nothing is cached here, so
    random views are never confused with the first graph seen.

    Args:
        num_users: Number of users ``U``.
        num_items: Number of items ``I``.
        dim: Embedding size ``d``.
        num_layers: Number of propagation steps ``K``.
        linear: Apply a learnable ``d x d`` map after propagation.
        init: ``"xavier"`` (default) or ``"normal"`` (see
            :class:`~graphcl_rec.models.embedding.EmbeddingEncoder`).

    Shapes:
        - adjs: ``K`` sparse ``[U+I, U+I]``
        - output: user ``[U, d]``, item ``[I, d]``

    Examples:
        >>> enc = SGC(2, 3, dim=4, num_layers=0)
        >>> enc([]).item.shape
        torch.Size([3, 4])
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        *,
        dim: int = 64,
        num_layers: int = 2,
        linear: bool = False,
        init: str = "xavier",
    ) -> None:
        if num_layers < 0:
            raise ValueError(f"'num_layers' must be >= 0 (got {num_layers})")
        self.num_layers = num_layers
        super().__init__(num_users, num_items, dim=dim, init=init)
        self.linear = nn.Linear(dim, dim, bias=False) if linear else None
        if self.linear is not None:
            nn.init.eye_(self.linear.weight)

    def reset_parameters(self) -> None:
        """Re-initialises every parameter."""
        super().reset_parameters()
        if getattr(self, "linear", None) is not None:
            nn.init.eye_(self.linear.weight)  # type: ignore[union-attr]

    def forward(self, adjs: list[Tensor], rows: Tensor | None = None,
                perturb: Perturb | None = None) -> EncoderOutput:
        """See :meth:`graphcl_rec.models.base.Encoder.forward` (computes every row)."""
        layers = self.propagate(adjs, perturb)
        return self.output(self.pool(layers), layers)

    def pool(self, layers: list[Tensor]) -> Tensor:
        """The final embedding from per-layer ones: the last, then ``linear``."""
        x = layers[-1]
        return x if self.linear is None else self.linear(x)
