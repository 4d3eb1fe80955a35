"""The encoder and recommender contracts every model follows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.graph.rows import take_rows
from graphcl_rec.registry import Registry

ENCODERS = Registry("encoder")
OBJECTIVES = Registry("objective")

Perturb = Callable[[Tensor], Tensor]
"""A function applied to the ``[N, d]`` node embeddings after every layer."""


class EncoderOutput(NamedTuple):
    """Final user/item embeddings and, on request, every layer's node embeddings."""

    user: Tensor
    item: Tensor
    layers: list[Tensor]


class Encoder(nn.Module, ABC):
    """Maps one adjacency per layer to user and item embeddings.

    Subclasses hold ``num_users``, ``num_items``, ``dim`` and ``num_layers`` and
    implement :meth:`forward`, :meth:`ego` and :meth:`reset_parameters`.
    """

    num_users: int
    num_items: int
    dim: int
    num_layers: int

    @abstractmethod
    def forward(
        self, adjs: list[Tensor], perturb: Perturb | None = None
    ) -> EncoderOutput:
        """Propagates the embeddings.

        Args:
            adjs: ``num_layers`` normalised ``[U+I, U+I]`` adjacencies (one per layer).
            perturb: Optional function applied to the node embeddings after every
                propagation layer (SimGCL's noise).

        Returns:
            ``EncoderOutput(user [U, d], item [I, d], layers)`` where ``layers[l]`` is
            the ``[U+I, d]`` output of layer ``l`` (``layers[0]`` the ego layer).
        """

    def restricts_rows(self, adjs: list[Tensor], num_rows: int) -> bool:
        """Whether :meth:`forward_rows` for ``num_rows`` rows beats :meth:`forward`.

        By default it does not: it runs the full forward.
        """
        return False

    def forward_rows(self, adjs: list[Tensor], rows: Tensor,
                     perturb: Perturb | None = None) -> tuple[Tensor, list[Tensor]]:
        """Final and per-layer embeddings of the nodes ``rows`` only.

        Equal to the rows of :meth:`forward` (users first, then items), which is
        what this default computes; encoders override it when fewer rows are
        cheaper (BPR and in-batch contrast read only the batch's nodes). With
        ``perturb``, the noise is drawn only for the rows an override computes, so
        the draws (not their distribution) differ from :meth:`forward`'s.

        Args:
            adjs: As in :meth:`forward`.
            rows: ``[R]`` int64 node indices (items offset by ``num_users``).
            perturb: As in :meth:`forward`.

        Returns:
            ``([R, d] final embeddings, [[R, d] for each entry of layers])``.
        """
        out = self(adjs, perturb)
        return (take_rows(torch.cat([out.user, out.item]), rows),
                [take_rows(layer, rows) for layer in out.layers])

    @abstractmethod
    def ego(self) -> tuple[Tensor, Tensor]:
        """Layer-0 user ``[U, d]`` and item ``[I, d]`` embeddings (for L2)."""

    @abstractmethod
    def reset_parameters(self) -> None:
        """Re-initialises every parameter."""

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
        """Loss terms of one batch; must contain the key ``"loss"`` (the total)."""

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
