"""``serve-load`` in smoke mode: two clients for a second against a tiny run."""

import json

import pytest

from benchmarks.run import main
from tests.serve.runs import delimited, ratings_file, train_run

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-load-run")
    return train_run(root, delimited(ratings_file(root)), encoder="mf")


def test_serve_load_reports_latency_errors_and_lost_feedback(run, tmp_path, capsys):
    out = tmp_path / "load.json"
    main(["serve-load", "--run", str(run.folder), "--server", "thread",
          "--clients", "2", "--seconds", "1.5", "--feedback-fraction", "0.3",
          "--update-every", "0.3", "--k", "5", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "requests/s" in printed and "0 lost" in printed
    data = json.loads(out.read_text())
    assert data["subcommand"] == "serve-load"
    figures = data["figures"]
    assert figures["errors"]["value"] == 0
    assert figures["lost feedback pairs"]["value"] == 0
    assert figures["requests/s"]["value"] > 0
    assert 0 < figures["recommend p50"]["value"] <= figures["recommend p99"]["value"]
    summary = data["rows"][-1]
    assert summary["ok"] and summary["health_balances"]
    assert summary["posted_pairs"] > 0
    assert summary["pairs_trained"] + summary["pairs_pending"] == summary[
        "posted_pairs"]
    assert summary["health"]["feedback_accepted"] == summary["posted_pairs"]


def test_serve_load_checks_its_options(run):
    with pytest.raises(SystemExit, match="--clients >= 1"):
        main(["serve-load", "--run", str(run.folder), "--clients", "0"])
