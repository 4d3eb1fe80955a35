"""Matrix factorisation: the graph-free baseline encoder."""

from __future__ import annotations

from torch import Tensor

from graphcl_rec.models.base import ENCODERS, Perturb
from graphcl_rec.models.embedding import EmbeddingEncoder
from graphcl_rec.models.output import EncoderOutput


@ENCODERS.register("mf")
class MF(EmbeddingEncoder):
    r"""Plain embedding lookup, :math:`s(u, i) = e_u^\top e_i`.

    It takes no adjacency (``num_layers = 0``); ``perturb`` is applied once to the
    output, so noise-view objectives still work. Every row is a lookup, so ``rows``
    changes nothing.

    Args:
        num_users: Number of users ``U``.
        num_items: Number of items ``I``.
        dim: Embedding size ``d``.
        init: ``"xavier"`` (default) or ``"normal"`` (see
            :class:`~graphcl_rec.models.embedding.EmbeddingEncoder`).

    Shapes:
        - output: user ``[U, d]``, item ``[I, d]``

    Examples:
        >>> enc = MF(3, 4, dim=8)
        >>> out = enc([])
        >>> tuple(out.user.shape), tuple(out.item.shape)
        ((3, 8), (4, 8))
    """

    num_layers = 0

    def forward(self, adjs: list[Tensor], rows: Tensor | None = None,
                perturb: Perturb | None = None) -> EncoderOutput:
        """See :meth:`graphcl_rec.models.base.Encoder.forward` (``rows`` unused)."""
        layers = self.propagate(adjs, perturb)
        return self.output(layers[-1], layers)

    def pool(self, layers: list[Tensor]) -> Tensor:
        """The final embedding from per-layer ones: the last (as ``forward``)."""
        return layers[-1]
