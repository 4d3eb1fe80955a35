import os
import pickle

import pytest
import torch

import graphcl_rec
from graphcl_rec.errors import CheckpointError
from graphcl_rec.models import MF, BPRRecommender, LightGCN
from graphcl_rec.train import EarlyStopping, Trainer, load_checkpoint, save_checkpoint
from graphcl_rec.train.checkpoint import FORMAT_VERSION, first_difference
from tests.conftest import make_checkerboard

CONFIG = {"model": {"encoder": {"name": "lightgcn", "dim": 64}}, "seed": 0}


def plain_state(**extra):
    return {"config": CONFIG, "epoch": 2, "model": {"w": torch.arange(3.0)},
            "history": [{"epoch": 1, "loss": 0.5, "val": {"recall@20": 0.1}}],
            "best": None, "generator": torch.Generator().get_state(), **extra}


class Payload:
    """Unpickling this runs a shell command (the classic pickle exploit)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def test_round_trip_and_no_temp_files(tmp_path):
    path = save_checkpoint(tmp_path / "run" / "last.pt", plain_state())
    state = load_checkpoint(path, expected_config=CONFIG)
    assert state["epoch"] == 2 and torch.equal(state["model"]["w"], torch.arange(3.0))
    assert state["format_version"] == FORMAT_VERSION
    assert state["library_version"] == graphcl_rec.__version__
    assert state["history"][0]["val"]["recall@20"] == 0.1
    assert os.listdir(path.parent) == ["last.pt"]
    torch.load(path, weights_only=True)  # loadable by plain torch, weights only


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", plain_state())

    def crash(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, plain_state(epoch=3))
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 2
    assert os.listdir(tmp_path) == ["last.pt"]


def test_save_refuses_values_a_weights_only_load_would_refuse(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint\.extra\.obj: Payload"):
        save_checkpoint(tmp_path / "x.pt", plain_state(extra={"obj": Payload("m")}))
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize("zipfile", [True, False])
def test_code_executing_pickle_is_refused(tmp_path, zipfile):
    marker = tmp_path / "pwned"
    path = tmp_path / "last.pt"
    state = plain_state(model={"w": torch.zeros(2), "evil": Payload(marker)})
    torch.save(state, path, _use_new_zipfile_serialization=zipfile)
    with pytest.raises(CheckpointError, match="refusing to load .*could execute code"):
        load_checkpoint(path)
    assert not marker.exists()


def test_payload_is_live(tmp_path):
    # The planted object really runs its command when unpickled without guard.
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04trunc"])
def test_corrupt_files(tmp_path, content):
    path = tmp_path / "last.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="last.pt"):
        load_checkpoint(path)


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", plain_state())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_missing_file_and_missing_keys(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_checkpoint(tmp_path / "other.pt")


def test_config_mismatch_names_first_differing_key(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", plain_state())
    run = {"model": {"encoder": {"name": "lightgcn", "dim": 32}}, "seed": 0}
    with pytest.raises(CheckpointError,
                       match="model.encoder.dim: checkpoint has 64, run has 32"):
        load_checkpoint(path, expected_config=run)
    with pytest.raises(CheckpointError,
                       match="lr: checkpoint has <missing>, run has 1"):
        load_checkpoint(path, expected_config={**CONFIG, "seed": 0, "lr": 1})


@pytest.mark.parametrize("key,value", [("format_version", 0),
                                       ("library_version", "0.0.1")])
def test_format_and_version_mismatch(tmp_path, key, value):
    path = save_checkpoint(tmp_path / "last.pt", plain_state(**{key: value}))
    with pytest.raises(CheckpointError, match=f"{key}: checkpoint has {value!r}"):
        load_checkpoint(path)


def test_first_difference():
    assert first_difference({"k": [20, 50]}, {"k": (20, 50)}) is None
    assert first_difference({"k": [20]}, {"k": [20, 50]}) == (
        "k: checkpoint has [20], run has [20, 50]")
    assert first_difference({"k": [20, 5]}, {"k": [20, 50]}) == (
        "k[1]: checkpoint has 5, run has 50")
    assert first_difference({"lr": 1}, {"lr": 1.0}) is None
    assert first_difference({"a": True}, {"a": 1}) is not None
    assert first_difference({"a": None, "b": 1}, {"a": None}) == (
        "b: checkpoint has 1, run has <missing>")


def fit(tmp_path, epochs=4, resume=False, **kwargs):
    train, val = make_checkerboard(10)
    model = BPRRecommender(MF(10, 10, dim=4))
    kwargs = {"batch_size": 16, "lr": 0.05, "k": [5], "progress": False,
              "checkpoint_dir": tmp_path, **kwargs}
    hist = Trainer(epochs=epochs, **kwargs).fit(model, train, val, resume=resume)
    return model, hist


def test_trainer_writes_last_and_best(tmp_path):
    _, hist = fit(tmp_path, epochs=5, checkpoint_every=2)
    last, best = load_checkpoint(tmp_path / "last.pt"), load_checkpoint(
        tmp_path / "best.pt")
    assert last["epoch"] == 5  # the final epoch is always written
    assert best["epoch"] == hist.best_epoch == best["best_epoch"]
    assert [r["val"] for r in last["history"]] == [r["val"] for r in hist.records]
    assert last["config"]["trainer"]["lr"] == 0.05
    assert set(last) >= {"model", "optimizer", "generator", "early_stopping",
                         "global_step", "best_model", "best_metrics", "config"}


def test_checkpoint_every(tmp_path, monkeypatch):
    import graphcl_rec.train.state as state_module

    epochs = []
    real = state_module.save_checkpoint

    def spy(path, state):
        if path.name == "last.pt":
            epochs.append(state["epoch"])
        return real(path, state)

    monkeypatch.setattr(state_module, "save_checkpoint", spy)
    fit(tmp_path, epochs=7, checkpoint_every=3)
    assert epochs == [3, 6, 7]


def test_resume_with_another_config_is_refused(tmp_path):
    fit(tmp_path, epochs=2)
    with pytest.raises(CheckpointError, match="trainer.lr: checkpoint has 0.05, "
                                              "run has 0.1"):
        fit(tmp_path, epochs=4, resume=True, lr=0.1)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        train, val = make_checkerboard(10)
        Trainer(epochs=4, batch_size=16, lr=0.05, k=[5], progress=False,
                checkpoint_dir=tmp_path).fit(
            BPRRecommender(MF(10, 10, dim=8)), train, val, resume=True)


def test_resume_arguments(tmp_path, caplog):
    model, hist = fit(tmp_path / "fresh", epochs=2, resume=True)  # nothing to resume
    assert len(hist) == 2 and "training from scratch" in caplog.text
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        fit(tmp_path / "other", epochs=2, resume=tmp_path / "missing")
    with pytest.raises(ValueError, match="checkpoint_dir"):
        fit(tmp_path, epochs=2, resume=True, checkpoint_dir=None)
    _, again = fit(tmp_path / "x", epochs=2, resume=tmp_path / "fresh" / "last.pt")
    assert [r["loss"] for r in again] == [r["loss"] for r in hist]


def test_resuming_a_stopped_run_trains_no_more(tmp_path):
    es = EarlyStopping("recall@5", patience=1)
    model, hist = fit(tmp_path, epochs=100, lr=0.2, early_stopping=es)
    assert hist.stopped_early
    es2 = EarlyStopping("recall@5", patience=1)
    model2, hist2 = fit(tmp_path, epochs=100, lr=0.2, early_stopping=es2,
                        resume=True)
    assert len(hist2) == len(hist) and hist2.best_epoch == hist.best_epoch
    assert torch.equal(model.encoder.embedding.weight, model2.encoder.embedding.weight)


def test_checkpointing_does_not_change_the_run(tmp_path):
    a, ha = fit(tmp_path, epochs=3)
    b, hb = fit(tmp_path, epochs=3, checkpoint_dir=None)
    assert torch.equal(a.encoder.embedding.weight, b.encoder.embedding.weight)
    assert [r["val"] for r in ha] == [r["val"] for r in hb]


def test_best_checkpoint_holds_the_restored_weights(tmp_path):
    train, val = make_checkerboard(10)
    model = BPRRecommender(LightGCN(10, 10, dim=4, num_layers=1))
    Trainer(epochs=4, batch_size=16, lr=0.05, k=[5], progress=False,
            checkpoint_dir=tmp_path).fit(model, train, val)
    best = load_checkpoint(tmp_path / "best.pt")
    assert torch.equal(best["model"]["encoder.embedding.weight"],
                       model.encoder.embedding.weight)
