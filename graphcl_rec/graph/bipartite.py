"""User–item bipartite graph as a homogeneous edge list."""

from __future__ import annotations

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions


def to_edge_index(inter: Interactions) -> Tensor:
    """Symmetric edge list of the bipartite graph, items offset by ``num_users``.

    Nodes ``0..U-1`` are users and ``U..U+I-1`` are items. Every pair ``(u, i)``
    gives the two directed edges ``u -> U+i`` and ``U+i -> u``.

    Args:
        inter: Interactions with ``E`` pairs.

    Returns:
        ``[2, 2E]`` int64 edge index.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 1]), torch.tensor([0, 0]), 2, 1)
        >>> to_edge_index(inter).tolist()
        [[0, 1, 2, 2], [2, 2, 0, 1]]
    """
    item = inter.item + inter.num_users
    return torch.stack([torch.cat([inter.user, item]), torch.cat([item, inter.user])])
