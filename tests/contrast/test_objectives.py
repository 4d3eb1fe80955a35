import inspect

import pytest
import torch

from graphcl_rec.augment import EdgeDropout, NodeDropout
from graphcl_rec.contrast import (
    BYOL,
    SGL,
    MoCo,
    SimGCL,
    XSimGCL,
    queue_nce,
    uniform_noise,
)
from graphcl_rec.data.sampling import Batch, PairSampler
from graphcl_rec.eval import evaluate
from graphcl_rec.graph import adjacency
from graphcl_rec.models import ENCODERS, MF, OBJECTIVES, LightGCN
from graphcl_rec.train import Trainer
from tests.conftest import make_checkerboard, random_interactions

INTER = random_interactions(15, 12, 60)


def encoder_of(name, cls):
    kwargs = {} if name == "mf" else {"num_layers": 2}
    return cls(INTER.num_users, INTER.num_items, dim=8, **kwargs)


def objective(name, encoder, **kwargs):
    """Any registered objective, built from its signature (required args filled)."""
    cls = OBJECTIVES.get(name)
    params = inspect.signature(cls).parameters
    if "augment" in params and params["augment"].default is inspect.Parameter.empty:
        kwargs.setdefault("augment", EdgeDropout(0.2))
    kwargs.setdefault("ssl_warmup", 0)  # full weight: the formulas are checked at it
    kwargs = {k: v for k, v in kwargs.items() if k in params}
    return cls(encoder, **kwargs)


def one_step(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    adjs = [adjacency(INTER)] * model.encoder.num_layers
    views = model.sample_views(INTER, g)
    batch = next(iter(PairSampler(INTER, batch_size=16).epoch(g)))
    return model.loss(batch, adjs, views, g)


@pytest.mark.parametrize("obj", list(OBJECTIVES))
@pytest.mark.parametrize("enc_name,enc_cls", ENCODERS.items())
def test_every_objective_composes_with_every_encoder(obj, enc_name, enc_cls):
    model = objective(obj, encoder_of(enc_name, enc_cls))
    out = one_step(model)
    assert torch.isfinite(out["loss"]) and out["loss"].requires_grad
    out["loss"].backward()
    assert model.encoder.embedding.weight.grad.abs().sum() > 0
    model.on_step_end()
    model.reset_parameters()
    assert type(model).__name__ in repr(model)


@pytest.mark.parametrize("obj", ["moco", "byol"])
def test_ema_target_gets_no_gradient_and_moves(obj):
    model = objective(obj, LightGCN(15, 12, dim=8, num_layers=2))
    before = model.target.embedding.weight.detach().clone()
    out = one_step(model)
    out["loss"].backward()
    assert model.target.embedding.weight.grad is None
    with torch.no_grad():
        model.encoder.embedding.weight.add_(1.0)
    model.on_step_end()
    after = model.target.embedding.weight
    expected = (
        model.momentum * before + (1 - model.momentum) * model.encoder.embedding.weight
    )
    torch.testing.assert_close(after, expected)


def test_sgl_loss_equals_reference_formula():
    enc = LightGCN(15, 12, dim=8, num_layers=2)
    model = SGL(enc, augment=EdgeDropout(0.3), tau=0.5, ssl_weight=0.7, negatives="all",
                ssl_warmup=0)
    g = torch.Generator().manual_seed(1)
    views = model.sample_views(INTER, g)
    batch = Batch(
        torch.tensor([0, 0, 3]), torch.tensor([1, 2, 1]), torch.tensor([4, 5, 6])
    )
    out = model.loss(batch, [adjacency(INTER)] * 2, views)
    z1, z2 = enc(views[0]), enc(views[1])

    def ref(a, b, idx):
        a = torch.nn.functional.normalize(a, dim=1)
        b = torch.nn.functional.normalize(b, dim=1)
        total = 0.0
        for i in idx:
            logits = (a[i] @ b.T) / 0.5
            total += -(logits[i] - torch.logsumexp(logits, 0))
        return total / len(idx)

    expected = ref(z1.user, z2.user, [0, 3]) + ref(z1.item, z2.item, [1, 2])
    torch.testing.assert_close(out["ssl"], expected.detach())
    bpr_only = model.bpr_terms(batch, enc([adjacency(INTER)] * 2))
    torch.testing.assert_close(
        out["loss"], bpr_only["loss"] + 0.7 * expected, rtol=1e-5, atol=1e-6
    )


def test_sgl_views_per_layer_and_shared():
    enc = LightGCN(15, 12, dim=8, num_layers=3)
    g = torch.Generator().manual_seed(0)
    shared = SGL(enc, augment=EdgeDropout(0.2)).sample_views(INTER, g)
    assert len(shared) == 2 and all(len(v) == 3 for v in shared)
    assert shared[0][0] is shared[0][1]
    per = SGL(enc, augment=EdgeDropout(0.2, per_layer=True)).sample_views(INTER, g)
    assert per[0][0] is not per[0][1]
    nd = SGL(enc, augment=NodeDropout(0.2)).sample_views(INTER, g)
    assert nd[0][0]._nnz() < adjacency(INTER)._nnz()


def test_sgl_batch_negatives_and_sum_reduction():
    enc = LightGCN(15, 12, dim=8, num_layers=2)
    a = SGL(enc, augment=EdgeDropout(0.2), negatives="batch", reduction="sum")
    out = one_step(a)
    assert torch.isfinite(out["ssl"])
    with pytest.raises(ValueError, match="negatives"):
        SGL(enc, augment=EdgeDropout(0.1), negatives="some")
    with pytest.raises(TypeError, match="augment"):
        SGL(enc)
    with pytest.raises(TypeError, match="Augmentation"):
        SGL(enc, augment=None)
    with pytest.raises(ValueError, match="views"):
        a.loss(Batch(*[torch.tensor([0])] * 3), [adjacency(INTER)] * 2, None)


def test_uniform_noise_has_norm_eps_and_sign_of_input():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 16)
    y = uniform_noise(0.3, g)(x)
    d = y - x
    torch.testing.assert_close(d.norm(dim=1), torch.full((50,), 0.3))
    assert torch.all((d * x) >= 0)



