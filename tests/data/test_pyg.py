import pytest
import torch
from torch_geometric import EdgeIndex
from torch_geometric.data import Data, HeteroData

from graphcl_rec.data import Interactions
from graphcl_rec.data.pyg import from_pyg, pyg_split, to_pyg, user_item_edge_type


def _random(seed=0, users=7, items=9, pairs=25, extras=True):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(users * items, generator=g)[:pairs]
    return Interactions(
        keys // items, keys % items, users, items,
        tuple(f"u{i}" for i in range(users)) if extras else None,
        tuple(f"i{i}" for i in range(items)) if extras else None,
        torch.randint(0, 10**9, (pairs,), generator=g) if extras else None,
        torch.rand(pairs, generator=g) if extras else None,
    )


def _same(a, b):
    assert a.shape == b.shape
    assert torch.equal(a.user, b.user) and torch.equal(a.item, b.item)
    assert a.user_ids == b.user_ids and a.item_ids == b.item_ids
    for name in ("timestamp", "weight"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or torch.equal(x, y), name


@pytest.mark.parametrize("extras", [True, False])
@pytest.mark.parametrize("reverse", [True, False])
def test_hetero_round_trip_is_lossless(extras, reverse):
    inter = _random(extras=extras)
    het = inter.to_pyg(reverse=reverse)
    assert isinstance(het, HeteroData)
    assert (("item", "rev_rates", "user") in het.edge_types) == reverse
    _same(Interactions.from_pyg(het), inter)


@pytest.mark.parametrize("extras", [True, False])
@pytest.mark.parametrize("reverse", [True, False])
def test_homogeneous_round_trip_is_lossless(extras, reverse):
    inter = _random(seed=1, extras=extras)
    data = to_pyg(inter, "data", reverse=reverse)
    assert isinstance(data, Data)
    assert data.num_nodes == inter.num_users + inter.num_items
    assert data.edge_index.shape[1] == len(inter) * (2 if reverse else 1)
    _same(from_pyg(data), inter)  # num_users/num_items stored on the Data


def test_plain_edge_index_and_edge_index_class():
    inter = _random(seed=2, extras=False)
    ei = to_pyg(inter, "data").edge_index
    _same(from_pyg(ei, num_users=7, num_items=9), inter)
    typed = EdgeIndex(ei, sparse_size=(16, 16))
    _same(from_pyg(typed, num_users=7, num_items=9), inter)
    # item -> user edges only: flipped
    _same(from_pyg(ei.flip(0)[:, :len(inter)], num_users=7, num_items=9), inter)
    # num_items inferred from the largest node id
    assert from_pyg(ei, num_users=7).num_items == int(inter.item.max()) + 1


def test_pyg_dataset_layout_round_trip():
    # The layout of PyG's MovieLens100K: rating (long) and time on both types.
    het = HeteroData()
    het["movie"].num_nodes, het["user"].num_nodes = 4, 3
    ei = torch.tensor([[0, 0, 2, 1], [3, 1, 0, 2]])
    rating, time = torch.tensor([5, 3, 1, 4]), torch.tensor([10, 11, 12, 13])
    het["user", "rates", "movie"].edge_index = ei
    het["user", "rates", "movie"].rating = rating
    het["user", "rates", "movie"].time = time
    het["movie", "rated_by", "user"].edge_index = ei.flip(0)
    het["user", "rates", "movie"].edge_label_index = torch.tensor([[1], [1]])
    inter = from_pyg(het, weight="rating")
    assert inter.shape == (3, 4)
    assert torch.equal(inter.timestamp, time) and torch.equal(inter.weight, rating)
    back = to_pyg(inter, edge_type=("user", "rates", "movie"))
    assert torch.equal(back["user", "rates", "movie"].edge_index, ei)
    assert torch.equal(back["user", "rates", "movie"].time, time)
    train, test = pyg_split(het)
    assert len(train) == 4 and test.user.tolist() == [1] and test.shape == (3, 4)


def test_edge_type_is_chosen_or_required():
    het = HeteroData()
    het["a"].num_nodes, het["b"].num_nodes, het["c"].num_nodes = 2, 2, 2
    het["a", "to", "b"].edge_index = torch.tensor([[0], [1]])
    het["b", "rev_to", "a"].edge_index = torch.tensor([[1], [0]])
    assert user_item_edge_type(het) == ("a", "to", "b")
    het["a", "likes", "c"].edge_index = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match="pass edge_type="):
        from_pyg(het)
    assert from_pyg(het, edge_type=("a", "likes", "c")).item.tolist() == [1]
    with pytest.raises(ValueError, match="not in the graph"):
        from_pyg(het, edge_type=("c", "x", "a"))


def test_bad_homogeneous_graphs_are_refused():
    with pytest.raises(ValueError, match="num_users="):
        from_pyg(torch.tensor([[0], [2]]))
    with pytest.raises(ValueError, match="joins two users"):
        from_pyg(torch.tensor([[0], [1]]), num_users=2, num_items=1)
    with pytest.raises(ValueError, match="do not mirror"):
        from_pyg(torch.tensor([[0, 3], [2, 1]]), num_users=2, num_items=2)
    with pytest.raises(ValueError, match="outside"):
        from_pyg(torch.tensor([[0], [9]]), num_users=2, num_items=2)
    data = Data(edge_index=torch.tensor([[0], [2]]), num_nodes=3)
    with pytest.raises(ValueError, match="no edge attribute 'stamp'"):
        from_pyg(data, num_users=2, time="stamp")
    data.time = torch.tensor([1, 2])
    with pytest.raises(ValueError, match="one entry per edge"):
        from_pyg(data, num_users=2)
    assert from_pyg(data, num_users=2, time=None).timestamp is None
    with pytest.raises(ValueError, match="'kind'"):
        to_pyg(_random(), "graph")  # type: ignore[arg-type]
