import math

import pytest
import torch

from graphcl_rec.augment import RandomWalk, random_walk_pairs
from graphcl_rec.data.interactions import Interactions


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def two_components() -> Interactions:
    """Users 0-9 x items 0-9 and users 10-19 x items 10-19, nothing between."""
    u, i = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    user = torch.cat([u.flatten(), u.flatten() + 10])
    item = torch.cat([i.flatten(), i.flatten() + 10])
    return Interactions(user, item, 20, 20)


def chain(n: int) -> Interactions:
    """Path u0 - i0 - u1 - i1 - ... - u{n-1} - i{n-1}."""
    user = torch.cat([torch.arange(n), torch.arange(1, n)])
    item = torch.cat([torch.arange(n), torch.arange(n - 1)])
    return Interactions(user, item, n, n)


def endpoints(inter: Interactions, pairs: torch.Tensor) -> tuple:
    return inter.user[pairs], inter.item[pairs] + inter.num_users


def test_walks_follow_edges_step_by_step(make_inter):
    inter = make_inter(60, 50, 400)
    start = torch.arange(110).repeat(3)
    pairs = random_walk_pairs(inter, start, 12, 0.0, gen(0))
    assert pairs.shape == (330, 12) and pairs.dtype == torch.long
    node = start.clone()
    for step in range(12):
        moved = pairs[:, step] >= 0
        u, i = endpoints(inter, pairs[moved, step])
        here = node[moved]
        assert bool(((u == here) | (i == here)).all())
        node[moved] = torch.where(u == here, i, u)
    isolated = torch.cat([inter.user_degree(), inter.item_degree()]) == 0
    assert bool((pairs[isolated[start]] == -1).all())
    assert bool((pairs[~isolated[start]] >= 0).all())


def test_walks_stay_in_their_component_and_cover_both():
    inter = two_components()
    start = torch.arange(40)
    pairs = random_walk_pairs(inter, start, 6, 0.0, gen(0))
    in_first = inter.user[pairs] < 10
    starts_first = (start < 10) | ((start >= 20) & (start < 30))
    assert torch.equal(in_first, starts_first[:, None].expand_as(in_first))
    view = RandomWalk(walk_length=6)(inter, gen(0))
    assert bool((view.user < 10).any()) and bool((view.user >= 10).any())


def test_no_node_with_pairs_is_isolated_by_the_view(make_inter):
    inter = make_inter(300, 200, 900)
    for seed in range(3):
        view = RandomWalk(walk_length=1)(inter, gen(seed))
        assert torch.equal(view.user_degree() > 0, inter.user_degree() > 0)
        assert torch.equal(view.item_degree() > 0, inter.item_degree() > 0)


def test_longer_and_more_walks_keep_more_pairs(make_inter):
    inter = make_inter(300, 400, 20_000)
    kept = [len(RandomWalk(walk_length=n)(inter, gen(0))) for n in (1, 4, 16, 64)]
    assert kept == sorted(kept) and len(set(kept)) == 4
    assert kept[-1] > 0.85 * len(inter)  # 1 - exp(-64 * 700 / 20k) = 0.89
    more = len(RandomWalk(walk_length=4, walks_per_node=4)(inter, gen(0)))
    assert more > kept[1]


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_kept_fraction_matches_the_documented_estimate(keep, make_inter):
    inter = make_inter(300, 400, 20_000)
    length = RandomWalk.walk_length_for(inter, keep)
    steps = length * 700 / len(inter)
    frac = len(RandomWalk(walk_length=length)(inter, gen(0))) / len(inter)
    assert abs(frac - (1 - math.exp(-steps))) < 0.04
    assert frac > keep - 0.04


def test_full_restart_only_crosses_pairs_of_the_start_node(make_inter):
    inter = make_inter(40, 30, 300)
    start = torch.arange(70).repeat(2)
    pairs = random_walk_pairs(inter, start, 10, 1.0, gen(0))
    moved = pairs >= 0
    u, i = endpoints(inter, pairs.clamp_min(0))
    at_start = (u == start[:, None]) | (i == start[:, None])
    assert bool(at_start[moved].all())


