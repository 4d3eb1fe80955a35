import pytest
import torch

from graphcl_rec.graph.rows import take_rows


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 2, 3)])
def test_take_rows_matches_advanced_indexing_value_and_gradient(shape):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 6, generator=gen, requires_grad=True)
    index = torch.randint(0, 5, shape, generator=gen)
    index.view(-1)[:2] = 3  # a repeated row accumulates its gradients
    w = torch.randn(*shape, 6, generator=gen)
    got = take_rows(x, index)
    (got * w).sum().backward()
    grad, x.grad = x.grad, None
    want = x[index]
    (want * w).sum().backward()
    assert got.shape == want.shape == (*shape, 6)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(grad, x.grad)


def test_take_rows_keeps_trailing_dims_and_empty_index():
    x = torch.arange(24.0).view(4, 3, 2)
    torch.testing.assert_close(take_rows(x, torch.tensor([[1, 0]])),
                               x[torch.tensor([[1, 0]])])
    assert take_rows(x, torch.zeros(0, dtype=torch.long)).shape == (0, 3, 2)


def test_take_rows_off_cpu_uses_advanced_indexing():
    x = torch.empty(5, 4, device="meta")
    index = torch.tensor([[0, 1], [2, 3]], device="meta")
    assert take_rows(x, index).shape == (2, 2, 4)


def test_take_rows_rejects_out_of_range_rows():
    with pytest.raises(IndexError):
        take_rows(torch.zeros(3, 2), torch.tensor([3]))
