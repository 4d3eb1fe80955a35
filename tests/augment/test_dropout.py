import math

import pytest
import torch

from graphcl_rec.augment import AUGMENTATIONS, EdgeDropout, NodeDropout, make_views
from graphcl_rec.augment.dropout import sample_mask


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_edge_dropout_keeps_about_one_minus_p(p, make_inter):
    inter = make_inter(200, 200, 20_000)
    std = math.sqrt(len(inter) * p * (1 - p))
    for seed in range(3):
        kept = len(EdgeDropout(p)(inter, gen(seed)))
        assert abs(kept - (1 - p) * len(inter)) < 6 * std


def test_edge_dropout_draws_each_pair_independently(make_inter):
    inter = make_inter(20, 20, 50)
    aug = EdgeDropout(0.3)
    g = gen(0)
    freq = torch.zeros(len(inter))
    for _ in range(400):
        freq += torch.isin(inter.keys(), aug(inter, g).keys()).float()
    freq /= 400
    assert float((freq - 0.7).abs().max()) < 0.12


@pytest.mark.parametrize("p", [0.0, 0.1, 0.25, 0.5, 0.97, 0.999])
@pytest.mark.parametrize("num_pairs", [1, 2, 999, 20_000])
def test_edge_dropout_exact_count(p, num_pairs, make_inter):
    inter = make_inter(200, 200, num_pairs)
    for seed in range(2):
        out = EdgeDropout(p, exact=True)(inter, gen(seed))
        assert len(out) == round((1 - p) * num_pairs)


def test_edge_dropout_exact_differs_between_seeds(make_inter):
    inter = make_inter(50, 50, 1000)
    a, b = (EdgeDropout(0.5, exact=True)(inter, gen(s)) for s in (0, 1))
    assert len(a) == len(b) and not torch.equal(a.keys(), b.keys())


def test_generator_consumption_does_not_depend_on_p(make_inter):
    inter = make_inter(50, 50, 1000)
    states = []
    for aug in (EdgeDropout(0.1), EdgeDropout(0.6), EdgeDropout(0.999)):
        g = gen(0)
        aug(inter, g)
        states.append(g.get_state())
    assert all(torch.equal(s, states[0]) for s in states)


def test_per_layer_edge_dropout_is_sgl_rw(make_inter):
    inter = make_inter(100, 100, 3000)
    rw = AUGMENTATIONS.resolve("edge_dropout_per_layer", p=0.2, exact=True)
    assert isinstance(rw, EdgeDropout) and rw.per_layer and rw.exact
    views = make_views(inter, rw, 3, gen(0))
    nnz = {v.values().numel() for v in views}
    assert nnz == {2 * round(0.8 * 3000)}
    assert not torch.equal(views[0].col_indices(), views[2].col_indices())


@pytest.mark.parametrize("exact", [False, True])
def test_node_dropout_drops_users_and_items_with_all_their_pairs(exact, make_inter):
    p = 0.2
    inter = make_inter(1000, 800, 40_000)
    out = NodeDropout(p, exact=exact)(inter, gen(0))
    kept_users = out.user_degree() > 0
    kept_items = out.item_degree() > 0
    # Every pair between surviving users and items survives: only nodes were dropped.
    survivors = kept_users[inter.user] & kept_items[inter.item]
    assert torch.equal(inter.subset(survivors).keys(), out.keys())
    dropped_users = int((~kept_users).sum())
    dropped_items = int((~kept_items).sum())
    if exact:
        assert (dropped_users, dropped_items) == (200, 160)
    else:
        assert abs(dropped_users - 200) < 6 * math.sqrt(1000 * p * (1 - p))
        assert abs(dropped_items - 160) < 6 * math.sqrt(800 * p * (1 - p))
    assert abs(len(out) / len(inter) - (1 - p) ** 2) < 0.05


def test_node_dropout_draws_users_then_items(make_inter):
    inter = make_inter(30, 40, 500)
    g = gen(4)
    drop_user = sample_mask(30, 0.3, False, g, torch.device("cpu"))
    drop_item = sample_mask(40, 0.3, False, g, torch.device("cpu"))
    expected = inter.subset(~(drop_user[inter.user] | drop_item[inter.item]))
    assert torch.equal(NodeDropout(0.3)(inter, gen(4)).keys(), expected.keys())


@pytest.mark.parametrize("cls", [EdgeDropout, NodeDropout])
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_invalid_p_raises_with_value(cls, p):
    with pytest.raises(ValueError, match=rf"'p'.*\(got {p}\)"):
        cls(p=p)


def test_repr_shows_flags_only_when_switched_on():
    assert repr(EdgeDropout()) == "EdgeDropout(p=0.1)"
    assert repr(EdgeDropout(0.2, exact=True)) == "EdgeDropout(p=0.2, exact=True)"
    assert repr(NodeDropout(0.3)) == "NodeDropout(p=0.3)"
    assert EdgeDropout(0.2, per_layer=True).params() == {
        "p": 0.2,
        "per_layer": True,
        "exact": False,
    }
