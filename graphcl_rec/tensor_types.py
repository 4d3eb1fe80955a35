"""Shared type aliases."""

from __future__ import annotations

from torch import Tensor

Adj = Tensor
"""A symmetric-normalised ``[N, N]`` adjacency as a torch sparse CSR tensor."""

Views = list[Tensor]
"""One adjacency per propagation layer (length == ``num_layers``)."""
