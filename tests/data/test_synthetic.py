"""Power-law degree models and the synthetic graphs drawn from them."""

import pytest
import torch

from graphcl_rec.data.synthetic import (
    DegreeModel,
    fit_degrees,
    fit_power_law,
    power_law_graph,
)
from tests.conftest import random_interactions

NO_BODY = torch.zeros(0, dtype=torch.long)


def pure(alpha, d_min=5, d_max=5000):
    return DegreeModel(alpha, d_min, d_max, 1.0, 0.0, NO_BODY)


@pytest.mark.parametrize("alpha", [2.2, 2.7, 3.5])
def test_fit_recovers_the_exponent_of_a_sampled_power_law(alpha):
    g = torch.Generator().manual_seed(0)
    degrees = pure(alpha).sample(40_000, g)
    assert fit_power_law(degrees, d_min=5).alpha == pytest.approx(alpha, abs=0.05)
    chosen = fit_power_law(degrees)
    assert chosen.alpha == pytest.approx(alpha, abs=0.15) and chosen.ks < 0.05


def test_the_tail_start_is_found_above_a_different_body():
    g = torch.Generator().manual_seed(1)
    tail = pure(2.5, d_min=30).sample(20_000, g)
    body = torch.randint(1, 30, (20_000,), generator=g)  # flat, not a power law
    fit = fit_power_law(torch.cat([body, tail]))
    assert 20 <= fit.d_min <= 45 and fit.alpha == pytest.approx(2.5, abs=0.2)
    assert fit.tail == pytest.approx(0.5, abs=0.1)
    assert int(fit.body.max()) < fit.d_min


def test_samples_keep_the_body_and_the_mean():
    g = torch.Generator().manual_seed(2)
    model = DegreeModel(2.5, 10, 1000, 0.3, 0.0, torch.tensor([1, 2, 3]))
    draws = model.sample(100_000, g)
    assert set(draws[draws < 10].tolist()) == {1, 2, 3}
    assert float((draws >= 10).double().mean()) == pytest.approx(0.3, abs=0.01)
    assert float(draws.double().mean()) == pytest.approx(model.mean(), rel=0.03)
    assert int(draws.max()) <= 1000


def test_graph_has_the_models_sizes_and_exponents():
    users, items = pure(2.6, d_min=8, d_max=2000), pure(2.4, d_min=4, d_max=2000)
    inter = power_law_graph(100_000, users=users, items=items, seed=0)
    assert 90_000 <= len(inter) <= 100_000
    assert inter.num_users == pytest.approx(100_000 / users.mean(), rel=0.01)
    assert inter.num_items == pytest.approx(100_000 / items.mean(), rel=0.01)
    keys = inter.keys()
    assert torch.unique(keys).numel() == keys.numel()  # no repeated pair
    refit_users, refit_items = fit_degrees(inter)
    assert refit_users.alpha == pytest.approx(2.6, abs=0.3)
    assert refit_items.alpha == pytest.approx(2.4, abs=0.3)


def test_graph_is_deterministic_per_seed():
    law = pure(2.5, d_min=3, d_max=300)
    a, b, c = (power_law_graph(5000, users=law, items=law, seed=s) for s in (0, 0, 1))
    assert torch.equal(a.keys(), b.keys()) and not torch.equal(a.keys(), c.keys())


def test_fit_degrees_fits_both_sides():
    users, items = fit_degrees(random_interactions(200, 300, 6000))
    assert users.alpha > 1 and items.alpha > 1
    assert users.d_max <= 300 and items.d_max <= 200


@pytest.mark.parametrize("pairs", [0, -5, True, 2.5])
def test_refuses_a_bad_pair_count(pairs):
    with pytest.raises(ValueError, match="'num_pairs' must be an int >= 1"):
        power_law_graph(pairs, users=pure(2.5), items=pure(2.5))


def test_fit_refuses_too_few_degrees_and_a_bad_tail_start():
    with pytest.raises(ValueError, match="at least 50 positive values"):
        fit_power_law(torch.ones(10, dtype=torch.long))
    degrees = torch.arange(1, 200)
    with pytest.raises(ValueError, match=r"'d_min' must be in \[1, 199\] \(got 500\)"):
        fit_power_law(degrees, d_min=500)
