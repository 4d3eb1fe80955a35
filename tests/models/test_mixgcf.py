import inspect

import pytest
import torch
import torch.nn.functional as F

from graphcl_rec.augment import EdgeDropout
from graphcl_rec.contrast import uniform_noise
from graphcl_rec.data.sampling import Batch, PairSampler
from graphcl_rec.eval import evaluate
from graphcl_rec.graph import adjacency
from graphcl_rec.models import ENCODERS, OBJECTIVES, SGC, BPRRecommender, LightGCN
from graphcl_rec.models.mixgcf import check_hard_negatives, mixgcf_negatives
from graphcl_rec.train import Trainer
from tests.conftest import make_checkerboard, random_interactions

INTER = random_interactions(15, 12, 60)
BATCH = Batch(torch.tensor([0, 3, 3, 9]), torch.tensor([1, 2, 5, 7]),
              torch.tensor([[4, 6, 8], [0, 11, 3], [9, 10, 2], [1, 5, 6]]))


def _encoders():
    yield LightGCN(15, 12, dim=6, num_layers=2)
    yield LightGCN(15, 12, dim=6, num_layers=3, include_ego=False)
    yield SGC(15, 12, dim=6, num_layers=2, linear=True)
    for name, cls in ENCODERS.items():
        yield cls(15, 12, dim=6, **({} if name == "mf" else {"num_layers": 2}))


@pytest.mark.parametrize("perturbed", [False, True])
@pytest.mark.parametrize("enc", list(_encoders()), ids=repr)
def test_every_encoder_pools_its_layers_as_its_forward(enc, perturbed):
    """MixGCF pools synthetic layers with Encoder.pool: it must be forward's rule."""
    noise = uniform_noise(0.1, torch.Generator().manual_seed(0)) if perturbed else None
    adjs = [adjacency(INTER)] * enc.num_layers
    out = enc(adjs, perturb=noise)
    torch.testing.assert_close(enc.pool(out.layers), out.final)


def _reference(out, user, pos, neg, alpha, num_layers, include_ego):
    """MixGCF written out: mix every candidate with the positive, score each mixture
    against the user, keep each layer's best, average the layers as LightGCN does
    (0..L, or 1..L without the ego layer)."""
    chosen_layers = []
    for layer in range(num_layers + 1):
        emb = out.layers[layer][15:]
        picked = []
        for b in range(len(pos)):
            a = alpha[b, layer]
            mixes = [a * emb[pos[b]] + (1 - a) * emb[m] for m in neg[b]]
            scores = torch.stack([user[b] @ x for x in mixes])
            picked.append(mixes[int(scores.argmax())])
        chosen_layers.append(torch.stack(picked))
    pooled = chosen_layers if include_ego else chosen_layers[1:]
    return torch.stack(pooled).mean(0), chosen_layers[0]


@pytest.mark.parametrize("include_ego", [True, False])
def test_mixgcf_negatives_equal_the_written_out_mixing(include_ego):
    enc = LightGCN(15, 12, dim=6, num_layers=2, include_ego=include_ego)
    model = BPRRecommender(enc, reg_weight=0.3, hard_negatives="mixgcf")
    adjs = [adjacency(INTER)] * 2
    out = enc(adjs)
    user = out.users(BATCH.user)
    alpha = torch.rand(4, 3, 1, generator=torch.Generator().manual_seed(5))[..., 0]
    ref_neg, ref_ego = _reference(out, user, BATCH.pos, BATCH.neg, alpha, 2,
                                  include_ego)
    neg, ego = mixgcf_negatives(out, user, BATCH.pos, BATCH.neg, enc.pool,
                                torch.Generator().manual_seed(5))
    torch.testing.assert_close(neg, ref_neg)
    torch.testing.assert_close(ego, ref_ego)
    got = model.loss(BATCH, adjs, None, torch.Generator().manual_seed(5))
    pos_emb = out.items(BATCH.pos)
    ref_bpr = -F.logsigmoid((user * pos_emb).sum(1) - (user * ref_neg).sum(1)).mean()
    ego_u, ego_i = enc.ego()
    ref_reg = 0.5 * (ego_u[BATCH.user].pow(2).sum() + ego_i[BATCH.pos].pow(2).sum()
                     + ref_ego.pow(2).sum()) / 4
    torch.testing.assert_close(got["bpr"], ref_bpr.detach())
    torch.testing.assert_close(got["reg"], ref_reg.detach())
    torch.testing.assert_close(got["loss"], (ref_bpr + 0.3 * ref_reg).detach())


