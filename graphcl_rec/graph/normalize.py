r"""Symmetric normalisation of the bipartite adjacency, built once per view."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from graphcl_rec.data.interactions import Interactions


def adjacency(inter: Interactions, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Normalised bipartite adjacency :math:`\hat{A} = D^{-1/2} A D^{-1/2}`.

    .. math::
        \hat{A}_{u,U+i} = \hat{A}_{U+i,u} = \frac{1}{\sqrt{d_u d_i}}

    for every pair :math:`(u, i)`, with no self-loops. Nodes without edges have empty
    rows. This equals ``gcn_norm(to_edge_index(inter), add_self_loops=False)`` from
    PyG, computed straight from the bipartite degrees and written as CSR without a
    COO round-trip. Pairs must be unique (the loaders and augmentations guarantee it).

    Args:
        inter: Interactions with ``E`` unique pairs.
        dtype: Value dtype.

    Returns:
        ``[U+I, U+I]`` sparse CSR tensor with ``2E`` non-zeros, on ``inter.device``.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 0]), torch.tensor([0, 1]), 1, 2)
        >>> adjacency(inter).to_dense()
        tensor([[0.0000, 0.7071, 0.7071],
                [0.7071, 0.0000, 0.0000],
                [0.7071, 0.0000, 0.0000]])
    """
    num_users, n = inter.num_users, inter.num_users + inter.num_items
    user, item = inter.user, inter.item
    deg_u = torch.bincount(user, minlength=num_users).to(dtype)
    deg_i = torch.bincount(item, minlength=inter.num_items).to(dtype)
    weight = (deg_u[user] * deg_i[item]).rsqrt()
    node_i = item + num_users
    rows = torch.cat([user, node_i])
    cols = torch.cat([node_i, user])
    vals = torch.cat([weight, weight])
    order = torch.argsort(rows * n + cols)
    crow = torch.zeros(n + 1, dtype=torch.long, device=user.device)
    torch.cumsum(torch.bincount(rows, minlength=n), 0, out=crow[1:])
    # Built sorted and in range by construction, so the invariant check is skipped.
    return unchecked_csr(crow, cols[order], vals[order], (n, n))


def unchecked_csr(crow: Tensor, col: Tensor, values: Tensor,
                  size: tuple[int, int]) -> Tensor:
    """A CSR tensor from valid parts, without torch's invariant check.

    The check is turned off through its context manager rather than the
    constructor's ``check_invariants=False``: torch 2.11 still warns that the checks
    are "implicitly disabled" for the argument (fixed in later releases).

    Args:
        crow: ``[R + 1]`` row pointers.
        col: ``[nnz]`` column indices, sorted within each row.
        values: ``[nnz]`` values.
        size: ``(R, C)``.

    Returns:
        ``[R, C]`` sparse CSR tensor.
    """
    with quiet_csr(), torch.sparse.check_sparse_tensor_invariants(enable=False):
        return torch.sparse_csr_tensor(crow, col, values, size=size)


@contextmanager
def quiet_csr() -> Iterator[None]:
    """Silences torch's one-off "Sparse CSR tensor support is in beta" warning.

    Only that message, and only around the library's own CSR constructions; the
    caller's warning filters are restored on exit.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning,
                                message="Sparse CSR tensor support is in beta")
        yield


def sym_norm(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""General :math:`D^{-1/2} A D^{-1/2}` of a symmetric edge index, no self-loops.

    Slower than :func:`adjacency`; provided for arbitrary homogeneous graphs.

    Args:
        edge_index: ``[2, M]`` symmetric edge index without duplicates.
        num_nodes: Number of nodes ``N``.

    Returns:
        ``[N, N]`` sparse CSR tensor.

    Examples:
        >>> path = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # 0 - 1 - 2
        >>> sym_norm(path, 3).to_dense()
        tensor([[0.0000, 0.7071, 0.0000],
                [0.7071, 0.0000, 0.7071],
                [0.0000, 0.7071, 0.0000]])
    """
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import to_torch_csr_tensor

    ei, w = gcn_norm(edge_index, None, num_nodes, add_self_loops=False)
    with quiet_csr(), torch.sparse.check_sparse_tensor_invariants(enable=False):
        return to_torch_csr_tensor(ei, w, size=(num_nodes, num_nodes))
