import copy

import numpy as np
import pytest
import torch

from graphcl_rec import Trainer
from graphcl_rec.data import Interactions
from graphcl_rec.graph import adjacency
from graphcl_rec.models import BPRRecommender
from graphcl_rec.serve import TrainedRecommender, UnknownIdError, grow_table
from graphcl_rec.serve.foldin import supports
from tests.conftest import random_interactions
from tests.serve.conftest import make_encoder, trained, with_ids


def enlarged_reference(rec, kind, neighbours, ego):
    """The new node's final embedding computed by the encoder on the enlarged graph."""
    enc = copy.deepcopy(rec.model.encoder)
    train = rec.train
    nbr = torch.tensor(neighbours)
    empty = torch.zeros(0, enc.dim)
    if kind == "user":
        grow_table(enc, ego[None], empty)
        new = torch.full_like(nbr, train.num_users)
        big = Interactions(torch.cat([train.user, new]), torch.cat([train.item, nbr]),
                           train.num_users + 1, train.num_items)
    else:
        grow_table(enc, empty, ego[None])
        new = torch.full_like(nbr, train.num_items)
        big = Interactions(torch.cat([train.user, nbr]), torch.cat([train.item, new]),
                           train.num_users, train.num_items + 1)
    with torch.no_grad():
        out = enc([adjacency(big)] * enc.num_layers)
    return out.user[-1] if kind == "user" else out.item[-1]


@pytest.mark.parametrize("name", ["lightgcn", "sgc", "sgc-linear"])
@pytest.mark.parametrize("kind", ["user", "item"])
@pytest.mark.parametrize("ego", ["mean", "zero"])
def test_two_layer_fold_in_equals_the_enlarged_graph(small, name, kind, ego):
    rec = trained(name, small)
    if kind == "user":
        index = rec.fold_in_user("new", ["i1", "i4", "i7"], ego=ego)
        got, nbrs = rec.user_emb[index], [1, 4, 7]
    else:
        index = rec.fold_in_item("new", ["u2", "u9"], ego=ego)
        got, nbrs = rec.item_emb[index], [2, 9]
    ego_row = rec.folded[kind][index][1]
    if ego == "zero":
        assert not ego_row.any()
    ref = enlarged_reference(rec, kind, nbrs, ego_row)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


def test_three_layer_fold_in_is_close_to_the_enlarged_graph(small):
    rec = trained("lightgcn3", small)
    index = rec.fold_in_user("new", ["i1", "i4", "i7"])
    ref = enlarged_reference(rec, "user", [1, 4, 7], rec.folded["user"][index][1])
    err = float((rec.user_emb[index] - ref).norm() / ref.norm())
    assert 0 < err < 0.03  # measured 0.011: the neighbours' neighbours' degrees


def overlap(a, b):
    return np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)])


@pytest.mark.parametrize("name,min_overlap", [
    ("lightgcn3", 0.8), ("sgc", 0.9), ("mf", 0.6)])
def test_a_copy_of_a_user_ranks_like_that_user(name, min_overlap):
    inter = with_ids(random_interactions(40, 60, 600, seed=3))
    torch.manual_seed(0)
    model = BPRRecommender(make_encoder(name, 40, 60, dim=16))
    Trainer(epochs=10, batch_size=128, lr=0.03, progress=False,
            device="cpu").fit(model, inter)
    rec = TrainedRecommender(model, inter)
    lists = inter.user_lists()
    users = list(range(0, 40, 4))
    rec.fold_in_users({f"copy{u}": [f"i{i}" for i in lists[u]] for u in users})
    own = rec.recommend([f"u{u}" for u in users], k=10, return_indices=True)[0]
    copied = rec.recommend([f"copy{u}" for u in users], k=10, return_indices=True)[0]
    # Measured top-10 overlap: LightGCN-3 0.89, SGC-2 0.98, MF 0.76.
    assert overlap(own, copied) >= min_overlap
    for u, row in zip(users, copied):
        assert not set(lists[u]) & set(row.tolist())


def test_folded_user_is_first_class(small):
    rec = trained("lightgcn", small)
    assert rec.fold_in_users({"a": ["i0", "i1"], "b": ["i2"]}) == [20, 21]
    assert rec.num_users == 22 and rec.num_trained_users == 20
    ids, _ = rec.recommend(["a", "u0", "b"], k=15)
    assert "i0" not in ids[0] and "i1" not in ids[0] and "i2" not in ids[2]
    assert (ids[0] != None).sum() == 13  # noqa: E711
    assert rec.popularity()[2] == int((small.item == 2).sum()) + 1
    assert "a" in rec.similar_users("b", k=21)[0]


def test_folded_item_is_recommended_and_seen(small):
    rec = trained("lightgcn", small)
    users_of_3 = [f"u{u}" for u in small.user[small.item == 3].tolist()]
    index = rec.fold_in_item("copy3", users_of_3)
    assert index == 15 and rec.num_items == 16
    ids, _ = rec.recommend(users_of_3, k=16)
    assert not (ids == "copy3").any()
    others = [f"u{u}" for u in range(20) if f"u{u}" not in users_of_3]
    ids, _ = rec.recommend(others, k=16)
    assert (ids == "copy3").sum() == len(others)
    similar, _ = rec.similar_items("copy3", k=3)
    assert "i3" in similar


def test_refold_uses_the_union_of_histories(small):
    rec = trained("lightgcn", small)
    index = rec.fold_in_user("a", ["i0"])
    assert rec.fold_in_user("a", ["i1"]) == index
    both = trained("lightgcn", small)
    both.fold_in_user("a", ["i0", "i1"])
    torch.testing.assert_close(rec.user_emb[index], both.user_emb[index])
    assert "i0" not in rec.recommend("a", k=15)[0]


def test_mf_fold_in_is_seeded(small):
    a, b = trained("mf", small), trained("mf", small)
    a.fold_in_user("new", ["i1", "i2"], seed=3)
    b.fold_in_user("new", ["i1", "i2"], seed=3)
    assert torch.equal(a.user_emb[20], b.user_emb[20])
    c = trained("mf", small)
    c.fold_in_user("new", ["i1", "i2"], seed=4)
    assert not torch.equal(a.user_emb[20], c.user_emb[20])


def test_fold_in_errors(small):
    rec = trained("lightgcn", small)
    with pytest.raises(ValueError, match="user 'u3' is already trained"):
        rec.fold_in_user("u3", ["i1"])
    with pytest.raises(UnknownIdError, match="unknown item id 'zz'"):
        rec.fold_in_user("new", ["i1", "zz"])
    rec.fold_in_item("fresh", ["u1"])
    with pytest.raises(ValueError, match="user 'new' has no neighbour the model"):
        rec.fold_in_user("new", ["fresh"])
    with pytest.raises(ValueError, match="'ego' must be one of"):
        rec.fold_in_user("new", ["i1"], ego="random")
    with pytest.raises(TypeError, match="fold-in supports LightGCN, SGC and MF"):
        supports(object())
    assert rec.num_users == 20  # failed fold-ins change nothing
