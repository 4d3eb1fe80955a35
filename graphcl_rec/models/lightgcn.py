"""LightGCN: linear propagation, layer mean (or sum)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graphcl_rec.graph.propagate import row_slicing_pays, spmm, spmm_rows
from graphcl_rec.graph.rows import take_rows
from graphcl_rec.models.base import ENCODERS, Perturb
from graphcl_rec.models.embedding import EmbeddingEncoder
from graphcl_rec.models.output import EncoderOutput
from graphcl_rec.models.pyg import (
    PROPAGATIONS,
    forward_pyg,
    from_pyg_model,
    to_pyg_model,
)

POOLINGS = ("mean", "sum")


@ENCODERS.register("lightgcn")
class LightGCN(EmbeddingEncoder):
    r"""LightGCN encoder (He et al., SIGIR 2020).

    .. math::
        E^{(l+1)} = \hat{A}_l E^{(l)}, \qquad
        E = \frac{1}{L+1} \sum_{l=0}^{L} E^{(l)}

    with :math:`\hat{A}_l = D^{-1/2} A_l D^{-1/2}` the (possibly augmented) adjacency
    of layer :math:`l`. With ``perturb``, :math:`E^{(l+1)} = p(\hat{A}_l E^{(l)})`
    (SimGCL's noise). With ``include_ego=False`` the mean runs over layers 1..L only,
    which is what SimGCL's and XSimGCL's reference code computes. With
    ``pooling="sum"`` the layers are summed instead of averaged (LightGCL's
    reference code): the same ranking, embeddings :math:`L+1` (or :math:`L`)
    times longer, which changes the scale of dot-product losses.

    Args:
        num_users: Number of users ``U``.
        num_items: Number of items ``I``.
        dim: Embedding size ``d``.
        num_layers: Number of propagation layers ``L``.
        init: ``"xavier"`` (default) or ``"normal"`` (see
            :class:`~graphcl_rec.models.embedding.EmbeddingEncoder`).
        include_ego: Average layers ``0..L`` (LightGCN, SGL) or ``1..L`` (SimGCL).
        pooling: ``"mean"`` (default) or ``"sum"`` of those layers.
        propagation: ``"native"`` (the default: the library's CSR products) or
            ``"pyg"`` (``torch_geometric.nn.LGConv`` layers on the same normalised
            edges; same output and gradients, slower).

    ``adjs`` may also be one PyG graph instead of a list: a ``[2, M]``
    ``edge_index`` (users ``0..U-1``, items offset by ``U``), a
    ``torch_geometric.EdgeIndex``, a ``torch_sparse.SparseTensor``, a ``Data`` or
    a ``HeteroData``; it is normalised as
    :func:`~graphcl_rec.graph.adjacency` normalises pairs, and used for every
    layer (on every call: build the adjacency once with
    :func:`~graphcl_rec.graph.pyg.adjacency_from_pyg` in a training loop).
    :meth:`to_pyg` and :meth:`from_pyg` exchange weights with
    ``torch_geometric.nn.models.LightGCN``.

    Shapes:
        - adjs: ``L`` sparse ``[U+I, U+I]``
        - output: user ``[U, d]``, item ``[I, d]``

    Examples:
        >>> import torch
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.graph import adjacency
        >>> inter = Interactions(torch.tensor([0, 1]), torch.tensor([1, 0]), 2, 2)
        >>> enc = LightGCN(2, 2, dim=4, num_layers=2)
        >>> enc([adjacency(inter)] * 2).user.shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        *,
        dim: int = 64,
        num_layers: int = 3,
        init: str = "xavier",
        include_ego: bool = True,
        propagation: str = "native",
        pooling: str = "mean",
    ) -> None:
        if num_layers < 0:
            raise ValueError(f"'num_layers' must be >= 0 (got {num_layers})")
        if propagation not in PROPAGATIONS:
            raise ValueError(f"'propagation' must be one of {list(PROPAGATIONS)} "
                             f"(got {propagation!r})")
        if pooling not in POOLINGS:
            raise ValueError(f"'pooling' must be one of {list(POOLINGS)} "
                             f"(got {pooling!r})")
        self.num_layers = num_layers
        self.propagation, self.pooling = propagation, pooling
        self.include_ego = include_ego or num_layers == 0
        super().__init__(num_users, num_items, dim=dim, init=init)

    def forward(self, adjs: list[Tensor] | Any, rows: Tensor | None = None,
                perturb: Perturb | None = None) -> EncoderOutput:
        r"""See :meth:`graphcl_rec.models.base.Encoder.forward`.

        With ``rows`` and a graph where it pays
        (:func:`~graphcl_rec.graph.propagate.row_slicing_pays`: CPU, fewer than a
        quarter of the nodes), the last layer is computed for those rows only,
        :math:`E^{(L)}[r] = \hat{A}_L[r] E^{(L-1)}` (then ``perturb``), which skips
        most of the last product and of its backward
        (:func:`~graphcl_rec.graph.propagate.spmm_rows`); every other row count or
        device propagates all nodes. Both read the same for ``rows``.
        A PyG graph or ``propagation="pyg"`` goes to
        :func:`~graphcl_rec.models.pyg.forward_pyg`.
        """
        if self.propagation != "native" or not isinstance(adjs, list):
            return forward_pyg(self, adjs, rows, perturb)
        if rows is not None and adjs and row_slicing_pays(adjs[-1], rows.numel()):
            return self._forward_rows(adjs, torch.unique(rows), perturb)
        layers = self.propagate(adjs, perturb)
        if not adjs:
            return self.output(layers[-1], layers)
        return self.output(self._mean(layers), layers)

    def to_pyg(self) -> Any:
        """A ``torch_geometric.nn.models.LightGCN`` with these weights.

        See :func:`graphcl_rec.models.pyg.to_pyg_model`.
        """
        return to_pyg_model(self)

    @classmethod
    def from_pyg(cls, model: Any, num_users: int, **kwargs: Any) -> LightGCN:
        """A LightGCN with the weights of a ``torch_geometric.nn.models.LightGCN``.

        See :func:`graphcl_rec.models.pyg.from_pyg_model`.
        """
        return from_pyg_model(model, num_users, **kwargs)

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        extra = "" if self.pooling == "mean" else f", pooling='{self.pooling}'"
        return super().extra_repr() + extra

    def pool(self, layers: list[Tensor]) -> Tensor:
        """The final embedding from per-layer ones (as ``forward`` pools them)."""
        return layers[-1] if self.num_layers == 0 else self._mean(layers)

    def _mean(self, layers: list[Tensor]) -> Tensor:
        """Mean (``pooling="sum"``: sum) of the layers of the final embedding."""
        stack = layers if self.include_ego else layers[1:]
        if len(stack) == 1:
            return stack[0]
        # One new tensor, summed into in place: neither add_ nor the scalar div_
        # saves its input for backward, so autograd allows it.
        out = stack[0] + stack[1]
        for t in stack[2:]:
            out.add_(t)
        return out if self.pooling == "sum" else out.div_(len(stack))

    def _forward_rows(self, adjs: list[Tensor], rows: Tensor,
                      perturb: Perturb | None) -> EncoderOutput:
        """The output for the sorted unique node ids ``rows`` only."""
        self.check_adjs(adjs)
        x = self.embedding.weight
        layers = [take_rows(x, rows)]
        for i, adj in enumerate(adjs[:-1]):
            x = self.first_layer(adj) if i == 0 else spmm(adj, x)
            if perturb is not None:
                x = perturb(x)
            layers.append(take_rows(x, rows))
        last = spmm_rows(adjs[-1], x, rows)
        layers.append(last if perturb is None else perturb(last))
        return EncoderOutput(self._mean(layers), layers, self.num_users, rows)
