import json

import pytest
import torch

from graphcl_rec.eval import evaluate
from graphcl_rec.models import MF, SGC, BPRRecommender, LightGCN
from graphcl_rec.train import EarlyStopping, Trainer, seed_everything
from tests.conftest import make_checkerboard


@pytest.mark.parametrize("encoder", [LightGCN, MF, SGC])
def test_checkerboard_is_learned(encoder, device):
    train, test = (part.to(device) for part in make_checkerboard(20))
    model = BPRRecommender(
        encoder(20, 20, dim=16, **({} if encoder is MF else {"num_layers": 2})),
        reg_weight=1e-4,
    )
    trainer = Trainer(
        epochs=60,
        batch_size=64,
        lr=0.05,
        progress=False,
        seed=0,
        k=[1],
        sampler="interaction",
        device=device,
    )
    trainer.fit(model, train, val=test)
    metrics = evaluate(model, graph=train, target=test, exclude=train, k=[1])
    assert metrics["hit@1"] >= 0.9


def test_same_seed_same_weights_and_history(tmp_path):
    train, val = make_checkerboard(10)

    def run(seed):
        model = BPRRecommender(LightGCN(10, 10, dim=8, num_layers=2))
        hist = Trainer(
            epochs=3, batch_size=16, progress=False, seed=seed, reset_parameters=True
        ).fit(model, train, val)
        return model.encoder.embedding.weight.detach().clone(), hist

    w1, h1 = run(0)
    w2, h2 = run(0)
    w3, _ = run(1)
    assert torch.equal(w1, w2)
    assert [r["loss"] for r in h1] == [r["loss"] for r in h2]
    assert not torch.equal(w1, w3)


def test_early_stopping_restores_best_and_logs(tmp_path):
    train, val = make_checkerboard(10)
    model = BPRRecommender(MF(10, 10, dim=4))
    log = tmp_path / "log.jsonl"
    es = EarlyStopping("recall@5", patience=2)
    hist = Trainer(
        epochs=200,
        batch_size=16,
        lr=0.2,
        k=[5],
        early_stopping=es,
        progress=False,
        log_path=log,
    ).fit(model, train, val)
    assert hist.stopped_early and len(hist) < 200
    assert hist.best_epoch == 1 + es.best_step
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == len(hist) and "val" in lines[0] and "train_seconds" in lines[0]
    restored = evaluate(model, graph=train, target=val, exclude=train, k=[5])
    assert restored["recall@5"] == pytest.approx(hist.best["recall@5"])


def test_fit_keeps_the_weights_it_is_given():
    train, val = make_checkerboard(10)
    model = BPRRecommender(LightGCN(10, 10, dim=8, num_layers=2))
    loaded = {k: torch.randn_like(v) for k, v in model.state_dict().items()}
    model.load_state_dict(loaded)
    Trainer(epochs=0, progress=False, seed=0).fit(model, train, val)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded[key]), key
    # One epoch starts from the loaded weights: it moves them, but not far.
    Trainer(epochs=1, batch_size=16, lr=1e-4, progress=False).fit(model, train, val)
    weight = model.encoder.embedding.weight
    assert not torch.equal(weight, loaded["encoder.embedding.weight"])
    torch.testing.assert_close(weight, loaded["encoder.embedding.weight"],
                               atol=1e-2, rtol=0)


def test_reset_parameters_reinitialises_from_the_seed():
    train, val = make_checkerboard(10)

    def initial(seed, loaded):
        model = BPRRecommender(LightGCN(10, 10, dim=8, num_layers=2))
        with torch.no_grad():
            model.encoder.embedding.weight.fill_(loaded)
        Trainer(epochs=0, progress=False, seed=seed, reset_parameters=True).fit(
            model, train, val
        )
        return model.encoder.embedding.weight.detach().clone()

    a, b, c = initial(0, 1.0), initial(0, 2.0), initial(1, 1.0)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, torch.ones_like(a))


@pytest.mark.parametrize("negative_sampling", ["uniform", "popularity"])
def test_negative_sampling_option(negative_sampling, monkeypatch):
    import graphcl_rec.train.trainer as trainer_module

    seen = []

    class Spy(trainer_module.PairSampler):
        def __init__(self, *args, **kwargs):
            seen.append(kwargs["negatives"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "PairSampler", Spy)
    train, val = make_checkerboard(10)
    trainer = Trainer(epochs=1, batch_size=16, progress=False,
                      negative_sampling=negative_sampling)
    hist = trainer.fit(BPRRecommender(MF(10, 10, dim=4)), train, val)
    assert seen == [negative_sampling] and len(hist) == 1
    assert trainer.negative_sampling == negative_sampling
    with pytest.raises(TypeError):
        Trainer(negatives="uniform")  # the objectives' name, not the trainer's


def test_trainer_hyperparameters_are_keyword_only():
    with pytest.raises(TypeError):
        Trainer(10)  # type: ignore[misc]
    assert Trainer().reset_parameters is False


def test_nan_loss_stops_with_epoch_and_step():
    train, val = make_checkerboard(10)
    model = BPRRecommender(MF(10, 10, dim=4))
    with torch.no_grad():
        model.encoder.embedding.weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="epoch 1, step 1"):
        Trainer(epochs=2, progress=False, reset_parameters=False).fit(model, train, val)


def test_max_seconds_budget():
    train, val = make_checkerboard(10)
    hist = Trainer(epochs=1000, batch_size=8, progress=False, max_seconds=0.0).fit(
        BPRRecommender(MF(10, 10, dim=4)), train, val
    )
    assert len(hist) == 1


def test_invalid_trainer_arguments():
    with pytest.raises(ValueError):
        Trainer(epochs=-1)
    with pytest.raises(ValueError, match="device"):
        Trainer(device="tpu", progress=False).fit(
            BPRRecommender(MF(10, 10, dim=4)), *make_checkerboard(10)
        )


def test_seed_everything_rejects_negative():
    with pytest.raises(ValueError):
        seed_everything(-1)


@pytest.mark.parametrize("seconds", [-1, -1e-9, float("nan")])
def test_negative_time_budget_is_refused(seconds):
    with pytest.raises(ValueError, match=r"max_seconds must be >= 0 seconds, or None"):
        Trainer(max_seconds=seconds)
    assert Trainer(max_seconds=0).max_seconds == 0


def test_run_info_goes_into_the_first_record_of_each_fit(tmp_path):
    train, val = make_checkerboard(10)

    def fit(epochs, info, resume=False):
        trainer = Trainer(epochs=epochs, batch_size=64, progress=False, k=[5],
                          checkpoint_dir=tmp_path, run_info=info)
        return trainer.fit(BPRRecommender(MF(10, 10, dim=4)), train, val,
                           resume=resume)

    first = fit(2, {"git_revision": "a", "host": "x"})
    assert [r.get("run_info") for r in first] == [{"git_revision": "a", "host": "x"},
                                                  None]
    resumed = fit(4, {"git_revision": "b"}, resume=True)
    assert [r.get("run_info") for r in resumed] == [
        {"git_revision": "a", "host": "x"}, None, {"git_revision": "b"}, None]
    assert [r.get("run_info") for r in fit(1, None)] == [None]
