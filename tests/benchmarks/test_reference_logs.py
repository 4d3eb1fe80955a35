import json

import pytest

from benchmarks.reference_logs import main, parse_mixgcf_log
from graphcl_rec.bench.quality import quality_table
from graphcl_rec.bench.report import PUBLISHED, load_references, write_report

RULE = "+-------+------+------+------+--------------+--------------+"
HEAD = "| Epoch | training time(s) | tesing time(s) | Loss | recall | ndcg |"


def _row(epoch, train, test, loss, recalls, ndcgs):
    fmt = " ".join(f"{v:.8f}" for v in recalls), " ".join(f"{v:.8f}" for v in ndcgs)
    return (f"|   {epoch}   | {train} | {test} | {loss} | [{fmt[0]}] | [{fmt[1]}] | "
            "[0.1 0.1 0.1] | [0.2 0.2 0.2] |")


def _log(rows):
    """A log in the published format: a table per evaluated epoch, a line else."""
    lines = ["start training ..."]
    for r in rows:
        if r[0] == "plain":
            _, epoch, seconds, loss = r
            lines.append(f"using time {seconds:.4f}s, training loss at epoch "
                         f"{epoch}: {loss:.4f}")
        else:
            lines += [RULE, HEAD, RULE, _row(*r), RULE]
    lines.append("early stopping at 2, recall@20:0.0700")
    return "\n".join(lines) + "\n"


TEXT = _log([(0, 10.5, 2.0, 400.0, (0.03, 0.05, 0.07), (0.02, 0.03, 0.04)),
             ("plain", 1, 11.0, 300.0),
             (2, 9.5, 3.0, 200.0, (0.07, 0.09, 0.11), (0.05, 0.06, 0.07))])


def test_parse_numbers_epochs_from_one_and_keeps_the_at_20_values():
    recs = parse_mixgcf_log(TEXT)
    assert [r["epoch"] for r in recs] == [1, 2, 3]
    assert recs[0] == {"epoch": 1, "train_seconds": 10.5, "loss": 400.0,
                       "eval_seconds": 2.0,
                       "val": {"recall@20": 0.03, "ndcg@20": 0.02}}
    assert recs[1] == {"epoch": 2, "train_seconds": 11.0, "loss": 300.0}
    assert recs[2]["val"] == {"recall@20": 0.07, "ndcg@20": 0.05}


def test_a_missing_epoch_names_the_line():
    text = _log([(0, 1.0, 1.0, 1.0, (0.1, 0.2, 0.3), (0.1, 0.2, 0.3)),
                 ("plain", 2, 1.0, 1.0)])
    with pytest.raises(ValueError, match=r"x\.txt, line 7: epoch 2 \(0-based\) "
                                         r"where 1 was expected"):
        parse_mixgcf_log(text, "x.txt")


def test_a_log_without_results_is_refused():
    with pytest.raises(ValueError, match="no evaluated epoch"):
        parse_mixgcf_log(_log([("plain", 0, 1.0, 1.0)]))


def test_the_command_writes_a_reference_the_reports_read(tmp_path, capsys):
    log = tmp_path / "log.txt"
    log.write_text(TEXT)
    out = tmp_path / "results" / "reference" / "ref.json"
    assert main([str(log), "--repo", "someone/code", "--commit", "a" * 40,
                 "--path", "logs/yelp.txt", "--dataset", "yelp2018",
                 "--model", "xsimgcl", "--name", "XSimGCL (their log)",
                 "--command", "python main.py", "--out", str(out)]) == 0
    assert "3 epochs, 2 evaluated, best Recall@20 0.0700 at epoch 3" in (
        capsys.readouterr().out)
    refs = load_references(tmp_path / "results")
    assert [r["name"] for r in refs] == ["XSimGCL (their log)"]
    assert refs[0]["source"]["commit"] == "a" * 40
    pub = PUBLISHED[("xsimgcl", "yelp2018")][0]  # 0.0723: 95 % is 0.0687
    lines = quality_table([], PUBLISHED, refs)
    assert lines[2] == (f"| yelp2018 | XSimGCL (their log) | authors' hardware "
                        f"(published log) | — | {pub} | epoch 3: 0.5 / 0.6 min | "
                        "not reached | 0.0700 (96.8%) | 3 | 10.5 |")
    # A reference is not a run: the report's main table does not list it.
    (tmp_path / "results" / "run.json").write_text(json.dumps({
        "name": "xsimgcl_yelp2018", "protocol": "legacy", "seed": 0,
        "device": {"type": "cpu"},
        "config": {"data": {"dataset": "yelp2018"}, "train": {"epochs": 1}},
        "history": [{"epoch": 1, "train_seconds": 60.0,
                     "val": {"recall@20": 0.0723}}],
        "test": {"recall@20": 0.0723, "ndcg@20": 0.06}, "best_epoch": 1,
        "epochs_run": 1, "stopped_early": False, "seconds_per_epoch": 60.0,
        "seconds_per_eval": 0.0, "peak_memory_mb": 1.0}))
    text = write_report(tmp_path / "results", tmp_path / "R.md").read_text()
    table = text.split("## Time to quality")[0]
    assert "their log" not in table and "| xsimgcl_yelp2018 |" in table
    assert "| XSimGCL (their log) |" in text.split("## Time to quality")[1]
