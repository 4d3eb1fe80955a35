import json

import pytest

from graphcl_rec.bench.quality import Reached, first_reached, quality_table
from graphcl_rec.bench.report import PUBLISHED, write_report


def _history(recalls, train=10.0, evals=1.0):
    return [{"epoch": i + 1, "train_seconds": train, "eval_seconds": evals,
             **({} if rec is None else {"val": {"recall@20": rec}})}
            for i, rec in enumerate(recalls)]


def _naive(history, target):
    # Reference: cumulative sums recomputed from scratch for every epoch.
    for k, rec in enumerate(history):
        if rec.get("val", {}).get("recall@20", -1.0) >= target:
            done = history[:k + 1]
            return (rec["epoch"], sum(r["train_seconds"] for r in done),
                    sum(r["train_seconds"] + r["eval_seconds"] for r in done))
    return None


def test_first_reached_counts_every_epoch_up_to_the_first_crossing():
    hist = _history([0.01, 0.03, 0.05, 0.04, 0.06])
    hist[1]["train_seconds"] = 25.0
    hit = first_reached(hist, 0.05)
    assert hit == Reached(3, 45.0, 48.0)
    assert (hit.epoch, hit.train_seconds, hit.wall_seconds) == _naive(hist, 0.05)


def test_first_reached_target_met_exactly_and_never():
    hist = _history([0.02, 0.04])
    assert first_reached(hist, 0.04).epoch == 2
    assert first_reached(hist, 0.0401) is None
    assert first_reached([], 0.01) is None


def test_unevaluated_epochs_cost_time_but_cannot_reach():
    # eval_every = 2: odd epochs carry no metrics, their seconds still count.
    hist = _history([None, 0.03, None, 0.07])
    for rec in hist[::2]:
        rec["eval_seconds"] = 0.0
    assert first_reached(hist, 0.05) == Reached(4, 40.0, 42.0)


def test_missing_eval_seconds_count_as_zero():
    hist = [{"epoch": 1, "train_seconds": 3.0, "val": {"recall@20": 0.5}}]
    assert first_reached(hist, 0.1) == Reached(1, 3.0, 3.0)


def test_spliced_histories_are_refused():
    hist = _history([0.01, 0.02]) + _history([0.03])
    with pytest.raises(ValueError, match="not increasing: 1 after 2"):
        first_reached(hist, 0.5)


def test_random_histories_match_the_naive_reference():
    import random

    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 12)
        hist = [{"epoch": i + 1, "train_seconds": rng.uniform(0, 5),
                 "eval_seconds": rng.uniform(0, 1),
                 "val": {"recall@20": rng.uniform(0, 0.1)}} for i in range(n)]
        target = rng.uniform(0, 0.1)
        hit = first_reached(hist, target)
        want = _naive(hist, target)
        if want is None:
            assert hit is None
        else:
            assert hit.epoch == want[0]
            assert hit.train_seconds == pytest.approx(want[1])
            assert hit.wall_seconds == pytest.approx(want[2])


def _result(name, protocol, recalls, dataset="yelp2018"):
    return {"name": name, "protocol": protocol, "seed": 0, "device": {"type": "cpu"},
            "config": {"data": {"dataset": dataset}, "train": {"epochs": len(recalls)}},
            "history": _history(recalls), "test": {"recall@20": max(recalls),
                                                   "ndcg@20": 0.05},
            "best_epoch": 1, "epochs_run": len(recalls), "stopped_early": False,
            "seconds_per_epoch": 10.0, "seconds_per_eval": 1.0,
            "peak_memory_mb": 1.0}


def test_table_has_legacy_runs_with_a_published_figure_only():
    pub = PUBLISHED[("xsimgcl", "yelp2018")][0]
    runs = [_result("xsimgcl_yelp2018", "legacy", [0.5 * pub, 0.96 * pub, pub]),
            _result("xsimgcl_yelp2018", "validated", [pub]),
            _result("my_model_yelp2018", "legacy", [pub]),
            _result("xsimgcl_ml-100k", "legacy", [pub], dataset="ml-100k")]
    lines = quality_table(runs, PUBLISHED)
    assert len(lines) == 3
    assert lines[2] == (f"| yelp2018 | xsimgcl_yelp2018 | cpu | 0 | {pub} | epoch 2: "
                        f"0.3 / 0.4 min | epoch 3: 0.5 / {33 / 60:.1f} min | "
                        f"{pub:.4f} (100.0%) | 3 | 10.0 |")
    assert quality_table(runs[1:], PUBLISHED) == []


