"""``graphcl_rec.load(run)``: a finished command-line run, ready to recommend."""

import shutil

import pytest
import torch

import graphcl_rec
from graphcl_rec.data import Interactions
from graphcl_rec.errors import CheckpointError
from graphcl_rec.eval import evaluate
from graphcl_rec.models.build import build_recommender
from graphcl_rec.serve import (
    MODEL_FILE,
    TrainedRecommender,
    UnknownIdError,
    read_artifact,
    save_model,
)
from tests.serve.runs import delimited, ratings_file, train_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    return train_run(root, delimited(ratings_file(root)))


def test_a_run_writes_its_artifact_and_loads(run):
    assert (run.folder / MODEL_FILE).is_file()
    rec = graphcl_rec.load(run.folder)
    assert isinstance(rec, TrainedRecommender)
    train, _, _ = run.splits()
    assert rec.train.shape == train.shape == (30, 40)
    assert rec.train.user_ids == train.user_ids and rec.train.item_ids == train.item_ids
    assert torch.equal(rec.train.user, train.user)
    assert torch.equal(rec.train.item, train.item)
    state = read_artifact(run.folder / MODEL_FILE)
    assert state["model_config"] == run.result["config"]["model"]
    assert state["config"] == run.result["config"]
    assert state["library_version"] == graphcl_rec.__version__
    assert state["epoch"] == run.result["best_epoch"]


def test_load_reproduces_the_recorded_test_metrics_exactly(run):
    rec = graphcl_rec.load(run.folder)
    train, val, test = run.splits()
    cfg = run.result["config"]["train"]
    kwargs = {"target": test, "exclude": [train, val], "k": cfg["k"],
              "batch_size": cfg["eval_batch_size"]}
    from_embeddings = evaluate((rec.user_emb, rec.item_emb), graph=rec.train,
                               **kwargs)
    assert from_embeddings == run.result["test"]  # bit for bit, every metric
    assert evaluate(rec.model, graph=rec.train, **kwargs) == run.result["test"]


def test_the_results_file_and_the_artifact_name_the_same_run(run):
    by_folder = graphcl_rec.load(run.folder)
    for other in (run.out / "tiny-seed0.json", run.folder / MODEL_FILE):
        assert torch.equal(graphcl_rec.load(other).item_emb, by_folder.item_emb)


def test_recommend_by_raw_id(run):
    rec = graphcl_rec.load(run.folder)
    ids, scores = rec.recommend("u3", k=5)
    assert len(ids) == 5 and all(str(i).startswith("i") for i in ids)
    assert list(scores) == sorted(scores, reverse=True)
    seen = {rec.items.ids[i] for i in rec.train.item[rec.train.user == 3].tolist()}
    assert rec.users.ids[3] == "u3" and not seen & set(ids)
    with pytest.raises(UnknownIdError, match="unknown user id 'nobody'"):
        rec.recommend("nobody")
    popular, _ = rec.recommend("nobody", k=3, unknown="popular")
    assert len(popular) == 3


def test_a_corrupted_artifact_is_refused_naming_the_file(run, tmp_path):
    path = tmp_path / MODEL_FILE
    shutil.copy(run.folder / MODEL_FILE, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt") as err:
        graphcl_rec.load(tmp_path)
    assert str(path) in str(err.value)
    path.write_bytes(bytes(data[: len(data) // 3]))  # truncated: the seal is gone
    with pytest.raises(CheckpointError, match="no checksum seal") as err:
        graphcl_rec.load(path)
    assert str(path) in str(err.value)


def test_a_missing_artifact_names_what_is_missing(run, tmp_path):
    folder = tmp_path / "old-seed0"
    folder.mkdir()
    shutil.copy(run.folder / "last.pt", folder / "last.pt")
    with pytest.raises(FileNotFoundError, match="has no model artifact model.pt") as e:
        graphcl_rec.load(folder)
    assert str(folder) in str(e.value) and "last.pt" in str(e.value)
    with pytest.raises(FileNotFoundError, match="no run folder or model artifact"):
        graphcl_rec.load(tmp_path / "nope")
    (tmp_path / "lost-seed0.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="lost-seed0 does not exist"):
        graphcl_rec.load(tmp_path / "lost-seed0.json")


def test_a_training_checkpoint_is_not_an_artifact(run):
    with pytest.raises(CheckpointError, match="not a graphcl_rec.model artifact"):
        graphcl_rec.load(run.folder / "last.pt")


def test_save_model_round_trip_and_weights_that_do_not_fit(small, tmp_path):
    table = {"objective": "bpr", "encoder": {"name": "mf", "dim": 4}}
    model = build_recommender(table, small.num_users, small.num_items)
    path = save_model(tmp_path / "a" / MODEL_FILE, model, small, table)
    rec = graphcl_rec.load(path.parent)
    assert torch.equal(rec.item_emb, TrainedRecommender(model, small).item_emb)
    assert rec.train.user_ids == small.user_ids
    other = {"objective": "bpr", "encoder": {"name": "mf", "dim": 6}}
    save_model(tmp_path / "b" / MODEL_FILE, model, small, other)
    with pytest.raises(CheckpointError, match="weights do not fit .*size mismatch"):
        graphcl_rec.load(tmp_path / "b")
    with pytest.raises(ValueError, match="encoder has 20 users"):
        save_model(tmp_path / "c" / MODEL_FILE, model,
                   Interactions(small.user, small.item, 21, 15), table)


def test_a_user_and_an_item_without_training_pairs_still_load(tmp_path):
    """Issue 19's ``size mismatch ... [19524, 64] ... [19525, 64]`` cannot recur.

    User 7 and item 30 have no pair at all (ids are indices in this format), so
    their rows exist only because the index space counts them; the artifact keeps
    the run's index space and pairs rather than re-deriving them from data.
    """
    root = tmp_path / "lgcn"
    root.mkdir()
    users = [u for u in range(31) if u != 7]
    extra = {30: [31]}
    train = [f"{u} " + " ".join(str((u + j) % 30) for j in range(8))
             + "".join(f" {i}" for i in extra.get(u, [])) for u in users]
    test = [f"{u} {(u + 8) % 30} {(u + 9) % 30}" for u in users]
    (root / "train.txt").write_text("\n".join(train) + "\n")
    (root / "test.txt").write_text("\n".join(test) + "\n")
    run = train_run(tmp_path, f'[data]\npath = "{root}"\nformat = "lightgcn"\n'
                              'val_ratio = 0.25\n', encoder="lightgcn")
    rec = graphcl_rec.load(run.folder)
    assert (rec.num_users, rec.num_items) == (31, 32)
    assert rec.model.encoder.num_users == 31
    assert int((rec.train.user == 7).sum()) == 0
    assert int((rec.train.item == 30).sum()) == 0
    ids, _ = rec.recommend("7", k=5)  # no training pairs: ranked from its ego row
    assert len(ids) == 5 and None not in list(ids)
    train_split, val, test_split = run.splits()
    metrics = evaluate((rec.user_emb, rec.item_emb), graph=rec.train,
                       target=test_split, exclude=[train_split, val], k=[5, 20])
    assert metrics == run.result["test"]
