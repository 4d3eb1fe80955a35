import pytest
import torch

from graphcl_rec.graph import adjacency, spmm, spmm_rows, to_backend
from graphcl_rec.graph.propagate import slice_rows, transpose_csr
from tests.conftest import random_interactions


def test_spmm_forward_and_backward_match_dense():
    inter = random_interactions(40, 30, 200)
    a = adjacency(inter)
    x = torch.randn(70, 8, requires_grad=True)
    w = torch.randn(70, 8)
    (spmm(a, spmm(a, x)) * w).sum().backward()
    x2 = x.detach().clone().requires_grad_()
    d = a.to_dense()
    (d @ (d @ x2) * w).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)


def test_spmm_without_grad_returns_plain_product():
    inter = random_interactions(10, 10, 30)
    a = adjacency(inter)
    x = torch.randn(20, 4)
    torch.testing.assert_close(spmm(a, x), a.to_dense() @ x)


def test_to_backend():
    inter = random_interactions(10, 10, 30)
    a = adjacency(inter)
    assert to_backend(a, "torch") is a
    with pytest.raises(ValueError, match="choices"):
        to_backend(a, "scipy")
    try:
        import torch_sparse  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="torch-sparse"):
            to_backend(a, "torch_sparse")
    else:
        x = torch.randn(20, 4)
        torch.testing.assert_close(spmm(to_backend(a, "torch_sparse"), x), spmm(a, x))


def _random_adj(num_users=60, num_items=90, pairs=600, seed=0):
    return adjacency(random_interactions(num_users, num_items, pairs, seed=seed))


def test_slice_rows_and_transpose_match_dense():
    adj = _random_adj()
    rows = torch.tensor([149, 3, 3, 70, 0])  # unsorted, repeated, first and last
    sub = slice_rows(adj, rows)
    torch.testing.assert_close(sub.to_dense(), adj.to_dense()[rows])
    torch.testing.assert_close(transpose_csr(sub).to_dense(), adj.to_dense()[rows].T)


@pytest.mark.parametrize("num_rows", [5, 100])  # sliced path / full-product fallback
def test_spmm_rows_equals_rows_of_spmm_with_gradients(num_rows):
    adj = _random_adj()
    gen = torch.Generator().manual_seed(1)
    rows = torch.randperm(adj.shape[0], generator=gen)[:num_rows]
    x = torch.randn(adj.shape[0], 4, generator=gen, requires_grad=True)
    w = torch.randn(num_rows, 4, generator=gen)
    (spmm_rows(adj, x, rows) * w).sum().backward()
    got = x.grad.clone()
    x.grad = None
    (spmm(adj, x)[rows] * w).sum().backward()
    torch.testing.assert_close(got, x.grad)
    with torch.no_grad():
        torch.testing.assert_close(spmm_rows(adj, x, rows), spmm(adj, x)[rows])
