"""``ddp``: one config trained by ``graphcl-rec train --nproc N``, 1 and 2 processes."""

import json
import tempfile
from pathlib import Path

import pytest

from benchmarks.bench.ddp import pair_variants, train_argv
from benchmarks.run import main

CONFIG = """
name = "tiny_ml"
seed = 0

[data]
dataset = "ml-100k"

[model]
objective = "bpr"
reg_weight = 1e-4

[model.encoder]
name = "lightgcn"
dim = 8
num_layers = 1

[train]
epochs = 50
batch_size = 2048
device = "cpu"
"""


def test_one_and_two_processes_on_ml100k(tmp_path, capsys, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    config = tmp_path / "tiny_ml.toml"
    config.write_text(CONFIG)
    out = tmp_path / "ddp.json"
    main(["ddp", "--config", str(config), "--nproc", "1,2", "--threads-per-proc", "1",
          "--epochs", "1", "--rounds", "1", "--fixed-global-batch", "--json", str(out)])
    assert "| 2 proc x 1 thread |" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["subcommand"] == "ddp" and data["meta"]["cpus"] >= 1
    rows = {r["variant"]: r for r in data["rows"]}
    assert list(rows) == ["1 proc x 1 thread", "2 proc x 1 thread"]
    for name, row in rows.items():
        assert data["figures"][f"tiny_ml {name} s/epoch"]["value"] > 0
        assert data["figures"][f"tiny_ml {name} child wall"]["value"] > \
            row["epoch_s"][0][0] > 0
        assert row["child_threads"] == [1] and row["global_batch"] == 2048
    assert rows["2 proc x 1 thread"]["batch_per_proc"] == 1024
    assert data["figures"]["tiny_ml 1 proc x 1 thread speed-up"]["value"] == 1.0
    # The same global batch: two processes give one process's BPR loss (a single
    # process at the per-process batch of 1024 would take twice the steps).
    one, two = (rows[n]["loss"][0][0] for n in rows)
    assert two == pytest.approx(one, rel=1e-5)
    assert list(scratch.iterdir()) == []  # the runs' folders are gone


def test_variants_pair_process_and_thread_counts():
    assert pair_variants([1, 2, 1], [2, 1, 1], cpus=2) == [(1, 2), (2, 1), (1, 1)]
    assert pair_variants([1, 2], None, cpus=2) == [(1, 2), (2, 1)]
    with pytest.raises(SystemExit, match="3 values"):
        pair_variants([1, 2], [1, 1, 1], cpus=2)
    with pytest.raises(SystemExit, match=r"\[0\]"):
        pair_variants([0], [1], cpus=2)
    with pytest.raises(SystemExit, match="more than once"):
        pair_variants([2, 2], [1], cpus=2)


def test_runs_train_without_validation_and_with_overrides():
    argv = train_argv(Path("/c.toml"), 1, Path("/o"), 2, 512, ["--train.device=cpu"])
    assert argv[:4] == ["train", "/c.toml", "--nproc", "1"]
    assert argv[6:] == ["--no-progress", "--train.epochs=2", "--train.eval_every=3",
                        "--train.batch_size=512", "--train.device=cpu"]


def test_an_uneven_global_batch_is_refused(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.replace("2048", "2047"))
    with pytest.raises(SystemExit, match="2047 .* does not split over 2"):
        main(["ddp", "--config", str(config), "--nproc", "1,2", "--fixed-global-batch"])
