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


def test_building_an_adjacency_does_not_announce_beta_csr(toy):
    # torch warns once per process; set_warn_always makes it warn on every tensor.
    import warnings

    from graphcl_rec.graph.normalize import unchecked_csr

    was = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            adjacency(toy)
            unchecked_csr(torch.tensor([0, 1, 1]), torch.tensor([1]),
                          torch.ones(1), (2, 2))
            torch.sparse_csr_tensor(torch.tensor([0, 1, 1]), torch.tensor([1]),
                                    torch.ones(1), (2, 2))  # the caller's own
    finally:
        torch.set_warn_always(was)
    beta = [w for w in caught if "Sparse CSR tensor support" in str(w.message)]
    assert len(beta) == 1  # only the caller's own: the library's filter is narrow
