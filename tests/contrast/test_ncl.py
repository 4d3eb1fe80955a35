import logging

import pytest
import torch
import torch.nn.functional as F

from graphcl_rec.contrast import NCL
from graphcl_rec.data.sampling import Batch
from graphcl_rec.eval import evaluate
from graphcl_rec.graph import adjacency
from graphcl_rec.models import MF, SGC, LightGCN
from graphcl_rec.train import Trainer
from tests.conftest import make_checkerboard, random_interactions

INTER = random_interactions(9, 11, 50)
BATCH = Batch(torch.tensor([0, 3, 3, 7]), torch.tensor([1, 2, 1, 10]),
              torch.tensor([4, 5, 6, 0]))


def _nce(anchor, candidates, target, tau):
    """-log softmax of cos(anchor, candidate) / tau at the target, one row at a time."""
    total = 0.0
    for a, t in zip(anchor, target):
        logits = torch.stack([F.cosine_similarity(a, c, dim=0) for c in candidates])
        logits = logits / tau
        total = total - (logits[t] - torch.logsumexp(logits, 0))
    return total / len(target)


def _model(negatives="all", layers=2, **kwargs):
    torch.manual_seed(0)
    enc = LightGCN(9, 11, dim=6, num_layers=layers)
    kwargs = {"tau": 0.3, "ssl_weight": 0.7, "proto_weight": 0.4, "alpha": 1.5,
              "num_clusters": 3, "proto_warmup": 0, "ssl_warmup": 0,
              "negatives": negatives, **kwargs}
    return enc, NCL(enc, **kwargs)


@pytest.mark.parametrize("negatives", ["all", "batch"])
@pytest.mark.parametrize("layers,hop", [(2, 2), (3, 2), (4, 4)])
def test_ncl_loss_equals_reference_formula(negatives, layers, hop):
    enc, model = _model(negatives, layers, hop_layer=hop)
    adjs = [adjacency(INTER)] * layers
    views = model.sample_views(INTER, torch.Generator().manual_seed(0))
    out = model.loss(BATCH, adjs, views)
    full = enc(adjs)
    ego, hop_out = full.layers[0], full.layers[hop]
    users, items = [0, 3, 7], [1, 2, 10]  # unique, repeats counted once
    if negatives == "all":
        ref_u = _nce(hop_out[users], ego[:9], users, 0.3)
        ref_i = _nce(hop_out[9:][items], ego[9:], items, 0.3)
    else:
        ref_u = _nce(hop_out[users], ego[users], range(3), 0.3)
        ref_i = _nce(hop_out[9:][items], ego[9:][items], range(3), 0.3)
    ssl = ref_u + 1.5 * ref_i
    (c_u, a_u), (c_i, a_i) = views
    proto = (_nce(ego[users], c_u, a_u[users], 0.3)
             + _nce(ego[9:][items], c_i, a_i[items], 0.3))
    torch.testing.assert_close(out["ssl"], ssl.detach())
    torch.testing.assert_close(out["proto"], proto.detach())
    bpr = model.bpr_terms(BATCH, full)["loss"]
    torch.testing.assert_close(out["loss"], bpr + 0.7 * ssl + 0.4 * proto)


def test_prototypes_are_kmeans_of_the_ego_embeddings_after_the_warmup():
    enc, model = _model(proto_warmup=2, num_clusters=4)
    g = torch.Generator().manual_seed(0)
    assert model.sample_views(INTER, g) is None
    assert model.sample_views(INTER, g) is None
    views = model.sample_views(INTER, g)
    assert int(model.epochs_seen) == 3 and "epochs_seen" in model.state_dict()
    for (centroids, assign), ego in zip(views, enc.ego()):
        assert centroids.shape == (4, 6) and assign.shape == (ego.shape[0],)
        torch.testing.assert_close(centroids.norm(dim=1), torch.ones(4))
        # every node sits in the cluster of its nearest (unnormalised) centroid,
        # whose direction is the returned centroid
        for k in assign.unique():
            mean = ego[assign == k].detach().mean(0)
            torch.testing.assert_close(F.normalize(mean, dim=0), centroids[k])
    out = model.loss(BATCH, [adjacency(INTER)] * 2, views)
    assert out["proto"] > 0
    no_proto = model.loss(BATCH, [adjacency(INTER)] * 2, None)
    assert no_proto["proto"] == 0
    model.reset_parameters()
    assert int(model.epochs_seen) == 0


