"""The SELFRec runner's own parts; the run itself needs SELFRec's environment."""

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.peers import selfrec_runner

PEERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers"


def test_lightgcn_lines_become_selfrec_pairs(tmp_path):
    src = tmp_path / "train.txt.gz"
    with gzip.open(src, "wt") as fh:
        fh.write("0 5 7\n1 7\n2\n")  # a user without items has no pairs
    pairs = selfrec_runner.lightgcn_pairs(src)
    assert pairs == [("0", "5"), ("0", "7"), ("1", "7")]
    out = tmp_path / "train.txt"
    selfrec_runner.write_selfrec(pairs, out)
    assert out.read_text() == "0 5 1\n0 7 1\n1 7 1\n"


def test_test_pairs_without_a_training_user_or_item_are_counted():
    train = [("0", "5"), ("1", "7")]
    test = [("0", "7"), ("2", "5"), ("1", "9"), ("1", "5")]  # new user, new item
    assert selfrec_runner.unseen_pairs(train, test) == 2


def test_values_are_parsed_as_numbers_where_they_are():
    assert selfrec_runner.parse_value("3") == 3
    assert selfrec_runner.parse_value("1e-3") == 0.001
    assert selfrec_runner.parse_value("edge") == "edge"


@pytest.mark.skipif(not (PEERS / ".selfrec" / "SELFRec.py").exists()
                    or not (PEERS / ".venv-selfrec" / "bin" / "python").exists(),
                    reason="SELFRec is not set up (benchmarks/peers/setup_selfrec.sh)")
def test_a_two_epoch_run_records_each_epoch(tmp_path):
    train, test = [], []
    for u in range(60):
        items = [(u * 7 + k * 13) % 120 for k in range(10)]
        train.append(f"{u} " + " ".join(map(str, items[:8])))
        test.append(f"{u} " + " ".join(map(str, items[8:])))
    train += [f"{60 + k} " + " ".join(map(str, range(30 * k, 30 * k + 30)))
              for k in range(4)]  # every item in training, no user owns them all
    (tmp_path / "train.txt").write_text("\n".join(train) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(test) + "\n")
    out = tmp_path / "run.json"  # given relative to the caller's folder
    subprocess.run([str(PEERS / ".venv-selfrec" / "bin" / "python"),
                    str(PEERS / "selfrec_runner.py"), "--model", "XSimGCL",
                    "--train", str(tmp_path / "train.txt"), "--test",
                    str(tmp_path / "test.txt"), "--epochs", "2", "--set",
                    "batch.size=64", "--set", "XSimGCL.eps=0.1", "--out", "run.json"],
                   check=True, capture_output=True, timeout=600, cwd=tmp_path,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert not (tmp_path / "log").exists()  # SELFRec's logs stay in its folder
    result = json.loads(out.read_text())
    assert [e["epoch"] for e in result["history"]] == [1, 2]
    first = result["history"][0]
    assert {"Recall", "NDCG"} <= set(first["metrics"])
    assert first["val"]["recall@20"] == first["metrics"]["Recall"]
    assert result["kind"] == "peer_run" and result["model"] == "xsimgcl"
    assert result["finished"] is True
    assert result["dataset"] == tmp_path.name and result["test_pairs_dropped"] == 0
    assert result["config"]["batch.size"] == 64
    assert result["config"]["XSimGCL"]["eps"] == 0.1
    assert result["config"]["max.epoch"] == 2 and result["threads"] == 1
