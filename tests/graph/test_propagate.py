import pytest
import torch

from graphcl_rec.graph import adjacency, spmm, to_backend
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
