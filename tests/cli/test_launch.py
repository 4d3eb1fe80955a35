"""``graphcl-rec train --nproc N`` and ``python -m graphcl_rec.cli``."""

import json
import subprocess
import sys

import pytest
import torch.distributed as dist

from graphcl_rec.cli import launch
from graphcl_rec.cli.launch import strip_option, torchrun_command
from graphcl_rec.cli.main import main
from tests.cli.conftest import write_config


@pytest.mark.parametrize("argv,expected", [
    (["train", "a", "--nproc", "2"], ["train", "a"]),
    (["train", "--nproc=3", "a", "--seeds", "1"], ["train", "a", "--seeds", "1"]),
    (["--debug", "train", "a", "--train.lr=1"], ["--debug", "train", "a",
                                                 "--train.lr=1"]),
])
def test_strip_option(argv, expected):
    assert strip_option(argv, "--nproc") == expected


@pytest.mark.parametrize("nproc", [0, -1, True, 1.5])
def test_torchrun_command_refuses_bad_counts(nproc):
    with pytest.raises(ValueError, match="--nproc: must be an int >= 1"):
        torchrun_command(nproc, ["train"])


def test_nproc_relaunches_the_same_command_through_torchrun(tmp_path, ratings,
                                                            monkeypatch):
    calls = []
    monkeypatch.setattr(launch.subprocess, "call",
                        lambda cmd, env: calls.append((cmd, env)) or 7)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cfg = write_config(tmp_path, ratings)
    argv = ["train", str(cfg), "--nproc", "2", "--out", str(tmp_path / "o"),
            "--train.epochs=1"]
    assert main(argv) == 7  # torchrun's status is the command's
    (cmd, env), = calls
    assert cmd[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       "--nproc-per-node=2"]
    assert cmd[5:] == ["-m", "graphcl_rec.cli", "train", str(cfg), "--out",
                       str(tmp_path / "o"), "--train.epochs=1"]
    assert int(env["OMP_NUM_THREADS"]) >= 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("preset", [None, "eth0"])
@pytest.mark.parametrize("loopback", [True, False])
def test_local_processes_connect_over_loopback_unless_told(tmp_path, monkeypatch,
                                                           preset, loopback):
    calls = []
    monkeypatch.setattr(launch.subprocess, "call",
                        lambda cmd, env: calls.append(env) or 0)
    lo = tmp_path / "lo"
    if loopback:
        lo.mkdir()
    monkeypatch.setattr(launch, "LOOPBACK", lo)
    if preset is None:
        monkeypatch.delenv("GLOO_SOCKET_IFNAME", raising=False)
    else:
        monkeypatch.setenv("GLOO_SOCKET_IFNAME", preset)
    assert launch.launch_local(2, ["train", "a.toml", "--nproc", "2"]) == 0
    want = preset if preset is not None else ("lo" if loopback else None)
    assert calls[0].get("GLOO_SOCKET_IFNAME") == want


def test_nproc_checks_the_config_before_launching(tmp_path, ratings, monkeypatch,
                                                  capsys):
    monkeypatch.setattr(launch.subprocess, "call", pytest.fail)
    cfg = write_config(tmp_path, ratings)
    assert main(["train", str(cfg), "--nproc", "2", "--train.nope=1"]) == 2
    assert "unknown key 'nope'" in capsys.readouterr().err


def test_nproc_one_trains_in_this_process(tmp_path, ratings, monkeypatch):
    monkeypatch.setattr(launch.subprocess, "call", pytest.fail)
    cfg = write_config(tmp_path, ratings)
    out = tmp_path / "out"
    assert main(["train", str(cfg), "--nproc", "1", "--out", str(out),
                 "--no-progress", "--train.epochs=1"]) == 0
    assert json.loads((out / "tiny-seed3.json").read_text())["epochs_run"] == 1


@pytest.mark.parametrize("nproc,world,needle", [
    ("0", None, "--nproc: must be >= 1"),
    ("3", "2", "3 processes requested inside a launcher that started WORLD_SIZE=2"),
])
def test_nproc_errors(tmp_path, ratings, monkeypatch, capsys, nproc, world, needle):
    if world is None:
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("WORLD_SIZE", world)
    cfg = write_config(tmp_path, ratings)
    assert main(["train", str(cfg), "--nproc", nproc]) == 2
    assert needle in capsys.readouterr().err


def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "graphcl_rec.cli", "--help"],
                          capture_output=True, text=True, check=True)
    assert "usage: graphcl-rec" in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                    reason="torch.distributed with gloo is not built into this torch")
def test_nproc_two_end_to_end(tmp_path, ratings):
    cfg = write_config(tmp_path, ratings)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "graphcl_rec.cli", "train", str(cfg),
                           "--nproc", "2", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("tiny seed=3: test recall@20=") == 1
    assert json.loads((out / "tiny-seed3.json").read_text())["epochs_run"] == 2
