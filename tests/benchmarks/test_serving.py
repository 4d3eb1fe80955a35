"""The serving benchmarks (``foldin``, ``update``, ``ann``, ``latency``) on toy data."""

import json

import pytest
import torch

from benchmarks.bench import serve_report, serve_scoring
from benchmarks.bench.serve_common import all_pairs, reindex
from benchmarks.run import main
from graphcl_rec.data import Interactions
from graphcl_rec.serve import EmbeddingRecommender
from tests.serve.runs import delimited, ratings_file, train_run

META = {"date", "host", "cpu", "threads", "revision", "argv", "load_average"}


def written(path, subcommand):
    data = json.loads(path.read_text())
    assert data["subcommand"] == subcommand and META <= set(data["meta"])
    return data


def test_foldin_compares_fold_in_with_training_and_popularity(tmp_path, capsys):
    out = tmp_path / "foldin.json"
    main(["foldin", "--dataset", "toy", "--models", "lightgcn,mf", "--epochs", "1",
          "--egos", "mean,zero", "--mf-steps", "0,5", "--mf-lr", "0.05",
          "--single", "3", "--holdout", "0.2", "--history", "0.7", "--seed", "1",
          "--threads", "1", "--json", str(out)])
    assert "fold-in (ego=mean)" in capsys.readouterr().out
    data = written(out, "foldin")
    figures = data["figures"]
    for name in ("toy popularity recall@20", "toy lightgcn trained normally ndcg@20",
                 "toy lightgcn fold-in (ego=zero) recall@20",
                 "toy mf fold-in (steps=5, lr=0.05) ndcg@20"):
        assert 0.0 <= figures[name]["value"] <= 1.0
    assert figures["toy lightgcn fold_in_user (ego=mean) median ms"]["value"] > 0
    split = data["rows"][0]["split"]
    assert split["held_out"] == round(0.2 * 64)
    assert split["train_pairs_foldin_model"] < split["train_pairs_normal"]
    mf = data["rows"][2]
    assert [v["options"]["steps"] for v in mf["variants"]] == [0, 5]
    assert mf["single_fold_in_ms"]["n"] == 3
    assert mf["normal_training"]["epochs_run"] == 1
    text = "\n".join(serve_report.foldin(data))
    assert "| mf | fold-in (steps=5, lr=0.05) |" in text


def test_update_runs_all_variants_and_reports_the_target(tmp_path):
    out = tmp_path / "update.json"
    main(["update", "--dataset", "toy", "--epochs", "2", "--repeats", "2",
          "--update-epochs", "1", "--grid-epochs", "1,2", "--grid-lr", "0.001,0.01",
          "--time-share", "0.5", "--recall-share", "0.9", "--budget-seconds", "60",
          "--threads", "1", "--json", str(out)])
    data = written(out, "update")
    validation = data["rows"][0]["validation"]
    assert len(validation["grid"]) == 4
    chosen = validation["chosen"]
    assert chosen["epochs"] in (1, 2) and chosen["lr"] in (0.001, 0.01)
    variants = [r for r in data["rows"] if "variant" in r]
    assert [v["variant"].split()[0] for v in variants] == [
        "a", "b", "b+items", "c", "c*", "d"]
    assert all(len(v["runs"]) == 2 for v in variants)
    figures = data["figures"]
    assert figures["toy c update epochs=1 / retrain recall@20"]["value"] > 0
    assert figures["toy c update epochs=1 meets the target"]["value"] in (0.0, 1.0)
    assert figures["toy a no update seconds"]["value"] > 0
    text = "\n".join(serve_report.update(data))
    assert "| d retrain |" in text and f"chosen: epochs {chosen['epochs']}" in text


def test_scoring_gives_unknown_users_popularity_and_never_unknown_items():
    # Global space: users a, b; items x, y, z. The recommender knows user a and
    # items x, y (item y seen by a).
    rec = EmbeddingRecommender(
        torch.tensor([[1.0]]), torch.tensor([[2.0], [1.0]]),
        Interactions(torch.tensor([0]), torch.tensor([1]), 1, 2, user_ids=("a",),
                     item_ids=("x", "y")))
    ids = dict(user_ids=("a", "b"), item_ids=("x", "y", "z"))
    test = Interactions(torch.tensor([0, 1, 1]), torch.tensor([2, 0, 2]), 2, 3, **ids)
    seen = Interactions(torch.tensor([0]), torch.tensor([1]), 2, 3, **ids)
    tgt = serve_scoring.target(test, [seen], [test], {"known": [seen]})
    scores = serve_scoring.scores(rec, tgt)
    assert scores[0].tolist() == [2.0, 1.0, float("-inf")]
    assert scores[1].tolist() == [0.0, 1.0, float("-inf")]  # popularity of x, y
    got = serve_scoring.metrics(rec, tgt)
    # a: its only test item z is unknown (recall 0); b: x is ranked, z is not.
    assert got["recall@20"] == pytest.approx(0.25)
    assert got["users"] == 2 and got["users known"] == 1


