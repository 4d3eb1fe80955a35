"""The refit protocol: the validated run's epoch count, trained on train + val."""

import json
from dataclasses import replace

import pytest

from graphcl_rec.bench.report import write_report
from graphcl_rec.cli.config import load_config
from graphcl_rec.cli.experiment import refit_selection, run_experiment
from graphcl_rec.cli.main import main
from tests.cli.conftest import write_config


@pytest.fixture
def config(tmp_path, ratings):
    return write_config(tmp_path, ratings, epochs=3)


def test_refit_trains_the_chosen_epochs_on_train_and_val_and_tests_once(
        tmp_path, config):
    cfg = load_config(config)
    validated = run_experiment(cfg, out_dir=tmp_path, progress=False)
    refit = run_experiment(cfg, out_dir=tmp_path, progress=False, protocol="refit",
                           refit_of=validated)
    best = validated["best_epoch"]
    assert refit["path"].endswith("tiny-refit-seed3.json")
    assert refit["epochs_run"] == refit["best_epoch"] == best
    assert refit["config"]["train"]["epochs"] == best
    assert all("val" not in rec for rec in refit["history"])  # test read once
    data = validated["data"]
    assert refit["data"]["train"] == data["train"] + data["val"]
    assert refit["data"]["val"] == 0 and refit["data"]["test"] == data["test"]
    assert refit["refit_of"] == {
        "run": "tiny-seed3", "best_epoch": best, "val_best": validated["val_best"],
        "test": validated["test"], "git_revision": validated["git_revision"]}
    written = json.loads((tmp_path / "tiny-refit-seed3.json").read_text())
    assert written["protocol"] == "refit" and written["test"] == refit["test"]


def test_refit_needs_a_finished_validated_run_of_the_same_config(tmp_path, config):
    cfg = load_config(config)
    run = {"protocol": "validated", "seed": cfg.seed, "config": cfg.to_dict(),
           "best_epoch": 2, "val_best": {}, "test": {}}
    assert refit_selection(cfg, run)["best_epoch"] == 2
    with pytest.raises(ValueError, match="needs the validated run"):
        run_experiment(cfg, out_dir=tmp_path, progress=False, protocol="refit")
    with pytest.raises(ValueError, match="only used by the refit protocol"):
        run_experiment(cfg, out_dir=tmp_path, progress=False, refit_of=run)
    with pytest.raises(ValueError, match="'legacy' run"):
        refit_selection(cfg, run | {"protocol": "legacy"})
    with pytest.raises(ValueError, match="seed 4, the refit seed 3"):
        refit_selection(cfg, run | {"seed": 4})
    with pytest.raises(ValueError, match="no best epoch"):
        refit_selection(cfg, run | {"best_epoch": None})
    other = replace(cfg, train=replace(cfg.train, lr=0.5))
    with pytest.raises(ValueError, match=r"\['train.lr'\] differ"):
        refit_selection(cfg, run | {"config": other.to_dict()})
    # The epochs, budget and device may differ: they are not the model's settings.
    budget = replace(cfg, train=replace(cfg.train, epochs=9, max_seconds=60.0))
    assert refit_selection(cfg, run | {"config": budget.to_dict()})["best_epoch"] == 2
    assert list(tmp_path.glob("*.json")) == []


def test_bench_refit_makes_the_validated_run_first_then_reuses_it(
        tmp_path, config, capsys):
    out = tmp_path / "out"
    args = ["bench", str(config), "--protocol", "refit", "--out", str(out),
            "--no-progress"]
    assert main(args) == 0
    assert "running the validated protocol first" in capsys.readouterr().out
    validated = out / "tiny-seed0.json"  # bench's default seed
    stamp = validated.stat().st_mtime_ns
    refit = json.loads((out / "tiny-refit-seed0.json").read_text())
    assert refit["refit_of"]["best_epoch"] == json.loads(
        validated.read_text())["best_epoch"]
    assert main([*args, "--overwrite"]) == 0
    assert "validated protocol first" not in capsys.readouterr().out
    assert validated.stat().st_mtime_ns == stamp  # read, not trained again
    report = (out / "RESULTS.md").read_text()
    assert "| tiny | refit |" in report and "| tiny | validated |" in report
    assert not list(out.glob("curves_*_refit.png"))
    assert list(out.glob("curves_*_validated.png"))


def test_report_draws_no_curve_for_a_refit(tmp_path, config):
    cfg = load_config(config)
    validated = run_experiment(cfg, out_dir=tmp_path, progress=False)
    run_experiment(cfg, out_dir=tmp_path, progress=False, protocol="refit",
                   refit_of=validated)
    text = write_report(tmp_path, tmp_path / "R.md").read_text()
    assert "_refit.png" not in text
