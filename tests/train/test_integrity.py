"""Sealed checkpoints: every changed byte, NaN weight or foreign file is refused."""

import io
import os
import random
import shutil

import pytest
import torch

from graphcl_rec.errors import CheckpointError
from graphcl_rec.models import MF, BPRRecommender
from graphcl_rec.train import Trainer, load_checkpoint, save_checkpoint
from graphcl_rec.train.checkpoint import remove_stale_temporaries
from graphcl_rec.train.integrity import SEAL_PREFIX, first_non_finite
from tests.conftest import make_checkerboard

# The run diagnostics may warn that a toy run is below its popularity baseline.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small real checkpoint (MF 10x10, dim 4, two epochs) and its weights."""
    folder = tmp_path_factory.mktemp("ckpt")
    train, val = make_checkerboard(10)
    model = BPRRecommender(MF(10, 10, dim=4))
    Trainer(epochs=2, batch_size=16, lr=0.05, k=[5], progress=False,
            checkpoint_dir=folder).fit(model, train, val)
    return folder / "last.pt"


def one_line(exc_info, path):
    message = str(exc_info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_sealed_checkpoint_is_still_a_plain_torch_file(trained):
    data = trained.read_bytes()
    assert SEAL_PREFIX in data[-100:]
    state = torch.load(io.BytesIO(data), weights_only=True)
    assert state["epoch"] == 2 and load_checkpoint(trained)["epoch"] == 2


def test_every_random_byte_flip_is_detected(trained, tmp_path):
    rng = random.Random(17)
    data = trained.read_bytes()
    copy = tmp_path / "last.pt"
    for _ in range(100):
        corrupt = bytearray(data)
        for _flip in range(rng.choice([1, 1, 2, 16])):
            pos = rng.randrange(len(data))
            corrupt[pos] ^= rng.randrange(1, 256)
        copy.write_bytes(bytes(corrupt))  # a fresh copy every time
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(copy)
        one_line(info, copy)


def test_sixteen_flipped_bytes_inside_the_embedding(trained, tmp_path):
    data = trained.read_bytes()
    weights = load_checkpoint(trained)["model"]["encoder.embedding.weight"]
    start = data.find(weights.numpy().tobytes())
    assert start > 0
    corrupt = bytearray(data)
    for k in range(16):
        corrupt[start + 5 * k] ^= 0x40
    copy = tmp_path / "last.pt"
    copy.write_bytes(bytes(corrupt))
    # The bytes still unpickle into a checkpoint with other weights ...
    changed = torch.load(copy, weights_only=True)["model"]["encoder.embedding.weight"]
    assert not torch.equal(changed, weights)
    # ... which the seal refuses.
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(copy)
    assert "is corrupt: its bytes changed after it was written" in one_line(info, copy)


def test_non_finite_weights_are_refused_naming_file_and_tensor(trained, tmp_path):
    state = load_checkpoint(trained)
    state["model"]["encoder.embedding.weight"][3, 1] = float("nan")
    path = save_checkpoint(tmp_path / "last.pt", state)  # validly sealed
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert ("tensor 'model.encoder.embedding.weight' holds non-finite values "
            "(1 NaN, 0 inf of 80)") in one_line(info, path)
    # Resuming fails on load, instead of the NaN guard calling it a good checkpoint.
    train, val = make_checkerboard(10)
    with pytest.raises(CheckpointError, match="non-finite"):
        Trainer(epochs=4, batch_size=16, lr=0.05, k=[5], progress=False,
                checkpoint_dir=tmp_path).fit(BPRRecommender(MF(10, 10, dim=4)),
                                             train, val, resume=True)


def test_first_non_finite_looks_everywhere():
    assert first_non_finite({"a": [torch.ones(2)], "b": torch.arange(3)}) is None
    state = {"optimizer": {"state": {0: {"exp_avg": torch.tensor([float("inf")])}}}}
    assert first_non_finite(state).startswith("tensor 'optimizer.state.0.exp_avg'")


@pytest.mark.parametrize("content,expected", [
    (b"", "the file is empty"),
    (os.urandom(300), "not a checkpoint (neither a torch zip archive nor a pickle"),
    (b"\x80\x02" + bytes(range(256)), "not a torch checkpoint, or corrupt pickle"),
])
def test_what_was_wrong_is_named(tmp_path, content, expected):
    path = tmp_path / "last.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = one_line(info, path)
    assert expected in message and "execute code" not in message


def test_truncated_and_unsealed_files(trained, tmp_path):
    path = tmp_path / "last.pt"
    data = trained.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "truncated or corrupt" in one_line(info, path)
    torch.save(load_checkpoint(trained), path)  # same content, plain torch.save
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "has no checksum seal" in one_line(info, path)
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(tmp_path / "dir.pt")


def test_stale_temporaries_are_removed_on_the_next_write(trained, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(trained, folder / "last.pt")
    stale = [folder / ".last.pt.k3j_x9ab.tmp", folder / ".best.pt.0a1b2c3d.tmp"]
    for path in stale:
        path.write_bytes(b"partial write of a killed process")
    keep = [folder / "notes.tmp", folder / ".hidden.tmp", folder / "last.pt"]
    for path in keep[:2]:
        path.write_text("mine")
    save_checkpoint(folder / "best.pt", load_checkpoint(folder / "last.pt"))
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in keep) and (folder / "best.pt").is_file()
    assert remove_stale_temporaries(folder) == []
