import json

import pytest

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
    assert f"| tiny | {protocol} | cpu | 2 |" in text
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


def test_report_with_no_runs(tmp_path):
    from graphcl_rec.cli.report import write_report
    path = write_report(tmp_path, tmp_path / "R.md")
    assert "No runs yet." in path.read_text()


def _fake_result(name, protocol, seed, sparsity, dataset="gowalla"):
    # The keys write_report reads, shaped like run_experiment's output.
    return {
        "name": name, "protocol": protocol, "seed": seed, "device": {"type": "cpu"},
        "config": {"data": {"dataset": dataset}, "train": {"epochs": 2}},
        "test": {"recall@20": 0.1, "ndcg@20": 0.05}, "best_epoch": 1,
        "epochs_run": 2, "stopped_early": False, "seconds_per_epoch": 0.1,
        "seconds_per_eval": 0.1, "peak_memory_mb": 10.0,
        "history": [{"epoch": 0, "train_seconds": 0.1, "eval_seconds": 0.1,
                     "val": {"recall@20": 0.05}}],
        "sparsity": sparsity,
    }


def _groups(*recalls):
    # group_report rows: one per non-empty training-degree group.
    bounds = [(1, 3), (4, 7), (8, 15), (16, 90)]
    return [{"group": g, "min_degree": lo, "max_degree": hi, "num_users": 5,
             "recall@20": rec, "ndcg@20": rec / 2}
            for g, ((lo, hi), rec) in enumerate(zip(bounds, recalls))]


def test_report_plots_sparsity_groups(tmp_path):
    pytest.importorskip("matplotlib")
    from graphcl_rec.cli.report import write_report
    res = tmp_path / "res"
    res.mkdir()
    runs = [_fake_result("lightgcn", "validated", 0, _groups(.01, .02, .03, .04)),
            _fake_result("lightgcn", "validated", 1, _groups(.03, .04, .05, .06)),
            _fake_result("simgcl", "legacy", 0, _groups(.02, .03, .04, .05))]
    for i, r in enumerate(runs):
        (res / f"run{i}.json").write_text(json.dumps(r))
    text = write_report(res, tmp_path / "R.md").read_text()
    png = tmp_path / "sparsity_gowalla.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![sparsity](sparsity_gowalla.png)" in text
    assert text.index("## Sparsity groups") < text.index("![sparsity]")
    assert "| simgcl | legacy | cpu | 0 | 0.0200 (1–3) |" in text


def test_report_reads_subfolders_and_names_the_gpu(tmp_path):
    from graphcl_rec.cli.report import write_report
    res = tmp_path / "res"
    (res / "h200").mkdir(parents=True)
    cpu = _fake_result("simgcl", "legacy", 0, _groups(.02, .03, .04, .05))
    gpu = _fake_result("simgcl", "legacy", 0, _groups(.02, .03, .04, .06))
    gpu["device"] = {"type": "cuda", "name": "NVIDIA H200"}
    (res / "a.json").write_text(json.dumps(cpu))
    (res / "h200" / "a.json").write_text(json.dumps(gpu))
    text = write_report(res, tmp_path / "R.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| gowalla | simgcl")]
    assert len(rows) == 2  # one row per device, not one row of two seeds
    assert any("| cuda (NVIDIA H200) | 1 |" in row for row in rows)
    assert "(res/h200/a.json)" in text
    assert "| simgcl | legacy | cuda (NVIDIA H200) | 0 | 0.0200 (1–3) |" in text


def test_git_revision_from_the_environment_wins(tmp_path, monkeypatch):
    from graphcl_rec.cli.provenance import git_revision
    monkeypatch.setenv("GRAPHCL_REC_REVISION", "abc123")
    assert git_revision(tmp_path) == "abc123"  # no git repository there
    assert git_revision() == "abc123"  # this repository: the override still wins
    monkeypatch.delenv("GRAPHCL_REC_REVISION")
    assert git_revision(tmp_path) is None


def test_report_without_sparsity_has_no_sparsity_plot(tmp_path):
    from graphcl_rec.cli.report import write_report
    res = tmp_path / "res"
    res.mkdir()
    (res / "run.json").write_text(json.dumps(
        _fake_result("lightgcn", "validated", 0, [], dataset="yelp2018")))
    text = write_report(res, tmp_path / "R.md").read_text()
    assert "| yelp2018 | lightgcn | validated | cpu | 1 |" in text
    assert not list(tmp_path.glob("sparsity_*.png"))
    assert "![sparsity]" not in text
    for line in text.splitlines():
        if line.startswith("!["):
            assert (tmp_path / line.split("(")[1].rstrip(")")).is_file()


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


def test_report_links_the_reproduction_notes_when_present(tmp_path):
    from graphcl_rec.cli.report import write_report
    report = tmp_path / "R.md"
    assert "REPRODUCTION.md" not in write_report(tmp_path, report).read_text()
    (tmp_path / "REPRODUCTION.md").write_text("# notes\n")
    text = write_report(tmp_path, report).read_text()
    assert "[REPRODUCTION.md](REPRODUCTION.md)" in text
