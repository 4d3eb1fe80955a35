r"""PyG graph objects as this library's normalised adjacency, and back.

PyG is imported only when these functions run, so ``import graphcl_rec`` does not
pay for it.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.graph.bipartite import to_edge_index
from graphcl_rec.graph.normalize import adjacency

logger = logging.getLogger("graphcl_rec")


def is_adjacency_list(graph: Any) -> bool:
    """Whether ``graph`` is a list/tuple of per-layer adjacencies (the native input)."""
    return isinstance(graph, (list, tuple))


def pyg_pairs(graph: Any, num_users: int, num_items: int) -> Interactions:
    """The unique user–item pairs of a PyG graph over ``num_users + num_items`` nodes.

    Accepts a ``[2, M]`` ``edge_index`` (users ``0..U-1``, items offset by ``U``;
    one direction or both), a ``torch_geometric.EdgeIndex``, a
    ``torch_sparse.SparseTensor`` (its non-zero pattern; values are ignored), a
    homogeneous ``Data`` or a ``HeteroData`` (its user→item edge type). Repeated
    edges are kept once (logged).

    Raises:
        TypeError: For another object.
        ValueError: If the graph is not a bipartite graph of that size.
    """
    from torch_geometric.data import Data, HeteroData

    from graphcl_rec.data.pyg import from_pyg

    if isinstance(graph, HeteroData):
        inter = from_pyg(graph, time=None, weight=None)
    else:
        if not isinstance(graph, (Tensor, Data)):
            coo = getattr(graph, "coo", None)  # torch_sparse.SparseTensor
            if not callable(coo):
                raise TypeError(
                    f"expected a list of adjacencies (one per layer) or a PyG graph "
                    f"(edge_index, EdgeIndex, SparseTensor, Data, HeteroData); got "
                    f"{type(graph).__name__}")
            row, col, _ = coo()
            graph = torch.stack([row, col])
        elif isinstance(graph, Tensor) and graph.layout != torch.strided:
            raise TypeError("a torch sparse tensor is taken as a normalised adjacency: "
                            "pass one per layer in a list, or pass an edge_index")
        inter = from_pyg(graph, num_users=num_users, num_items=num_items, time=None,
                         weight=None)
    if inter.shape != (num_users, num_items):
        raise ValueError(f"the graph has {inter.num_users} users and "
                         f"{inter.num_items} items; the model {num_users} and "
                         f"{num_items}")
    inter, removed = inter.deduplicate()
    if removed:
        logger.info("PyG graph: %d repeated user-item edges kept once", removed)
    return inter


def adjacency_from_pyg(graph: Any, num_users: int, num_items: int,
                       dtype: torch.dtype = torch.float32) -> Tensor:
    r"""The normalised adjacency :math:`D^{-1/2} A D^{-1/2}` of a PyG graph.

    The same CSR tensor :func:`~graphcl_rec.graph.adjacency` builds from the
    graph's pairs (see :func:`pyg_pairs` for what is accepted).

    Returns:
        ``[U+I, U+I]`` sparse CSR tensor.
    """
    return adjacency(pyg_pairs(graph, num_users, num_items), dtype)


def adjacency_edges(adj: Any) -> tuple[Tensor, Tensor]:
    """``(edge_index [2, M], edge_weight [M])`` of a normalised adjacency.

    Args:
        adj: A torch sparse tensor (CSR or COO) or a ``torch_sparse.SparseTensor``,
            as :func:`~graphcl_rec.graph.adjacency` and
            :func:`~graphcl_rec.graph.to_backend` build it.
    """
    from torch_geometric.utils import to_edge_index as sparse_to_edges

    if isinstance(adj, Tensor) and adj.layout != torch.strided:
        edge_index, weight = sparse_to_edges(adj)
        return edge_index, weight
    coo = getattr(adj, "coo", None)
    if not isinstance(adj, Tensor) and callable(coo):
        row, col, value = coo()
        if value is None:
            raise ValueError("a SparseTensor adjacency needs its normalised values")
        return torch.stack([row, col]), value
    raise TypeError(f"expected a sparse adjacency, got {type(adj).__name__}")


def graph_edges(graph: Any, num_users: int, num_items: int,
                dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    r"""``(edge_index [2, 2E], edge_weight [2E])`` of a PyG graph, normalised.

    The symmetric edges of the graph's unique pairs (see :func:`pyg_pairs`),
    weighted :math:`1/\sqrt{d_u d_i}` (``gcn_norm`` without self-loops): the
    non-zeros of :func:`adjacency_from_pyg`.
    """
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    ei = to_edge_index(pyg_pairs(graph, num_users, num_items))
    ei, weight = gcn_norm(ei, None, num_users + num_items, add_self_loops=False,
                          dtype=dtype)
    return ei, weight
