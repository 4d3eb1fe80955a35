import importlib.util

import pytest
import torch
from torch_geometric import EdgeIndex
from torch_geometric.nn.models import LightGCN as PygLightGCN

from graphcl_rec.augment import EdgeDropout
from graphcl_rec.data import Interactions
from graphcl_rec.graph import adjacency, to_edge_index
from graphcl_rec.graph.pyg import adjacency_from_pyg
from graphcl_rec.models import LightGCN

NU, NI = 6, 8


def _inter(seed=0, pairs=20):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(NU * NI, generator=g)[:pairs]
    return Interactions(keys // NI, keys % NI, NU, NI)


def _encoder(seed=0, **kwargs):
    torch.manual_seed(seed)
    return LightGCN(NU, NI, dim=5, num_layers=3, **kwargs).double()


def _value_and_grad(enc, graph, rows=None, perturb=None):
    """The rows read (all without ``rows``) and the gradient of a weighted sum."""
    enc.zero_grad()
    out = enc(graph, rows=rows, perturb=perturb)
    if rows is None:
        value = torch.cat([out.users(), out.items()])
    else:
        value = torch.cat([out.users(rows[rows < NU]),
                           out.items(rows[rows >= NU] - NU)])
    weights = torch.linspace(-1, 1, value.numel(), dtype=value.dtype)
    (value.flatten() * weights).sum().backward()
    return value.detach().clone(), enc.embedding.weight.grad.clone()


def _close(a, b):
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)


def _graphs(inter):
    ei = to_edge_index(inter)
    graphs = {"edge_index": ei, "one_direction": ei[:, :len(inter)],
              "EdgeIndex": EdgeIndex(ei, sparse_size=(NU + NI, NU + NI)),
              "Data": inter.to_pyg("data"), "HeteroData": inter.to_pyg()}
    if importlib.util.find_spec("torch_sparse") is not None:
        from torch_sparse import SparseTensor

        graphs["SparseTensor"] = SparseTensor(row=ei[0], col=ei[1],
                                              sparse_sizes=(NU + NI, NU + NI))
    return graphs


@pytest.mark.parametrize("kind", ["edge_index", "one_direction", "EdgeIndex", "Data",
                                  "HeteroData"])
@pytest.mark.parametrize("propagation", ["native", "pyg"])
def test_pyg_graph_input_equals_native_adjacency(kind, propagation):
    inter = _inter()
    native = _value_and_grad(_encoder(), [adjacency(inter, torch.float64)] * 3)
    enc = _encoder(propagation=propagation)
    _close(_value_and_grad(enc, _graphs(inter)[kind]), native)


def test_sparse_tensor_input_when_torch_sparse_is_installed():
    pytest.importorskip("torch_sparse")
    inter = _inter()
    native = _value_and_grad(_encoder(), [adjacency(inter, torch.float64)] * 3)
    _close(_value_and_grad(_encoder(), _graphs(inter)["SparseTensor"]), native)


@pytest.mark.parametrize("include_ego", [True, False])
def test_pyg_propagation_equals_native_on_augmented_views(include_ego):
    inter = _inter(seed=1)
    g = torch.Generator().manual_seed(0)
    views = [adjacency(EdgeDropout(p=0.3)(inter, g), torch.float64) for _ in range(3)]
    rows = torch.tensor([0, 2, 7, 9])
    noise = torch.Generator().manual_seed(1)
    table = torch.rand(NU + NI, 5, generator=noise, dtype=torch.float64)

    def perturb(x):
        return x + 0.01 * table

    native = _value_and_grad(_encoder(include_ego=include_ego), views, rows, perturb)
    pyg = _value_and_grad(_encoder(include_ego=include_ego, propagation="pyg"), views,
                          rows, perturb)
    _close(pyg, native)