def test_without_restart_walks_leave_the_start_node():
    inter = chain(50)
    start = torch.arange(100)
    u, i = endpoints(inter, random_walk_pairs(inter, start, 10, 0.0, gen(0)))
    assert bool(((u != start[:, None]) & (i != start[:, None])).any())


def test_restart_lowers_reach_on_a_chain():
    inter = chain(200)
    start = torch.tensor([0])
    far = []
    for restart_p in (0.0, 0.5):
        pairs = random_walk_pairs(inter, start.repeat(200), 30, restart_p, gen(0))
        far.append(float(inter.user[pairs].float().mean()))
    assert far[1] < far[0]


def test_restart_draws_generator_state_only_when_used(make_inter):
    inter = make_inter(20, 20, 100)
    start = torch.arange(40)
    states = []
    for restart_p in (0.0, 0.0, 0.3):
        g = gen(0)
        random_walk_pairs(inter, start, 5, restart_p, g)
        states.append(g.get_state())
    assert torch.equal(states[0], states[1]) and not torch.equal(states[0], states[2])


def test_isolated_and_empty_inputs():
    inter = Interactions(torch.tensor([0]), torch.tensor([0]), 2, 2)
    pairs = random_walk_pairs(inter, torch.tensor([0, 1, 2, 3]), 3, 0.5, gen(0))
    assert pairs.tolist() == [[0, 0, 0], [-1, -1, -1], [0, 0, 0], [-1, -1, -1]]
    empty = Interactions(
        torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), 2, 2
    )
    assert random_walk_pairs(empty, torch.arange(4), 2, 0.0, gen(0)).shape == (4, 2)
    assert bool((random_walk_pairs(empty, torch.arange(4), 2, 0.0, gen(0)) == -1).all())
    assert random_walk_pairs(
        inter, torch.zeros(0, dtype=torch.long), 2, 0.0, gen(0)
    ).shape == (0, 2)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"walk_length": 0}, "walk_length"),
        ({"walk_length": 2.5}, "walk_length"),
        ({"walk_length": True}, "walk_length"),
        ({"walks_per_node": 0}, "walks_per_node"),
        ({"restart_p": 1.5}, "restart_p"),
        ({"restart_p": -0.5}, "restart_p"),
    ],
)
def test_invalid_arguments_raise_with_name_and_value(kwargs, name):
    value = next(iter(kwargs.values()))
    with pytest.raises(ValueError, match=rf"'{name}'.*\(got {value!r}\)"):
        RandomWalk(**kwargs)


def test_walk_length_for_validates_and_is_at_least_one(make_inter):
    inter = make_inter(100, 100, 150)
    assert RandomWalk.walk_length_for(inter, 0.0) == 1
    with pytest.raises(ValueError, match="'keep'"):
        RandomWalk.walk_length_for(inter, 1.0)
    with pytest.raises(ValueError, match="'walks_per_node'"):
        RandomWalk.walk_length_for(inter, 0.5, walks_per_node=0)


def test_per_layer_random_walk_repr_and_flag():
    aug = RandomWalk(walk_length=3, restart_p=0.2, per_layer=True)
    assert aug.per_layer
    assert repr(aug) == (
        "RandomWalk(walk_length=3, restart_p=0.2, walks_per_node=1, per_layer=True)"
    )


def test_random_walk_pairs_validates_arguments(make_inter):
    inter = make_inter(5, 5, 10)
    with pytest.raises(ValueError, match=r"'walk_length'.*\(got -1\)"):
        random_walk_pairs(inter, torch.arange(10), -1, 0.0, gen(0))
    with pytest.raises(ValueError, match=r"'restart_p'.*\(got 2.0\)"):
        random_walk_pairs(inter, torch.arange(10), 3, 2.0, gen(0))
    assert random_walk_pairs(inter, torch.arange(10), 0, 0.0, gen(0)).shape == (10, 0)
