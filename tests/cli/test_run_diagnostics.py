import json
import logging

from graphcl_rec.cli.main import main
from graphcl_rec.train import TrainingWarning, diagnostics
from tests.cli.conftest import write_config


def test_results_carry_the_popularity_baseline_and_warnings(tmp_path, ratings):
    cfg = write_config(tmp_path, ratings, epochs=2)
    out = tmp_path / "out"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress",
                 "--train.warmup=auto"]) == 0
    res = json.loads((out / "tiny-seed3.json").read_text())
    pop = res["popularity"]
    assert set(pop) == {"val", "test"}
    assert 0 <= pop["val"]["recall@20"] <= 1 and 0 <= pop["test"]["recall@20"] <= 1
    assert pop["val"] == res["history"][0]["popularity"]
    assert isinstance(res["warnings"], list)
    assert {"alignment", "uniformity"} <= set(res["history"][1]["diagnostics"])
    log = [json.loads(line) for line in
           (out / "tiny-seed3.epochs.jsonl").read_text().splitlines()]
    assert log[0]["popularity"] == pop["val"] and "diagnostics" in log[1]
    assert res["config"]["train"]["warmup"] == "auto"


def test_the_cli_says_a_warning_once(tmp_path, ratings, monkeypatch, caplog,
                                     recwarn):
    monkeypatch.setattr(diagnostics, "COLLAPSE_UNIFORMITY", -100.0)  # all collapse
    cfg = write_config(tmp_path, ratings, epochs=2)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        assert main(["train", str(cfg), "--out", str(out), "--no-progress"]) == 0
    lines = [r.getMessage() for r in caplog.records if "collapsed" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert not [w for w in recwarn if issubclass(w.category, TrainingWarning)]
    res = json.loads((out / "tiny-seed3.json").read_text())
    assert [w["kind"] for w in res["warnings"]][:1] == ["collapse"]
    assert res["warnings"][0]["message"] == lines[0]
