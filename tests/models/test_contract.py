import pytest
import torch

from graphcl_rec.graph import adjacency
from graphcl_rec.models import ENCODERS, LightGCN
from tests.conftest import random_interactions

INTER = random_interactions(12, 9, 40)


def build(name, cls):
    return cls(INTER.num_users, INTER.num_items, dim=8)


def adjs_for(encoder, per_layer=False):
    if per_layer:
        return [
            adjacency(INTER.subset(torch.rand(len(INTER)) > 0.2))
            for _ in range(encoder.num_layers)
        ]
    return [adjacency(INTER)] * encoder.num_layers


@pytest.mark.parametrize("name,cls", ENCODERS.items())
def test_output_shapes(name, cls):
    enc = build(name, cls)
    out = enc(adjs_for(enc))
    assert out.user.shape == (12, 8) and out.item.shape == (9, 8)
    assert out.layers[0].shape == (21, 8)


@pytest.mark.parametrize("name,cls", ENCODERS.items())
@pytest.mark.parametrize("per_layer", [False, True])
def test_gradients_reach_ego(name, cls, per_layer):
    enc = build(name, cls)
    out = enc(adjs_for(enc, per_layer))
    (out.user.sum() + out.item.pow(2).sum()).backward()
    ego_u, ego_i = enc.ego()
    assert enc.embedding.weight.grad is not None
    assert enc.embedding.weight.grad.abs().sum() > 0
    assert ego_u.shape == (12, 8) and ego_i.shape == (9, 8)


@pytest.mark.parametrize("name,cls", ENCODERS.items())
def test_deterministic_in_eval_and_reset(name, cls):
    enc = build(name, cls).eval()
    a = enc(adjs_for(enc)).user
    b = enc(adjs_for(enc)).user
    assert torch.equal(a, b)
    before = enc.embedding.weight.detach().clone()
    enc.reset_parameters()
    assert not torch.equal(before, enc.embedding.weight)
    assert name in repr(enc).lower() or type(enc).__name__ in repr(enc)


@pytest.mark.parametrize("name,cls", ENCODERS.items())
def test_wrong_number_of_adjacencies(name, cls):
    enc = build(name, cls)
    with pytest.raises(ValueError, match="one per layer"):
        enc([adjacency(INTER)] * (enc.num_layers + 1))


@pytest.mark.parametrize("name,cls", ENCODERS.items())
def test_perturb_is_applied(name, cls):
    enc = build(name, cls)
    calls = []

    def perturb(x):
        calls.append(x.shape)
        return x + 1.0

    clean = enc(adjs_for(enc)).user
    noisy = enc(adjs_for(enc), perturb=perturb).user
    assert len(calls) == max(enc.num_layers, 1)
    assert not torch.allclose(clean, noisy)


def test_lightgcn_is_layer_mean():
    enc = LightGCN(12, 9, dim=4, num_layers=2)
    a = adjacency(INTER).to_dense()
    x0 = enc.embedding.weight.detach()
    expected = (x0 + a @ x0 + a @ (a @ x0)) / 3
    out = enc([adjacency(INTER)] * 2)
    torch.testing.assert_close(torch.cat([out.user, out.item]), expected)
    enc_no_ego = LightGCN(12, 9, dim=4, num_layers=2, include_ego=False)
    enc_no_ego.load_state_dict(enc.state_dict())
    out2 = enc_no_ego([adjacency(INTER)] * 2)
    torch.testing.assert_close(
        torch.cat([out2.user, out2.item]), (a @ x0 + a @ (a @ x0)) / 2
    )


@pytest.mark.parametrize("layers,ego", [(1, False), (1, True), (3, True), (3, False)])
def test_lightgcn_mean_gradient_matches_dense_and_keeps_layers(layers, ego):
    enc = LightGCN(12, 9, dim=4, num_layers=layers, include_ego=ego)
    a = adjacency(INTER).to_dense()
    x = enc.embedding.weight.detach().clone().requires_grad_()
    full, h = [x], x
    for _ in range(layers):
        h = a @ h
        full.append(h)
    stack = full if ego else full[1:]
    w = torch.randn(21, 4)
    (sum(stack) / len(stack) * w).sum().backward()
    out = enc([adjacency(INTER)] * layers)
    (torch.cat([out.user, out.item]) * w).sum().backward()
    torch.testing.assert_close(enc.embedding.weight.grad, x.grad)
    assert len(out.layers) == layers + 1
    for got, want in zip(out.layers, full):  # the mean wrote into no layer
        torch.testing.assert_close(got, want.detach())


def test_sgc_is_last_layer_with_optional_linear():
    from graphcl_rec.models import SGC

    enc = SGC(12, 9, dim=4, num_layers=2, linear=True)
    a = adjacency(INTER).to_dense()
    x0 = enc.embedding.weight.detach()
    out = enc([adjacency(INTER)] * 2)
    torch.testing.assert_close(torch.cat([out.user, out.item]), a @ (a @ x0))


