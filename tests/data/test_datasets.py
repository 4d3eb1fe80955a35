import gzip
import hashlib
import logging
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
import torch

from graphcl_rec.data import available, check_disjoint, datasets, info, load
from graphcl_rec.errors import DataError

PACKAGED_ML = files("graphcl_rec") / "datasets_data" / "ml-100k.ratings.tsv.gz"


def pair_set(inter) -> set:
    return set(zip(inter.user.tolist(), inter.item.tolist()))


def write_sums(root: Path) -> None:
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  "
        f"{p.relative_to(root).as_posix()}"
        for p in sorted(root.glob("*/*.gz"))
    ]
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def fake_lightgcn(root: Path, name: str = "gowalla", extra_test: str = "") -> Path:
    """8 users x 10 items; user 7 has a train line without items (no pairs)."""
    g = torch.Generator().manual_seed(0)
    train, test = [], []
    for u in range(7):
        items = torch.randperm(10, generator=g)[:6].tolist()
        train.append(" ".join(map(str, [u] + items[:4])))
        test.append(" ".join(map(str, [u] + items[4:])))
    train.append("7")
    folder = root / name
    folder.mkdir(parents=True)
    for part, lines in (("train", train), ("test", test)):
        text = "\n".join(lines) + "\n" + (extra_test if part == "test" else "")
        (folder / f"{part}.txt.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    write_sums(root)
    return root


def ml_copy(root: Path) -> Path:
    target = root / "ml-100k" / "ratings.tsv.gz"
    target.parent.mkdir(parents=True)
    shutil.copyfile(PACKAGED_ML, target)
    write_sums(root)
    return target


@pytest.fixture(scope="module")
def ml_cache(tmp_path_factory) -> Path:
    """One cache folder for the module, so ML-100K is parsed once."""
    return tmp_path_factory.mktemp("ml-cache")


@pytest.fixture(scope="module")
def ml_default(ml_cache):
    return load("ml-100k", cache_dir=ml_cache)


def test_ml_100k_default_split(ml_default):
    train, val, test = ml_default
    assert len(train) + len(val) + len(test) == 100000
    assert train.shape == val.shape == test.shape == (943, 1682)
    assert train.timestamp is not None and test.timestamp is not None
    assert abs(len(val) / 100000 - 0.1) < 0.01 and abs(len(test) / 100000 - 0.1) < 0.01
    assert (train.user_degree() >= 1).all()
    check_disjoint(train, val, test)
    assert train.user_ids[:3] == ("196", "186", "22")  # order of first appearance


def test_ml_100k_seeds_and_val_ratio(ml_cache, ml_default):
    again = load("ml-100k", seed=0, cache_dir=ml_cache)
    other = load("ml-100k", seed=1, cache_dir=ml_cache)
    assert pair_set(again[2]) == pair_set(ml_default[2]) != pair_set(other[2])
    train, val, test = load("ml-100k", val_ratio=0.0, cache_dir=ml_cache)
    assert len(val) == 0 and pair_set(test) == pair_set(ml_default[2])
    with pytest.raises(ValueError, match="val_ratio"):
        load("ml-100k", val_ratio=0.95, cache_dir=ml_cache)


def test_ml_100k_falls_back_to_the_packaged_copy(tmp_path, monkeypatch, ml_cache):
    monkeypatch.setenv("GRAPHCL_REC_DATA", str(tmp_path / "empty"))
    train, val, test = load("ml-100k", cache_dir=ml_cache)
    assert len(train) + len(val) + len(test) == 100000
    assert available() == ["ml-100k"]


def test_checksum_mismatch_on_a_tampered_copy(tmp_path):
    target = ml_copy(tmp_path)
    expected = hashlib.sha256(target.read_bytes()).hexdigest()
    text = gzip.decompress(target.read_bytes()).replace(b"196\t242\t3", b"196\t242\t5")
    target.write_bytes(gzip.compress(text, mtime=0))
    actual = hashlib.sha256(target.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="sha256 mismatch") as err:
        load("ml-100k", root=tmp_path, cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert str(target) in message and expected in message and actual in message


def test_missing_checksum_entry(tmp_path):
    ml_copy(tmp_path)
    (tmp_path / "SHA256SUMS").write_text("")
    with pytest.raises(DataError, match="no checksum") as err:
        load("ml-100k", root=tmp_path, cache_dir=tmp_path / "cache")
    assert "ml-100k/ratings.tsv.gz" in str(err.value)


def test_cache_hit_does_not_reparse(tmp_path, monkeypatch):
    ml_copy(tmp_path)
    cache = tmp_path / "cache"
    first = load("ml-100k", root=tmp_path, cache_dir=cache)
    assert len(list(cache.glob("*.pt"))) == 1
    assert not list(cache.glob("*.tmp"))

    def boom(*args, **kwargs):
        raise AssertionError("text parsed again")

    monkeypatch.setattr(datasets, "load_interactions", boom)
    second = load("ml-100k", root=tmp_path, cache_dir=cache)
    for a, b in zip(first, second):
        assert torch.equal(a.keys(), b.keys()) and torch.equal(a.timestamp, b.timestamp)
        assert a.user_ids == b.user_ids and a.item_ids == b.item_ids


def test_unreadable_cache_entry_is_rebuilt(tmp_path, caplog):
    root = fake_lightgcn(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load("gowalla", val_ratio=0.25, root=root, cache_dir=cache)
    for entry in cache.glob("*.pt"):
        entry.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        again = load("gowalla", val_ratio=0.25, root=root, cache_dir=cache)
    assert "unreadable cache entry" in caplog.text
    assert all(pair_set(a) == pair_set(b) for a, b in zip(first, again))


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    fake_lightgcn(tmp_path / "data")
    monkeypatch.setenv("GRAPHCL_REC_CACHE", str(tmp_path / "envcache"))
    load("gowalla", val_ratio=0.25, root=tmp_path / "data")
    assert len(list((tmp_path / "envcache").glob("lightgcn-*.pt"))) == 2


def test_lightgcn_format_dataset(tmp_path, monkeypatch):
    root = fake_lightgcn(tmp_path / "data")
    cache = tmp_path / "cache"
    train, val, test = load("gowalla", val_ratio=0.0, root=root, cache_dir=cache)
    # max id + 1 over the pairs of both files: user 7 has none, so it is not counted
    assert train.shape == test.shape == (7, 10)
    assert train.user_ids == tuple(str(u) for u in range(7))
    assert (len(train), len(val), len(test)) == (28, 0, 14)
    train2, val2, test2 = load("gowalla", val_ratio=0.25, root=root, cache_dir=cache)
    assert (len(train2), len(val2)) == (21, 7)
    assert pair_set(train2) | pair_set(val2) == pair_set(train)
    assert pair_set(test2) == pair_set(test)

    def boom(*args, **kwargs):
        raise AssertionError("text parsed again")

    monkeypatch.setattr(datasets, "read_lightgcn", boom)
    again = load("gowalla", val_ratio=0.25, root=root, cache_dir=cache)
    assert pair_set(again[1]) == pair_set(val2)
    assert info("gowalla", root=root, cache_dir=cache)["num_train"] == 28


def test_unknown_test_pairs(tmp_path, caplog):
    root = fake_lightgcn(tmp_path / "data", extra_test="8 3\n0 11 12\n")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="3 test pairs") as err:
        load("gowalla", val_ratio=0.25, root=root, cache_dir=cache)
    assert "test.txt.gz" in str(err.value)
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        train, val, test = load(
            "gowalla", val_ratio=0.25, root=root, cache_dir=cache, unknown="drop"
        )
    assert "dropped 3 test pairs" in caplog.text
    assert len(test) == 14 and train.shape == (9, 13)
    assert train.user_degree()[7:].tolist() == [0, 0]


def test_missing_dataset_file(tmp_path):
    root = fake_lightgcn(tmp_path / "data")
    (root / "gowalla" / "test.txt.gz").unlink()
    with pytest.raises(DataError, match="not found") as err:
        load("gowalla", root=root, cache_dir=tmp_path / "cache")
    assert "test.txt.gz" in str(err.value)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="ml-100k") as err:
        load("movielens", cache_dir=tmp_path)
    assert "gowalla" in str(err.value) and "yelp2018" in str(err.value)
    with pytest.raises(ValueError, match="unknown"):
        load("ml-100k", unknown="keep", cache_dir=tmp_path)


def test_available_and_info(tmp_path):
    root = fake_lightgcn(tmp_path / "data", name="yelp2018")
    assert available(root) == ["ml-100k", "yelp2018"]
    about = info("yelp2018", root=root, cache_dir=tmp_path / "cache")
    assert [Path(f["path"]).name for f in about["files"]] == [
        "train.txt.gz",
        "test.txt.gz",
    ]
    first = about["files"][0]
    assert first["bytes"] == Path(first["path"]).stat().st_size
    assert (
        first["sha256"] == hashlib.sha256(Path(first["path"]).read_bytes()).hexdigest()
    )
    assert (about["num_users"], about["num_items"]) == (7, 10)
    assert (about["num_train"], about["num_test"]) == (28, 14)


@pytest.mark.dataset
@pytest.mark.parametrize(
    "name,users,items,num_train,num_test",
    [
        ("gowalla", 29858, 40981, 810128, 217242),
        ("yelp2018", 31668, 38048, 1237259, 324147),
    ],
)
def test_published_splits(tmp_path, name, users, items, num_train, num_test):
    train, val, test = load(name, val_ratio=0.0, cache_dir=tmp_path)
    assert train.shape == (users, items)
    assert (len(train), len(val), len(test)) == (num_train, 0, num_test)
    train, val, test = load(name, cache_dir=tmp_path)
    assert len(train) + len(val) == num_train and len(test) == num_test
    assert abs(len(val) / num_train - 0.1) < 0.01
