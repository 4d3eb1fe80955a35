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


def test_auto_warmup_waits_out_a_dip_of_any_length():
    es = EarlyStopping("m", patience=2, warmup="auto")
    dip = [0.05] + [0.01] * 20  # SimGCL-like: below its first value for a while
    assert not any(es.step({"m": v}) for v in dip)
    assert not es.armed and es.wait == 0 and es.best_step == 0
    assert not es.step({"m": 0.06})  # first beats its epoch-1 value: counting starts
    assert es.armed and es.best_step == 21
    assert [es.step({"m": v}) for v in (0.055, 0.05)] == [False, True]


def test_auto_warmup_counts_at_once_when_validation_rises():
    auto = EarlyStopping("m", patience=2, warmup="auto")
    plain = EarlyStopping("m", patience=2)
    values = (0.1, 0.2, 0.15, 0.15, 0.3)
    assert [auto.step({"m": v}) for v in values] == [
        plain.step({"m": v}) for v in values] == [False, False, False, True, False]


def test_auto_warmup_is_capped_and_respects_mode_and_min_delta():
    from graphcl_rec.train.early_stopping import AUTO_WARMUP_CAP

    es = EarlyStopping("loss", mode="min", patience=3, warmup="auto", min_delta=0.1)
    stops = [es.step({"loss": v}) for v in [1.0] + [0.95] * (AUTO_WARMUP_CAP + 5)]
    assert stops.index(True) == AUTO_WARMUP_CAP + 2  # armed at the cap, +patience
    es = EarlyStopping("loss", mode="min", patience=1, warmup="auto", min_delta=0.1)
    assert [es.step({"loss": v}) for v in (1.0, 0.95, 0.85, 0.9)] == [
        False, False, False, True]


def test_auto_warmup_state_round_trip_and_repr():
    es = EarlyStopping("m", patience=2, warmup="auto")
    for v in (0.5, 0.1):
        es.step({"m": v})
    other = EarlyStopping("m", patience=2, warmup="auto")
    other.load_state_dict(es.state_dict())
    assert other.state_dict() == es.state_dict() and not other.armed
    assert other.first == 0.5
    assert "warmup='auto'" in repr(es)
    assert "warmup=3)" in repr(EarlyStopping("m", warmup=3))
    for bad in ("on", True, -2):
        with pytest.raises(ValueError, match="'warmup'"):
            EarlyStopping("m", warmup=bad)
