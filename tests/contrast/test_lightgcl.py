import math

import pytest
import torch

from graphcl_rec.contrast import LightGCL
from graphcl_rec.contrast.lightgcl import normalized_interactions
from graphcl_rec.data import Interactions
from graphcl_rec.data.sampling import Batch
from graphcl_rec.graph import adjacency
from graphcl_rec.models import MF, LightGCN
from tests.conftest import random_interactions

INTER = random_interactions(15, 12, 60)
BATCH = Batch(torch.tensor([3, 0, 3, 7]), torch.tensor([1, 2, 5, 1]),
              torch.tensor([0, 2, 9, 4]))


def make(encoder="lightgcn", layers=2, **kwargs):
    torch.manual_seed(0)
    enc = (MF(15, 12, dim=6) if encoder == "mf"
           else LightGCN(15, 12, dim=6, num_layers=layers))
    kwargs.setdefault("ssl_warmup", 0)
    return LightGCL(enc, **kwargs).double()


def dense_r(inter):
    """The normalised interaction matrix, entry by entry."""
    pairs = list(zip(inter.user.tolist(), inter.item.tolist()))
    deg_u = {u: sum(1 for a, _ in pairs if a == u) for u, _ in pairs}
    deg_i = {i: sum(1 for _, b in pairs if b == i) for _, i in pairs}
    r = torch.zeros(inter.num_users, inter.num_items, dtype=torch.float64)
    for u, i in pairs:
        r[u, i] = 1 / math.sqrt(deg_u[u] * deg_i[i])
    return r


