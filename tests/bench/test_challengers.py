import json
import math

import pytest

from graphcl_rec.bench.challengers import margin, verdict
from graphcl_rec.bench.report import write_report


def _run(name, seed, recall, ndcg, protocol="legacy", objective="xsimgcl",
         dataset="yelp2018"):
    # The keys write_report reads, shaped like run_experiment's output.
    return {
        "name": name, "protocol": protocol, "seed": seed, "device": {"type": "cpu"},
        "config": {"data": {"dataset": dataset}, "train": {"epochs": 2},
                   "model": {"objective": objective}},
        "test": {"recall@20": recall, "ndcg@20": ndcg}, "best_epoch": 1,
        "epochs_run": 2, "stopped_early": False, "seconds_per_epoch": 0.1,
        "seconds_per_eval": 0.1, "peak_memory_mb": 10.0,
        "history": [{"epoch": 1, "train_seconds": 0.1, "eval_seconds": 0.1,
                     "val": {"recall@20": 0.05}}],
    }


def _report(tmp_path, runs):
    res = tmp_path / "res"
    res.mkdir(exist_ok=True)
    for i, r in enumerate(runs):
        (res / f"run{i}.json").write_text(json.dumps(r))
    return write_report(res, tmp_path / "R.md").read_text()


def _rows(text):
    table = text.split("## Beyond the published table")[1].split("\n## ")[0]
    return [line for line in table.splitlines() if line.startswith("| yelp2018")]


def test_margin_against_naive_formula():
    values = [0.0740, 0.0750, 0.0745]
    mean = sum(values) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
    assert margin(values, 0.0723) == pytest.approx((mean - 0.0723) / sd)
    assert margin([0.08], 0.0723) is None
    assert margin([0.08, 0.08], 0.0723) == math.inf
    assert margin([0.07, 0.07], 0.0723) == -math.inf


def test_verdict_needs_three_seeds_and_both_margins():
    assert verdict([5.0, 5.0], 2) == "not yet (2 of 3 seeds)"
    assert verdict([5.0, 2.5], 3) == "yes"
    assert verdict([5.0, 1.9], 3) == "no"
    assert verdict([None, 5.0], 3) == "no"


def test_report_tests_a_variant_against_its_objectives_figure(tmp_path):
    runs = [_run("xsimgcl_d128_yelp2018", s, r, n) for s, (r, n) in
            enumerate([(0.0745, 0.0612), (0.0748, 0.0615), (0.0750, 0.0616)])]
    text = _report(tmp_path, runs)
    (row,) = _rows(text)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:6] == ["yelp2018", "xsimgcl_d128_yelp2018", "legacy", "xsimgcl",
                         "cpu", "3"]
    assert cells[7] == "0.0723" and cells[10] == "0.0604"
    assert float(cells[8]) == pytest.approx(
        margin([0.0745, 0.0748, 0.0750], 0.0723), abs=0.05)
    assert cells[12] == "yes"
    assert "[0](res/run0.json)" in cells[14]


def test_report_says_no_when_one_figure_falls_short(tmp_path):
    # Recall clears the bar, NDCG is within noise of the published 0.0604.
    runs = [_run("xsimgcl_d128_yelp2018", s, r, n) for s, (r, n) in
            enumerate([(0.0745, 0.0600), (0.0748, 0.0610), (0.0750, 0.0605)])]
    (row,) = _rows(_report(tmp_path, runs))
    assert "| no |" in row


def test_refit_runs_are_challengers_in_their_own_row(tmp_path):
    """A refit trains on the whole training split and reads test once: its seeds
    are tested against the figure too, apart from the legacy seeds."""
    runs = [_run("xsimgcl_d128_yelp2018", s, r, n, protocol=p)
            for p in ("legacy", "refit")
            for s, (r, n) in enumerate([(0.0745, 0.0612), (0.0748, 0.0615),
                                        (0.0750, 0.0616)][:2 if p == "refit" else 3])]
    rows = _rows(_report(tmp_path, runs))
    assert [r.split("|")[3].strip() for r in rows] == ["legacy", "refit"]
    assert "| yes |" in rows[0] and "| not yet (2 of 3 seeds) |" in rows[1]


def test_only_legacy_variants_with_a_published_objective_are_challengers(tmp_path):
    runs = [_run("xsimgcl_yelp2018", 0, 0.073, 0.060),  # has its own figure
            _run("xsimgcl_d128_yelp2018", 0, 0.074, 0.061, protocol="validated"),
            _run("foo_yelp2018", 0, 0.074, 0.061, objective="foo"),
            _run("xsimgcl_d128_gowalla", 0, 0.17, 0.14, dataset="gowalla")]
    assert "## Beyond the published table" not in _report(tmp_path, runs)
    text = _report(tmp_path, [_run("xsimgcl_d128_yelp2018", 0, 0.0748, 0.0616)])
    (row,) = _rows(text)
    assert "| not yet (1 of 3 seeds) |" in row and "| — |" in row
