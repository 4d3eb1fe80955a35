"""Resuming with an explicit, recorded change of optimiser settings."""

import json

import pytest
import torch

from graphcl_rec.errors import CheckpointError
from graphcl_rec.models import MF, BPRRecommender
from graphcl_rec.train import Trainer, load_checkpoint
from graphcl_rec.train.state import check_allow_change
from tests.conftest import make_checkerboard

# The run diagnostics may warn that a toy run is below its popularity baseline.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DIVERGING_LR = 0.2
"""With it, the weights of :class:`Unstable` pass 2 in epoch 3 (1.2, 1.75, 2.2)."""


class Unstable(BPRRecommender):
    """BPR whose loss turns NaN once a weight passes 2, as an overflow would."""

    def loss(self, batch, adjs, views, generator=None):
        out = super().loss(batch, adjs, views, generator)
        if float(self.encoder.embedding.weight.detach().abs().max()) > 2.0:
            out["loss"] = out["loss"] * float("nan")
        return out


def fit(tmp_path, lr, resume=False, allow_change=(), epochs=5):
    train, _ = make_checkerboard(10)
    val = None  # no best-weight restore: the weights are the last epoch's
    model = Unstable(MF(10, 10, dim=4, init="xavier"))
    trainer = Trainer(epochs=epochs, batch_size=16, lr=lr, k=[5], progress=False,
                      reset_parameters=True, checkpoint_dir=tmp_path,
                      log_path=tmp_path / "epochs.jsonl")
    history = trainer.fit(model, train, val, resume=resume, allow_change=allow_change)
    return trainer, history, model


def test_a_run_stopped_by_the_nan_guard_continues_with_a_smaller_lr(tmp_path):
    with pytest.raises(FloatingPointError, match="at epoch 3.*last good checkpoint "
                       "is kept at .*last.pt.*allow_change"):
        fit(tmp_path, DIVERGING_LR)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 2
    with pytest.raises(FloatingPointError, match="at epoch 3"):  # deterministic
        fit(tmp_path, DIVERGING_LR, resume=True)
    with pytest.raises(CheckpointError, match="trainer.lr: checkpoint has 0.2, "
                                              "run has 0.01"):
        fit(tmp_path, 0.01, resume=True)
    trainer, history, model = fit(tmp_path, 0.01, resume=True,
                                  allow_change={"trainer.lr"})
    change = {"trainer.lr": {"checkpoint": DIVERGING_LR, "run": 0.01}}
    assert trainer.resumed_from == 2 and trainer.changed_on_resume == change
    assert len(history) == 5 and history[2]["changed_on_resume"] == change
    assert all("changed_on_resume" not in history[k] for k in (0, 1, 3, 4))
    log = [json.loads(line) for line in (tmp_path / "epochs.jsonl").open()]
    assert [r["epoch"] for r in log] == [1, 2, 3, 4, 5]
    assert log[2]["changed_on_resume"] == change
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["config"]["trainer"]["lr"] == 0.01
    assert {g["lr"] for g in last["optimizer"]["param_groups"]} == {0.01}
    assert bool(torch.isfinite(model.encoder.embedding.weight).all())
    # The checkpoints now record the new value: resuming with it needs no change.
    again, _, _ = fit(tmp_path, 0.01, resume=True, epochs=6)
    assert again.resumed_from == 5 and again.changed_on_resume == {}


def test_an_allowed_but_unchanged_key_records_nothing(tmp_path):
    fit(tmp_path, 0.05, epochs=2)
    trainer, history, _ = fit(tmp_path, 0.05, resume=True, epochs=3,
                              allow_change=["trainer.lr", "trainer.weight_decay"])
    assert trainer.changed_on_resume == {}
    assert all("changed_on_resume" not in r for r in history)


def test_weight_decay_reaches_the_optimiser(tmp_path):
    fit(tmp_path, 0.05, epochs=2)
    train, val = make_checkerboard(10)
    trainer = Trainer(epochs=3, batch_size=16, lr=0.05, weight_decay=0.1, k=[5],
                      progress=False, checkpoint_dir=tmp_path)
    trainer.fit(Unstable(MF(10, 10, dim=4)), train, None, resume=True,
                allow_change={"trainer.weight_decay"})
    groups = load_checkpoint(tmp_path / "last.pt")["optimizer"]["param_groups"]
    assert {g["weight_decay"] for g in groups} == {0.1}


@pytest.mark.parametrize("keys,resume,needle", [
    ({"trainer.batch_size"}, True, "'trainer.batch_size' cannot change on resume"),
    ({"trainer.seed"}, True, "the trainer settings that can are ['trainer.lr'"),
    ({"data.path"}, True, "'data.path' is not a key of this run's configuration"),
    ({"trainer.lr"}, False, "only applies when resuming"),
    ("trainer.lr", True, "a collection of keys, not the string 'trainer.lr'"),
])
def test_allow_change_is_checked(keys, resume, needle):
    config = {"model": {"dim": 4}, "trainer": {"lr": 0.1, "batch_size": 8, "seed": 0,
                                               "weight_decay": 0.0}}
    with pytest.raises(ValueError) as info:
        check_allow_change(keys, config, resume)
    assert needle in str(info.value)
    assert check_allow_change(["model.dim"], config, True) == {"model.dim"}
