import importlib.util
from pathlib import Path

import pytest
import torch

from graphcl_rec.data import load
from graphcl_rec.data import pyg_datasets as pd_
from graphcl_rec.data.pyg_datasets import git_blob_id, load_pyg, read_pyg_raw
from graphcl_rec.errors import DataError

GENRES = "|".join(["0"] * 19)
ML100K = {
    # movies listed out of id order: PyG maps ids by their position in the file
    "u.item": f"3|C (1995)|01-Jan-1995||http://c|{GENRES}\n"
              f"1|A (1995)|01-Jan-1995||http://a|{GENRES}\n"
              f"2|B \xe9 (1995)|01-Jan-1995||http://b|{GENRES}\n",
    "u.user": "1|24|M|technician|85711\n2|53|F|other|94043\n",
    "u1.base": "1\t1\t5\t881250949\n1\t3\t3\t881250950\n2\t2\t4\t881250951\n"
               "2\t1\t1\t881250952\n",
    "u1.test": "1\t2\t4\t881250953\n2\t3\t2\t881250954\n",
}
ML1M = {
    "movies.dat": "".join(f"{m}::M{m} (1995)::Drama|Comedy\n" for m in range(1, 11)),
    "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n",
    "ratings.dat": "".join(f"{u}::{m}::{(u + m) % 5 + 1}::97830{u}{m}\n"
                           for u in (1, 2, 3) for m in range(1, 11)),
}
AMAZON = {
    "user_list.txt": "org_id remap_id\nA 0\nB 1\nC 2\n",
    "item_list.txt": "org_id remap_id\nx 0\ny 1\nz 2\nw 3\n",
    "train.txt": "0 0 1 2\n1 1 3\n2 0 2\n",
    "test.txt": "0 3\n1 0 2\n2 1\n",
}


def _root(tmp_path: Path, files: dict[str, str], name: str = "ds") -> Path:
    raw = tmp_path / name / "raw"
    raw.mkdir(parents=True)
    for file, text in files.items():
        (raw / file).write_bytes(text.encode("latin-1"))
    return tmp_path / name


@pytest.fixture
def pinned(monkeypatch):
    """Pins the tiny AmazonBook files instead of the published ones."""
    def pin(root: Path):
        blobs = {f: git_blob_id(root / "raw" / f) for f in AMAZON}
        monkeypatch.setattr(pd_, "AMAZON_BOOK_BLOBS", blobs)
    return pin


def test_movielens100k_layout(tmp_path):
    data = read_pyg_raw("MovieLens100K", _root(tmp_path, ML100K))
    assert data["user"].num_nodes == 2 and data["movie"].num_nodes == 3
    store = data["user", "rates", "movie"]
    # movie ids 1, 3, 2, 1 are at positions 1, 0, 2, 1 of u.item
    assert store.edge_index.tolist() == [[0, 0, 1, 1], [1, 0, 2, 1]]
    assert store.rating.tolist() == [5, 3, 4, 1]
    assert store.time.tolist() == [881250949, 881250950, 881250951, 881250952]
    assert store.edge_label_index.tolist() == [[0, 1], [2, 0]]
    assert store.edge_label.dtype == torch.float
    assert torch.equal(data["movie", "rated_by", "user"].edge_index,
                       store.edge_index.flip(0))
    train, val, test = load_pyg("MovieLens100K", tmp_path / "ds", val_ratio=0.0)
    assert (len(train), len(val), len(test)) == (4, 0, 2)
    pairs = zip(train.user.tolist(), train.item.tolist(), train.weight.tolist(),
                train.timestamp.tolist())
    assert sorted(pairs) == [(0, 0, 3.0, 881250950), (0, 1, 5.0, 881250949),
                             (1, 1, 1.0, 881250952), (1, 2, 4.0, 881250951)]


def test_movielens1m_random_split(tmp_path):
    data = read_pyg_raw("MovieLens1M", _root(tmp_path, ML1M))
    assert data["user"].num_nodes == 3 and data["movie"].num_nodes == 10
    assert data["user", "rates", "movie"].edge_index.shape == (2, 30)
    parts = load_pyg("MovieLens1M", tmp_path / "ds", val_ratio=0.1)
    assert [len(p) for p in parts] == [24, 3, 3] and parts[0].shape == (3, 10)


