import logging
import random
import shutil

import pytest
import torch

from graphcl_rec.data.cache import CorruptEntry, cached, pack, unpack


def value() -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "user": torch.randint(0, 50, (200,), generator=g),
        "item": torch.randint(0, 80, (200,), generator=g),
        "num_users": 50,
        "user_ids": [f"u{k}" for k in range(50)],
    }


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k]
        for k in a
    )


def test_pack_round_trip_and_checksum():
    blob = pack(value())
    assert same(unpack(blob), value())
    flipped = bytearray(blob)
    flipped[-20] ^= 0x01
    with pytest.raises(CorruptEntry, match="checksum mismatch"):
        unpack(bytes(flipped))
    with pytest.raises(CorruptEntry, match="bad header"):
        unpack(b"PK" + blob[2:])


def test_every_flipped_byte_of_a_cache_entry_is_detected(tmp_path, caplog):
    """100 random single-byte corruptions, each on a fresh copy: all rebuilt."""
    good = tmp_path / "good"
    cached("pairs", "ab12", value, good)
    (entry,) = good.glob("*.pt")
    size = entry.stat().st_size
    rng = random.Random(0)
    calls = []

    def build() -> dict:
        calls.append(1)
        return value()

    for trial in range(100):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        copy = folder / entry.name
        shutil.copyfile(entry, copy)
        data = bytearray(copy.read_bytes())
        pos = rng.randrange(size)
        data[pos] ^= rng.randrange(1, 256)
        copy.write_bytes(bytes(data))
        before = len(calls)
        with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
            got = cached("pairs", "ab12", build, folder)
        assert len(calls) == before + 1, f"flip at byte {pos} went unnoticed"
        assert same(got, value())
        assert same(unpack(copy.read_bytes()), value())  # the entry was replaced
    assert caplog.text.count("corrupt or unreadable cache entry") == 100


def test_a_truncated_or_empty_entry_is_rebuilt(tmp_path):
    cached("pairs", "ab12", value, tmp_path)
    (entry,) = tmp_path.glob("*.pt")
    calls = []

    def build() -> dict:
        calls.append(1)
        return value()

    for content in (entry.read_bytes()[:100], b""):
        entry.write_bytes(content)
        got = cached("pairs", "ab12", build, tmp_path)
        assert same(got, value())
    assert calls == [1, 1]
