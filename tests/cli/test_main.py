import json
from datetime import datetime, timedelta, timezone

import pytest

from graphcl_rec.bench.devices import device_cell
from graphcl_rec.cli.main import main
from tests.cli.conftest import write_config


def test_train_writes_results_json(tmp_path, ratings, capsys):
    cfg = write_config(tmp_path, ratings)
    out = tmp_path / "out"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress",
                 "--train.epochs=3"]) == 0
    res = json.loads((out / "tiny-seed3.json").read_text())
    assert res["seed"] == 3 and res["config"]["train"]["epochs"] == 3
    assert res["epochs_run"] == 3 and len(res["history"]) == 3
    assert set(res["versions"]) >= {"torch", "torch_geometric", "graphcl_rec"}
    assert "git_revision" in res and res["device"]["type"] == "cpu"
    finished = datetime.fromisoformat(res["finished_at"])
    assert finished.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - finished) < timedelta(minutes=5)
    assert 0 <= res["test"]["recall@20"] <= 1 and res["seconds_per_epoch"] > 0
    assert (out / "tiny-seed3.epochs.jsonl").read_text().count("\n") == 3
    assert "tiny seed=3" in capsys.readouterr().out


def test_train_with_contrastive_objective_and_seeds(tmp_path, ratings):
    cfg = write_config(tmp_path, ratings, "sgl", 'tau = 0.2\nssl_weight = 0.1\n'
                       '[model.augment]\nname = "edge_dropout"\np = 0.1')
    out = tmp_path / "out"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress",
                 "--seeds", "0", "1"]) == 0
    assert (out / "tiny-seed0.json").exists() and (out / "tiny-seed1.json").exists()


@pytest.mark.parametrize("args,needle", [
    (["train", "missing.toml"], "config file not found"),
    (["train", "{cfg}", "--train.epochs=abc"], "expected int"),
    (["train", "{cfg}", "--train.nope=1"], "unknown key 'nope'"),
    (["train", "{cfg}", "--model.encoder.name=gat"], "Could not resolve encoder"),
    (["train", "{cfg}", "--model.encoder.width=3"], "width"),
    (["train", "{cfg}", "--data.path=/no/such/file.tsv"], "/no/such/file.tsv"),
])
def test_errors_are_one_line(tmp_path, ratings, capsys, args, needle):
    cfg = write_config(tmp_path, ratings)
    argv = [a.replace("{cfg}", str(cfg)) for a in args] + ["--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_toml_is_reported(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = 1")
    assert main(["train", str(bad)]) == 2
    assert "invalid TOML" in capsys.readouterr().err