def test_duplicate_edges_are_kept_once():
    inter = _inter()
    ei = to_edge_index(inter)
    doubled = torch.cat([ei, ei[:, :3]], dim=1)
    a = adjacency_from_pyg(doubled, NU, NI).to_dense()
    assert torch.equal(a, adjacency(inter).to_dense())


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="'propagation'"):
        LightGCN(NU, NI, propagation="dgl")
    with pytest.raises(ValueError, match="'pooling' must be one of"):
        LightGCN(NU, NI, pooling="max")
    enc = _encoder()
    with pytest.raises(TypeError, match="list of adjacencies"):
        enc("graph")
    with pytest.raises(TypeError, match="normalised adjacency"):
        enc(adjacency(_inter()))
    with pytest.raises(ValueError, match="outside"):
        enc(torch.tensor([[0], [NU + NI + 3]]))
    small = Interactions(torch.tensor([0]), torch.tensor([1]), 2, NI)
    with pytest.raises(ValueError, match="the graph has 2 users"):
        enc(small.to_pyg())
    with pytest.raises(ValueError, match="expects 3 adjacencies"):
        _encoder(propagation="pyg")([adjacency(_inter(), torch.float64)])


@pytest.mark.parametrize("pooling", ["mean", "sum"])
@pytest.mark.parametrize("include_ego", [True, False])
def test_weights_move_both_ways_with_pyg_lightgcn(include_ego, pooling):
    inter = _inter(seed=2)
    ours = _encoder(include_ego=include_ego, pooling=pooling)
    out = ours([adjacency(inter, torch.float64)] * 3)
    theirs = ours.to_pyg()
    assert isinstance(theirs, PygLightGCN)
    ei = to_edge_index(inter)
    emb = theirs.get_embedding(ei)
    torch.testing.assert_close(emb, out.final)
    # Scores of a user against every item, and PyG's own recommend().
    src = torch.tensor([1, 4])
    dst = torch.arange(NU, NU + NI)
    ours_scores = out.user[src] @ out.item.T
    torch.testing.assert_close(emb[src] @ emb[dst].T, ours_scores)
    top = theirs.recommend(ei, src_index=src, dst_index=dst, k=3)
    assert torch.equal(top - NU, ours_scores.topk(3).indices)
    back = LightGCN.from_pyg(theirs, num_users=NU)
    assert back.include_ego == include_ego and back.num_items == NI
    assert back.pooling == pooling
    torch.testing.assert_close(back([adjacency(inter, torch.float64)] * 3).final,
                               out.final)


def test_from_pyg_refuses_other_layer_weights():
    model = PygLightGCN(NU + NI, 4, 2, alpha=torch.tensor([0.5, 0.3, 0.2]))
    with pytest.raises(ValueError, match="alpha"):
        LightGCN.from_pyg(model, num_users=NU)
    with pytest.raises(ValueError, match="num_users"):
        LightGCN.from_pyg(PygLightGCN(NU + NI, 4, 2), num_users=NU + NI)
    enc = LightGCN.from_pyg(PygLightGCN(NU + NI, 4, 2), num_users=NU, propagation="pyg")
    assert enc.propagation == "pyg" and enc.dim == 4


@pytest.mark.parametrize("include_ego", [True, False])
def test_sum_pooling_is_the_mean_times_the_layer_count_on_every_path(include_ego):
    inter = _inter(seed=3)
    adjs = [adjacency(inter, torch.float64)] * 3
    rows = torch.tensor([0, NU + 1, NU + 5])  # few enough for the row-sliced path
    count = 4 if include_ego else 3
    mean = _encoder(include_ego=include_ego)
    summed = _encoder(include_ego=include_ego, pooling="sum")
    assert "pooling='sum'" in repr(summed) and "pooling" not in repr(mean)
    for graph, enc_rows in ((adjs, None), (adjs, rows), (to_edge_index(inter), None)):
        a = mean(graph, rows=enc_rows)
        b = summed(graph, rows=enc_rows)
        assert (a.rows is None) == (enc_rows is None)  # both paths are taken
        pick = rows if enc_rows is not None else torch.arange(NU + NI)
        users, items = pick[pick < NU], pick[pick >= NU] - NU
        for side in ("users", "items"):
            ids = users if side == "users" else items
            torch.testing.assert_close(getattr(b, side)(ids),
                                       count * getattr(a, side)(ids))
    torch.testing.assert_close(summed.pool(summed(adjs).layers), summed(adjs).final)
