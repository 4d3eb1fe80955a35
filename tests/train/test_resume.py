"""Exact resume: an interrupted-and-resumed run equals an uninterrupted one on CPU."""

import os
import random
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from graphcl_rec.augment import EdgeDropout
from graphcl_rec.contrast import BYOL, SGL, MoCo
from graphcl_rec.data import random_split
from graphcl_rec.models import BPRRecommender, LightGCN
from graphcl_rec.train import EarlyStopping, Trainer, load_checkpoint
from tests.conftest import random_interactions

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 30

SCRIPT = '''
import sys

import torch

torch.set_num_threads(1)

from graphcl_rec.augment import EdgeDropout
from graphcl_rec.contrast import SGL
from graphcl_rec.data import Interactions, random_split
from graphcl_rec.models import LightGCN
from graphcl_rec.train import Trainer

EPOCHS = {epochs}


def train(ckpt_dir, out, resume):
    g = torch.Generator().manual_seed(0)
    keys = torch.randperm(80 * 60, generator=g)[:1200]
    inter = Interactions(keys // 60, keys % 60, 80, 60)
    train, val = random_split(inter, ratios=(0.8, 0.2), seed=0)
    model = SGL(LightGCN(80, 60, dim=8, num_layers=2), augment=EdgeDropout(0.2))
    trainer = Trainer(epochs=EPOCHS, batch_size=64, lr=0.01, k=[5, 10],
                      device="cpu", progress=False, checkpoint_dir=ckpt_dir,
                      reset_parameters=True)
    hist = trainer.fit(model, train, val, resume=resume)
    torch.save({"model": model.state_dict(), "best_epoch": hist.best_epoch,
                "val": [r["val"] for r in hist.records],
                "loss": [r["loss"] for r in hist.records],
                "resumed_from": trainer.resumed_from}, out)


if __name__ == "__main__":
    train(sys.argv[1], sys.argv[2], resume=sys.argv[3] == "resume")
'''


def make_model(kind):
    encoder = LightGCN(40, 30, dim=8, num_layers=2)
    if kind == "bpr":
        return BPRRecommender(encoder)
    if kind == "sgl":
        return SGL(encoder, augment=EdgeDropout(0.2, per_layer=True))
    if kind == "moco":
        return MoCo(encoder, augment=EdgeDropout(0.1), queue_size=24)
    return BYOL(encoder, augment=EdgeDropout(0.1), pairs="node")


@pytest.fixture(scope="module")
def splits():
    return random_split(random_interactions(40, 30, 400), ratios=(0.8, 0.2), seed=0)


def fit(kind, splits, epochs, ckpt=None, resume=False, **kwargs):
    model = make_model(kind)
    es = EarlyStopping("recall@5", patience=50)
    trainer = Trainer(epochs=epochs, batch_size=64, lr=0.01, k=[5], device="cpu",
                      progress=False, early_stopping=es, checkpoint_dir=ckpt,
                      reset_parameters=True, **kwargs)
    return model, trainer.fit(model, *splits, resume=resume)


def assert_same_run(a, b):
    (ma, ha), (mb, hb) = a, b
    sa, sb = ma.state_dict(), mb.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    assert [r.get("val") for r in ha] == [r.get("val") for r in hb]
    assert [r["loss"] for r in ha] == [r["loss"] for r in hb]
    assert (ha.best_epoch, ha.best) == (hb.best_epoch, hb.best)


@pytest.mark.parametrize("kind", ["bpr", "sgl", "moco", "byol"])
def test_three_plus_three_equals_six(tmp_path, splits, kind):
    straight = fit(kind, splits, 6)
    fit(kind, splits, 3, ckpt=tmp_path)
    resumed = fit(kind, splits, 6, ckpt=tmp_path, resume=True)
    assert_same_run(straight, resumed)
    if kind == "moco":  # the queues are part of the resumed state
        assert int(resumed[0].user_filled) == 24


def test_resume_from_an_earlier_checkpoint(tmp_path, splits, monkeypatch):
    import graphcl_rec.train.state as state_module

    real = state_module.save_checkpoint

    def keep_epoch_2(path, state):
        if path.name == "last.pt" and state["epoch"] == 2:
            real(tmp_path / "epoch2.pt", state)
        return real(path, state)

    monkeypatch.setattr(state_module, "save_checkpoint", keep_epoch_2)
    straight = fit("sgl", splits, 7, ckpt=tmp_path / "a", eval_every=2,
                   checkpoint_every=2)
    # Epochs 3..7 (two evaluations, best-weight updates) are lost; redo them.
    resumed = fit("sgl", splits, 7, ckpt=tmp_path / "b", eval_every=2,
                  checkpoint_every=2, resume=tmp_path / "epoch2.pt")
    assert_same_run(straight, resumed)


def test_epoch_log_is_rewritten_on_resume(tmp_path, splits):
    log = tmp_path / "epochs.jsonl"
    fit("bpr", splits, 3, ckpt=tmp_path, log_path=log)
    with log.open("a") as fh:  # an epoch that ran after the checkpoint, then died
        fh.write('{"epoch": 4, "lost": true}\n')
    fit("bpr", splits, 5, ckpt=tmp_path, log_path=log, resume=True)
    lines = log.read_text().splitlines()
    assert len(lines) == 5 and "lost" not in log.read_text()


def test_sigkill_at_a_random_moment_then_resume(tmp_path):
    script = tmp_path / "train_run.py"
    script.write_text(SCRIPT.replace("{epochs}", str(EPOCHS)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    ckpt, errors = tmp_path / "ckpt", tmp_path / "stderr.txt"

    def start(out, mode):
        with errors.open("a") as err:
            return subprocess.Popen([sys.executable, str(script), str(ckpt),
                                     str(tmp_path / out), mode], env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)

    proc = start("killed.pt", "fresh")
    last = ckpt / "last.pt"

    def wait_for_write(previous):
        deadline = time.monotonic() + 60
        while True:
            stamp = last.stat().st_mtime_ns if last.exists() else None
            if stamp != previous:
                return stamp, time.monotonic()
            assert proc.poll() is None, errors.read_text()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.001)

    first, t1 = wait_for_write(None)
    _, t2 = wait_for_write(first)
    # A random moment within the first half of the run, whatever this machine's
    # speed: somewhere inside an epoch, a checkpoint write or an evaluation.
    delay = random.uniform(0.0, (t2 - t1) * EPOCHS / 2)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    info = f"killed {delay:.3f} s after the second checkpoint"
    assert proc.returncode == -signal.SIGKILL, f"run ended before the kill ({info})"
    epoch = load_checkpoint(ckpt / "last.pt")["epoch"]  # intact despite the kill
    assert not (tmp_path / "killed.pt").exists()

    resume = start("resumed.pt", "resume")
    assert resume.wait(timeout=120) == 0, errors.read_text()
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert resumed["resumed_from"] == epoch, info

    module = runpy.run_path(str(script), run_name="reference")
    module["train"](None, tmp_path / "reference.pt", resume=False)
    reference = torch.load(tmp_path / "reference.pt", weights_only=True)
    assert reference["model"].keys() == resumed["model"].keys()
    for key, value in reference["model"].items():
        assert torch.equal(value, resumed["model"][key]), f"{key} differs ({info})"
    for key in ("val", "loss", "best_epoch"):
        assert reference[key] == resumed[key], f"{key} differs ({info})"
    assert len(reference["val"]) == EPOCHS
