import pytest
import torch

from graphcl_rec.data import Interactions
from graphcl_rec.data.sampling import PairSampler
from tests.conftest import random_interactions


@pytest.mark.parametrize("mode", ["user", "interaction"])
@pytest.mark.parametrize("negatives", ["uniform", "popularity"])
def test_negatives_are_never_positives(mode, negatives):
    inter = random_interactions(50, 40, 800)
    sampler = PairSampler(inter, batch_size=128, mode=mode, negatives=negatives)
    g = torch.Generator().manual_seed(0)
    pos_set = set(zip(inter.user.tolist(), inter.item.tolist()))
    n = 0
    for batch in sampler.epoch(g):
        n += batch.user.numel()
        assert all(
            (u, i) in pos_set for u, i in zip(batch.user.tolist(), batch.pos.tolist())
        )
        assert not any(
            (u, i) in pos_set for u, i in zip(batch.user.tolist(), batch.neg.tolist())
        )
    assert n == len(inter) and len(sampler) == -(-len(inter) // 128)


def test_interaction_mode_visits_every_pair_once():
    inter = random_interactions(20, 20, 100)
    sampler = PairSampler(inter, batch_size=7, mode="interaction")
    seen = []
    for b in sampler.epoch(torch.Generator().manual_seed(1)):
        seen += list(zip(b.user.tolist(), b.pos.tolist()))
    assert sorted(seen) == sorted(zip(inter.user.tolist(), inter.item.tolist()))


def test_user_mode_samples_users_uniformly():
    # user 0 has 30 pairs, users 1..3 one each: users must still be drawn uniformly
    user = torch.tensor([0] * 30 + [1, 2, 3])
    item = torch.cat([torch.arange(30), torch.tensor([0, 1, 2])])
    inter = Interactions(user, item, 4, 40)
    sampler = PairSampler(inter, batch_size=10_000, mode="user")
    g = torch.Generator().manual_seed(0)
    users = torch.cat([sampler.triples(g)[0] for _ in range(200)])
    freq = torch.bincount(users, minlength=4).float() / users.numel()
    assert torch.allclose(freq, torch.full((4,), 0.25), atol=0.02)


def test_popularity_negatives_follow_degree():
    # items 0..9 popular (degree 10), items 10..19 degree 1
    user = torch.cat([torch.arange(10).repeat_interleave(10) + 10, torch.arange(10)])
    item = torch.cat([torch.arange(10).repeat(10), torch.arange(10, 20)])
    inter = Interactions(user, item, 20, 20 + 1)
    inter = inter.with_pairs(inter.user, inter.item)
    sampler = PairSampler(inter, negatives="popularity")
    neg = sampler.sample_negatives(
        torch.zeros(20000, dtype=torch.long), torch.Generator().manual_seed(0)
    )
    counts = torch.bincount(neg, minlength=21)
    assert counts[20] == 0  # degree-0 items are never drawn
    assert counts[:10].sum() > 5 * counts[11:20].sum()


def test_multiple_negatives_shape_and_determinism():
    inter = random_interactions(30, 30, 200)
    sampler = PairSampler(inter, batch_size=50, num_negatives=4)
    a = next(iter(sampler.epoch(torch.Generator().manual_seed(3))))
    b = next(iter(sampler.epoch(torch.Generator().manual_seed(3))))
    assert a.neg.shape == (50, 4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_user_with_every_item_is_rejected():
    inter = Interactions(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 0]), 2, 2)
    with pytest.raises(ValueError, match="every item"):
        PairSampler(inter)


@pytest.mark.parametrize(
    "kwargs", [{"mode": "x"}, {"negatives": "x"}, {"batch_size": 0}]
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        PairSampler(random_interactions(5, 5, 5), **kwargs)
