"""``graphcl-rec recommend RUN_DIR`` and ``graphcl-rec export RUN_DIR``."""

import json

import numpy as np
import pytest

import graphcl_rec
from graphcl_rec.cli.main import main
from graphcl_rec.eval import evaluate
from graphcl_rec.serve import MODEL_FILE, load_exported
from tests.serve.runs import delimited, ratings_file, train_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-run")
    return train_run(root, delimited(ratings_file(root)), encoder="mf")


def call(capsys, *argv):
    """``main(argv)`` -> (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip()


def test_recommend_prints_raw_ids_and_scores(run, capsys):
    code, out, _ = call(capsys, "recommend", run.folder, "--user", "u1",
                        "--user", "u12", "--k", "3")
    assert code == 0
    ids, scores = graphcl_rec.load(run.folder).recommend(["u1", "u12"], k=3)
    lines = out.splitlines()
    assert lines[0] == "user u1" and lines[4] == "user u12" and len(lines) == 8
    for row, (item, score) in enumerate(zip(ids[0], scores[0]), 1):
        rank, shown, value = lines[row].split()
        assert (int(rank), shown) == (row, item)
        assert float(value) == pytest.approx(float(score), rel=1e-5)


def test_recommend_json_matches_the_library(run, capsys):
    code, out, _ = call(capsys, "recommend", run.out / "tiny-seed0.json",
                        "--user", "u5", "--k", "4", "--json")
    assert code == 0
    doc = json.loads(out)
    ids, scores = graphcl_rec.load(run.folder).recommend("u5", k=4)
    [entry] = doc["recommendations"]
    assert entry["user"] == "u5" and entry["known"] and doc["exclude_seen"]
    assert entry["items"] == list(ids)
    assert np.array_equal(np.float32(entry["scores"]), scores)


def test_recommend_an_unknown_user(run, capsys):
    code, _, err = call(capsys, "recommend", run.folder, "--user", "nobody")
    assert code == 2 and len(err.splitlines()) == 1
    assert "UnknownIdError: unknown user id 'nobody'" in err
    code, out, _ = call(capsys, "recommend", run.folder, "--user", "nobody",
                        "--unknown", "popular", "--k", "2", "--json")
    [entry] = json.loads(out)["recommendations"]
    assert code == 0 and not entry["known"] and len(entry["items"]) == 2
    rec = graphcl_rec.load(run.folder)
    assert entry["items"] == list(rec.recommend("nobody", k=2, unknown="popular")[0])


def test_recommend_include_seen(run, capsys):
    rec = graphcl_rec.load(run.folder)
    seen = {rec.items.ids[i] for i in rec.train.item[rec.train.user == 0].tolist()}
    lists = {}
    for flag in ((), ("--include-seen",)):
        code, out, _ = call(capsys, "recommend", run.folder, "--user", "u0",
                            "--k", "40", "--json", *flag)
        [entry] = json.loads(out)["recommendations"]
        assert code == 0
        lists[bool(flag)] = entry["items"]
    assert seen and not seen & set(lists[False])
    assert len(lists[False]) == 40 - len(seen) and len(lists[True]) == 40
    assert lists[True] == list(rec.recommend("u0", k=40, exclude_seen=False)[0])


@pytest.mark.parametrize("argv,needle", [
    (["recommend", "{tmp}/nope", "--user", "u1"], "no run folder or model artifact"),
    (["recommend", "{tmp}", "--user", "u1"], "has no model artifact model.pt"),
    (["recommend", "{run}", "--user", "u1", "--k", "0"], "--k: must be >= 1"),
    (["export", "{tmp}/nope", "--out", "{tmp}/x"], "no run folder or model artifact"),
])
def test_errors_are_one_line(run, tmp_path, capsys, argv, needle):
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{run}", str(run.folder))
            for a in argv]
    code, _, err = call(capsys, *argv)
    assert code == 2 and needle in err and len(err.splitlines()) == 1


def test_recommend_needs_a_user(run, capsys):
    with pytest.raises(SystemExit):
        main(["recommend", str(run.folder)])
    assert "--user" in capsys.readouterr().err


def test_export_writes_what_load_exported_reads(run, tmp_path, capsys):
    target = tmp_path / "emb"
    code, out, _ = call(capsys, "export", run.folder, "--out", target, "--no-ann")
    assert code == 0 and str(target) in out and "30 users and 40 items" in out
    exported, trained = load_exported(target), graphcl_rec.load(run.folder)
    assert np.array_equal(exported.item_emb.numpy(), trained.item_emb.numpy())
    assert exported.users.ids == trained.users.ids
    for a, b in zip(exported.recommend("u2", k=5), trained.recommend("u2", k=5)):
        assert np.array_equal(a, b)
    code, _, err = call(capsys, "export", run.folder, "--out", target, "--no-ann")
    assert code == 2 and "FileExistsError" in err
    assert call(capsys, "export", run.folder, "--out", target, "--no-ann",
                "--overwrite")[0] == 0


def test_bench_writes_a_loadable_artifact(tmp_path):
    """Without --checkpoints too; under the legacy protocol the graph is train + val."""
    run = train_run(tmp_path / "b", delimited(ratings_file(tmp_path)),
                    command="bench", extra=("--protocol", "legacy"),
                    stem="tiny-legacy-seed0")
    assert (run.folder / MODEL_FILE).is_file() and not (run.folder / "last.pt").exists()
    rec = graphcl_rec.load(run.folder)
    train, val, test = run.splits()
    assert len(rec.train) == run.result["data"]["train"] == len(train) + len(val)
    metrics = evaluate((rec.user_emb, rec.item_emb), graph=rec.train, target=test,
                       exclude=[rec.train], k=run.result["config"]["train"]["k"],
                       batch_size=run.result["config"]["train"]["eval_batch_size"])
    assert metrics == run.result["test"]
