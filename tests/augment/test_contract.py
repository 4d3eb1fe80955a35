"""Checks every registered augmentation must pass (constructed with defaults)."""

import pytest
import torch

from graphcl_rec.augment import AUGMENTATIONS, Augmentation, Identity, make_views
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.graph.normalize import adjacency

CASES = AUGMENTATIONS.items()
IDS = [key for key, _ in CASES]
P_CASES = [(key, f) for key, f in CASES if "p" in f().params()]


def gen(seed: int = 0, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def same_pairs(a: Interactions, b: Interactions) -> bool:
    return torch.equal(a.user, b.user) and torch.equal(a.item, b.item)


def with_p(aug: Augmentation, p: float) -> Augmentation:
    return type(aug)(**{**aug.params(), "p": p})


def test_registry_has_the_documented_keys():
    assert {
        "none",
        "edge_dropout",
        "edge_dropout_per_layer",
        "node_dropout",
        "random_walk",
    } <= set(AUGMENTATIONS)


@pytest.mark.parametrize(("key", "factory"), CASES, ids=IDS)
def test_deterministic_under_seed(key, factory, make_inter, device):
    inter = make_inter(50, 40, 600, device=device)
    aug = factory()
    assert same_pairs(aug(inter, gen(3, device)), aug(inter, gen(3, device)))


@pytest.mark.parametrize(("key", "factory"), CASES, ids=IDS)
def test_output_is_ordered_subset_on_same_spaces(key, factory, make_inter, device):
    inter = make_inter(50, 40, 600, device=device)
    user, item = inter.user.clone(), inter.item.clone()
    out = factory()(inter, gen(1, device))
    assert isinstance(out, Interactions)
    assert out.shape == inter.shape
    assert out.user.device == inter.user.device
    assert out.user.dtype == out.item.dtype == torch.long
    assert out.keys().unique().numel() == len(out)
    order = torch.argsort(inter.keys())
    pos = order[torch.searchsorted(inter.keys()[order], out.keys())]
    assert torch.equal(inter.keys()[pos], out.keys())
    assert bool((pos.diff() > 0).all())
    assert torch.equal(inter.user, user) and torch.equal(inter.item, item)


@pytest.mark.parametrize(("key", "factory"), CASES, ids=IDS)
def test_repr_round_trips(key, factory, make_inter):
    aug = factory()
    rebuilt = type(aug)(**aug.params())
    assert repr(rebuilt) == repr(aug)
    assert repr(aug).startswith(f"{type(aug).__name__}(")
    assert repr(AUGMENTATIONS.resolve(key)) == repr(aug)
    assert rebuilt.per_layer == aug.per_layer
    inter = make_inter(20, 20, 100)
    assert same_pairs(rebuilt(inter, gen(5)), aug(inter, gen(5)))


@pytest.mark.parametrize(("key", "factory"), P_CASES, ids=[k for k, _ in P_CASES])
def test_p_zero_is_identity_and_draws_nothing(key, factory, make_inter):
    inter = make_inter(30, 30, 200)
    g = gen(0)
    state = g.get_state()
    assert with_p(factory(), 0.0)(inter, g) is inter
    assert torch.equal(g.get_state(), state)


@pytest.mark.parametrize(("key", "factory"), P_CASES, ids=[k for k, _ in P_CASES])
def test_p_one_is_refused_because_views_would_have_no_edges(key, factory, make_inter):
    with pytest.raises(ValueError, match=r"'p' must be < 1 \(got 1.0\): .*no edges"):
        with_p(factory(), 1.0)
    inter = make_inter(30, 30, 200)
    out = with_p(factory(), 0.999)(inter, gen(0))
    assert out.shape == inter.shape and len(out) < len(inter)


@pytest.mark.parametrize(("key", "factory"), CASES, ids=IDS)
@pytest.mark.parametrize("num_layers", [1, 3])
def test_make_views_shapes_and_sharing(key, factory, num_layers, make_inter, device):
    inter = make_inter(25, 35, 300, device=device)
    aug = factory()
    views = make_views(inter, aug, num_layers, gen(7, device))
    assert isinstance(views, list) and len(views) == num_layers
    for view in views:
        assert view.layout == torch.sparse_csr
        assert view.shape == (60, 60)
        assert view.device == inter.user.device
    if aug.per_layer:
        assert len({id(v) for v in views}) == num_layers
    else:
        assert all(v is views[0] for v in views)
        expected = adjacency(aug(inter, gen(7, device)))
        assert torch.equal(views[0].col_indices(), expected.col_indices())
        assert torch.equal(views[0].values(), expected.values())


@pytest.mark.parametrize(("key", "factory"), CASES, ids=IDS)
def test_empty_and_tiny_graphs(key, factory):
    aug = factory()
    empty = Interactions(
        torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 3, 4
    )
    out = aug(empty, gen(0))
    assert len(out) == 0 and out.shape == (3, 4)
    views = make_views(empty, aug, 2, gen(0))
    assert [v.shape for v in views] == [(7, 7)] * 2
    assert all(v.values().numel() == 0 for v in views)
    one = Interactions(torch.tensor([2]), torch.tensor([1]), 3, 4)
    out = aug(one, gen(0))
    assert len(out) <= 1 and out.shape == (3, 4)
    assert make_views(one, aug, 2, gen(0))[1].shape == (7, 7)


def test_make_views_per_layer_draws_differ(make_inter):
    inter = make_inter(40, 40, 800)
    aug = AUGMENTATIONS.resolve("edge_dropout_per_layer", p=0.5)
    views = make_views(inter, aug, 3, gen(0))
    assert not torch.equal(views[0].col_indices(), views[1].col_indices())
    assert not torch.equal(views[1].col_indices(), views[2].col_indices())


def test_make_views_zero_and_negative_layers(make_inter):
    inter = make_inter(10, 10, 30)
    g = gen(0)
    state = g.get_state()
    assert make_views(inter, AUGMENTATIONS.resolve("edge_dropout"), 0, g) == []
    assert torch.equal(g.get_state(), state)
    with pytest.raises(ValueError, match="'num_layers'.*-1"):
        make_views(inter, Identity(), -1, g)


def test_identity_returns_input_and_shares_one_adjacency(make_inter):
    inter = make_inter(10, 10, 30)
    assert Identity()(inter, gen(0)) is inter
    assert repr(Identity()) == "Identity()" and Identity().params() == {}
    views = make_views(inter, Identity(), 2, gen(0))
    assert torch.equal(views[0].to_dense(), adjacency(inter).to_dense())