def test_a_variant_is_timed_against_its_objectives_figure():
    pub = PUBLISHED[("xsimgcl", "yelp2018")][0]
    variant = _result("xsimgcl_d128_yelp2018", "legacy", [0.96 * pub, pub])
    variant["config"]["model"] = {"objective": "xsimgcl"}
    unknown = _result("xsimgcl_d128_yelp2018", "legacy", [pub])
    unknown["config"]["model"] = {"objective": "foo"}
    lines = quality_table([variant, unknown], PUBLISHED)
    assert len(lines) == 3
    assert lines[2].startswith(f"| yelp2018 | xsimgcl_d128_yelp2018 | cpu | 0 | {pub} "
                               "| epoch 1: ")


def test_table_says_not_reached():
    pub = PUBLISHED[("lightgcn", "gowalla")][0]
    lines = quality_table([_result("lightgcn_gowalla", "legacy", [0.5 * pub],
                                   dataset="gowalla")], PUBLISHED)
    assert "| not reached | not reached | " in lines[2]
    assert "(50.0%)" in lines[2]


def test_report_has_the_section_only_when_a_run_qualifies(tmp_path):
    res = tmp_path / "res"
    res.mkdir()
    (res / "v.json").write_text(json.dumps(_result("xsimgcl_yelp2018", "validated",
                                                   [0.07])))
    assert "Time to quality" not in write_report(res, tmp_path / "R.md").read_text()
    (res / "l.json").write_text(json.dumps(_result("xsimgcl_yelp2018", "legacy",
                                                   [0.07, 0.0723])))
    text = write_report(res, tmp_path / "R.md").read_text()
    assert text.index("## Time to quality") < text.index("## Sparsity groups")
    assert "| epoch 2: 0.3 / 0.4 min |" in text


def test_a_paused_epoch_moves_the_minutes_not_the_median():
    pub = PUBLISHED[("simgcl", "yelp2018")][0]
    run = _result("simgcl_yelp2018", "legacy", [0.5 * pub, pub, pub])
    run["history"][0]["train_seconds"] = 6000.0  # paused with kill -STOP
    row = quality_table([run], PUBLISHED)[2]
    assert "epoch 2: 100.2 / 100.2 min" in row and row.endswith("| 3 | 10.0 |")


def test_a_peer_run_is_a_row_on_this_machine_beside_the_runs(tmp_path):
    pub = PUBLISHED[("xsimgcl", "yelp2018")][0]
    res = tmp_path / "res"
    (res / "peers").mkdir(parents=True)
    (res / "l.json").write_text(json.dumps(_result("xsimgcl_yelp2018", "legacy",
                                                   [0.07, pub])))
    peer = {"kind": "peer_run", "library": "SELFRec", "name": "XSimGCL, SELFRec",
            "model": "xsimgcl", "dataset": "yelp2018", "protocol": "legacy",
            "device": "cpu", "threads": 1, "seed": 0, "test": "test.txt",
            "history": _history([0.5 * pub, 0.95 * pub, None], train=30.0)}
    (res / "peers" / "selfrec.json").write_text(json.dumps(peer))
    text = write_report(res, tmp_path / "R.md").read_text()
    main, quality = text.split("## Time to quality")
    assert "SELFRec" not in main  # not a run of this library
    assert (f"| yelp2018 | XSimGCL, SELFRec | cpu (SELFRec code, 1 thread) | 0 | "
            f"{pub} | epoch 2: 1.0 / 1.0 min | not reached | "
            f"{0.95 * pub:.4f} (95.0%) | 3 | 30.0 |") in quality
    assert "| yelp2018 | xsimgcl_yelp2018 | cpu | 0 |" in quality


def test_the_device_cell_names_the_cpu_model_a_run_recorded():
    pub = PUBLISHED[("xsimgcl", "yelp2018")][0]
    run = _result("xsimgcl_yelp2018", "legacy", [pub])
    run["device"]["model"] = "AMD EPYC"
    row = quality_table([run], PUBLISHED)[2]
    assert row.startswith("| yelp2018 | xsimgcl_yelp2018 | cpu (AMD EPYC) | 0 |")
