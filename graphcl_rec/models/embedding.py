"""A shared node-embedding table for encoders (users first, then items)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from graphcl_rec.graph.propagate import spmm
from graphcl_rec.models.base import Encoder, Perturb
from graphcl_rec.models.output import EncoderOutput


class EmbeddingEncoder(Encoder):
    """Base for encoders whose input is one learnable ``[U+I, d]`` table.

    Args:
        num_users: Number of users ``U``.
        num_items: Number of items ``I``.
        dim: Embedding size ``d``.
        init: ``"xavier"`` (the default; SGL/SimGCL reference code; its scale
            shrinks as the tables grow, which the contrastive objectives' ``ssl_warmup``
            compensates for, see ``benchmarks/results/robustness/README.md``) or
            ``"normal"`` (std 0.1, LightGCN's PyTorch code).
    """

    def __init__(
        self, num_users: int, num_items: int, *, dim: int = 64, init: str = "xavier"
    ) -> None:
        super().__init__()
        if num_users <= 0 or num_items <= 0 or dim <= 0:
            raise ValueError(
                f"num_users, num_items and dim must be positive "
                f"(got {num_users}, {num_items}, {dim})"
            )
        if init not in ("xavier", "normal"):
            raise ValueError(
                f"Could not resolve init '{init}' among choices ['normal', 'xavier']"
            )
        self.num_users, self.num_items, self.dim, self.init = (
            num_users,
            num_items,
            dim,
            init,
        )
        self.embedding = nn.Embedding(num_users + num_items, dim)
        # (adjacency, grad mode, weight version, product) while sharing_first_layer
        # is active: [] before the first product, None outside the block.
        self._first: list[tuple[object, bool, int, Tensor]] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialises every parameter."""
        if self.init == "xavier":
            # Separate fans for the user and the item tables, as two nn.Embedding
            # tables initialised with xavier_uniform would have.
            with_users = self.embedding.weight[: self.num_users]
            with_items = self.embedding.weight[self.num_users :]
            nn.init.xavier_uniform_(with_users)
            nn.init.xavier_uniform_(with_items)
        else:
            nn.init.normal_(self.embedding.weight, std=0.1)

    def ego(self) -> tuple[Tensor, Tensor]:
        """Layer-0 user ``[U, d]`` and item ``[I, d]`` embeddings."""
        w = self.embedding.weight
        return w[: self.num_users], w[self.num_users :]

    @contextmanager
    def sharing_first_layer(self) -> Iterator[None]:
        """See :meth:`graphcl_rec.models.base.Encoder.sharing_first_layer`.

        The product is made by the first pass that needs it and reused by every
        later pass in the block over the same adjacency object, in the same grad
        mode and with unchanged weights; blocks do not nest.
        """
        if getattr(self, "_first", None) is not None:
            raise RuntimeError("sharing_first_layer blocks do not nest")
        self._first = []
        try:
            yield
        finally:
            self._first = None

    def first_layer(self, adj: Tensor) -> Tensor:
        r""":math:`\hat{A}_0 E^{(0)}`: the first propagation of the embedding table.

        Inside :meth:`sharing_first_layer`, computed once per adjacency and reused.

        Args:
            adj: ``[U+I, U+I]`` normalised adjacency of the first layer.

        Returns:
            ``[U+I, d]`` node embeddings after one layer (before any perturbation).
        """
        weight = self.embedding.weight
        cache = getattr(self, "_first", None)
        if cache is None:
            return spmm(adj, weight)
        grad, version = torch.is_grad_enabled(), weight._version
        for held_adj, held_grad, held_version, product in cache:
            if held_adj is adj and (held_grad, held_version) == (grad, version):
                return product
        product = spmm(adj, weight)
        cache.append((adj, grad, version, product))
        return product

    def propagate(self, adjs: list[Tensor], perturb: Perturb | None = None
                  ) -> list[Tensor]:
        """Node embeddings ``[E0, E1, ..., EL]`` after each propagation layer.

        ``perturb`` is applied after every layer; with no layer it is applied once,
        giving ``[E0, p(E0)]``.
        """
        self.check_adjs(adjs)
        x = self.embedding.weight
        layers = [x]
        for i, adj in enumerate(adjs):
            x = self.first_layer(adj) if i == 0 else spmm(adj, x)
            if perturb is not None:
                x = perturb(x)
            layers.append(x)
        if perturb is not None and not adjs:
            layers.append(perturb(x))
        return layers

    def output(self, final: Tensor, layers: list[Tensor]) -> EncoderOutput:
        """Wraps ``[U+I, d]`` final and per-layer node embeddings."""
        return EncoderOutput(final, layers, self.num_users)

    def extra_repr(self) -> str:
        """Constructor arguments shown by ``repr``."""
        return (
            f"num_users={self.num_users}, num_items={self.num_items}, "
            f"dim={self.dim}, num_layers={self.num_layers}"
        )
