"""``update``'s optimiser: kept between updates, grown with the table; step budgets."""

import copy
import logging
import math

import pytest
import torch

from graphcl_rec import Trainer
from graphcl_rec.contrast import BYOL, MoCo
from graphcl_rec.models import MF, BPRRecommender, LightGCN
from graphcl_rec.serve import TrainedRecommender
from graphcl_rec.serve.finetune import fine_tune
from graphcl_rec.serve.optim import grow_adam, make_adam, splice_rows
from graphcl_rec.train import EarlyStopping
from tests.serve.conftest import trained

FIRST = [("u1", "i14"), ("new0", "i2"), ("new0", "i3"), ("u5", "newitem"),
         ("new1", "newitem"), ("new1", "i0")]
SECOND = [("brand", "i1"), ("brand", "i4"), ("u0", "fresh"), ("u2", "fresh")]
SETTINGS = {"batch_size": 32, "progress": False, "device": "cpu"}


def adam_step(opt, param) -> int:
    return int(opt.state[param]["step"])


def moments(rec):
    weight = rec.model.encoder.embedding.weight
    state = rec.optimizer.state[weight]
    return weight, state["exp_avg"].clone(), state["exp_avg_sq"].clone()


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_the_optimiser_is_kept_and_its_step_count_grows(small, name):
    rec = trained(name, small)
    assert rec.optimizer is None
    rec.update(FIRST, steps=3, trainer=Trainer(**SETTINGS))
    opt = rec.optimizer
    weight = rec.model.encoder.embedding.weight
    assert isinstance(opt, torch.optim.Adam) and adam_step(opt, weight) == 3
    rec.update(SECOND, steps=2, trainer=Trainer(**SETTINGS))
    assert rec.optimizer is opt
    weight = rec.model.encoder.embedding.weight  # a new parameter: the table grew
    assert weight.shape == (23 + 17, 8)
    assert adam_step(opt, weight) == 5
    held = [p for group in opt.param_groups for p in group["params"]]
    assert any(p is weight for p in held) and len(opt.state) == len(held) == 1


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_grown_rows_start_with_zero_moments_and_old_rows_keep_theirs(small, name):
    rec = trained(name, small)
    rec.update(FIRST, steps=4, trainer=Trainer(**SETTINGS))
    _, avg, avg_sq = moments(rec)  # 22 users, 16 items
    assert avg.abs().sum() > 0 and avg_sq.abs().sum() > 0
    rec.update(SECOND, steps=0)  # grows 1 user ("brand") and 1 item ("fresh")
    _, new_avg, new_avg_sq = moments(rec)
    assert new_avg.shape == new_avg_sq.shape == (23 + 17, 8)
    for old, new in ((avg, new_avg), (avg_sq, new_avg_sq)):
        assert torch.equal(new[:22], old[:22])  # old users
        assert torch.equal(new[22], torch.zeros(8))  # "brand"
        assert torch.equal(new[23:39], old[22:])  # old items
        assert torch.equal(new[39], torch.zeros(8))  # "fresh"
    assert adam_step(rec.optimizer, rec.model.encoder.embedding.weight) == 4
    # The grown state steps on: no shape error, and the new rows move.
    rec.update([("u3", "i2")], steps=1, trainer=Trainer(**SETTINGS))
    _, after, _ = moments(rec)
    assert after[22].abs().sum() > 0


@pytest.mark.parametrize("steps", [0, 1, 3, 4, 7])
def test_steps_is_an_exact_number_of_optimiser_steps(small, steps):
    rec = trained("lightgcn", small)
    history = rec.update(FIRST, steps=steps, trainer=Trainer(**SETTINGS))
    per_epoch = math.ceil(len(rec.train) / 32)  # 3 batches of <= 32 pairs
    assert per_epoch == 3
    assert sum(r["steps"] for r in history) == steps
    assert len(history) == math.ceil(steps / per_epoch)
    assert all(r["steps"] <= per_epoch for r in history)
    weight = rec.model.encoder.embedding.weight
    state = rec.optimizer.state.get(weight, {})
    assert int(state.get("step", 0)) == steps


def test_epochs_take_whole_passes(small):
    rec = trained("mf", small)
    history = rec.update(FIRST, epochs=2, trainer=Trainer(**SETTINGS))
    assert [r["steps"] for r in history] == [3, 3]
    assert adam_step(rec.optimizer, rec.model.encoder.embedding.weight) == 6
    # Without a budget, the trainer's epochs are the budget.
    history = rec.update([("u4", "i4")], trainer=Trainer(epochs=1, **SETTINGS))
    assert [r["steps"] for r in history] == [3]


def test_a_new_learning_rate_applies_to_the_kept_optimiser(small):
    rec = trained("mf", small)
    rec.update(FIRST, steps=1, trainer=Trainer(lr=0.01, **SETTINGS))
    opt = rec.optimizer
    rec.update(SECOND, steps=1, trainer=Trainer(lr=0.002, weight_decay=0.1,
                                                **SETTINGS))
    assert rec.optimizer is opt
    assert opt.param_groups[0]["lr"] == 0.002
    assert opt.param_groups[0]["weight_decay"] == 0.1


def test_moco_keeps_its_queue_and_momentum_encoder(small):
    torch.manual_seed(0)
    model = MoCo(MF(20, 15, dim=8), queue_size=16, ssl_warmup=0)
    rec = TrainedRecommender(model, small)
    rec.update(FIRST, steps=2, trainer=Trainer(**SETTINGS))
    filled = int(model.user_filled)
    queue = model.user_queue.clone()
    assert filled > 0 and int(model.ssl_step) == 2
    rec.update(SECOND, steps=3, trainer=Trainer(**SETTINGS))
    assert int(model.ssl_step) == 5 and int(model.user_filled) >= filled
    assert model.user_queue.shape == queue.shape == (16, 8)
    assert model.target.embedding.weight.shape == (23 + 17, 8)
    assert not model.target.embedding.weight.requires_grad
    held = {id(p) for group in rec.optimizer.param_groups for p in group["params"]}
    assert id(model.encoder.embedding.weight) in held
    assert id(model.target.embedding.weight) not in held
    assert adam_step(rec.optimizer, model.encoder.embedding.weight) == 5


