import pytest
import torch

from graphcl_rec.data import Interactions
from graphcl_rec.graph import adjacency, sym_norm, to_edge_index
from tests.conftest import random_interactions


def test_edge_index_is_symmetric(toy):
    ei = to_edge_index(toy)
    assert ei.shape == (2, 2 * len(toy))
    fwd = set(map(tuple, ei.T.tolist()))
    assert fwd == {(b, a) for a, b in fwd}
    assert int(ei[1, : len(toy)].min()) >= toy.num_users


@pytest.mark.parametrize("seed", [0, 1])
def test_adjacency_matches_pyg_gcn_norm(seed):
    inter = random_interactions(30, 20, 150, seed)
    a = adjacency(inter)
    b = sym_norm(to_edge_index(inter), 50)
    assert a.layout == torch.sparse_csr
    torch.testing.assert_close(a.to_dense(), b.to_dense())


def test_adjacency_formula_and_invariants(toy):
    a = adjacency(toy)
    dense = a.to_dense()
    torch.testing.assert_close(dense, dense.T)
    assert torch.all(dense.diagonal() == 0)
    du, di = toy.user_degree().float(), toy.item_degree().float()
    for u, i in zip(toy.user.tolist(), toy.item.tolist()):
        expected = 1 / (du[u] * di[i]).sqrt()
        assert dense[u, toy.num_users + i] == pytest.approx(float(expected))
    with torch.sparse.check_sparse_tensor_invariants():
        torch.sparse_csr_tensor(a.crow_indices(), a.col_indices(), a.values(), a.shape)


def test_adjacency_isolated_nodes_have_empty_rows():
    inter = Interactions(torch.tensor([0]), torch.tensor([0]), 3, 2)
    dense = adjacency(inter).to_dense()
    assert torch.all(dense[1] == 0) and torch.all(dense[4] == 0)
    assert torch.isfinite(dense).all()


def test_adjacency_empty_graph():
    inter = Interactions(
        torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 2, 2
    )
    assert adjacency(inter)._nnz() == 0
