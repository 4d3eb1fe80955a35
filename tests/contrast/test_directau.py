import math

import pytest
import torch

from graphcl_rec.analysis import uniformity
from graphcl_rec.contrast import DirectAU, alignment_loss, uniformity_loss
from graphcl_rec.data.sampling import Batch
from graphcl_rec.graph import adjacency
from graphcl_rec.models import MF, LightGCN
from tests.conftest import random_interactions

INTER = random_interactions(15, 12, 60)


def naive_terms(user, item, t=2.0):
    """Alignment and uniformity written out pair by pair."""
    def unit_rows(rows):
        return [[x / math.sqrt(sum(y * y for y in v)) for x in v]
                for v in rows.tolist()]

    unit, unit_i = unit_rows(user), unit_rows(item)
    align = sum(sum((a - b) ** 2 for a, b in zip(u, i))
                for u, i in zip(unit, unit_i)) / len(unit)

    def uniform(rows):
        pairs = [(j, k) for j in range(len(rows)) for k in range(j + 1, len(rows))]
        total = sum(math.exp(-t * sum((a - b) ** 2 for a, b in zip(rows[j], rows[k])))
                    for j, k in pairs)
        return math.log(total / len(pairs))

    return align, uniform(unit), uniform(unit_i)


@pytest.mark.parametrize("encoder", ["mf", "lightgcn"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_loss_equals_reference_formula(encoder, gamma):
    torch.manual_seed(0)
    enc = (MF(15, 12, dim=6) if encoder == "mf"
           else LightGCN(15, 12, dim=6, num_layers=2))
    model = DirectAU(enc, gamma=gamma, reg_weight=0.3).double()
    adjs = [adjacency(INTER).double()] * enc.num_layers
    # user 3 twice: a repeated row is a pair at distance 0, as in the authors' code
    batch = Batch(torch.tensor([3, 0, 3, 7]), torch.tensor([1, 2, 5, 1]),
                  torch.tensor([0, 0, 0, 0]))
    got = model.loss(batch, adjs, None)
    full = enc(adjs)
    user, item = full.user[batch.user], full.item[batch.pos]
    align, uni_u, uni_i = naive_terms(user, item)
    ego_u, ego_i = enc.ego()
    reg = 0.5 * (ego_u[batch.user].pow(2).sum() + ego_i[batch.pos].pow(2).sum()) / 4
    assert got["align"].item() == pytest.approx(align, rel=1e-9)
    assert got["uniform"].item() == pytest.approx((uni_u + uni_i) / 2, rel=1e-9)
    expected = align + gamma * (uni_u + uni_i) / 2 + 0.3 * reg.item()
    assert got["loss"].item() == pytest.approx(expected, rel=1e-9)
    got["loss"].backward()
    assert enc.embedding.weight.grad[15 + 2].abs().sum() > 0  # positive item 2
    assert enc.embedding.weight.grad[15 + 0].abs().sum() == 0 or encoder != "mf"


def test_uniformity_matches_the_analysis_module_and_edge_cases():
    x = torch.randn(40, 8, generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64)
    x.requires_grad_(True)
    got, ref = uniformity_loss(x, t=1.5), uniformity(x, t=1.5)
    torch.testing.assert_close(got, ref)
    # the one-product backward against autograd through pdist
    torch.testing.assert_close(torch.autograd.grad(got, x)[0],
                               torch.autograd.grad(ref, x)[0])
    assert torch.autograd.gradcheck(lambda v: uniformity_loss(v, t=0.7), x[:6])
    with pytest.raises(ValueError, match="'t'"):
        uniformity_loss(x, t=0.0)
    # all rows the same direction: every pair at distance 0, log 1 = 0
    same = torch.ones(5, 3) * torch.arange(1, 6.0)[:, None]
    assert uniformity_loss(same).item() == pytest.approx(0.0, abs=1e-6)
    one = torch.randn(1, 4, requires_grad=True)
    zero = uniformity_loss(one)
    zero.backward()
    assert zero.item() == 0 and one.grad is not None
    assert alignment_loss(torch.ones(3, 2), torch.ones(3, 2) * 7).item() == 0


def test_the_loss_is_scale_invariant_and_negatives_are_unused():
    enc = MF(15, 12, dim=6)
    model = DirectAU(enc, reg_weight=0.0)
    batch = Batch(torch.tensor([0, 4, 9]), torch.tensor([1, 2, 3]),
                  torch.tensor([5, 6, 7]))
    before = model.loss(batch, [], None)["loss"]
    other = model.loss(batch._replace(neg=torch.tensor([8, 9, 10])), [], None)
    with torch.no_grad():
        enc.embedding.weight.mul_(13.0)
    after = model.loss(batch, [], None)["loss"]
    torch.testing.assert_close(before, after)
    torch.testing.assert_close(before, other["loss"])


def test_row_restricted_lightgcn_gives_the_full_forward_loss_and_grad():
    inter = random_interactions(60, 90, 600)
    adjs = [adjacency(inter)] * 3
    enc = LightGCN(60, 90, dim=8, num_layers=3)
    model = DirectAU(enc, gamma=2.0)
    gen = torch.Generator().manual_seed(0)
    batch = Batch(*(torch.randint(0, n, (6,), generator=gen) for n in (60, 90, 90)))
    assert enc(adjs, rows=batch.user).rows is not None  # the restricted path runs
    got = model.loss(batch, adjs, None)
    got["loss"].backward()
    grad = enc.embedding.weight.grad.clone()
    enc.embedding.weight.grad = None
    full = enc(adjs)
    user, item = full.user[batch.user], full.item[batch.pos]
    ref = alignment_loss(user, item) + 2.0 * (
        uniformity_loss(user) + uniformity_loss(item)) / 2 + 1e-4 * 0.5 * (
        enc.ego()[0][batch.user].pow(2).sum()
        + enc.ego()[1][batch.pos].pow(2).sum()) / 6
    ref.backward()
    torch.testing.assert_close(got["loss"], ref)
    torch.testing.assert_close(grad, enc.embedding.weight.grad)


@pytest.mark.parametrize("kwargs,name", [
    ({"gamma": -1.0}, "gamma"), ({"gamma": float("nan")}, "gamma"),
    ({"gamma": float("inf")}, "gamma"), ({"reg_weight": -1e-4}, "reg_weight"),
])
def test_bad_hyperparameters_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        DirectAU(MF(3, 3, dim=2), **kwargs)
    with pytest.raises(TypeError):
        DirectAU(MF(3, 3, dim=2), 1.0)  # keyword-only


def test_repr_and_config():
    from graphcl_rec.cli.build import build_model

    model = build_model({"objective": "directau", "gamma": 5.0, "reg_weight": 0.0,
                         "encoder": {"name": "mf", "dim": 8}}, 15, 12)
    assert isinstance(model, DirectAU) and "gamma=5.0" in repr(model)
