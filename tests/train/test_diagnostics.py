import logging
import warnings

import pytest
import torch

from graphcl_rec.data import Interactions
from graphcl_rec.eval import popularity_embeddings
from graphcl_rec.models import MF, BPRRecommender, LightGCN
from graphcl_rec.train import EarlyStopping, Trainer, TrainingWarning, diagnostics
from graphcl_rec.train import trainer as trainer_module
from tests.conftest import make_checkerboard


class Scripted(BPRRecommender):
    """Trains an MF with BPR, but ranks with ``script(epoch)``'s embeddings."""

    def __init__(self, num_users, num_items, script, hard_negatives=False):
        super().__init__(MF(num_users, num_items, dim=4), hard_negatives=hard_negatives)
        self.script, self.epoch = script, 0

    def sample_views(self, inter, generator):
        self.epoch += 1
        return None

    def embed(self, adjs):
        return self.script(self.epoch)


def parity(n, sign=1.0):
    """Embeddings that rank each user's own parity first (``sign=-1``: last)."""
    side = 1.0 - 2.0 * (torch.arange(n) % 2).float().unsqueeze(1)
    return sign * side, side


def fit(model, train, val, epochs=5, **kwargs):
    kwargs = {"batch_size": 64, "lr": 0.01, "progress": False, "k": [5],
              "sampler": "interaction", **kwargs}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = Trainer(epochs=epochs, **kwargs).fit(model, train, val)
    return history, [w for w in caught if issubclass(w.category, TrainingWarning)]


def kinds(history):
    return [w["kind"] for w in history.warnings]


