r"""Sparse propagation :math:`Y = \hat{A} X` with a symmetric-adjacency backward."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

# Below this many non-zeros the CPU reduce kernel's fixed cost (~1 ms) dominates
# and the plain CSR product is faster; above it the reduce kernel wins.
REDUCE_MIN_NNZ = 50_000


def _mm(adj: Any, x: Tensor) -> Tensor:
    if isinstance(adj, Tensor):
        if (adj.device.type == "cpu" and adj.layout == torch.sparse_csr
                and adj._nnz() >= REDUCE_MIN_NNZ):
            return torch.sparse.mm(adj, x, "sum")
        return adj @ x
    return adj.matmul(x)  # torch_sparse.SparseTensor


class _SymmetricSpmm(torch.autograd.Function):
    """``Y = A X`` for symmetric constant ``A``: the gradient is ``A dY``."""

    @staticmethod
    def forward(ctx: Any, adj: Any, x: Tensor) -> Tensor:  # noqa: D102
        ctx.adj = adj
        return _mm(adj, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:  # noqa: D102
        return None, _mm(ctx.adj, grad.contiguous())


def spmm(adj: Any, x: Tensor) -> Tensor:
    r"""Propagates ``x`` over a symmetric normalised adjacency.

    .. math::
        Y = \hat{A} X, \qquad \frac{\partial L}{\partial X} = \hat{A}^\top
        \frac{\partial L}{\partial Y} = \hat{A} \frac{\partial L}{\partial Y}

    Because :math:`\hat{A}` is symmetric (every view built from user–item pairs is),
    the backward is one more forward product instead of torch's generic sparse
    backward. The adjacency receives no gradient.

    Args:
        adj: ``[N, N]`` symmetric torch sparse CSR tensor, or a
            ``torch_sparse.SparseTensor`` (optional backend, see :func:`to_backend`).
        x: ``[N, d]`` dense features.

    Returns:
        ``[N, d]`` propagated features.

    Examples:
        >>> a = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).to_sparse_csr()
        >>> spmm(a, torch.tensor([[1.0], [2.0]])).tolist()
        [[2.0], [1.0]]
    """
    if not x.requires_grad:
        return _mm(adj, x)
    return _SymmetricSpmm.apply(adj, x)


def to_backend(adj: Tensor, backend: str = "torch") -> Any:
    """Converts a CSR adjacency to the chosen propagation backend.

    Args:
        adj: Sparse CSR tensor from :func:`graphcl_rec.graph.adjacency`.
        backend: ``"torch"`` (native sparse CSR, the default) or ``"torch_sparse"``
            (``torch_sparse.SparseTensor``; needs the optional ``sparse`` extra).

    Returns:
        An adjacency that :func:`spmm` accepts.
    """
    if backend == "torch":
        return adj
    if backend == "torch_sparse":
        try:
            from torch_sparse import SparseTensor
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "backend='torch_sparse' needs the optional extra: "
                "pip install --no-build-isolation torch-scatter torch-sparse"
            ) from exc
        return SparseTensor.from_torch_sparse_csr_tensor(adj)
    raise ValueError(
        f"Could not resolve backend '{backend}' among choices ['torch', 'torch_sparse']"
    )