def test_amazon_book_layout_and_split(tmp_path, pinned):
    root = _root(tmp_path, AMAZON)
    pinned(root)
    data = read_pyg_raw("AmazonBook", root)
    assert data["user"].num_nodes == 3 and data["book"].num_nodes == 4
    assert data["user", "rates", "book"].edge_index.tolist() == [
        [0, 0, 0, 1, 1, 2, 2], [0, 1, 2, 1, 3, 0, 2]]
    assert data["user", "rates", "book"].edge_label_index.shape == (2, 4)
    train, val, test = load_pyg("AmazonBook", root, val_ratio=0.0)
    assert (len(train), len(val), len(test)) == (7, 0, 4)
    assert train.weight is None


def test_cold_test_pairs_are_dropped(tmp_path, pinned, caplog):
    files = dict(AMAZON, **{"train.txt": "0 0 1 2\n1 1\n2 0 2\n"})  # item 3 untrained
    root = _root(tmp_path, files)
    pinned(root)
    _, _, test = load_pyg("AmazonBook", root, val_ratio=0.0)
    assert len(test) == 3 and "dropped 1 test pairs" in caplog.text


def test_missing_files_name_the_folder_and_files(tmp_path):
    root = _root(tmp_path, {"u.item": ML100K["u.item"]})
    with pytest.raises(DataError, match="missing u.user, u1.base, u1.test") as err:
        read_pyg_raw("MovieLens100K", root)
    assert str(root / "raw") in str(err.value)
    with pytest.raises(ValueError, match="unknown PyG dataset"):
        read_pyg_raw("Taobao", root)


def test_bad_raw_files(tmp_path):
    files = dict(ML100K, **{"u1.base": "1\t9\t5\t881250949\n"})
    with pytest.raises(DataError, match="movie id not listed"):
        read_pyg_raw("MovieLens100K", _root(tmp_path, files, "a"))
    files = dict(ML100K, **{"u1.base": "1\t1\t5\n"})
    with pytest.raises(DataError, match="4 fields"):
        read_pyg_raw("MovieLens100K", _root(tmp_path, files, "b"))


def test_amazon_book_files_are_checked_against_the_published_ids(tmp_path):
    with pytest.raises(DataError, match="not the published file"):
        read_pyg_raw("AmazonBook", _root(tmp_path, AMAZON))


def test_data_load_amazon_book(tmp_path, pinned):
    root = tmp_path / "data"
    folder = _root(root, AMAZON, "amazon-book")
    with pytest.raises(DataError, match="not the published file"):
        load("amazon-book", root=root, cache_dir=tmp_path / "cache")
    pinned(folder)
    train, val, test = load("amazon-book", val_ratio=0.0, root=root,
                            cache_dir=tmp_path / "cache")
    assert (len(train), len(val), len(test)) == (7, 0, 4)
    assert train.shape == (3, 4)
    train, val, test = load("amazon-book", val_ratio=0.3, root=root,
                            cache_dir=tmp_path / "cache")
    assert len(train) + len(val) == 7 and len(val) > 0


def test_data_load_amazon_book_missing(tmp_path):
    (tmp_path / "amazon-book" / "raw").mkdir(parents=True)
    (tmp_path / "amazon-book" / "raw" / "train.txt").write_text("0 1\n")
    with pytest.raises(DataError, match="not found: amazon-book/raw/test.txt") as err:
        load("amazon-book", root=tmp_path, cache_dir=tmp_path / "cache")
    assert str(tmp_path) in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None,
                    reason="PyG's own processing needs pandas")
def test_same_edges_as_pyg_movielens100k(tmp_path):
    from torch_geometric.datasets import MovieLens100K

    ours = read_pyg_raw("MovieLens100K", _root(tmp_path, ML100K))
    theirs = MovieLens100K(str(tmp_path / "ds"))[0]
    for key in ("edge_index", "rating", "time", "edge_label_index", "edge_label"):
        assert torch.equal(ours["user", "rates", "movie"][key],
                           theirs["user", "rates", "movie"][key]), key
    assert ours["movie"].num_nodes == theirs["movie"].num_nodes
