r"""Sparse propagation :math:`Y = \hat{A} X` with a symmetric-adjacency backward."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from graphcl_rec.graph.normalize import unchecked_csr
from graphcl_rec.graph.rows import take_rows

REDUCE_MIN_NNZ = 50_000
"""Fewest non-zeros for which the CPU takes the reduce kernel: below it, its fixed
cost dominates and the plain CSR product is faster (chosen by measurement,
``benchmarks/PERF.md``)."""


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


def slice_rows(adj: Tensor, rows: Tensor) -> Tensor:
    """Rows ``rows`` of a CSR matrix as a ``[R, N]`` CSR matrix (no Python loop).

    Args:
        adj: ``[M, N]`` sparse CSR tensor.
        rows: ``[R]`` int64 row indices.

    Returns:
        ``[R, N]`` sparse CSR tensor with the same columns and values.

    Examples:
        >>> a = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]]).to_sparse_csr()
        >>> slice_rows(a, torch.tensor([2, 0])).to_dense().tolist()
        [[0.0, 3.0], [0.0, 1.0]]
    """
    crow = adj.crow_indices()
    start = crow[rows]
    count = crow[rows + 1] - start
    new_crow = torch.zeros(rows.numel() + 1, dtype=crow.dtype, device=crow.device)
    torch.cumsum(count, 0, out=new_crow[1:])
    nnz = int(new_crow[-1])
    idx = torch.repeat_interleave(start - new_crow[:-1], count, output_size=nnz)
    idx += torch.arange(nnz, device=idx.device, dtype=idx.dtype)
    return unchecked_csr(new_crow, adj.col_indices()[idx], adj.values()[idx],
                         (rows.numel(), adj.shape[1]))


def transpose_csr(adj: Tensor) -> Tensor:
    """The transpose of a ``[R, N]`` CSR matrix as an ``[N, R]`` CSR matrix."""
    num_rows, num_cols = adj.shape
    crow, col = adj.crow_indices(), adj.col_indices()
    row = torch.repeat_interleave(torch.arange(num_rows, device=col.device),
                                  crow[1:] - crow[:-1], output_size=col.numel())
    order = torch.argsort(col, stable=True)
    new_crow = torch.zeros(num_cols + 1, dtype=crow.dtype, device=crow.device)
    torch.cumsum(torch.bincount(col, minlength=num_cols), 0, out=new_crow[1:])
    return unchecked_csr(new_crow, row[order], adj.values()[order],
                         (num_cols, num_rows))


class _RowSpmm(torch.autograd.Function):
    """``Y = A[rows] X``; the gradient ``A[rows]^T dY`` uses the slice's transpose."""

    @staticmethod
    def forward(ctx: Any, sub: Tensor, x: Tensor) -> Tensor:  # noqa: D102
        ctx.sub = sub
        return _mm(sub, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:  # noqa: D102
        return None, _mm(transpose_csr(ctx.sub), grad.contiguous())


def row_slicing_pays(adj: Any, num_rows: int) -> bool:
    """Whether :func:`spmm_rows` slices ``adj`` rather than multiply it whole.

    It does for a CSR tensor on the CPU and fewer than a quarter of its rows. Not
    on GPUs: the slice's size (``nnz``) and its transpose's ``bincount`` each
    synchronise the host with the device, and its dozen small kernels cost more
    launch time than the rows they spare (a whole product is itself only a few
    launches, ``benchmarks/PERF.md``).
    """
    return (isinstance(adj, Tensor) and adj.layout == torch.sparse_csr
            and adj.device.type == "cpu" and 4 * num_rows < adj.shape[0])


def spmm_rows(adj: Any, x: Tensor, rows: Tensor) -> Tensor:
    r"""Rows ``rows`` of :math:`\hat{A} X`, without computing the others.

    For a CSR adjacency and a small row set this reads only the selected rows'
    non-zeros (the last LightGCN layer of a BPR step needs only the batch's users
    and items); otherwise it is ``spmm(adj, x)[rows]``.
    Either way the result and its gradient equal those of the full product's rows.

    Args:
        adj: ``[N, N]`` adjacency accepted by :func:`spmm`.
        x: ``[N, d]`` features.
        rows: ``[R]`` int64 node indices.

    Returns:
        ``[R, d]``.

    Examples:
        >>> a = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).to_sparse_csr()
        >>> spmm_rows(a, torch.tensor([[1.0], [2.0]]), torch.tensor([1])).tolist()
        [[1.0]]
    """
    if not row_slicing_pays(adj, rows.numel()):
        return take_rows(spmm(adj, x), rows)
    sub = slice_rows(adj, rows)
    if not x.requires_grad:
        return _mm(sub, x)
    return _RowSpmm.apply(sub, x)


def to_backend(adj: Tensor, backend: str = "torch") -> Any:
    """Converts a CSR adjacency to the chosen propagation backend.

    Args:
        adj: Sparse CSR tensor from :func:`graphcl_rec.graph.adjacency`.
        backend: ``"torch"`` (native sparse CSR, the default) or ``"torch_sparse"``
            (``torch_sparse.SparseTensor``; needs the optional ``sparse`` extra).

    Returns:
        An adjacency that :func:`spmm` accepts.

    Examples:
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.graph import adjacency
        >>> adj = adjacency(Interactions(torch.tensor([0]), torch.tensor([0]), 1, 1))
        >>> to_backend(adj) is adj  # "torch": the CSR tensor itself
        True
        >>> spmm(to_backend(adj), torch.tensor([[1.0], [2.0]]))
        tensor([[2.],
                [1.]])
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
