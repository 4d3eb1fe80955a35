import math

import pytest
import torch

from graphcl_rec.analysis import EmbeddingProbe, alignment, uniformity
from tests.conftest import random_interactions


def naive_alignment(x, y, alpha=2.0):
    total = 0.0
    for a, b in zip(x.tolist(), y.tolist()):
        na, nb = math.sqrt(sum(v * v for v in a)), math.sqrt(sum(v * v for v in b))
        d = math.sqrt(sum((p / na - q / nb) ** 2 for p, q in zip(a, b)))
        total += d**alpha
    return total / len(x)


def naive_uniformity(x, t=2.0):
    rows = [[v / math.sqrt(sum(w * w for w in r)) for v in r] for r in x.tolist()]
    pot = [math.exp(-t * sum((p - q) ** 2 for p, q in zip(rows[j], rows[k])))
           for j in range(len(rows)) for k in range(j + 1, len(rows))]
    return math.log(sum(pot) / len(pot))


def test_match_the_naive_definitions(generator):
    x = torch.randn(7, 5, generator=generator, dtype=torch.float64)
    y = torch.randn(7, 5, generator=generator, dtype=torch.float64)
    assert float(alignment(x, y)) == pytest.approx(naive_alignment(x, y))
    assert float(alignment(x, y, alpha=1)) == pytest.approx(naive_alignment(x, y, 1))
    assert float(uniformity(x)) == pytest.approx(naive_uniformity(x))
    assert float(uniformity(x, t=0.5)) == pytest.approx(naive_uniformity(x, 0.5))


def test_collapsed_and_spread_extremes(generator):
    same = torch.randn(1, 16, generator=generator).repeat(50, 1) * torch.rand(
        50, 1, generator=generator).add(0.5)  # one direction, varying norms
    assert float(uniformity(same)) == pytest.approx(0.0, abs=1e-6)
    assert float(alignment(same[:10], same[10:20])) == pytest.approx(0.0, abs=1e-6)
    spread = torch.randn(500, 64, generator=generator)
    assert -4.1 < float(uniformity(spread)) < -3.5  # about -2t in high dimension


def test_shape_errors():
    with pytest.raises(ValueError, match="'x' and 'y'"):
        alignment(torch.ones(3, 2), torch.ones(2, 2))
    with pytest.raises(ValueError, match="N >= 2"):
        uniformity(torch.ones(1, 4))


def test_probe_is_fixed_and_leaves_the_global_rng_alone():
    train = random_interactions(40, 30, 300)
    before = torch.get_rng_state()
    a = EmbeddingProbe.sample(train, size=16, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    b = EmbeddingProbe.sample(train, size=16, seed=3)
    for field in ("users", "items", "pair_users", "pair_items"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert a.users.numel() == a.items.numel() == a.pair_users.numel() == 16
    keys = set((train.user * 30 + train.item).tolist())
    assert set((a.pair_users * 30 + a.pair_items).tolist()) <= keys


def test_probe_skips_nodes_without_pairs_and_reports_both_sides():
    train = random_interactions(10, 8, 30)
    train = train.subset(torch.nonzero(train.item != 7).flatten())
    probe = EmbeddingProbe.sample(train, size=100)
    assert 7 not in probe.items.tolist() and probe.users.numel() <= 10
    user_emb, item_emb = torch.eye(10, 4).add(0.1), torch.ones(8, 4)
    out = probe(user_emb, item_emb)
    assert out["uniformity_item"] == pytest.approx(0.0, abs=1e-6)
    assert out["uniformity"] == pytest.approx(out["uniformity_user"] / 2)
    assert out["alignment"] >= 0
