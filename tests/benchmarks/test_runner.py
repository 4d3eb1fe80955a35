"""The benchmark runner in smoke mode: tiny probe and training steps on toy data.

``benchmarks`` is the repository's top-level package; pytest puts the repository
root on ``sys.path`` (``tests`` is a package), so it imports from there.
"""

import json
import math

import pytest

from benchmarks.bench.training import parse_model, variants
from benchmarks.run import main, parser

META = {"date", "host", "cpu", "cpus", "torch", "threads", "revision", "library"}


def test_probe_prints_and_writes_both_rates(tmp_path, capsys):
    out = tmp_path / "probe.json"
    main(["probe", "--n", "128", "--copy-mb", "4", "--repeats", "1",
          "--json", str(out)])
    printed = capsys.readouterr().out
    assert "GB/s" in printed and "GFLOP/s" in printed
    data = json.loads(out.read_text())
    assert data["subcommand"] == "probe"
    assert META <= set(data["meta"])
    assert set(data["figures"]) == {"copy bandwidth", "sgemm rate"}
    assert all(f["value"] > 0 for f in data["figures"].values())


def test_step_times_each_model_on_toy_data(tmp_path, capsys):
    out = tmp_path / "step.json"
    result = main(["step", "--dataset", "toy", "--models", "lightgcn,sgl-ed",
                   "--steps", "2", "--rounds", "2", "--warmup", "1",
                   "--json", str(out)])
    printed = capsys.readouterr().out
    assert "lightgcn" in printed and "ms/step" in printed
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(result.as_dict(), default=str))
    assert META <= set(data["meta"])
    for model in ("lightgcn", "sgl-ed"):
        assert data["figures"][f"toy {model} s/step"]["value"] > 0
        assert data["figures"][f"toy {model} s/epoch (estimate)"]["unit"] == "s"
    rows = {row["model"]: row for row in data["rows"]}
    assert set(rows) == {"lightgcn", "sgl-ed"}
    for row in rows.values():
        assert len(row["step_s"]) == 2 and row["batches"] == 1
        assert math.isfinite(row["first_loss"])


def test_model_names():
    assert parse_model("xsimgcl") == ("xsimgcl", "lightgcn")
    assert parse_model("mf") == ("bpr", "mf")
    assert parse_model("sgl-ed+sgc") == ("sgl-ed", "sgc")
    with pytest.raises(SystemExit):
        parse_model("nope")
    args = parser().parse_args(["step", "--models", "lightgcn,sgl-ed",
                                "--nce-precision", "full,bfloat16"])
    labels = [v["label"] for v in variants(args)]
    assert labels == ["lightgcn", "sgl-ed", "sgl-ed [bfloat16]"]


def test_ab_needs_a_subcommand():
    with pytest.raises(SystemExit):
        main(["ab", "--old", "HEAD"])