def test_clusters_are_capped_by_the_nodes_and_zero_weight_skips_kmeans():
    enc, model = _model(num_clusters=50)
    (c_u, _), (c_i, _) = model.sample_views(INTER, torch.Generator())
    assert c_u.shape[0] == 9 and c_i.shape[0] == 11
    _, off = _model(proto_weight=0.0)
    assert off.sample_views(INTER, torch.Generator()) is None


def test_ncl_proto_warmup_counts_trainer_epochs():
    train, test = make_checkerboard(8)
    model = NCL(LightGCN(8, 8, dim=4, num_layers=2), proto_warmup=2, num_clusters=2)
    history = Trainer(epochs=3, batch_size=16, progress=False).fit(model, train, test)
    proto = [r["proto"] for r in history.records]
    assert proto[0] == 0 and proto[1] == 0 and proto[2] > 0
    assert int(model.epochs_seen) == history.best_epoch


def test_graph_free_encoder_keeps_only_the_prototype_term(caplog):
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        model = NCL(MF(9, 11, dim=6), num_clusters=2, proto_warmup=0, ssl_warmup=0)
    assert "structural term is 0" in caplog.text
    views = model.sample_views(INTER, torch.Generator())
    out = model.loss(BATCH, [], views)
    assert out["ssl"] == 0 and out["proto"] > 0
    out["loss"].backward()


@pytest.mark.parametrize("kwargs,match", [
    ({"hop_layer": 3}, "even"), ({"hop_layer": 0}, "hop_layer"),
    ({"hop_layer": 4}, "deeper than the encoder's 2 layers"),
    ({"num_clusters": 0}, "num_clusters"), ({"num_clusters": 2.5}, "num_clusters"),
    ({"proto_warmup": -1}, "proto_warmup"), ({"kmeans_iters": 0}, "kmeans_iters"),
    ({"proto_weight": -1.0}, "proto_weight"), ({"alpha": float("nan")}, "alpha"),
    ({"kmeans": "scipy"}, r"kmeans 'scipy' among choices"),
    ({"tau": 0.0}, "tau"), ({"negatives": "some"}, "negatives"),
])
def test_bad_hyperparameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NCL(LightGCN(3, 3, dim=2, num_layers=2), **kwargs)


@pytest.mark.parametrize("backend", ["torch", "sklearn"])
def test_ncl_with_each_kmeans_backend_and_sgc(backend):
    model = NCL(SGC(9, 11, dim=6, num_layers=2, linear=True), kmeans=backend,
                num_clusters=3, proto_warmup=0, ssl_warmup=0)
    g = torch.Generator().manual_seed(0)
    out = model.loss(BATCH, [adjacency(INTER)] * 2, model.sample_views(INTER, g), g)
    out["loss"].backward()
    assert out["ssl"] > 0 and out["proto"] > 0
    assert "kmeans='" + backend + "'" in repr(model)


def test_ncl_prototype_term_learns_two_communities():
    """The checkerboard's two parity communities, with the prototype term on from
    the first epoch and two clusters per side."""
    train, test = make_checkerboard(20)
    model = NCL(LightGCN(20, 20, dim=16, num_layers=2), num_clusters=2,
                proto_warmup=0, proto_weight=0.1, ssl_weight=0.1, ssl_warmup=0)
    Trainer(epochs=40, batch_size=64, lr=0.05, k=[1], progress=False,
            sampler="interaction").fit(model, train, val=test)
    assert evaluate(model, graph=train, target=test, exclude=train,
                    k=[1])["hit@1"] >= 0.9
