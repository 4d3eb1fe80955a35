import json

import pytest

from graphcl_rec.bench.report import write_report


def test_report_with_no_runs(tmp_path):
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


def test_seeds_on_two_cpu_models_share_a_row_that_names_both(tmp_path):
    res = tmp_path / "res"
    res.mkdir()
    runs = [_fake_result("simgcl", "validated", s, []) for s in range(3)]
    runs[1]["device"]["model"] = runs[2]["device"]["model"] = "AMD EPYC"
    for i, r in enumerate(runs):
        (res / f"run{i}.json").write_text(json.dumps(r))
    text = write_report(res, tmp_path / "R.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| gowalla |")]
    assert "| cpu (AMD EPYC ×2, model not recorded ×1) | 3 |" in row


def test_report_without_sparsity_has_no_sparsity_plot(tmp_path):
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


def test_report_links_the_reproduction_notes_when_present(tmp_path):
    report = tmp_path / "R.md"
    assert "REPRODUCTION.md" not in write_report(tmp_path, report).read_text()
    (tmp_path / "REPRODUCTION.md").write_text("# notes\n")
    text = write_report(tmp_path, report).read_text()
    assert "[REPRODUCTION.md](REPRODUCTION.md)" in text



def test_selection_runs_get_their_own_table(tmp_path):
    res = tmp_path / "res"
    (res / "ml100k" / "selection").mkdir(parents=True)
    kept = _fake_result("ml-100k-lightgcn", "validated", 0, [], dataset="ml-100k")
    tried = _fake_result("grid-lightgcn-lr", "validated", 0, [], dataset="ml-100k")
    (res / "ml100k" / "a.json").write_text(json.dumps(kept))
    (res / "ml100k" / "selection" / "b.json").write_text(json.dumps(tried))
    text = write_report(res, tmp_path / "R.md").read_text()
    head, _, tail = text.partition("## Selection runs")
    assert "| ml-100k-lightgcn |" in head and "grid-lightgcn-lr" not in head
    assert "| grid-lightgcn-lr |" in tail.split("## Sparsity")[0]
    # A report of the selection folder alone shows its runs as the main table.
    alone = write_report(res / "ml100k" / "selection", tmp_path / "S.md").read_text()
    assert "## Selection runs" not in alone and "| grid-lightgcn-lr |" in alone


def test_curves_get_one_figure_per_dataset_and_protocol(tmp_path):
    from graphcl_rec.bench.plots import curve_figures

    runs = [_fake_result("simgcl", "legacy", 0, []),
            _fake_result("simgcl", "validated", 0, []),
            _fake_result("simgcl", "validated", 1, []),
            _fake_result("mf", "validated", 0, [], dataset="ml-100k")]
    assert curve_figures(runs) == [
        ("gowalla", "legacy", "curves_gowalla_legacy.png"),
        ("gowalla", "validated", "curves_gowalla_validated.png"),
        ("ml-100k", "validated", "curves_ml-100k_validated.png")]
    pytest.importorskip("matplotlib")
    res = tmp_path / "res"
    res.mkdir()
    for i, r in enumerate(runs):
        (res / f"run{i}.json").write_text(json.dumps(r))
    text = write_report(res, tmp_path / "R.md").read_text()
    for _, _, name in curve_figures(runs):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
        assert f"![curves]({name})" in text
    assert not (tmp_path / "curves_gowalla.png").exists()


def test_results_table_shows_the_median_epoch_not_the_mean(tmp_path):
    res = tmp_path / "res"
    res.mkdir()
    run = _fake_result("simgcl", "legacy", 0, [])
    # One epoch paused for 1,000 s: the mean (the file's figure) is 340.
    run["history"] = [{"epoch": e, "train_seconds": t, "eval_seconds": 0.1,
                       "val": {"recall@20": 0.05}}
                      for e, t in ((1, 10.0), (2, 1000.0), (3, 12.0))]
    run["seconds_per_epoch"] = 340.67
    (res / "a.json").write_text(json.dumps(run))
    text = write_report(res, tmp_path / "R.md").read_text()
    assert "| s/epoch (median) |" in text
    row = next(line for line in text.splitlines() if line.startswith("| gowalla |"))
    assert "| 12.00 |" in row and "340" not in row