def test_normalized_interactions_is_the_user_item_block_of_the_adjacency():
    r = normalized_interactions(INTER).to_dense()
    torch.testing.assert_close(r, adjacency(INTER).to_dense()[:15, 15:])
    torch.testing.assert_close(r.double(), dense_r(INTER), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("encoder", ["mf", "lightgcn"])
@pytest.mark.parametrize("negatives", ["all", "batch"])
def test_loss_equals_reference_formula(encoder, negatives):
    model = make(encoder, rank=3, tau=0.5, ssl_weight=0.7, reg_weight=0.3,
                 negatives=negatives)
    enc = model.encoder
    assert model.sample_views(INTER, torch.Generator()) is None
    got = model.loss(BATCH, [adjacency(INTER, torch.float64)] * enc.num_layers, None)

    with torch.no_grad():
        ssl, bpr, reg = reference_terms(model, negatives)
    assert got["ssl"].item() == pytest.approx(ssl, rel=1e-9)
    assert got["loss"].item() == pytest.approx(bpr + 0.3 * reg + 0.7 * ssl, rel=1e-9)


def reference_terms(model, negatives, dot=False):
    """InfoNCE, BPR and L2 of BATCH from dense matrices and loops.

    With ``dot``: the authors' dot products with the positive logit clamped to
    [-5, 5], and the number of clamped positives is returned too.
    """
    enc = model.encoder
    r = dense_r(INTER)
    rq = model.svd_u @ torch.diag(model.svd_s) @ model.svd_v.T
    a = torch.zeros(27, 27, dtype=torch.float64)
    a[:15, 15:], a[15:, :15] = r, r.T
    layers = [enc.embedding.weight]
    for _ in range(enc.num_layers):
        layers.append(a @ layers[-1])
    e = sum(layers) / len(layers)  # the graph view
    s = sum(layers[:max(enc.num_layers, 1)])
    g = torch.cat([layers[0][:15] + rq @ s[15:], layers[0][15:] + rq.T @ s[:15]])

    clamped = 0

    def sim(x, y):
        return float(x @ y) if dot else float(x @ y / x.norm() / y.norm())

    def nce(anchors, offset, size):
        nonlocal clamped
        everyone = list(range(size)) if negatives == "all" else anchors
        total = 0.0
        for v in anchors:
            gv = g[offset + v]
            logit = {w: sim(gv, e[offset + w]) / 0.5 for w in everyone}
            pos = min(max(logit[v], -5.0), 5.0) if dot else logit[v]
            clamped += pos != logit[v]
            total += math.log(sum(math.exp(x) for x in logit.values())) - pos
        return total / len(anchors)

    ssl = nce([0, 3, 7], 0, 15) + nce([0, 1, 2, 4, 5, 9], 15, 12)  # items: pos + neg
    bpr = -sum(math.log(torch.sigmoid(e[u] @ e[15 + i] - e[u] @ e[15 + j]).item())
               for u, i, j in zip(*(t.tolist() for t in BATCH))) / 4
    ego = enc.embedding.weight
    reg = 0.5 * sum(ego[u].pow(2).sum() + ego[15 + i].pow(2).sum()
                    + ego[15 + j].pow(2).sum()
                    for u, i, j in zip(*(t.tolist() for t in BATCH))).item() / 4
    return (ssl, bpr, reg, clamped) if dot else (ssl, bpr, reg)


def test_truncated_svd_is_close_to_the_exact_one_and_full_rank_is_the_graph():
    r = dense_r(INTER)
    exact = torch.linalg.svdvals(r)
    model = make(rank=3)
    model.sample_views(INTER, torch.Generator())
    assert model.svd_u.shape == (15, 3) and model.svd_v.shape == (12, 3)
    # a randomized estimate (svd_lowrank, 2 power iterations, no oversampling):
    # each value at most the exact one, the leading one (1 for this
    # normalisation) nearly exact, all within 10 %
    assert (model.svd_s <= exact[:3] + 1e-12).all()
    assert model.svd_s[0].item() == pytest.approx(1.0, abs=1e-3)
    torch.testing.assert_close(model.svd_s, exact[:3], rtol=0.1, atol=0)
    # at full rank the reconstruction is the matrix, so for LightGCN the SVD view
    # equals the graph view times L + 1: every anchor's positive cosine is 1
    full = make(rank=12, layers=2)
    full.sample_views(INTER, torch.Generator())
    torch.testing.assert_close(
        full.svd_u @ torch.diag(full.svd_s) @ full.svd_v.T, r, atol=1e-10, rtol=0)
    out = full.encoder([adjacency(INTER, torch.float64)] * 2)
    torch.testing.assert_close(full.svd_view(out).final, 3 * out.final)


def test_svd_is_cached_and_recomputed_when_the_graph_changes(monkeypatch):
    calls = []
    real = torch.svd_lowrank
    monkeypatch.setattr(torch, "svd_lowrank",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    model = make(rank=3)
    state = torch.get_rng_state()
    model.sample_views(INTER, torch.Generator())
    model.sample_views(INTER, torch.Generator())
    assert len(calls) == 1
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is untouched
    first = model.svd_u.clone()
    smaller = INTER.subset(torch.arange(len(INTER)) > 0)
    model.sample_views(smaller, torch.Generator())
    assert len(calls) == 2 and not torch.equal(first, model.svd_u)
    other = make(rank=3)  # a second model: the same factors (seeded, on the CPU)
    torch.manual_seed(123)
    other.sample_views(smaller, torch.Generator())
    assert torch.equal(other.svd_u, model.svd_u)
    assert model.svd_u.dtype == torch.float64  # follows the embeddings


def test_buffers_stay_out_of_the_state_dict_and_loss_needs_the_svd():
    model = make(rank=3)
    adjs = [adjacency(INTER, torch.float64)] * 2
    with pytest.raises(ValueError, match="sample_views"):
        model.loss(BATCH, adjs, None)
    model.sample_views(INTER, torch.Generator())
    before = model.loss(BATCH, adjs, None)["loss"]
    assert not any(k.startswith("svd_") for k in model.state_dict())
    fresh = make(rank=3)
    fresh.load_state_dict(model.state_dict())
    fresh.sample_views(INTER, torch.Generator())
    torch.testing.assert_close(fresh.loss(BATCH, adjs, None)["loss"], before)


def test_graph_and_rank_are_checked():
    bigger = Interactions(torch.tensor([15]), torch.tensor([0]), 16, 12)
    with pytest.raises(ValueError, match="16 users"):
        make(rank=3).sample_views(bigger, torch.Generator())
    with pytest.raises(ValueError, match=r"'rank' must be <= min\(num_users, "):
        make(rank=13).sample_views(INTER, torch.Generator())
    for rank in (0, -2, 2.5, True, "5"):
        with pytest.raises(ValueError, match="'rank'"):
            make(rank=rank)


def test_ssl_warmup_ramps_the_contrastive_weight():
    model = make(rank=3, ssl_warmup=4, ssl_weight=0.8)
    model.sample_views(INTER, torch.Generator())
    adjs = [adjacency(INTER, torch.float64)] * 2
    for step in range(6):
        out = model.loss(BATCH, adjs, None)
        rest = out["loss"].detach() - out["bpr"] - model.reg_weight * out["reg"]
        assert (rest / out["ssl"]).item() == pytest.approx(0.8 * min(1, step / 4))
        model.on_step_end()
    assert "rank=3" in repr(model) and "ssl_warmup=4" in repr(model)


def test_config_builds_it():
    from graphcl_rec.cli.build import build_model

    model = build_model({"objective": "lightgcl", "rank": 4, "ssl_weight": 0.1,
                         "encoder": {"name": "lightgcn", "dim": 8, "num_layers": 2}},
                        15, 12)
    assert isinstance(model, LightGCL) and model.rank == 4


def test_update_of_a_served_model_refactorises_the_grown_graph():
    from graphcl_rec.serve import TrainedRecommender
    from tests.serve.conftest import with_ids

    small = with_ids(random_interactions(20, 15, 90, seed=1))
    torch.manual_seed(0)
    model = LightGCL(LightGCN(20, 15, dim=8, num_layers=2), rank=3)
    model.sample_views(small, torch.Generator())
    assert model.svd_u.shape == (20, 3)
    rec = TrainedRecommender(model, small)
    rec.update([("u1", "i14"), ("new0", "i2"), ("new0", "newitem")], epochs=1)
    assert model.svd_u.shape == (21, 3) and model.svd_v.shape == (16, 3)
    torch.testing.assert_close(model.svd_s[0], torch.tensor(1.0), atol=0.05, rtol=0)


@pytest.mark.parametrize("negatives", ["all", "batch"])
def test_dot_similarity_equals_the_authors_formula(negatives):
    model = make(rank=3, tau=0.5, ssl_weight=0.7, reg_weight=0.3,
                 negatives=negatives, similarity="dot")
    with torch.no_grad():  # rows large enough that some positive logits pass 5
        model.encoder.embedding.weight.mul_(8)
    model.sample_views(INTER, torch.Generator())
    got = model.loss(BATCH, [adjacency(INTER, torch.float64)] * 2, None)
    with torch.no_grad():
        ssl, bpr, reg, clamped = reference_terms(model, negatives, dot=True)
    assert clamped > 0  # the clamp is exercised
    assert got["ssl"].item() == pytest.approx(ssl, rel=1e-9)
    assert got["loss"].item() == pytest.approx(bpr + 0.3 * reg + 0.7 * ssl, rel=1e-9)
    cosine = make(rank=3, tau=0.5, negatives=negatives)
    cosine.load_state_dict(model.state_dict())
    cosine.sample_views(INTER, torch.Generator())
    other = cosine.loss(BATCH, [adjacency(INTER, torch.float64)] * 2, None)
    assert other["ssl"].item() != pytest.approx(ssl, rel=1e-3)


def test_dot_similarity_gradient_stops_at_the_clamp():
    model = make(rank=3, tau=0.5, similarity="dot")
    anchor = torch.tensor([[4.0, 0.0], [0.1, 0.0]], dtype=torch.float64,
                          requires_grad=True)
    candidates = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    loss = model.nce(anchor, candidates, torch.tensor([0, 0]), None)
    loss.backward()
    # anchor 0: positive logit 8 > 5, so only the denominator pulls (away from
    # its positive); anchor 1: logit 0.2, the usual InfoNCE pull towards it
    assert anchor.grad[0, 0] > 0 and anchor.grad[1, 0] < 0
    soft = torch.softmax(torch.tensor([8.0, 0.0], dtype=torch.float64), 0)
    torch.testing.assert_close(anchor.grad[0], soft @ candidates / 0.5 / 2)


def test_similarity_is_checked_and_shown():
    with pytest.raises(ValueError, match="similarity 'l2'"):
        make(similarity="l2")
    assert "similarity='dot'" in repr(make(similarity="dot"))
    assert "similarity" not in repr(make())