def test_uniform_noise_equals_the_formula_and_passes_gradients_through():
    """The in-place noise gives the formula's values bit for bit; its backward is
    the identity (sign(x) has a zero gradient), zeros in ``x`` get no noise."""
    x = torch.randn(40, 16, dtype=torch.float64)
    x[3, 5] = 0.0
    x.requires_grad_(True)
    y = uniform_noise(0.2, torch.Generator().manual_seed(7))(x)
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(7),
                       dtype=x.dtype)
    expected = x + torch.sign(x) * torch.nn.functional.normalize(noise, dim=-1) * 0.2
    assert torch.equal(y, expected)
    assert y[3, 5] == 0.0
    w = torch.randn(40, 16, dtype=torch.float64)
    (y * w).sum().backward()
    assert torch.equal(x.grad, w)

def test_xsimgcl_contrasts_final_with_layer():
    enc = LightGCN(15, 12, dim=8, num_layers=3, include_ego=False)
    with pytest.raises(ValueError, match="contrast_layer"):
        XSimGCL(enc, contrast_layer=4)
    model = XSimGCL(enc, eps=0.0, contrast_layer=2, ssl_weight=1.0, tau=0.2,
                    ssl_warmup=0)
    batch = Batch(torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([5, 6]))
    out = model.loss(batch, [adjacency(INTER)] * 3, None, torch.Generator())
    clean = enc([adjacency(INTER)] * 3)
    layer = clean.layers[2]
    from graphcl_rec.losses import info_nce

    expected = info_nce(
        clean.user[[1, 2]], layer[:15][[1, 2]], torch.arange(2), 0.2
    ) + info_nce(clean.item[[3, 4]], layer[15:][[3, 4]], torch.arange(2), 0.2)
    torch.testing.assert_close(out["ssl"], expected.detach())


def test_simgcl_views_differ_and_clean_pass_for_ranking():
    model = SimGCL(LightGCN(15, 12, dim=8, num_layers=2), eps=0.1)
    out = one_step(model)
    assert out["ssl"] > 0
    a = model.embed([adjacency(INTER)] * 2)
    b = model.embed([adjacency(INTER)] * 2)
    assert torch.equal(a[0], b[0])