def test_mixgcf_gradient_reaches_positive_and_chosen_candidates_only():
    enc = LightGCN(15, 12, dim=6, num_layers=0)  # one layer: one chosen candidate
    model = BPRRecommender(enc, reg_weight=0.0, hard_negatives="mixgcf")
    batch = Batch(torch.tensor([0]), torch.tensor([1]), torch.tensor([[4, 6, 8]]))
    model.loss(batch, [], None, torch.Generator().manual_seed(0))["loss"].backward()
    touched = set(torch.nonzero(enc.embedding.weight.grad.abs().sum(1)).flatten()
                  .tolist())
    item_emb = enc.embedding.weight[15:].detach()
    best = 15 + [4, 6, 8][int((item_emb[[4, 6, 8]] @ enc.embedding.weight[0]).argmax())]
    assert touched == {0, 16, best}


def test_mixgcf_is_reproducible_and_one_dimensional_negatives_are_one_candidate():
    enc = LightGCN(15, 12, dim=6, num_layers=2)
    model = BPRRecommender(enc, hard_negatives="mixgcf")
    adjs = [adjacency(INTER)] * 2
    runs = [model.loss(BATCH, adjs, None, torch.Generator().manual_seed(s))["loss"]
            for s in (1, 1, 2)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
    flat = Batch(BATCH.user, BATCH.pos, BATCH.neg[:, 0])
    one = model.loss(flat, adjs, None, torch.Generator().manual_seed(1))
    column = Batch(BATCH.user, BATCH.pos, BATCH.neg[:, :1])
    torch.testing.assert_close(
        one["loss"], model.loss(column, adjs, None,
                                torch.Generator().manual_seed(1))["loss"])


@pytest.mark.parametrize("include_ego", [True, False])
def test_mixgcf_on_the_row_restricted_output_equals_the_full_forward(include_ego):
    inter = random_interactions(60, 90, 600)
    adjs = [adjacency(inter)] * 3
    enc = LightGCN(60, 90, dim=8, num_layers=3, include_ego=include_ego)
    model = BPRRecommender(enc, reg_weight=0.1, hard_negatives="mixgcf")
    gen = torch.Generator().manual_seed(0)
    batch = Batch(torch.randint(0, 60, (5,), generator=gen),
                  torch.randint(0, 90, (5,), generator=gen),
                  torch.randint(0, 90, (5, 2), generator=gen))
    assert enc(adjs, rows=model.batch_rows(batch)).rows is not None
    got = model.loss(batch, adjs, None, torch.Generator().manual_seed(3))
    got["loss"].backward()
    grad = enc.embedding.weight.grad.clone()
    enc.embedding.weight.grad = None
    ref = model.bpr_terms(batch, enc(adjs), torch.Generator().manual_seed(3))
    ref["loss"].backward()
    for key in ("loss", "bpr", "reg"):
        torch.testing.assert_close(got[key], ref[key])
    torch.testing.assert_close(grad, enc.embedding.weight.grad)


WITH_HARD = [n for n, c in OBJECTIVES.items()
             if "hard_negatives" in inspect.signature(c).parameters]


@pytest.mark.parametrize("obj", WITH_HARD)
def test_every_objective_scoring_negatives_takes_mixgcf(obj):
    cls = OBJECTIVES.get(obj)
    params = inspect.signature(cls).parameters
    kwargs = {"hard_negatives": "mixgcf"}
    if "augment" in params and params["augment"].default is inspect.Parameter.empty:
        kwargs["augment"] = EdgeDropout(0.2)
    model = cls(LightGCN(15, 12, dim=8, num_layers=2), **kwargs)
    g = torch.Generator().manual_seed(0)
    views = model.sample_views(INTER, g)
    batch = next(iter(PairSampler(INTER, batch_size=16, num_negatives=4).epoch(g)))
    out = model.loss(batch, [adjacency(INTER)] * 2, views, g)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert model.encoder.embedding.weight.grad.abs().sum() > 0
    assert model.hard_negatives == "mixgcf"


@pytest.mark.parametrize("value", ["mix", 1, None, "MixGCF"])
def test_unknown_hard_negatives_are_refused(value):
    with pytest.raises(ValueError, match="hard_negatives"):
        check_hard_negatives(value)
    with pytest.raises(ValueError, match="among choices"):
        BPRRecommender(LightGCN(2, 2, dim=2, num_layers=1), hard_negatives=value)
    assert check_hard_negatives("hardest") == "hardest"
    assert "hard_negatives='mixgcf'" in repr(
        BPRRecommender(LightGCN(2, 2, dim=2, num_layers=1), hard_negatives="mixgcf"))


def test_hardest_as_a_string_is_the_dynamic_negative_sampling():
    enc = LightGCN(15, 12, dim=6, num_layers=2)
    adjs = [adjacency(INTER)] * 2
    a = BPRRecommender(enc, hard_negatives=True).loss(BATCH, adjs, None)
    b = BPRRecommender(enc, hard_negatives="hardest").loss(BATCH, adjs, None)
    torch.testing.assert_close(a["loss"], b["loss"])


def test_mixgcf_from_a_config_table():
    from graphcl_rec.cli.build import build_model
    from graphcl_rec.cli.model_schema import check_model

    table = {"objective": "bpr", "hard_negatives": "mixgcf",
             "encoder": {"name": "lightgcn", "dim": 8, "num_layers": 2}}
    check_model(table)
    assert build_model(table, 15, 12).hard_negatives == "mixgcf"


def test_lightgcn_with_mixgcf_negatives_learns_the_checkerboard():
    train, test = make_checkerboard(20)
    model = BPRRecommender(LightGCN(20, 20, dim=16, num_layers=2),
                           hard_negatives="mixgcf")
    Trainer(epochs=40, batch_size=64, lr=0.05, k=[1], progress=False,
            sampler="interaction", num_negatives=4).fit(model, train, val=test)
    assert evaluate(model, graph=train, target=test, exclude=train,
                    k=[1])["hit@1"] >= 0.9


def _mixgcf_model(obj):
    """``obj`` at its defaults with MixGCF negatives on a 2-layer LightGCN."""
    cls = OBJECTIVES.get(obj)
    params = inspect.signature(cls).parameters
    kwargs = {"hard_negatives": "mixgcf"}
    if "augment" in params and params["augment"].default is inspect.Parameter.empty:
        kwargs["augment"] = EdgeDropout(0.2)
    return cls(LightGCN(15, 12, dim=8, num_layers=2), **kwargs)


@pytest.mark.parametrize("obj", WITH_HARD)
def test_every_objective_draws_mixgcf_from_the_step_generator(obj):
    """The synthesis must use the generator handed to ``loss``, not torch's global
    one: the same step generator gives the same loss whatever the global state,
    another one a different loss."""
    model = _mixgcf_model(obj)
    g = torch.Generator().manual_seed(0)
    views = model.sample_views(INTER, g)
    batch = next(iter(PairSampler(INTER, batch_size=16, num_negatives=4).epoch(g)))
    assert batch.neg.shape == (16, 4)
    adjs = [adjacency(INTER)] * 2
    losses = []
    for global_seed, step_seed in ((1, 7), (2, 7), (1, 8)):
        torch.manual_seed(global_seed)
        out = model.loss(batch, adjs, views, torch.Generator().manual_seed(step_seed))
        losses.append(out["loss"])
    assert torch.isfinite(losses[0])
    assert torch.equal(losses[0].detach(), losses[1].detach())
    assert not torch.equal(losses[0].detach(), losses[2].detach())
    model.zero_grad()
    losses[0].backward()
    assert model.encoder.embedding.weight.grad.abs().sum() > 0


def _fit_one_epoch(obj, disturb):
    """One epoch (4 steps, 4 candidates per pair) of ``obj`` with MixGCF negatives.

    ``disturb`` numbers are drawn from torch's global generator after each epoch's
    ``sample_views``, which moves it without touching the run's generator.
    """
    torch.manual_seed(0)
    model = _mixgcf_model(obj)
    start = model.encoder.embedding.weight.detach().clone()
    sample_views = model.sample_views

    def disturbed_views(inter, generator):
        views = sample_views(inter, generator)
        torch.rand(disturb)
        return views

    model.sample_views = disturbed_views
    history = Trainer(epochs=1, batch_size=16, lr=0.01, sampler="interaction",
                      num_negatives=4, device="cpu", seed=3,
                      progress=False).fit(model, INTER)
    moved = not torch.equal(model.encoder.embedding.weight.detach(), start)
    return history.records[0], moved


@pytest.mark.parametrize("obj", WITH_HARD)
def test_every_objective_trains_with_mixgcf_reproducibly(obj):
    first, moved = _fit_one_epoch(obj, disturb=1)
    second, _ = _fit_one_epoch(obj, disturb=5)
    assert moved
    assert first["loss"] == first["loss"] and abs(first["loss"]) < float("inf")
    terms = {k: v for k, v in first.items() if k != "train_seconds"}
    assert terms == {k: v for k, v in second.items() if k != "train_seconds"}


@pytest.mark.parametrize("obj", WITH_HARD)
def test_every_objective_refuses_an_unknown_hard_negatives_naming_it(obj):
    cls = OBJECTIVES.get(obj)
    kwargs = {"augment": EdgeDropout(0.2)} if obj == "sgl" else {}
    with pytest.raises(ValueError, match=r"'MixGCF' among choices .*'mixgcf'"):
        cls(LightGCN(15, 12, dim=8, num_layers=2), hard_negatives="MixGCF", **kwargs)


@pytest.mark.parametrize("obj", WITH_HARD)
def test_every_objective_takes_mixgcf_from_a_config_table(obj):
    from graphcl_rec.cli.build import build_model
    from graphcl_rec.cli.model_schema import check_model

    table = {"objective": obj, "hard_negatives": "mixgcf",
             "encoder": {"name": "lightgcn", "dim": 8, "num_layers": 2}}
    if obj == "sgl":
        table["augment"] = {"name": "edge_dropout", "p": 0.2}
    check_model(table)
    assert build_model(table, 15, 12).hard_negatives == "mixgcf"


@pytest.mark.parametrize("model", [
    'objective = "sgl"\nhard_negatives = "mixgcf"\n'
    '[model.augment]\nname = "edge_dropout"\np = 0.1\n',
    'objective = "simgcl"\nhard_negatives = "mixgcf"\n',
], ids=["sgl", "simgcl"])
def test_a_run_config_with_mixgcf_negatives_is_accepted(tmp_path, model):
    from graphcl_rec.cli.build import build_model
    from graphcl_rec.cli.config import load_config

    path = tmp_path / "mixgcf.toml"
    path.write_text("[train]\nnum_negatives = 8\n[model]\n" + model
                    + '[model.encoder]\nname = "lightgcn"\ndim = 8\nnum_layers = 2\n')
    cfg = load_config(path)
    assert cfg.model["hard_negatives"] == "mixgcf" and cfg.train.num_negatives == 8
    assert build_model(cfg.model, 15, 12).hard_negatives == "mixgcf"