def test_datasets_lists_checksums(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "ml-100k" in out and "sha256" in out and "943 users" in out


def test_main_job_runs_end_to_end(tmp_path, capsys):
    assert main(["run", "--epochs", "1", "--models", "MF,XSimGCL", "--device", "cpu",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "mf" in out and "xsimgcl" in out and "test recall@20" in out
    assert (tmp_path / "ml-100k-mf-seed0.json").exists()
    assert (tmp_path / "ml-100k-mf-seed0" / "model.pt").is_file()  # graphcl_rec.load


def test_main_job_rejects_unknown_model(capsys):
    assert main(["run", "--models", "GAT", "--no-progress"]) == 2
    assert "Could not resolve model 'GAT'" in capsys.readouterr().err


@pytest.mark.parametrize("protocol", ["validated", "legacy"])
def test_bench_writes_results_and_report(tmp_path, ratings, protocol):
    cfg = write_config(tmp_path, ratings)
    out, report = tmp_path / "res", tmp_path / "RESULTS.md"
    assert main(["bench", str(cfg), "--seeds", "0", "1", "--out", str(out),
                 "--report", str(report), "--protocol", protocol, "--no-progress",
                 "--budget-minutes", "5"]) == 0
    tag = "-legacy" if protocol == "legacy" else ""
    res = json.loads((out / f"tiny{tag}-seed1.json").read_text())
    assert res["protocol"] == protocol
    assert res["config"]["train"]["max_seconds"] == 300
    assert res["sparsity"] and {"min_degree", "recall@20"} <= set(res["sparsity"][0])
    if protocol == "legacy":
        assert res["data"]["val"] == 0
    text = report.read_text()
    cell = device_cell([res])  # names this machine's CPU model
    assert cell.startswith("cpu") and f"| tiny | {protocol} | {cell} | 2 |" in text
    assert f"[0](res/tiny{tag}-seed0.json)" in text


def test_both_protocols_keep_their_own_results(tmp_path, ratings):
    cfg = write_config(tmp_path, ratings)
    out = tmp_path / "res"
    for protocol in ("validated", "legacy"):
        assert main(["bench", str(cfg), "--out", str(out), "--protocol", protocol,
                     "--report", str(tmp_path / "R.md"), "--no-progress"]) == 0
    assert json.loads((out / "tiny-seed0.json").read_text())["protocol"] == "validated"
    legacy = json.loads((out / "tiny-legacy-seed0.json").read_text())
    assert legacy["protocol"] == "legacy"


def test_git_revision_from_the_environment_wins(tmp_path, monkeypatch):
    from graphcl_rec.cli.provenance import git_revision
    monkeypatch.setenv("GRAPHCL_REC_REVISION", "abc123")
    assert git_revision(tmp_path) == "abc123"  # no git repository there
    assert git_revision() == "abc123"  # this repository: the override still wins
    monkeypatch.delenv("GRAPHCL_REC_REVISION")
    assert git_revision(tmp_path) is None


def test_a_process_keeps_the_revision_of_the_code_it_loaded(monkeypatch):
    from graphcl_rec.cli import provenance
    monkeypatch.delenv("GRAPHCL_REC_REVISION", raising=False)
    monkeypatch.setattr(provenance, "_FIRST_REVISION", {})
    trees = iter(["aaa", "bbb"])
    monkeypatch.setattr(provenance, "git_revision", lambda cwd=None: next(trees))
    assert provenance.process_revision() == "aaa"
    assert provenance.process_revision() == "aaa"  # a commit meanwhile changes nothing
    monkeypatch.setenv("GRAPHCL_REC_REVISION", "shipped")
    assert provenance.process_revision() == "shipped"


def test_a_run_names_the_tree_when_it_changed_under_the_process(
        tmp_path, ratings, monkeypatch):
    from graphcl_rec.cli import experiment, provenance
    monkeypatch.delenv("GRAPHCL_REC_REVISION", raising=False)
    monkeypatch.setattr(provenance, "_FIRST_REVISION", {"tree": "loaded"})
    monkeypatch.setattr(experiment, "git_revision", lambda cwd=None: "committed")
    cfg = write_config(tmp_path, ratings)
    out = tmp_path / "res"
    assert main(["bench", str(cfg), "--seeds", "0", "1", "--out", str(out),
                 "--report", str(tmp_path / "R.md"), "--no-progress"]) == 0
    for seed in (0, 1):
        res = json.loads((out / f"tiny-seed{seed}.json").read_text())
        assert res["git_revision"] == "loaded"
        assert res["git_revision_tree_at_end"] == "committed"
        assert res["history"][0]["run_info"]["git_revision"] == "loaded"
    monkeypatch.setattr(experiment, "git_revision", lambda cwd=None: "loaded")
    assert main(["bench", str(cfg), "--out", str(out), "--overwrite",
                 "--report", str(tmp_path / "R.md"), "--no-progress"]) == 0
    assert "git_revision_tree_at_end" not in json.loads(
        (out / "tiny-seed0.json").read_text())


def test_bench_resume_continues_a_stopped_run(tmp_path, ratings):
    cfg = write_config(tmp_path, ratings, epochs=3)
    out = tmp_path / "res"
    common = ["bench", str(cfg), "--out", str(out), "--protocol", "legacy",
              "--report", str(tmp_path / "R.md"), "--no-progress"]
    # A budget far below one epoch stops the run after its first epoch.
    assert main([*common, "--checkpoints", "--budget-minutes", "1e-6"]) == 0
    first = json.loads((out / "tiny-legacy-seed0.json").read_text())
    assert first["epochs_run"] == 1
    assert (out / "tiny-legacy-seed0" / "last.pt").exists()
    assert main([*common, "--resume"]) == 0
    res = json.loads((out / "tiny-legacy-seed0.json").read_text())
    assert res["resumed_from_epoch"] == 1 and res["epochs_run"] == 3
    log = (out / "tiny-legacy-seed0.epochs.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1, 2, 3]




def test_bench_writes_only_where_it_is_told(tmp_path, ratings, monkeypatch):
    cfg = write_config(tmp_path, ratings, epochs=1)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["bench", str(cfg), "--no-progress"]) == 0
    assert sorted(p.name for p in work.iterdir()) == ["runs"]
    out = work / "runs" / "bench"
    assert (out / "RESULTS.md").is_file() and (out / "tiny-seed0.json").is_file()
    report = tmp_path / "elsewhere" / "R.md"
    assert main(["bench", str(cfg), "--no-progress", "--out", str(tmp_path / "res"),
                 "--report", str(report)]) == 0
    assert "[0](../res/tiny-seed0.json)" not in report.read_text()  # not below it
    run = json.loads((tmp_path / "res" / "tiny-seed0.json").read_text())
    assert f"| tiny | validated | {device_cell([run])} | 1 |" in report.read_text()