def test_queue_nce_reference_and_queue_fifo():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    queue = torch.nn.functional.normalize(torch.randn(5, 3, generator=g), dim=1)
    qn, kn = (torch.nn.functional.normalize(t, dim=1) for t in (q, k))
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ queue.T], 1) / 0.1
    ref = (torch.logsumexp(logits, 1) - logits[:, 0]).mean()
    torch.testing.assert_close(queue_nce(q, k, queue, 0.1), ref)
    model = MoCo(MF(15, 12, dim=8), queue_size=5)
    assert model.queue("user").shape == (0, 8)
    for s in range(3):
        one_step(model, seed=s)
        model.on_step_end()
    assert model.queue("user").shape == (5, 8)
    assert int(model.user_ptr) < 5


def test_byol_pairs_modes():
    for pairs in ("interaction", "node"):
        model = BYOL(
            LightGCN(15, 12, dim=8, num_layers=2), augment=EdgeDropout(0.1), pairs=pairs
        )
        out = one_step(model)
        assert 0 <= out["ssl"] <= 8
    with pytest.raises(ValueError, match="pairs"):
        BYOL(MF(3, 3, dim=2), pairs="x")
    with pytest.raises(ValueError, match="momentum"):
        BYOL(MF(3, 3, dim=2), momentum=1.5)


@pytest.mark.parametrize("obj", list(OBJECTIVES))
def test_learnability_on_checkerboard(obj, device):
    train, test = (part.to(device) for part in make_checkerboard(20))
    encoder = LightGCN(20, 20, dim=16, num_layers=2)
    # Two communities of ten items: a strong uniformity term (SimGCL's 0.5 is tuned
    # for ~40k items) fights the structure, so every objective uses weight 0.1 here.
    model = objective(obj, encoder, **({} if obj == "bpr" else {"ssl_weight": 0.1}))
    Trainer(
        epochs=40, batch_size=64, lr=0.05, k=[1], progress=False, sampler="interaction",
        device=device,
    ).fit(model, train, val=test)
    assert (
        evaluate(model, graph=train, target=test, exclude=train, k=[1])["hit@1"] >= 0.9
    )


def _row_case(model_cls, layers, **kwargs):
    """A graph large enough for the row-restricted path, a model without noise."""
    adjs = [adjacency(random_interactions(60, 90, 600))] * layers
    enc = LightGCN(60, 90, dim=8, num_layers=layers, include_ego=False)
    gen = torch.Generator().manual_seed(0)
    batch = Batch(*(torch.randint(0, n, (6,), generator=gen) for n in (60, 90, 90)))
    assert enc(adjs, rows=torch.arange(18)).rows is not None  # restricted path
    return adjs, enc, model_cls(enc, eps=0.0, ssl_warmup=0, **kwargs), batch


def _assert_same_loss_and_grad(enc, got_fn, ref_fn):
    """Runs both loss functions; their terms and ego gradients must agree."""
    got = got_fn()
    got["loss"].backward()
    grad = enc.embedding.weight.grad.clone()
    enc.embedding.weight.grad = None
    ref = ref_fn()
    ref["loss"].backward()
    for key in ("loss", "bpr", "reg", "ssl"):
        torch.testing.assert_close(got[key], ref[key])
    torch.testing.assert_close(grad, enc.embedding.weight.grad)


@pytest.mark.parametrize("negatives", ["batch", "all"])
@pytest.mark.parametrize("layers,contrast_layer", [(2, 1), (2, 2), (3, 1)])
def test_xsimgcl_row_restricted_loss_equals_full_forward(negatives, layers,
                                                         contrast_layer):
    """Without noise (eps=0) the batch-rows path must give the full path's numbers."""
    adjs, enc, model, batch = _row_case(XSimGCL, layers, negatives=negatives,
                                        contrast_layer=contrast_layer)

    def full():  # the full path, written out
        out = enc(adjs)
        return model.combine(model.bpr_terms(batch, out), model.contrast(
            batch, out, out.layer(contrast_layer)))

    _assert_same_loss_and_grad(
        enc, lambda: model.loss(batch, adjs, None, torch.Generator()), full)