def split_and_resume(model, train, val, epochs, first_epochs, tmp_path):
    """Histories of a whole fit, of its first part and of the resumed rest.

    The resumed part must raise no training warning again.
    """
    full, _ = fit(model(), train, val, epochs=epochs)
    first, _ = fit(model(), train, val, epochs=first_epochs, checkpoint_dir=tmp_path)
    trainer = Trainer(epochs=epochs, batch_size=64, lr=0.01, progress=False, k=[5],
                      sampler="interaction", checkpoint_dir=tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = trainer.fit(model(), train, val, resume=True)
    assert not [w for w in caught if issubclass(w.category, TrainingWarning)]
    return full, first, resumed


def test_a_healthy_run_is_silent_and_records_the_baseline():
    train, val = make_checkerboard(20)
    model = BPRRecommender(LightGCN(20, 20, dim=16, num_layers=2))
    history, caught = fit(model, train, val, epochs=12, lr=0.05, k=[1])
    assert caught == [] and history.warnings == []
    assert history.best["hit@1"] >= 0.9
    assert history.baseline["recall@1"] == 0.0  # every item equally popular
    assert history.records[0]["popularity"] == history.baseline
    assert all("popularity" not in r for r in history.records[1:])
    for r in history.records:
        assert r["diagnostics"]["uniformity"] < diagnostics.COLLAPSE_UNIFORMITY
        assert 0 <= r["diagnostics"]["alignment"] <= 4
    assert history.to_dict()["baseline"] == history.baseline


def test_collapsed_embeddings_warn_once(caplog):
    train, val = make_checkerboard(10)
    model = Scripted(10, 10, lambda epoch: (torch.ones(10, 3), torch.ones(10, 3)))
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        history, caught = fit(model, train, val, epochs=3)
    assert kinds(history) == ["collapse"]
    assert len(caught) == 1 and "embeddings collapsed" in str(caught[0].message)
    assert caplog.text.count("embeddings collapsed") == 1
    assert history.records[0]["warnings"] == history.warnings
    assert history.warnings[0]["epoch"] == 1
    assert history.records[2]["diagnostics"]["uniformity"] == pytest.approx(0, abs=1e-6)


def test_a_validation_drop_warns_after_three_low_evaluations():
    train, val = make_checkerboard(10)
    model = Scripted(10, 10, lambda epoch: parity(10, 1.0 if epoch <= 2 else -1.0))
    history, caught = fit(model, train, val, epochs=6)
    assert kinds(history) == ["validation_drop"]
    assert history.warnings[0]["epoch"] == 2 + diagnostics.DROP_EVALS
    assert "below 0.5 x its best" in str(caught[0].message)
    assert history.best_epoch == 1  # ties keep the first: nothing else to say


def test_a_selected_epoch_below_popularity_warns_at_the_end():
    # items 0-9 are popular, 10-19 unseen; each user's held-out item is popular
    user = torch.arange(30).repeat_interleave(6)
    train = Interactions(user, (user + torch.arange(6).repeat(30)) % 10, 30, 20)
    val = Interactions(torch.arange(30), (torch.arange(30) + 6) % 10, 30, 20)
    user_emb, item_emb = popularity_embeddings(train)  # negated below: least first
    model = Scripted(30, 20, lambda epoch: (user_emb.float(), -item_emb.float()))
    history, caught = fit(model, train, val, epochs=2)
    # one-dimensional embeddings also read as collapsed (all +-1 once normalised)
    assert kinds(history) == ["collapse", "below_popularity"]
    assert history.warnings[1]["epoch"] == history.best_epoch
    assert "below the popularity baseline's 1.0000" in str(caught[1].message)


def test_monitoring_leaves_training_bit_identical(monkeypatch):
    train, val = make_checkerboard(10)

    def run():
        model = BPRRecommender(LightGCN(10, 10, dim=8, num_layers=2))
        history, _ = fit(model, train, val, epochs=3, seed=1, reset_parameters=True,
                         early_stopping=EarlyStopping("recall@5", patience=5))
        return model.state_dict(), [(r["loss"], r["val"]) for r in history.records]

    weights, records = run()

    class Unmonitored:
        def __init__(self, *args, **kwargs):
            pass

        def start(self, history):
            pass

        def check_candidates(self, *args):
            pass

        def on_epoch(self, *args):
            pass

        def on_eval(self, *args):
            pass

        def finish(self, history):
            pass

    monkeypatch.setattr(trainer_module, "RunMonitor", Unmonitored)
    bare_weights, bare_records = run()
    assert records == bare_records
    assert all(torch.equal(weights[k], bare_weights[k]) for k in weights)


def test_a_resumed_run_keeps_its_warnings(tmp_path):
    train, val = make_checkerboard(10)

    def model():
        return Scripted(10, 10, lambda epoch: (torch.ones(10, 3), torch.ones(10, 3)))

    full, first, resumed = split_and_resume(model, train, val, 4, 2, tmp_path)
    assert resumed.warnings == full.warnings == first.warnings
    assert resumed.baseline == full.baseline


def test_without_validation_nothing_is_measured():
    train, _ = make_checkerboard(10)
    history, caught = fit(BPRRecommender(MF(10, 10, dim=4)), train, None, epochs=1)
    assert history.baseline is None and caught == [] and history.warnings == []
    assert "diagnostics" not in history.records[0]


@pytest.mark.parametrize(("hard", "num_negatives", "expected"), [
    ("mixgcf", 4, ["many_candidates"]),    # 4 of 100 items: 4 %
    ("hardest", 3, ["many_candidates"]),
    (True, 3, ["many_candidates"]),
    ("mixgcf", 2, []),                    # exactly the 2 % share: not above it
    (False, 8, []),                       # every candidate enters the loss
])
def test_hard_negative_candidates_covering_the_catalogue_warn(hard, num_negatives,
                                                              expected):
    train, _ = make_checkerboard(100)
    model = BPRRecommender(LightGCN(100, 100, dim=4, num_layers=1),
                           hard_negatives=hard)
    history, caught = fit(model, train, None, epochs=1, num_negatives=num_negatives)
    assert kinds(history) == expected and len(caught) == len(expected)
    if expected:
        assert history.warnings[0]["epoch"] is None
        message = history.warnings[0]["message"]
        assert f"{num_negatives} candidates per triple out of 100 items" in message
        assert f"{num_negatives / 100:.1%}" in message


def test_a_resumed_fit_repeats_the_candidate_warning_once(tmp_path):
    train, _ = make_checkerboard(50)

    def model():
        return BPRRecommender(MF(50, 50, dim=4), hard_negatives="mixgcf")

    fit(model(), train, None, epochs=1, num_negatives=4, checkpoint_dir=tmp_path)
    trainer = Trainer(epochs=2, batch_size=64, lr=0.01, progress=False, k=[5],
                      sampler="interaction", num_negatives=4, checkpoint_dir=tmp_path)
    with pytest.warns(TrainingWarning, match="many_candidates|8.0% of the catalogue"):
        resumed = trainer.fit(model(), train, None, resume=True)
    assert kinds(resumed) == ["many_candidates"]


class Stalled(Scripted):
    """A BPR model whose term is ``script(epoch)`` on every step (nothing learns)."""

    def embed(self, adjs):
        return BPRRecommender.embed(self, adjs)

    def loss(self, batch, adjs, views, generator=None):
        zero = 0.0 * self.encoder.embedding.weight.sum()
        bpr = torch.tensor(self.script(self.epoch)) + zero
        return {"loss": bpr, "bpr": bpr.detach()}


@pytest.mark.parametrize(("values", "fires_at"), [
    ([0.6931, 0.6925, 0.6938, 0.6931, 0.69], 3),   # three epochs within 1e-3
    ([0.6931, 0.6931, 0.6900, 0.6931, 0.6931, 0.6931], 6),  # restarts
    ([0.6931, 0.6931, 0.6915, 0.6931, 0.6931], None),  # 0.6915: left ln 2
    ([0.6931, 0.6931], None),                       # too few epochs
])
def test_bpr_at_ln2_for_three_epochs_warns_once(values, fires_at):
    train, _ = make_checkerboard(10)
    model = Stalled(10, 10, lambda epoch: values[epoch - 1])
    history, caught = fit(model, train, None, epochs=len(values))
    if fires_at is None:
        assert kinds(history) == [] and caught == []
        return
    assert kinds(history) == ["ranking_stalled"] and len(caught) == 1
    assert history.warnings[0]["epoch"] == fires_at
    assert history.records[fires_at - 1]["warnings"] == history.warnings
    assert "stayed at ln 2 = 0.6931" in history.warnings[0]["message"]
    assert "for 3 epochs" in history.warnings[0]["message"]


def test_stalled_warning_survives_a_resume_and_is_not_repeated(tmp_path):
    train, _ = make_checkerboard(10)

    def model():
        return Stalled(10, 10, lambda epoch: 0.6931)

    full, _, resumed = split_and_resume(model, train, None, 5, 4, tmp_path)
    assert kinds(resumed) == kinds(full) == ["ranking_stalled"]


@pytest.mark.parametrize("hard", ["mixgcf", "hardest"])
def test_hard_negative_selection_is_not_called_stalled(hard):
    # a selected (or mixed) negative scores like the positive by design
    train, _ = make_checkerboard(10)
    model = Stalled(10, 10, lambda epoch: 0.6931, hard_negatives=hard)
    history, _ = fit(model, train, None, epochs=4, num_negatives=1)
    assert "ranking_stalled" not in kinds(history)
