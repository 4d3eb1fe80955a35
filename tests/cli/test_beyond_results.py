"""The results JSON of a run carries beyond-accuracy metrics of its test split."""

import json

import pytest

import graphcl_rec
from graphcl_rec.eval import evaluate
from tests.serve.runs import delimited, ratings_file, train_run


@pytest.mark.parametrize("command,stem", [("train", "tiny-seed0"),
                                          ("bench", "tiny-legacy-seed0")])
def test_results_json_has_beyond_accuracy_of_the_test_split(tmp_path, command, stem):
    extra = ("--protocol", "legacy") if command == "bench" else ()
    run = train_run(tmp_path, delimited(ratings_file(tmp_path)), command=command,
                    extra=extra, stem=stem)
    on_disk = json.loads((run.out / f"{stem}.json").read_text())
    beyond = on_disk["beyond_accuracy"]["test"]
    assert set(beyond) == {f"{name}@{k}" for name in ("diversity", "novelty",
                                                      "coverage") for k in (5, 20)}
    assert not any(key.startswith(("diversity", "novelty")) for key in on_disk["test"])
    assert beyond["coverage@20"] == on_disk["test"]["coverage@20"]
    # The recorded values are those of the saved model, recomputed.
    rec = graphcl_rec.load(run.folder)
    train, val, test = run.splits()
    exclude = [rec.train] if command == "bench" else [train, val]
    again = evaluate(rec.model, graph=rec.train, target=test, exclude=exclude,
                     k=[5, 20], beyond=True)
    assert {key: again[key] for key in beyond} == beyond
    assert 0 < beyond["diversity@20"] <= 2 and beyond["novelty@20"] > 0