def test_reindex_and_all_pairs_keep_raw_ids():
    inter = all_pairs("toy")
    assert inter.timestamp is not None and inter.user_ids[0] == "u0"
    sub = reindex(inter, users=["u3", "u1"])
    assert sub.num_users == 2 and set(sub.user.tolist()) <= {0, 1}
    assert len(sub) == int(((inter.user == 3) | (inter.user == 1)).sum())
    assert sub.user_ids == ("u3", "u1") and sub.item_ids == inter.item_ids


def test_ann_and_latency_on_an_export(tmp_path, capsys):
    pytest.importorskip("faiss")
    export_dir = tmp_path / "export"
    out = tmp_path / "ann.json"
    main(["ann", "--dataset", "toy", "--epochs", "1", "--queries", "30", "--k", "10",
          "--m", "32,16", "--ef", "16,128", "--save-export", str(export_dir),
          "--threads", "1", "--json", str(out)])
    data = written(out, "ann")
    figures = data["figures"]
    # 96 items: an efSearch above the catalogue's size finds the exact lists.
    assert figures["toy HNSW M=32 efSearch=128 recall@10"]["value"] == 1.0
    assert 0.0 <= figures["toy HNSW M=16 efSearch=16 recall@10"]["value"] <= 1.0
    exported = [r for r in data["rows"] if r.get("exported")]
    assert {r["ef"] for r in exported} == {16, 128}
    assert exported[-1]["exclude_seen"]["recall"] == 1.0
    assert data["rows"][0]["exported_index"]["kind"] == "IndexHNSWFlat"
    assert (export_dir / "items.faiss").exists()
    again = tmp_path / "again" / "ann.json"
    main(["ann", "--export", str(export_dir), "--dataset", "toy", "--queries", "30",
          "--m", "32", "--ef", "128", "--l2", "--json", str(again)])
    data = written(again, "ann")
    assert data["rows"][0]["training"] == {"export": str(export_dir)}
    assert "toy export with HNSW index seconds" not in data["figures"]
    assert data["figures"]["toy HNSW M=32 L2-reduced efSearch=128 recall@20"][
        "value"] == 1.0
    assert "L2 after MIPS-to-L2" in "\n".join(serve_report.ann(data))

    out = tmp_path / "latency.json"
    main(["latency", "--export", str(export_dir), "--dataset", "toy", "--queries",
          "20", "--warmup", "2", "--k", "5", "--batches", "1,8", "--repeats", "1",
          "--threads", "1", "--json", str(out)])
    assert "single user recommend(k=5)" in capsys.readouterr().out
    data = written(out, "latency")
    assert data["rows"][0]["recommender"] == f"export {export_dir}"
    assert data["figures"]["toy single-user recommend median ms"]["value"] > 0
    assert data["figures"]["toy batch 8 users/s"]["value"] > 0
    assert set(data["rows"][1]["stages"]) >= {"id lookup", "top-k", "seen items"}
    page = serve_report.main([str(tmp_path)]).read_text()
    assert page.index("`ann.json`") < page.index("`latency.json`")
    assert page.count("```bash\npython -m benchmarks.run") == 2  # meta's argv
    median = data["figures"]["toy single-user recommend median ms"]["value"]
    assert f"| toy single-user recommend median ms | {median:,.4f} | ms |" in page


def test_latency_on_a_run_and_without_stages(tmp_path):
    run = train_run(tmp_path / "run", delimited(ratings_file(tmp_path)))
    out = tmp_path / "latency.json"
    main(["latency", "--run", str(run.folder), "--queries", "5", "--warmup", "1",
          "--batches", "4", "--repeats", "1", "--no-stages", "--seed", "3",
          "--json", str(out)])
    data = written(out, "latency")
    assert data["rows"][0]["recommender"] == f"run {run.folder}"
    assert not any("stages" in r for r in data["rows"])
    assert data["rows"][0]["single"]["n"] == 5
    pytest.importorskip("faiss")
    out = tmp_path / "ann.json"
    main(["ann", "--run", str(run.folder), "--dataset", "tiny", "--queries", "5",
          "--m", "32", "--ef", "64", "--json", str(out)])
    data = written(out, "ann")
    assert data["rows"][0]["training"] == {"run": str(run.folder)}
    assert data["figures"]["tiny HNSW M=32 efSearch=64 recall@20"]["value"] == 1.0
