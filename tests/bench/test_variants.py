import json
import math
import statistics
from pathlib import Path

import pytest
from scipy import stats

from graphcl_rec.bench.devices import UNLIKE_MARK
from graphcl_rec.bench.report import write_report
from graphcl_rec.bench.variants import (
    base_key,
    config_diff,
    describe,
    flatten,
    variant_table,
    variant_time_table,
    welch_t,
)


def _run(name, seed, recall, ndcg, protocol="validated", dataset="gowalla",
         dim=64, device=None, **extra):
    return {
        "name": f"{name}_{dataset}", "protocol": protocol, "seed": seed,
        "device": device or {"type": "cpu"},
        "config": {"data": {"dataset": dataset}, "seed": seed,
                   "name": f"{name}_{dataset}",
                   "model": {"objective": "xsimgcl", "encoder": {"dim": dim}},
                   "train": {"epochs": 20, "max_seconds": 60.0 * (seed + 1),
                             **extra}},
        "test": {"recall@20": recall, "ndcg@20": ndcg}, "best_epoch": 1,
        "epochs_run": 2, "stopped_early": False, "seconds_per_epoch": 0.1,
        "seconds_per_eval": 0.1, "peak_memory_mb": 10.0,
        "history": [{"epoch": 1, "train_seconds": 0.1, "eval_seconds": 0.1,
                     "val": {"recall@20": 0.05}}],
        "path": f"/nowhere/{name}-{seed}.json",
    }


def test_base_key_takes_the_longest_underscore_prefix():
    keys = {"sgl", "sgl_ed", "xsimgcl", "xsim"}
    assert base_key("sgl_ed_bf16", keys) == "sgl_ed"
    assert base_key("sgl_nd", keys) == "sgl"
    assert base_key("xsimgcl_d128", keys) == "xsimgcl"
    # A prefix must end at an underscore: "xsim" is not a base of "xsimgcl".
    assert base_key("xsimgcl", keys) is None
    assert base_key("lightgcn", keys) is None


def test_flatten_and_diff_leave_out_run_naming_and_budget():
    a, b = _run("xsimgcl", 0, 0.1, 0.1), _run("xsimgcl_d128", 1, 0.1, 0.1, dim=128)
    assert flatten(a["config"])["model.encoder.dim"] == 64
    diff = config_diff(a["config"], b["config"])
    # name, seed and train.max_seconds differ too, but do not change what is trained.
    assert diff.changed == {"model.encoder.dim": (64, 128)}
    assert (diff.base_only, diff.variant_only) == ({}, {})


def test_diff_lists_keys_one_file_lacks_apart():
    a = _run("sgl_ed", 0, 0.1, 0.1)
    b = _run("sgl_ed_bf16", 0, 0.1, 0.1, nce_precision="bfloat16")
    a["config"]["train"]["negatives"] = "uniform"
    diff = config_diff(a["config"], b["config"])
    assert diff.changed == {}
    assert diff.base_only == {"train.negatives": "uniform"}
    assert diff.variant_only == {"train.nce_precision": "bfloat16"}
    text = describe(diff)
    assert text.startswith("recorded by one file only: ")
    assert "`train.nce_precision` = bfloat16 (variant)" in text
    assert describe(config_diff(a["config"], a["config"])) == "nothing"


@pytest.mark.parametrize("x,y", [([0.183, 0.1828, 0.1831], [0.1812, 0.1811, 0.1809]),
                                 ([1.0, 2.0], [4.0, 1.0, 0.5, 3.0])])
def test_welch_t_matches_scipy(x, y):
    expected = stats.ttest_ind(x, y, equal_var=False).statistic
    assert welch_t(x, y) == pytest.approx(expected, rel=1e-12)


def test_welch_t_edge_cases():
    assert welch_t([1.0], [1.0, 2.0]) is None
    assert welch_t([2.0, 2.0], [1.0, 1.0]) == math.inf
    assert welch_t([1.0, 1.0], [2.0, 2.0]) == -math.inf
    assert welch_t([1.0, 1.0], [1.0, 1.0]) == 0.0


def test_table_pairs_each_variant_with_its_base_only():
    base = [_run("xsimgcl", s, 0.181 + s * 1e-4, 0.153) for s in range(3)]
    variant = [_run("xsimgcl_d128", s, 0.183 + s * 1e-4, 0.1535, dim=128)
               for s in range(2)]
    # Not bases: another protocol, another dataset, another device kind.
    noise = [_run("xsimgcl", 0, 0.5, 0.5, protocol="legacy"),
             _run("xsimgcl", 0, 0.5, 0.5, dataset="yelp2018"),
             _run("xsimgcl_d128", 0, 0.5, 0.5, device={"type": "cuda", "name": "G"})]
    lines = variant_table(base + variant + noise, Path("/elsewhere"))
    rows = lines[2:]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[:6] == ["gowalla", "validated", "xsimgcl_d128_gowalla",
                         "xsimgcl_gowalla", "cpu", "2 / 3"]
    x = [r["test"]["recall@20"] for r in variant]
    y = [r["test"]["recall@20"] for r in base]
    gap = statistics.mean(x) - statistics.mean(y)
    assert cells[8] == (f"{gap:+.4f} ({gap / statistics.mean(y) * 100:+.1f} %; "
                        f"{welch_t(x, y):+.1f})")
    # NDCG has no spread on either side: an infinite t, shown as such.
    assert cells[11].endswith("; +inf)")
    assert cells[12] == "`model.encoder.dim` 64 → 128"
    assert cells[13] == "0 1"  # files outside the report's folder: seeds, unlinked