def test_row_restricted_last_layer_is_perturbed_with_norm_eps():
    inter = random_interactions(60, 90, 600)
    adjs = [adjacency(inter)]  # one layer: the restricted one
    enc = LightGCN(60, 90, dim=8, num_layers=1)
    rows = torch.tensor([0, 5, 70, 149])
    clean = enc(adjs, rows=rows)
    noisy = enc(adjs, rows=rows, perturb=uniform_noise(0.2, torch.Generator()))
    assert clean.rows is not None
    torch.testing.assert_close(noisy.layer(0).final, clean.layer(0).final)
    diff = noisy.layer(1).final - clean.layer(1).final
    torch.testing.assert_close(diff.norm(dim=1), torch.full((4,), 0.2))
    # the noise follows the sign of the input
    assert ((diff * clean.layer(1).final) >= 0).all()


@pytest.mark.parametrize("negatives", ["batch", "all"])
def test_simgcl_row_restricted_loss_equals_full_forward(negatives):
    """Without noise (eps=0) SimGCL's batch-rows views give the full passes' loss."""
    adjs, enc, model, batch = _row_case(SimGCL, 3, negatives=negatives)

    def full():
        out = enc(adjs)
        return model.combine(model.bpr_terms(batch, out), model.contrast(
            batch, out, out))

    _assert_same_loss_and_grad(
        enc, lambda: model.loss(batch, adjs, None, torch.Generator()), full)


@pytest.mark.parametrize("negatives", ["all", "batch"])
@pytest.mark.parametrize("layers", [1, 3])
def test_sgl_anchor_rows_of_first_view_equal_full_views(layers, negatives):
    """SGL propagates view 1 (and with in-batch negatives view 2) for the anchors
    only; same loss and grads as full views."""
    inter = random_interactions(60, 90, 600)
    adjs = [adjacency(inter)] * layers
    enc = LightGCN(60, 90, dim=8, num_layers=layers)
    model = SGL(enc, augment=EdgeDropout(0.2), negatives=negatives, ssl_warmup=0)
    gen = torch.Generator().manual_seed(0)
    views = model.sample_views(inter, gen)
    batch = Batch(*(torch.randint(0, n, (6,), generator=gen) for n in (60, 90, 90)))
    assert enc(views[0], rows=model.anchor_rows(batch)).rows is not None

    def full():
        z1, z2 = enc(views[0]), enc(views[1])
        return model.combine(model.bpr_terms(batch, enc(adjs)), model.contrast(
            batch, z1, z2))

    _assert_same_loss_and_grad(enc, lambda: model.loss(batch, adjs, views, gen), full)


@pytest.mark.parametrize("obj", ["sgl", "simgcl", "xsimgcl"])
def test_sync_free_anchor_weights_give_the_same_step(obj, monkeypatch, device):
    """The GPU path (repeats weighted 0, no torch.unique) equals the CPU path."""
    import graphcl_rec.contrast.base as base
    real = base.unique_anchors
    results = []
    for forced in (False, True):
        monkeypatch.setattr(base, "unique_anchors",
                            lambda ids, sync_free, f=forced: real(ids, f))
        torch.manual_seed(0)
        model = objective(obj, encoder_of("lightgcn", LightGCN), negatives="all")
        model = model.double().to(device)
        inter = INTER.to(device)
        g = torch.Generator(device=device).manual_seed(0)
        adjs = [adjacency(inter).double()] * model.encoder.num_layers
        views = model.sample_views(inter, g)
        if views is not None:
            views = [[v.double() for v in view] for view in views]
        batch = next(iter(PairSampler(inter, batch_size=48).epoch(g)))
        assert batch.user.unique().numel() < batch.user.numel()  # repeats exist
        out = model.loss(batch, adjs, views, g)
        out["loss"].backward()
        results.append((out["ssl"], model.encoder.embedding.weight.grad))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


@pytest.mark.parametrize("obj,negatives", [("sgl", "all"), ("simgcl", "batch"),
                                           ("xsimgcl", "batch")])
