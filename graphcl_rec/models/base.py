"""The encoder and recommender contracts every model follows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.models.output import EncoderOutput
from graphcl_rec.registry import Registry

ENCODERS = Registry("encoder")
OBJECTIVES = Registry("objective")

Perturb = Callable[[Tensor], Tensor]
"""A function applied to the ``[N, d]`` node embeddings after every layer."""

__all__ = ["ENCODERS", "OBJECTIVES", "Batch", "Encoder", "EncoderOutput", "Perturb",
           "Recommender"]


class Encoder(nn.Module, ABC):
    """Maps one adjacency per layer to user and item embeddings.

    Subclasses hold ``num_users``, ``num_items``, ``dim`` and ``num_layers`` and
    implement :meth:`forward`, :meth:`ego` and :meth:`reset_parameters`.

    Examples:
        >>> from graphcl_rec.models import LightGCN
        >>> enc = LightGCN(3, 4, dim=8, num_layers=2)
        >>> isinstance(enc, Encoder), enc.num_users, enc.num_items, enc.num_layers
        (True, 3, 4, 2)
        >>> user_ego, item_ego = enc.ego()
        >>> user_ego.shape, item_ego.shape
        (torch.Size([3, 8]), torch.Size([4, 8]))
    """

    num_users: int
    num_items: int
    dim: int
    num_layers: int

    @abstractmethod
    def forward(self, adjs: list[Tensor], rows: Tensor | None = None,
                perturb: Perturb | None = None) -> EncoderOutput:
        """Propagates the embeddings.

        Args:
            adjs: ``num_layers`` normalised ``[U+I, U+I]`` adjacencies (one per layer).
            rows: ``[R]`` int64 ids of the nodes the caller will read (users, then
                items offset by ``U``; repeats allowed), or ``None`` for every node.
                The encoder may compute only these rows where that saves work;
                either way the output reads the same for them (value and
                gradient).
            perturb: Optional function applied to the node embeddings after every
                propagation layer (SimGCL's noise). When only some rows are
                computed, noise is drawn only for the rows computed.

        Returns:
            An :class:`~graphcl_rec.models.output.EncoderOutput`.
        """

    @abstractmethod
    def ego(self) -> tuple[Tensor, Tensor]:
        """Layer-0 user ``[U, d]`` and item ``[I, d]`` embeddings (for L2)."""

    @abstractmethod
    def reset_parameters(self) -> None:
        """Re-initialises every parameter."""

    def pool(self, layers: list[Tensor]) -> Tensor:
        """Combines per-layer embeddings into final ones, as :meth:`forward` does.

        Args:
            layers: ``[*S, d]`` embeddings of the same nodes at each layer the
                output holds (``EncoderOutput.layer(0)``, ``layer(1)``, ...).

        Returns:
            ``[*S, d]``: the final embeddings of nodes with these layers. The
            default is the layer mean; an encoder whose ``forward`` combines its
            layers otherwise overrides this (MixGCF's synthetic negatives,
            :mod:`graphcl_rec.models.mixgcf`, are pooled with it).
        """
        return torch.stack(layers).mean(0)

    @contextmanager
    def sharing_first_layer(self) -> Iterator[None]:
        r"""Passes in this block over the same first adjacency share its product.

        Several passes over one graph that differ only after the first layer
        (SimGCL's clean pass and its two noisy passes: the noise is added to the
        first layer's output) all start from :math:`\hat{A}_0 E^{(0)}`. An encoder
        that can reuse that product computes it once in the block; autograd sums
        the passes' gradients before its one backward product. Values are those
        of separate passes; gradients equal them up to float rounding. The
        default does nothing (every pass computes its own).

        Examples:
            >>> import torch
            >>> from graphcl_rec.data import Interactions
            >>> from graphcl_rec.graph import adjacency
            >>> from graphcl_rec.models import LightGCN
            >>> inter = Interactions(torch.tensor([0, 1]), torch.tensor([1, 0]), 2, 2)
            >>> enc = LightGCN(2, 2, dim=4, num_layers=2)
            >>> adjs = [adjacency(inter)] * 2
            >>> with enc.sharing_first_layer():
            ...     a, b = enc(adjs), enc(adjs)
            >>> a.layers[1] is b.layers[1]
            True
        """
        yield

    def check_adjs(self, adjs: list[Tensor]) -> None:
        """Raises ``ValueError`` unless exactly one adjacency per layer is given."""
        if len(adjs) != self.num_layers:
            raise ValueError(
                f"{type(self).__name__} expects {self.num_layers} adjacencies "
                f"(one per layer), got {len(adjs)}"
            )


class Recommender(nn.Module, ABC):
    """An objective wrapped around an encoder; scores are dot products.

    The trainer calls :meth:`sample_views` once per epoch, :meth:`loss` once per
    batch and :meth:`on_step_end` after every optimiser step.

    Examples:
        >>> import torch
        >>> from graphcl_rec.models import MF, BPRRecommender
        >>> _ = torch.manual_seed(0)
        >>> model = BPRRecommender(MF(2, 3, dim=4))
        >>> isinstance(model, Recommender)
        True
        >>> batch = Batch(*torch.tensor([[0, 1], [1, 2], [0, 0]]))  # user, pos, neg
        >>> terms = model.loss(batch, [], None)
        >>> "loss" in terms, terms["loss"].shape
        (True, torch.Size([]))
        >>> user_emb, item_emb = model.embed([])
        >>> user_emb.shape, item_emb.shape
        (torch.Size([2, 4]), torch.Size([3, 4]))
    """

    encoder: Encoder

    def sample_views(
        self, inter: Interactions, generator: torch.Generator
    ) -> list[list[Tensor]] | None:
        """Augmented views for this epoch (``None`` for purely supervised models)."""
        return None

    @abstractmethod
    def loss(
        self,
        batch: Batch,
        adjs: list[Tensor],
        views: list[list[Tensor]] | None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Loss terms of one batch; must contain the key ``"loss"`` (the total).

        Args:
            batch: ``(user, pos, neg)`` triples.
            adjs: The training graph, one adjacency per encoder layer.
            views: What :meth:`sample_views` returned this epoch.
            generator: The run's generator, for any draw the loss makes (noise).

        Returns:
            ``{"loss": total, **detached terms for logging}``.
        """

    def on_step_end(self) -> None:
        """Hook after every optimiser step (EMA targets update here)."""

    @torch.no_grad()
    def embed(self, adjs: list[Tensor]) -> tuple[Tensor, Tensor]:
        """User ``[U, d]`` and item ``[I, d]`` embeddings used for ranking."""
        out = self.encoder(adjs)
        return out.user.detach(), out.item.detach()

    def reset_parameters(self) -> None:
        """Re-initialises the encoder (and any heads of the objective)."""
        self.encoder.reset_parameters()
