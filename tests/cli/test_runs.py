"""A finished run is never overwritten by accident; a resume may change the lr."""

import json

import pytest

from graphcl_rec.cli.main import main
from graphcl_rec.cli.runs import RunExistsError, claim_run, run_files
from tests.cli.conftest import write_config


def run(capsys, *argv):
    """``main(argv)`` -> (exit code, stderr)."""
    capsys.readouterr()
    code = main([*map(str, argv), "--no-progress"])
    return code, capsys.readouterr().err.strip()


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}


def test_train_refuses_to_replace_a_finished_run(tmp_path, ratings, capsys):
    cfg, out = write_config(tmp_path, ratings), tmp_path / "out"
    assert run(capsys, "train", cfg, "--out", out)[0] == 0
    before = snapshot(out)
    assert {str(p) for p in before} == {"tiny-seed3.json", "tiny-seed3.epochs.jsonl",
                                        "tiny-seed3/last.pt", "tiny-seed3/best.pt",
                                        "tiny-seed3/model.pt"}
    code, err = run(capsys, "train", cfg, "--out", out, "--train.epochs=1")
    assert code == 2 and len(err.splitlines()) == 1
    assert "RunExistsError: 1 run(s) already have results: tiny-seed3 (" in err
    assert "--resume" in err and "--overwrite" in err
    assert snapshot(out) == before  # nothing touched
    assert run(capsys, "train", cfg, "--out", out, "--train.epochs=1",
               "--overwrite")[0] == 0
    res = json.loads((out / "tiny-seed3.json").read_text())
    assert res["epochs_run"] == 1 and res["resumed_from_epoch"] is None
    log = (out / "tiny-seed3.epochs.jsonl").read_text().splitlines()
    assert len(log) == 1  # the old run's epochs are gone, not mixed in


@pytest.mark.parametrize("leftover", ["tiny-seed3.json", "tiny-seed3.epochs.jsonl",
                                      "tiny-seed3/last.pt"])
def test_any_file_of_the_run_counts(tmp_path, ratings, capsys, leftover):
    cfg, out = write_config(tmp_path, ratings), tmp_path / "out"
    (out / leftover).parent.mkdir(parents=True)
    (out / leftover).write_text("{}")
    code, err = run(capsys, "train", cfg, "--out", out)
    assert code == 2 and leftover.split("/")[0] in err
    (out / "tiny-seed3").mkdir(exist_ok=True)
    assert run_files(out, "tiny-seed3") == [out / leftover.split("/")[0]]


def test_an_empty_run_folder_is_free(tmp_path):
    (tmp_path / "a-seed0").mkdir()
    assert run_files(tmp_path, "a-seed0") == []
    claim_run(tmp_path, "a-seed0")
    (tmp_path / "a-seed0" / "notes.txt").write_text("mine")
    with pytest.raises(RunExistsError, match="a-seed0"):
        claim_run(tmp_path, "a-seed0")
    claim_run(tmp_path, "a-seed0", overwrite=True)  # only the run's own files go
    assert (tmp_path / "a-seed0" / "notes.txt").exists()


def test_bench_refuses_before_any_run_trains(tmp_path, ratings, capsys):
    cfg, out = write_config(tmp_path, ratings, epochs=1), tmp_path / "res"
    common = ["bench", cfg, "--out", out, "--report", tmp_path / "R.md"]
    assert run(capsys, *common, "--seeds", "1")[0] == 0
    code, err = run(capsys, *common, "--seeds", "0", "1")
    assert code == 2 and "tiny-seed1" in err and "tiny-seed0" not in err
    assert not (out / "tiny-seed0.json").exists()  # seed 0 did not train first
    # --resume without a checkpoint to continue is no licence to overwrite.
    code, err = run(capsys, *common, "--seeds", "1", "--resume")
    assert code == 2 and "tiny-seed1" in err
    assert run(capsys, *common, "--seeds", "0", "1", "--overwrite")[0] == 0
    assert (out / "tiny-seed0.json").exists()


@pytest.mark.parametrize("argv,needle", [
    (["--resume", "{run}", "--overwrite"], "give one of them"),
    (["--allow-change", "train.lr"], "--allow-change: only applies with --resume"),
    (["--resume", "{run}", "--allow-change", "model.encoder.dim"],
     "'model.encoder.dim' cannot change when resuming; the keys that can are "
     "['train.lr', 'train.weight_decay']"),
])
def test_conflicting_flags(tmp_path, ratings, capsys, argv, needle):
    cfg, out = write_config(tmp_path, ratings, epochs=1), tmp_path / "out"
    argv = [a.replace("{run}", str(out / "tiny-seed3")) for a in argv]
    code, err = run(capsys, "train", cfg, "--out", out, *argv)
    assert code == 2 and needle in err and len(err.splitlines()) == 1


def test_bench_flags_are_checked(tmp_path, ratings, capsys):
    cfg = write_config(tmp_path, ratings, epochs=1)
    code, err = run(capsys, "bench", cfg, "--out", tmp_path, "--budget-minutes", -1)
    assert code == 2 and "--budget-minutes: must be > 0 (got -1.0)" in err
    code, err = run(capsys, "bench", cfg, "--out", tmp_path, "--resume", "--overwrite")
    assert code == 2 and "give one of them" in err
    code, err = run(capsys, "run", "--epochs", 0, "--out", tmp_path)
    assert code == 2 and "--epochs: must be >= 1 (got 0)" in err


def test_resume_with_an_allowed_lr_change_is_recorded(tmp_path, ratings, capsys):
    cfg, out = write_config(tmp_path, ratings), tmp_path / "out"
    assert run(capsys, "train", cfg, "--out", out, "--train.epochs=1")[0] == 0
    resume = ["train", cfg, "--resume", out / "tiny-seed3", "--train.lr=0.005"]
    code, err = run(capsys, *resume)
    assert code == 2 and "train.lr: checkpoint has 0.01, run has 0.005" in err
    assert run(capsys, *resume, "--allow-change", "train.lr")[0] == 0
    res = json.loads((out / "tiny-seed3.json").read_text())
    change = {"train.lr": {"checkpoint": 0.01, "run": 0.005},
              "trainer.lr": {"checkpoint": 0.01, "run": 0.005}}
    assert res["changed_on_resume"] == change and res["resumed_from_epoch"] == 1
    assert res["config"]["train"]["lr"] == 0.005 and res["epochs_run"] == 2
    assert res["history"][1]["changed_on_resume"] == change
    log = (out / "tiny-seed3.epochs.jsonl").read_text().splitlines()
    assert json.loads(log[1])["changed_on_resume"] == change