def test_nce_precision_bfloat16_step_is_close_to_full(obj, negatives):
    results = []
    for precision in ("full", "bfloat16"):
        torch.manual_seed(0)
        model = objective(obj, encoder_of("lightgcn", LightGCN), negatives=negatives,
                          nce_precision=precision)
        out = one_step(model)
        out["loss"].backward()
        results.append((out["ssl"], model.encoder.embedding.weight.grad))
    (ssl32, g32), (ssl16, g16) = results
    assert not torch.equal(g32, g16)
    # bf16 operands carry 8 significant bits, so each logit (|cos| / tau <= 1 / tau)
    # moves by a few 2^-8 / tau at worst; the errors' random signs mostly cancel
    # (0.004 seen for SimGCL here, against the 0.0195 allowed).
    torch.testing.assert_close(ssl16, ssl32, rtol=0, atol=2**-8 / model.tau)
    assert (g16 - g32).norm() / g32.norm() < 2e-2
    assert "nce_precision='bfloat16'" in repr(model)


def test_nce_precision_is_validated_and_reachable_from_config():
    from graphcl_rec.cli.build import build_model
    with pytest.raises(ValueError, match=r"nce_precision 'fp8' among choices "
                                         r"\['full', 'bfloat16'\]"):
        objective("sgl", encoder_of("lightgcn", LightGCN), nce_precision="fp8")
    model = build_model({"objective": "sgl", "nce_precision": "bfloat16",
                         "encoder": {"name": "lightgcn", "dim": 8, "num_layers": 2},
                         "augment": {"name": "edge_dropout", "p": 0.1}},
                        INTER.num_users, INTER.num_items)
    assert model.nce_precision == "bfloat16"


@pytest.mark.parametrize("obj", ["sgl", "simgcl", "xsimgcl", "moco", "byol"])
def test_ssl_warmup_ramps_the_contrastive_weight(obj):
    enc = encoder_of("lightgcn", LightGCN)
    model = objective(obj, enc, ssl_warmup=4, ssl_weight=0.8)
    assert "ssl_warmup=4" in repr(model) or obj in ("moco", "byol")
    seen = []
    for step in range(6):
        out = one_step(model, seed=0)
        if out["ssl"] > 1e-6:  # MoCo's first step has an empty queue: no term
            rest = out["loss"].detach() - out["bpr"] - model.reg_weight * out["reg"]
            weight = rest / out["ssl"]
            seen.append((weight, 0.8 * min(1.0, step / 4)))
        model.on_step_end()
    assert len(seen) >= 5
    torch.testing.assert_close(torch.stack([w for w, _ in seen]),
                               torch.tensor([e for _, e in seen]), atol=1e-4,
                               rtol=1e-3)
    assert int(model.ssl_step) == 6 and "ssl_step" in model.state_dict()
    model.reset_parameters()
    assert int(model.ssl_step) == 0
    with pytest.raises(ValueError, match="ssl_warmup"):
        objective(obj, enc, ssl_warmup=-1)


def test_repr_names_the_negative_selection_only_when_set():
    from graphcl_rec.contrast import XSimGCL
    from graphcl_rec.models import LightGCN

    enc = LightGCN(5, 6, dim=4, num_layers=2)
    assert "hard_negatives='mixgcf'" in repr(XSimGCL(enc, hard_negatives="mixgcf"))
    assert "hard_negatives" not in repr(XSimGCL(enc))


@pytest.mark.parametrize("negatives", ["batch", "all"])
def test_simgcl_shared_first_layer_gives_the_separate_passes_loss(negatives,
                                                                  monkeypatch):
    """SimGCL's three passes share one first-layer product: the loss of three
    separate passes (same noise draws), gradients to float rounding."""
    import contextlib

    inter = random_interactions(60, 90, 600)
    adjs = [adjacency(inter)] * 3
    batch = Batch(torch.tensor([1, 5, 9]), torch.tensor([2, 40, 7]),
                  torch.tensor([3, 3, 80]))

    def run(shared):
        torch.manual_seed(0)
        model = SimGCL(LightGCN(60, 90, dim=8, num_layers=3, include_ego=False),
                       eps=0.1, negatives=negatives, ssl_warmup=0)
        if not shared:
            monkeypatch.setattr(model.encoder, "sharing_first_layer",
                                contextlib.nullcontext)
        terms = model.loss(batch, adjs, None, torch.Generator().manual_seed(3))
        terms["loss"].backward()
        return terms["loss"].detach(), model.encoder.embedding.weight.grad

    (l1, g1), (l0, g0) = run(True), run(False)
    assert torch.equal(l1, l0)
    torch.testing.assert_close(g1, g0)
