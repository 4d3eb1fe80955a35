import json

import numpy as np
import pytest
import torch

from graphcl_rec.serve import export, faiss_available, load_exported
from tests.serve.conftest import trained


@pytest.fixture
def rec(small):
    rec = trained("lightgcn", small)
    rec.fold_in_user("folded", ["i1", "i2"])
    rec.fold_in_item("new item", ["u0"])
    return rec


def test_round_trip_is_exact(rec, tmp_path):
    path = export(rec, tmp_path / "out", ann=False)
    back = load_exported(path)
    assert torch.equal(back.user_emb, rec.user_emb)
    assert torch.equal(back.item_emb, rec.item_emb)
    assert back.users.ids == rec.users.ids and back.items.ids == rec.items.ids
    assert back.description == repr(rec.model)
    assert torch.equal(back.popularity(), rec.popularity())
    users = ["u0", "folded", "u7"]
    for a, b in zip(rec.recommend(users, k=10), back.recommend(users, k=10)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(rec.similar_items("new item", k=5),
                    back.similar_items("new item", k=5)):
        np.testing.assert_array_equal(a, b)
    assert back.ann_index is None


def test_export_files_and_meta(rec, tmp_path):
    path = export(rec, tmp_path / "out", ann=False)
    assert sorted(p.name for p in path.iterdir()) == ["embeddings.npz", "meta.json"]
    meta = json.loads((path / "meta.json").read_text())
    assert meta["num_users"] == 21 and meta["num_items"] == 16 and meta["dim"] == 8
    assert meta["dtype"] == "float32" and meta["ann"] is None
    assert meta["user_ids"][-1] == "folded" and meta["item_ids"][-1] == "new item"
    with np.load(path / "embeddings.npz", allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["item_emb", "seen_item", "seen_user",
                                        "user_emb"]
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left


def test_existing_folder_needs_overwrite(rec, tmp_path):
    export(rec, tmp_path / "out", ann=False)
    with pytest.raises(FileExistsError, match="'path' exists"):
        export(rec, tmp_path / "out", ann=False)
    export(rec, tmp_path / "out", ann=False, overwrite=True)


def test_tampered_or_foreign_exports_are_refused(rec, tmp_path):
    path = export(rec, tmp_path / "out", ann=False)
    data = bytearray((path / "embeddings.npz").read_bytes())
    data[-40] ^= 0xFF
    (path / "embeddings.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256 does not match"):
        load_exported(path)
    (path / "meta.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a graphcl_rec.embeddings v1 export"):
        load_exported(path)


def test_ann_true_without_faiss_fails_cleanly(rec, tmp_path):
    if faiss_available():
        pytest.skip("faiss is installed")
    with pytest.raises(ImportError, match="needs faiss"):
        export(rec, tmp_path / "out", ann=True)
    assert not (tmp_path / "out").exists()
    export(rec, tmp_path / "auto")  # ann=None: skipped without faiss
    assert not (tmp_path / "auto" / "items.faiss").exists()


def test_faiss_index_round_trip(rec, tmp_path):
    pytest.importorskip("faiss")
    path = export(rec, tmp_path / "out", ann=True)
    back = load_exported(path)
    assert back.ann_index.ntotal == rec.num_items
    query = rec.user_emb[:3].numpy()
    _, approx = back.ann_index.search(query, 5)
    exact = torch.topk(rec.user_emb[:3] @ rec.item_emb.T, 5).indices.numpy()
    assert np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approx, exact)]) > 0.8