@pytest.mark.parametrize("kwargs", [{"dim": 0}, {"init": "zeros"}, {"num_layers": -1}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        LightGCN(3, 3, **kwargs)


BIG = random_interactions(60, 90, 600)


@pytest.mark.parametrize("name,cls", ENCODERS.items())
@pytest.mark.parametrize("noise", [False, True])
def test_rows_read_like_the_full_output(name, cls, noise):
    """``encoder(adjs, rows=r)`` reads the full output's values and gradients at r."""
    enc = cls(60, 90, dim=8)
    adjs = [adjacency(BIG)] * enc.num_layers
    rows = torch.tensor([3, 3, 7, 60 + 5, 60 + 89, 0])
    users, items = torch.tensor([3, 7, 0]), torch.tensor([[5, 89], [89, 5]])
    w = torch.randn(3, 8), torch.randn(2, 2, 8)

    def read(r):
        # constant "noise": equal for any subset of rows
        perturb = (lambda x: x + 0.5) if noise else None
        out = enc(adjs, rows=r, perturb=perturb)
        value = (out.users(users) * w[0]).sum() + (out.items(items) * w[1]).sum()
        if enc.num_layers:
            value = value + out.layer(1).users(users).sum()
        enc.zero_grad()
        value.backward()
        return value.detach(), enc.embedding.weight.grad.clone()

    got, ref = read(rows), read(None)
    torch.testing.assert_close(got[0], ref[0])
    torch.testing.assert_close(got[1], ref[1])


def test_lightgcn_restricts_rows_on_a_large_cpu_graph_only():
    enc = LightGCN(60, 90, dim=8, num_layers=2)
    part = enc([adjacency(BIG)] * 2, rows=torch.tensor([2, 2, 70]))
    assert part.rows.tolist() == [2, 70]
    with pytest.raises(KeyError, match="did not compute"):
        part.users(torch.tensor([3]))
    with pytest.raises(KeyError, match="rows=None"):
        part.user  # noqa: B018
    assert enc([adjacency(BIG)] * 2, rows=torch.arange(40)).rows is None


def test_hyperparameters_are_keyword_only():
    with pytest.raises(TypeError):
        LightGCN(3, 3, 8)


@pytest.mark.parametrize("name,cls", ENCODERS.items())
@pytest.mark.parametrize("rows", [None, torch.tensor([3, 7, 60 + 5])])
def test_sharing_first_layer_reads_like_separate_passes(name, cls, rows):
    """Passes in one ``sharing_first_layer`` block: the values of separate passes,
    their gradients to float rounding, on the full and the row-restricted paths."""
    enc = cls(60, 90, dim=8)
    adjs = [adjacency(BIG)] * enc.num_layers
    users, items = torch.tensor([3, 7]), torch.tensor([5])
    wu, wi = torch.randn(2, 8), torch.randn(1, 8)

    def two_passes(shared):
        enc.zero_grad()
        noise = lambda x: x + 0.25  # noqa: E731 (a perturbation after every layer)
        if shared:
            with enc.sharing_first_layer():
                a, b = enc(adjs, rows=rows), enc(adjs, rows=rows, perturb=noise)
        else:
            a, b = enc(adjs, rows=rows), enc(adjs, rows=rows, perturb=noise)
        value = sum((o.users(users) * wu).sum() + (o.items(items) * wi).sum()
                    for o in (a, b))
        value.backward()
        return value.detach(), enc.embedding.weight.grad.clone()

    (v1, g1), (v0, g0) = two_passes(True), two_passes(False)
    assert torch.equal(v1, v0)
    torch.testing.assert_close(g1, g0)


def test_sharing_first_layer_makes_one_product_per_adjacency(monkeypatch):
    from graphcl_rec.models import embedding

    calls = []  # products of the embedding table itself: first layers
    real = embedding.spmm
    enc = LightGCN(60, 90, dim=8, num_layers=3)

    def counting(a, x):
        if x is enc.embedding.weight:
            calls.append(a)
        return real(a, x)

    monkeypatch.setattr(embedding, "spmm", counting)
    adj, other = adjacency(BIG), adjacency(BIG)
    with enc.sharing_first_layer():
        first = enc([adj] * 3).layers[1]
        assert enc([adj] * 3, perturb=lambda x: x * 2).layers[1] is not first
        assert len(calls) == 1  # the noisy pass reused the product, then perturbed it
        assert enc([other] * 3).layers[1] is not first  # another adjacency object
        with torch.no_grad():
            assert enc([adj] * 3).layers[1] is not first  # another grad mode
        with torch.no_grad():
            enc.embedding.weight.add_(1.0)
        assert enc([adj] * 3).layers[1] is not first  # changed weights
        assert len(calls) == 4
        with pytest.raises(RuntimeError, match="do not nest"):
            with enc.sharing_first_layer():
                pass
    assert enc._first is None
    enc([adj] * 3)
    assert len(calls) == 5  # outside the block every pass makes its own
