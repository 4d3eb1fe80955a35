import pytest
import torch

from graphcl_rec import Trainer
from graphcl_rec.contrast import MoCo
from graphcl_rec.data import Interactions
from graphcl_rec.models import MF
from graphcl_rec.serve import TrainedRecommender, grow_table
from tests.serve.conftest import trained

NEW = [("u1", "i14"), ("new0", "i2"), ("new0", "i3"), ("u5", "newitem"),
       ("new1", "newitem"), ("new1", "i0")]


def test_grow_table_keeps_old_rows():
    enc = MF(2, 3, dim=4)
    before = enc.embedding.weight.detach().clone()
    grow_table(enc, torch.full((2, 4), 7.0), torch.full((1, 4), 9.0))
    w = enc.embedding.weight.detach()
    assert (enc.num_users, enc.num_items) == (4, 4) and w.shape == (8, 4)
    assert torch.equal(w[:2], before[:2]) and torch.equal(w[4:7], before[2:])
    assert (w[2:4] == 7).all() and (w[7] == 9).all()
    assert enc.embedding.weight.requires_grad
    assert enc([]).user.shape == (4, 4)


@pytest.mark.parametrize("name", ["lightgcn", "mf"])
def test_update_grows_rows_and_keeps_old_ids(small, name):
    rec = trained(name, small)
    before = rec.model.encoder.embedding.weight.detach().clone()
    history = rec.update(NEW, epochs=0)
    assert len(history.records) == 0
    enc = rec.model.encoder
    assert (enc.num_users, enc.num_items) == (22, 16)
    assert rec.num_trained_users == rec.num_users == 22
    assert rec.users.ids[:20] == [f"u{u}" for u in range(20)]
    assert rec.users.ids[20:] == ["new0", "new1"] and rec.items.ids[15] == "newitem"
    w = enc.embedding.weight.detach()
    # With no epoch, old rows are exactly the trained ones.
    assert torch.equal(w[:20], before[:20]) and torch.equal(w[22:37], before[20:])
    # A new user's ego row is the mean of its items' ego rows.
    torch.testing.assert_close(w[20], (before[20 + 2] + before[20 + 3]) / 2)
    fresh = sum((u, i) not in set(zip(small.user.tolist(), small.item.tolist()))
                for u, i in [(1, 14), (5, 15), (20, 2), (20, 3), (21, 15), (21, 0)])
    assert len(rec.train) == len(small) + fresh
    ids, _ = rec.recommend(["new0", "u5"], k=16)
    assert "i2" not in ids[0] and "newitem" not in ids[1]


def test_update_fine_tunes_from_current_weights(small):
    rec = trained("lightgcn", small)
    before = rec.user_emb.clone()
    rec.update(NEW, epochs=2)
    assert rec.user_emb.shape == (22, 8)
    assert not torch.equal(rec.user_emb[:20], before)
    # The warm start: old users stay close to where they were.
    cos = torch.nn.functional.cosine_similarity(rec.user_emb[:20], before).mean()
    assert cos > 0.9


def test_update_absorbs_fold_ins(small):
    rec = trained("lightgcn", small)
    index = rec.fold_in_user("folded", ["i1", "i2"])
    ego = rec.folded["user"][index][1].clone()
    rec.update([("u0", "i9")], epochs=0)
    assert rec.folded == {"user": {}, "item": {}}
    assert rec.users.index["folded"] == index == 20
    assert torch.equal(rec.model.encoder.embedding.weight[20].detach(), ego)
    assert not {"i1", "i2"} & set(rec.recommend("folded", k=15)[0].tolist())


def test_update_from_interactions_and_steps(small):
    rec = trained("mf", small)
    new = Interactions(torch.tensor([0, 1]), torch.tensor([1, 0]), 2, 2,
                       user_ids=("u3", "brand"), item_ids=("i4", "i9"))
    trainer = Trainer(batch_size=64, progress=False, device="cpu")
    history = rec.update(new, steps=3, trainer=trainer)
    # 92 pairs / 64 per batch = 2 steps an epoch: 3 steps are 2 + 1.
    assert [r["steps"] for r in history.records] == [2, 1]
    assert trainer.epochs == 100  # the caller's trainer is not changed
    assert rec.users.index["brand"] == 20


def test_update_grows_ema_targets(small):
    torch.manual_seed(0)
    model = MoCo(MF(20, 15, dim=8), queue_size=16)
    rec = TrainedRecommender(model, small)
    rec.update(NEW, epochs=1)
    assert model.target.embedding.weight.shape == (22 + 16, 8)
    assert model.target.num_users == 22


@pytest.mark.parametrize("kwargs,match", [
    ({}, "give exactly one of 'epochs' and 'steps'"),
    ({"epochs": 1, "steps": 1}, "not both"),
    ({"trainer": Trainer(reset_parameters=True)}, "reset_parameters=True"),
])
def test_update_errors(small, kwargs, match):
    rec = trained("mf", small)
    with pytest.raises(ValueError, match=match):
        rec.update(NEW, **kwargs)
    assert rec.num_users == 20


def test_update_rejects_interactions_without_ids(small):
    rec = trained("mf", small)
    bare = Interactions(torch.tensor([0]), torch.tensor([0]), 1, 1)
    with pytest.raises(ValueError, match="must carry raw ids"):
        rec.update(bare, epochs=0)
