"""The ``allocator`` subcommand and ``step --allocator`` on toy data."""

import json

import pytest

from benchmarks.bench.allocator import summarise, table_mib
from benchmarks.run import main
from graphcl_rec.train import allocator

# Read at import, before the suite's fixture hides glibc from the test process.
GLIBC = allocator._glibc() is not None


def test_step_records_the_allocator_it_ran_with(tmp_path):
    out = tmp_path / "step.json"
    main(["step", "--dataset", "toy", "--models", "lightgcn", "--steps", "1",
          "--rounds", "1", "--allocator", "held", "--json", str(out)])
    # In-process the test fixture hides glibc, so the call is seen as refused.
    assert json.loads(out.read_text())["meta"]["allocator"] == {
        "allocator": "system", "reason": "not glibc"}


def test_allocator_alternates_fresh_children(tmp_path, capsys):
    out = tmp_path / "allocator.json"
    main(["allocator", "--dataset", "toy", "--models", "lightgcn", "--dims", "8",
          "--steps", "1", "--rounds", "1", "--warmup", "0", "--threads", "1",
          "--json", str(out)])
    printed = capsys.readouterr().out
    assert "| toy | lightgcn | 8 |" in printed
    (row,) = json.loads(out.read_text())["rows"]
    assert row["table_mib"] == pytest.approx(table_mib(row["nodes"], 8))
    for variant in ("system", "held"):
        assert len(row[variant]["step_s"]) == 1 and row[variant]["peak_rss_mb"] > 0
    assert row["speedup"] == pytest.approx(row["system"]["median_step_s"]
                                           / row["held"]["median_step_s"])
    assert row["system"]["allocator"] == {"allocator": "system",
                                          "reason": "not requested"}
    expected = "glibc" if GLIBC else "system"
    assert row["held"]["allocator"]["allocator"] == expected


def test_summarise_takes_medians_and_the_largest_peak():
    def child(seconds, mb):
        return {"rows": [{"median": seconds, "peak_rss_mb": mb}], "meta": {}}

    out = summarise({"system": [child(3.0, 10), child(1.0, 30), child(2.0, 20)],
                     "held": [child(1.0, 40), child(1.0, 50), child(0.5, 45)]})
    assert out["system"]["median_step_s"] == 2.0 and out["held"]["median_step_s"] == 1.0
    assert out["speedup"] == 2.0
    assert (out["system"]["peak_rss_mb"], out["held"]["peak_rss_mb"]) == (30, 50)
    assert out["held"]["allocator"] is None
