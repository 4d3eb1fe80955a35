"""The benchmark runner in smoke mode: tiny probe and training steps on toy data.

``benchmarks`` is the repository's top-level package; pytest puts the repository
root on ``sys.path`` (``tests`` is a package), so it imports from there.
"""

import json
import math
import os
from pathlib import Path

import pytest
import torch

from benchmarks.bench.common import load_split
from benchmarks.bench.training import Stepper, parse_model, variants
from benchmarks.run import main, parser
from graphcl_rec.graph import adjacency

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


def test_step_times_the_newer_objectives(tmp_path, capsys):
    out = tmp_path / "step.json"
    main(["step", "--dataset", "toy", "--models", "directau,lightgcl,ncl,bpr-mixgcf",
          "--steps", "1", "--rounds", "1", "--json", str(out)])
    rows = {row["model"]: row for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"directau", "lightgcl", "ncl", "bpr-mixgcf"}
    for row in rows.values():
        assert math.isfinite(row["first_loss"]) and row["epoch_estimate_s"] > 0


def _stepper(objective):
    train, _ = load_split("toy", 0)
    args = parser().parse_args(["step", "--models", objective, "--batch-size", "64"])
    v = variants(args)[0]
    return Stepper(v, train, adjacency(train), args, torch.device("cpu")), train


def test_the_epoch_estimate_counts_kmeans_and_svd_and_mixgcf_gets_64_candidates():
    ncl, train = _stepper("ncl")  # past its proto_warmup: the timed call clusters
    (centroids_u, assign_u), (_, assign_i) = ncl.views
    assert centroids_u.shape[1] == 64 and assign_u.shape == (train.num_users,)
    assert assign_i.shape == (train.num_items,)
    lightgcl, _ = _stepper("lightgcl")  # the timed call factorised the graph
    assert lightgcl.model.svd_u.shape == (train.num_users, lightgcl.model.rank)
    assert lightgcl.model.svd_s.abs().sum() > 0
    mixgcf, _ = _stepper("bpr-mixgcf")
    assert mixgcf.model.hard_negatives == "mixgcf"
    assert all(b.neg.shape == (b.user.numel(), 64) for b in mixgcf.batches)
    sgl, _ = _stepper("sgl-ed")  # the other variants keep one negative per pair
    assert all(b.neg.shape == b.user.shape for b in sgl.batches)


def test_ab_sets_each_sides_environment(monkeypatch):
    from benchmarks.bench import ab

    seen = []

    def fake_child(command, env, echo):
        seen.append(env.get("THP_MEM_ALLOC_ENABLE"))
        return {"meta": {"library": str(Path(env["PYTHONPATH"].split(os.pathsep)[1])
                                        / "graphcl_rec" / "__init__.py")},
                "figures": {"x": {"value": 1.0, "unit": "s"}}, "rows": []}

    monkeypatch.setattr(ab, "run_child", fake_child)
    result = main(["ab", "--old", "HEAD", "--new", "HEAD", "--new-env",
                   "THP_MEM_ALLOC_ENABLE=1", "--rounds", "2", "--", "probe"])
    assert sorted(seen, key=str) == ["1", "1", None, None]
    sides = result.rows[-1]["sides"]
    assert sides["new"]["env"] == {"THP_MEM_ALLOC_ENABLE": "1"}
    assert sides["old"]["env"] == {}


def test_ab_env_needs_key_and_value():
    with pytest.raises(SystemExit):
        main(["ab", "--old", "HEAD", "--new-env", "NOEQUALS", "--", "probe"])


def test_random_keys_are_distinct_seeded_and_linear_beyond_the_permutation():
    from benchmarks.bench.common import PERMUTE_MAX, random_keys

    space = 10 * PERMUTE_MAX  # a permutation of it would be 5 GB
    keys = random_keys(space, 200_000, torch.Generator().manual_seed(3))
    again = random_keys(space, 200_000, torch.Generator().manual_seed(3))
    assert keys.numel() == 200_000 == keys.unique().numel()
    assert torch.equal(keys, again) and int(keys.min()) >= 0 and int(keys.max()) < space
    # Keys are spread over the whole space, not clustered at its start.
    assert 0.4 < float((keys < space // 2).float().mean()) < 0.6
    small = random_keys(1000, 10, torch.Generator().manual_seed(0))
    assert torch.equal(small, torch.randperm(1000, generator=torch.Generator()
                                              .manual_seed(0))[:10])


@pytest.mark.parametrize("dot", [False, True])
def test_kernels_nce_times_cosine_or_dot_products(tmp_path, capsys, dot):
    from graphcl_rec import native

    try:
        native.load()
    except native.NativeUnavailable as err:
        pytest.skip(f"native kernel unavailable: {err}")
    out = tmp_path / "nce.json"
    main(["kernels", "nce", "--shapes", "8x70", "--rounds", "1", "--json", str(out)]
         + (["--dot"] if dot else []))
    assert "torch / native" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["args"]["dot"] is dot
    assert {"8x70 torch s", "8x70 native s"} <= set(data["figures"])
