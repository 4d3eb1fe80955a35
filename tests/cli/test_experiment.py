import json

import pytest
import torch

import graphcl_rec.cli.experiment as experiment
from graphcl_rec.bench.devices import UNLIKE_MARK, timing_cell, timing_keys
from graphcl_rec.cli.config import RunConfig, TrainConfig
from graphcl_rec.cli.main import main
from graphcl_rec.data import concat
from graphcl_rec.errors import LeakageError
from graphcl_rec.train import Trainer, load_checkpoint
from tests.cli.conftest import write_config
from tests.conftest import random_interactions


@pytest.fixture
def config(tmp_path, ratings):
    return write_config(tmp_path, ratings, "sgl",
                        '[model.augment]\nname = "edge_dropout"\np = 0.2', epochs=4)


def test_runner_refuses_overlapping_splits(tmp_path, monkeypatch):
    inter = random_interactions(20, 15, 120)
    train, val, test = (inter.subset(torch.arange(a, b))
                        for a, b in ((0, 90), (90, 105), (105, 120)))
    leaky = concat([test, train.subset(torch.arange(3))])
    monkeypatch.setattr(experiment, "load_data", lambda cfg: (train, val, leaky))

    def never(*args, **kwargs):
        raise AssertionError("training started despite leakage")

    monkeypatch.setattr(Trainer, "fit", never)
    cfg = RunConfig(train=TrainConfig(epochs=1, device="cpu"))
    with pytest.raises(LeakageError, match="'train' and 'test' share 3 "):
        experiment.run_experiment(cfg, out_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_checkpoints_go_next_to_the_results(tmp_path, config):
    out = tmp_path / "out"
    assert main(["train", str(config), "--out", str(out), "--no-progress",
                 "--train.epochs=2"]) == 0
    run_dir = out / "tiny-seed3"
    assert {p.name for p in run_dir.iterdir()} == {"last.pt", "best.pt", "model.pt"}
    state = load_checkpoint(run_dir / "last.pt")
    assert state["epoch"] == 2 and state["config"]["model"]["encoder"]["dim"] == 8
    assert "epochs" not in state["config"]["train"]  # may grow on resume


def test_resume_writes_the_same_results(tmp_path, config, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    assert main(["train", str(config), "--out", str(full), "--no-progress"]) == 0
    assert main(["train", str(config), "--out", str(part), "--no-progress",
                 "--train.epochs=2"]) == 0
    assert main(["train", str(config), "--resume", str(part / "tiny-seed3"),
                 "--no-progress"]) == 0
    assert "tiny seed=3" in capsys.readouterr().out
    a = json.loads((full / "tiny-seed3.json").read_text())
    b = json.loads((part / "tiny-seed3.json").read_text())
    assert b["resumed_from_epoch"] == 2 and a["resumed_from_epoch"] is None
    for key in ("test", "val_best", "best_epoch", "epochs_run", "config"):
        assert a[key] == b[key], key
    for ra, rb in zip(a["history"], b["history"], strict=True):
        assert (ra["loss"], ra["val"]) == (rb["loss"], rb["val"])
    assert (part / "tiny-seed3.epochs.jsonl").read_text().count("\n") == 4


def test_each_part_of_a_resumed_run_records_its_code(tmp_path, config, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(experiment, "process_revision", lambda: "aaaaaaa")
    assert main(["train", str(config), "--out", str(out), "--no-progress",
                 "--train.epochs=2"]) == 0
    monkeypatch.setattr(experiment, "process_revision", lambda: "bbbbbbb")
    assert main(["train", str(config), "--resume", str(out / "tiny-seed3"),
                 "--no-progress"]) == 0
    res = json.loads((out / "tiny-seed3.json").read_text())
    assert res["git_revision"] == "bbbbbbb"
    assert res["code_revisions"] == [{"from_epoch": 1, "git_revision": "aaaaaaa"},
                                     {"from_epoch": 3, "git_revision": "bbbbbbb"}]
    assert [(r.get("run_info") or {}).get("git_revision") for r in res["history"]
            ] == ["aaaaaaa", None, "bbbbbbb", None]
    logged = [json.loads(line) for line in
              (out / "tiny-seed3.epochs.jsonl").read_text().splitlines()]
    assert [r.get("run_info") for r in logged] == [r.get("run_info")
                                                   for r in res["history"]]


def test_each_part_of_a_resumed_run_records_its_threads_and_allocator(
        tmp_path, config, monkeypatch):
    out = tmp_path / "out"
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert main(["train", str(config), "--out", str(out), "--no-progress",
                     "--train.epochs=2"]) == 0
        torch.set_num_threads(2)
        monkeypatch.setattr(experiment, "allocator_state",
                            lambda: {"allocator": "glibc", "mmap_threshold": 1})
        assert main(["train", str(config), "--resume", str(out / "tiny-seed3"),
                     "--no-progress"]) == 0
    finally:
        torch.set_num_threads(threads)
    res = json.loads((out / "tiny-seed3.json").read_text())
    first, second = res["parts"]
    assert (first["from_epoch"], second["from_epoch"]) == (1, 3)
    assert (first["device"]["threads"], second["device"]["threads"]) == (1, 2)
    assert first["allocator"]["allocator"] != "glibc"  # the test process's own
    assert second["allocator"] == {"allocator": "glibc", "mmap_threshold": 1}
    assert res["device"] == second["device"]
    assert len(timing_keys(res)) == 2
    assert timing_cell([res["seconds_per_epoch"]], [res]).endswith(UNLIKE_MARK)


def test_code_revisions_of_a_checkpoint_made_before_they_were_recorded():
    records = [{"epoch": 1}, {"epoch": 2}, {"epoch": 3, "run_info": {
        "git_revision": "c"}}]
    assert experiment.code_revisions(records, "c") == [
        {"from_epoch": 1, "git_revision": None}, {"from_epoch": 3, "git_revision": "c"}]
    assert experiment.code_revisions([], "d") == [{"from_epoch": 1,
                                                    "git_revision": "d"}]


@pytest.mark.parametrize("args,needle", [
    (["--model.encoder.dim=16"], "model.encoder.dim: checkpoint has 8, run has 16"),
    (["--train.lr=0.5"], "train.lr: checkpoint has 0.01, run has 0.5"),
    (["--seeds", "0", "1"], "give at most one --seeds"),
    (["--seeds", "0"], "seed: checkpoint has 3, run has 0"),
])
def test_resume_refuses_another_run(tmp_path, config, capsys, args, needle):
    out = tmp_path / "out"
    assert main(["train", str(config), "--out", str(out), "--no-progress",
                 "--train.epochs=1"]) == 0
    capsys.readouterr()
    assert main(["train", str(config), "--resume", str(out / "tiny-seed3"),
                 "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_resume_without_a_checkpoint_fails(tmp_path, config, capsys):
    assert main(["train", str(config), "--resume", str(tmp_path / "nope"),
                 "--no-progress"]) == 2
    assert "CheckpointError: no checkpoint at" in capsys.readouterr().err
