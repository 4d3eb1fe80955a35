import pytest

from graphcl_rec.train import EarlyStopping


def test_patience_counts_evaluations_and_min_delta():
    es = EarlyStopping("m", mode="max", patience=2, min_delta=0.05)
    assert not es.step({"m": 0.1})
    assert not es.step({"m": 0.14})  # below min_delta: no improvement
    assert es.step({"m": 0.12})
    assert es.best == 0.1 and es.best_step == 0


def test_min_mode_and_state_dict_round_trip():
    es = EarlyStopping("loss", mode="min", patience=3)
    for v in (1.0, 0.5, 0.7):
        es.step({"loss": v})
    other = EarlyStopping("loss", mode="min", patience=3)
    other.load_state_dict(es.state_dict())
    assert other.state_dict() == es.state_dict()
    assert other.best == 0.5 and other.wait == 1


def test_nan_never_improves():
    es = EarlyStopping("m", patience=1)
    assert es.step({"m": float("nan")})


@pytest.mark.parametrize("kwargs", [{"mode": "up"}, {"patience": 0}, {"min_delta": -1}])
def test_invalid(kwargs):
    with pytest.raises(ValueError):
        EarlyStopping("m", **kwargs)


def test_missing_metric():
    with pytest.raises(KeyError, match="recall@20"):
        EarlyStopping().step({"ndcg@20": 0.1})


def test_warmup_never_stops_early_but_tracks_best():
    es = EarlyStopping("m", patience=1, warmup=3)
    steps = [es.step({"m": v}) for v in (0.5, 0.1, 0.1, 0.1)]
    assert steps == [False, False, False, True]
    assert es.best == 0.5 and es.best_step == 0
    with pytest.raises(ValueError, match="warmup"):
        EarlyStopping("m", warmup=-1)


def test_only_monitor_is_positional():
    assert EarlyStopping("m", patience=3).patience == 3
    with pytest.raises(TypeError):
        EarlyStopping("m", "max", 3)  # type: ignore[misc]
