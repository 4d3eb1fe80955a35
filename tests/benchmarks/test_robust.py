"""``robust`` in smoke mode: three models, one seed, a 2-second budget, tiny data."""

import json

import pytest

from benchmarks.bench import robust_data, robust_report
from benchmarks.bench.robust import model_names
from benchmarks.run import main

SMOKE = ["robust", "--datasets", "synthetic-tiny", "--models",
         "popularity,lightgcn,sgl", "--seeds", "0", "--budget-seconds", "2"]
FLAG_COLUMNS = ("below popularity", "below LightGCN 1-epoch", "worse than LightGCN")


def test_smoke_run_writes_runs_and_report(tmp_path, capsys):
    main([*SMOKE, "--out", str(tmp_path), "--label", "after"])
    root = tmp_path / "after"
    folder = root / "synthetic-tiny"
    # The references are always added: popularity and LightGCN after one epoch.
    names = {"popularity", "lightgcn-1epoch", "lightgcn", "sgl"}
    assert {p.name for p in folder.glob("*.json")} == {f"{n}-seed0.json"
                                                       for n in names}
    for name in names:
        run = json.loads((folder / f"{name}-seed0.json").read_text())
        assert run["kind"] == "robust-run" and run["model"] == name
        assert 0.0 <= run["test"]["recall@20"] <= 1.0
        assert "ndcg@20" in run["test"] and "recall@20" in run["val_best"]
        assert run["settings"]["budget_seconds"] == 2.0
        assert run["dataset_info"]["users"] == 150
        assert {"revision", "library", "host", "threads"} <= set(run["meta"])
    one = json.loads((folder / "lightgcn-1epoch-seed0.json").read_text())
    assert one["epochs_run"] == 1 and one["best_epoch"] == 1
    sgl = json.loads((folder / "sgl-seed0.json").read_text())
    assert "EdgeDropout" in sgl["constructor"] and sgl["history"]["records"]
    assert sgl["epochs_run"] >= 1 and sgl["seconds"] > 0

    text = (root / "README.md").read_text()
    for column in FLAG_COLUMNS:
        assert column in text
    assert "| sgl | 1: 0 |" in text and "2 s of wall-clock time" in text
    assert "synthetic-tiny" in capsys.readouterr().out

    # Resumable: a second call reuses every stored run; other settings are refused.
    main([*SMOKE, "--out", str(tmp_path), "--label", "after"])
    assert capsys.readouterr().out.count("[stored]") == 4
    with pytest.raises(SystemExit, match="other settings"):
        main([*SMOKE[:-1], "3", "--out", str(tmp_path), "--label", "after"])

    # The report and the comparison come from the JSON files alone.
    (root / "README.md").unlink()
    main(["robust", "--out", str(tmp_path), "--label", "after", "--report-only"])
    assert "worse than LightGCN" in (root / "README.md").read_text()
    main(["robust", "--out", str(tmp_path), "--label", "after", "--compare", "after",
          "--compare-out", str(tmp_path / "cmp.md")])
    cmp = (tmp_path / "cmp.md").read_text()
    assert "| sgl |" in cmp and "+0.0000" in cmp


def test_every_registered_objective_is_a_model():
    from graphcl_rec.models import OBJECTIVES

    names = model_names()
    assert names[:4] == ["popularity", "lightgcn-1epoch", "mf", "lightgcn"]
    assert {key for key in OBJECTIVES if key != "bpr"} <= set(names)


def test_synthetic_graph_is_seeded_and_heavy_tailed():
    a = robust_data.power_law_graph(150, 200, 2000, seed=3, communities=5)
    b = robust_data.power_law_graph(150, 200, 2000, seed=3, communities=5)
    assert a.user.tolist() == b.user.tolist() and a.item.tolist() == b.item.tolist()
    shape = robust_data.shape(a)
    assert shape["users"] == 150 and 1500 < shape["pairs"] < 2600
    assert shape["user_degree_min"] >= 5
    assert shape["user_degree_median"] < shape["user_degree_mean"]


def test_flags_compare_means_and_count_seeds():
    def runs(*values):
        return {s: {"test": {"recall@20": v}} for s, v in enumerate(values)}

    f = robust_report.flag(runs(0.1, 0.3), runs(0.2, 0.2))
    assert not f["flag"] and f["below"] == 1 and f["shared"] == 2
    assert robust_report.flag(runs(0.1), runs(0.2))["flag"]
    assert robust_report.flag(runs(0.1), None) is None


def test_report_marks_failed_runs(tmp_path):
    info = {"users": 2, "items": 3, "pairs": 4, "density": 0.5, "train": 2, "val": 1,
            "test": 1, "user_degree_mean": 2.0, "user_degree_median": 2,
            "item_degree_mean": 1.3, "item_degree_median": 1, "data_seed": 0,
            "fingerprint": "x"}
    for model, recall, failed in (("popularity", 0.2, None), ("simgcl", 0.0, "Fl")):
        run = {"kind": "robust-run", "dataset": "d", "model": model, "seed": 0,
               "test": {"recall@20": recall, "ndcg@20": recall}, "val_best": {},
               "seconds": 1.0, "failed": failed, "dataset_info": info,
               "settings": {"budget_seconds": 5.0}, "meta": {"revision": "abc"}}
        (tmp_path / "d").mkdir(exist_ok=True)
        (tmp_path / "d" / f"{model}-seed0.json").write_text(json.dumps(run))
    text = robust_report.report(tmp_path)
    assert "**failed** in 1/1 runs" in text
    assert "d / simgcl: below popularity (-0.2000)" in text
