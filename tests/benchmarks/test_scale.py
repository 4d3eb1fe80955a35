"""``scale``: synthetic power-law graphs, one child process per point (smoke size)."""

import argparse
import math

import pytest
import torch

from benchmarks.bench import scale
from benchmarks.run import main
from graphcl_rec.data.synthetic import DegreeModel, power_law_graph


def _smoke(tmp_path, pairs):
    out = tmp_path / "scale.json"
    result = main(["scale", "--fit", "ml-100k", "--pairs", pairs, "--models",
                   "lightgcn", "--threads", "1", "--json", str(out)])
    assert out.is_file()
    return result, [r for r in result.rows if "what" in r]


def test_smoke_run_measures_training_and_evaluation(tmp_path, capsys):
    result, points = _smoke(tmp_path, "20000")
    assert "degrees fitted to ml-100k: users DegreeModel(alpha=" in \
        capsys.readouterr().out
    assert [(r["target_pairs"], r["what"]) for r in points] == [
        (20000, "lightgcn"), (20000, "eval")]
    for row in points:
        # ML-100K is dense: drawn repeats of a pair are dropped, so fewer remain.
        assert 0.5 * row["target_pairs"] <= row["pairs"] <= row["target_pairs"]
        assert row["seconds"] > 0
        assert row["peak_rss_mb"] >= row["rss_after_data_mb"] >= \
            row["rss_before_data_mb"] > 0
    assert not points[0]["estimated"]
    assert 1 <= points[0]["batches"] <= math.ceil(points[0]["pairs"] / 2048)
    assert "2e+04 pairs lightgcn seconds" in result.figures


@pytest.mark.slow
def test_smoke_run_over_two_sizes_prints_exponents(tmp_path, capsys):
    result, points = _smoke(tmp_path, "20000,40000")
    text = capsys.readouterr().out
    assert "lightgcn: time grows as pairs^" in text and "eval: time grows" in text
    assert len(points) == 4 and "lightgcn time exponent" in result.figures


def test_point_with_steps_estimates_the_epoch(tmp_path, capsys):
    law = DegreeModel(2.5, 3, 100, 1.0, 0.0, torch.zeros(0, dtype=torch.long))
    inter = power_law_graph(2000, users=law, items=law, seed=0)
    torch.save({"train": inter, "test": inter.subset(torch.arange(len(inter)) < 200)},
               tmp_path / "graph.pt")
    args = argparse.Namespace(graph=tmp_path / "graph.pt", what="sgl-ed", steps=2,
                              batch_size=512, seed=0, device="cpu", threads=None,
                              eval_users=0)
    row = scale.run_point(args).rows[0]
    assert row["estimated"] and row["batches"] == 4
    assert row["nnz"] == 2 * len(inter) and row["spmm_ns_per_nnz"] > 0
    assert row["seconds"] >= row["step_seconds"] * row["batches"] > 0


@pytest.mark.parametrize("points,slope", [([(10, 3.0), (100, 30.0)], 1.0),
                                          ([(1, 2.0), (2, 8.0), (4, 32.0)], 2.0)])
def test_slope_of_a_power(points, slope):
    assert scale._slope(points) == pytest.approx(slope)


def test_slope_is_undefined_with_a_zero():
    assert math.isnan(scale._slope([(1, 0.0), (2, 5.0)]))


def test_eval_on_a_user_sample_is_scaled_to_every_test_user(tmp_path):
    law = DegreeModel(2.5, 3, 100, 1.0, 0.0, torch.zeros(0, dtype=torch.long))
    inter = power_law_graph(4000, users=law, items=law, seed=0)
    is_test = torch.arange(len(inter)) % 5 == 0
    torch.save({"train": inter.subset(~is_test), "test": inter.subset(is_test)},
               tmp_path / "graph.pt")
    args = argparse.Namespace(graph=tmp_path / "graph.pt", what="eval", steps=0,
                              batch_size=512, seed=0, device="cpu", threads=None,
                              eval_users=10)
    row = scale.run_point(args).rows[0]
    assert row["ranked_users"] == 10 < row["test_users"] and row["estimated"]
    assert row["seconds"] == pytest.approx(
        row["measured_seconds"] * row["test_users"] / 10)
    args.eval_users = 0
    row = scale.run_point(args).rows[0]
    assert row["ranked_users"] == row["test_users"] and not row["estimated"]