def test_table_is_empty_without_a_variant_and_base_pair():
    assert variant_table([_run("xsimgcl", 0, 0.1, 0.1)], Path(".")) == []
    assert variant_table([_run("xsimgcl_d128", 0, 0.1, 0.1)], Path(".")) == []


def test_report_has_the_section_only_when_a_pair_exists(tmp_path):
    def report(runs, folder):
        res = tmp_path / folder
        res.mkdir()
        for i, r in enumerate(runs):
            r = {k: v for k, v in r.items() if k != "path"}
            (res / f"run{i}.json").write_text(json.dumps(r))
        return write_report(res, tmp_path / f"{folder}.md").read_text()

    pair = [_run("xsimgcl", 0, 0.18, 0.15),
            _run("xsimgcl_d128", 0, 0.19, 0.16, dim=128)]
    text = report(pair, "a")
    assert "## Variants against their base configs" in text
    section = text.split("## Variants against their base configs")[1]
    assert "| gowalla | validated | xsimgcl_d128_gowalla | xsimgcl_gowalla |" in section
    assert "+0.0100 (+5.6 %; —)" in section
    assert "## Variants" not in report(pair[:1], "b")


def _curve(run, vals, seconds=60.0):
    run["history"] = [{"epoch": i + 1, "train_seconds": seconds, "eval_seconds": 6.0,
                       "val": {"recall@20": v}} for i, v in enumerate(vals)]
    return run


def test_time_table_reaches_the_lowest_best_of_the_base():
    base = [_curve(_run("xsimgcl", 0, 0.1, 0.1), [0.10, 0.20, 0.21]),
            _curve(_run("xsimgcl", 1, 0.1, 0.1), [0.10, 0.19, 0.20])]
    variant = [_curve(_run("xsimgcl_d128", 0, 0.1, 0.1, dim=128), [0.20, 0.25], 180.0),
               _curve(_run("xsimgcl_d128", 1, 0.1, 0.1, dim=128), [0.15, 0.18])]
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in variant_time_table(base + variant, Path("/x"))[2:]]
    assert [r[4] for r in rows] == ["0.2000"] * 4  # min(0.21, 0.20)
    assert [(r[5], r[6]) for r in rows] == [
        ("xsimgcl_gowalla", "0"), ("xsimgcl_gowalla", "1"),
        ("xsimgcl_d128_gowalla", "0"), ("xsimgcl_d128_gowalla", "1")]
    assert [r[8] for r in rows] == ["epoch 2: 2.0 / 2.2 min", "epoch 3: 3.0 / 3.3 min",
                                    "epoch 1: 3.0 / 3.1 min", "not reached"]
    assert [r[9] for r in rows] == ["60.0", "60.0", "180.0", "60.0"]
    assert rows[0][7] == ("cpu, model not recorded, threads not recorded, "
                          "system allocator")


def test_time_table_leaves_out_pairs_without_a_selection_curve():
    """Refit runs evaluate no epoch: their pair is compared, not timed."""
    def refit(name, seed, dim=64):
        run = _run(name, seed, 0.1, 0.1, protocol="refit", dim=dim)
        return run | {"history": [{"epoch": 1, "train_seconds": 60.0}]}

    runs = [refit("xsimgcl", 0), refit("xsimgcl_d128", 0, dim=128)]
    assert len(variant_table(runs, Path("/x"))) == 3
    assert variant_time_table(runs, Path("/x")) == []


def test_time_table_marks_a_run_whose_parts_were_timed_unlike():
    one = {"type": "cpu", "threads": 1, "model": "M"}
    two = {**one, "threads": 2}
    base = [_curve(_run("xsimgcl", 0, 0.1, 0.1, device=two), [0.2])]
    mixed = _curve(_run("xsimgcl_d128", 0, 0.1, 0.1, device=two), [0.1, 0.2])
    mixed["parts"] = [{"from_epoch": 1, "device": one},
                      {"from_epoch": 2, "device": two}]
    rows = variant_time_table([*base, mixed], Path("/x"))[2:]
    assert "| cpu, M, 2 threads, system allocator |" in rows[0]
    assert f"| cpu, M, 2 threads, system allocator {UNLIKE_MARK} |" in rows[1]
    assert variant_time_table(base, Path("/x")) == []


def test_hyphenated_names_pair_too():
    def run(name, seed, recall):
        r = _run(name, seed, recall, recall, dataset="ml-100k")
        r["name"] = r["config"]["name"] = name  # ML-100K configs: no suffix
        return r
    runs = [run("ml-100k-mixgcf", s, 0.30) for s in range(2)] + [
        run("ml-100k-mixgcf-16", s, 0.38) for s in range(2)]
    rows = variant_table(runs, Path("/x"))[2:]
    assert len(rows) == 1
    assert "| ml-100k-mixgcf-16 | ml-100k-mixgcf |" in rows[0]