def test_byol_keeps_its_predictor_state(small):
    torch.manual_seed(0)
    model = BYOL(LightGCN(20, 15, dim=8, num_layers=1), ssl_warmup=0)
    rec = TrainedRecommender(model, small)
    rec.update(FIRST, steps=2, trainer=Trainer(**SETTINGS))
    predictor = model.predictor.weight
    avg = rec.optimizer.state[predictor]["exp_avg"].clone()
    rec.update(SECOND, steps=0)
    assert torch.equal(rec.optimizer.state[predictor]["exp_avg"], avg)
    assert adam_step(rec.optimizer, predictor) == 2


def test_parameters_replaced_outside_update_rebuild_the_optimiser(small, caplog):
    rec = trained("mf", small)
    rec.update(FIRST, steps=1, trainer=Trainer(**SETTINGS))
    old = rec.optimizer
    table = rec.model.encoder.embedding
    rec.model.encoder.embedding = torch.nn.Embedding(*table.weight.shape)
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        rec.update(SECOND, steps=1, trainer=Trainer(**SETTINGS))
    assert rec.optimizer is not old and "optimiser state is dropped" in caplog.text
    assert adam_step(rec.optimizer, rec.model.encoder.embedding.weight) == 1


def test_max_seconds_ends_after_the_step_that_exceeds_it(small):
    rec = trained("mf", small)
    history = rec.update(FIRST, steps=5, trainer=Trainer(max_seconds=0, **SETTINGS))
    assert sum(r["steps"] for r in history) == 1


@pytest.mark.parametrize("kwargs,match", [
    ({"epochs": 1, "steps": 2}, "not both"),
    ({}, "give exactly one of 'epochs' and 'steps'"),
    ({"steps": -1}, r"'steps' must be an int >= 0 \(got -1\)"),
    ({"steps": 2.5}, r"'steps' must be an int >= 0 \(got 2.5\)"),
    ({"epochs": True}, r"'epochs' must be an int >= 0 \(got True\)"),
    ({"steps": 1, "trainer": Trainer(early_stopping=EarlyStopping("recall@20"))},
     "without validation.*early_stopping="),
    ({"steps": 1, "trainer": Trainer(log_path="x.jsonl")}, "log_path="),
])
def test_budget_and_trainer_errors(small, kwargs, match):
    rec = trained("mf", small)
    with pytest.raises(ValueError, match=match):
        rec.update(FIRST, **kwargs)
    assert rec.num_users == 20 and rec.optimizer is None


def test_fine_tune_needs_exactly_one_budget(small):
    model = BPRRecommender(MF(20, 15, dim=4))
    opt = make_adam(model, lr=0.01, weight_decay=0.0)
    for kwargs in ({}, {"epochs": 1, "steps": 1}):
        with pytest.raises(ValueError, match="exactly one of 'epochs' and 'steps'"):
            fine_tune(model, small, opt, Trainer(), generator=torch.Generator(),
                      **kwargs)


def test_grow_adam_splices_zero_rows_and_leaves_other_parameters():
    old = torch.nn.Parameter(torch.arange(10.0).reshape(5, 2))  # 2 users, 3 items
    other = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([old, other], lr=0.1)
    (old.square().sum() + other.sum()).backward()
    opt.step()
    avg = opt.state[old]["exp_avg"].clone()
    new = torch.nn.Parameter(splice_rows(old.detach(), 2, torch.zeros(1, 2),
                                         torch.zeros(2, 2)))
    assert grow_adam(opt, old, new, 2, 1, 2)
    assert opt.param_groups[0]["params"][0] is new and old not in opt.state
    grown = opt.state[new]["exp_avg"]
    assert torch.equal(grown, torch.cat([avg[:2], torch.zeros(1, 2), avg[2:],
                                         torch.zeros(2, 2)]))
    assert int(opt.state[new]["step"]) == 1 and int(opt.state[other]["step"]) == 1
    stranger = torch.nn.Parameter(torch.zeros(2, 2))
    assert not grow_adam(opt, stranger, torch.nn.Parameter(torch.zeros(3, 2)), 1, 1, 0)


def test_kept_optimiser_state_on_the_model_device(small, device):
    torch.manual_seed(0)
    model = BPRRecommender(LightGCN(20, 15, dim=8, num_layers=2)).to(device)
    rec = TrainedRecommender(model, small)
    rec.update(FIRST, steps=2)
    rec.update(SECOND, steps=1)
    weight = model.encoder.embedding.weight
    state = rec.optimizer.state[weight]
    assert weight.device.type == torch.device(device).type
    assert state["exp_avg"].device == weight.device and int(state["step"]) == 3


def test_a_deep_copy_updates_its_own_optimiser(small):
    """The HTTP service updates a deep copy and swaps it in."""
    rec = trained("lightgcn", small)
    rec.update(FIRST, steps=2, trainer=Trainer(**SETTINGS))
    work = copy.deepcopy(rec)
    work.update(SECOND, steps=3, trainer=Trainer(**SETTINGS))
    weight = work.model.encoder.embedding.weight
    assert adam_step(work.optimizer, weight) == 5
    assert adam_step(rec.optimizer, rec.model.encoder.embedding.weight) == 2
    assert rec.model.encoder.embedding.weight.shape == (22 + 16, 8)
