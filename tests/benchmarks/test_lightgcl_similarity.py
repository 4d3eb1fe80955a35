import json

import pytest

from benchmarks import lightgcl_similarity
from tests.cli.conftest import ratings, write_config  # noqa: F401 (fixture)


def test_every_variant_runs_and_is_recorded(tmp_path, ratings):  # noqa: F811
    cfg = write_config(tmp_path, ratings, objective="lightgcl",
                       extra='rank = 3\nsimilarity = "dot"\nssl_warmup = 0')
    # the probe's variants set the pooling; the config's encoder sums
    text = cfg.read_text().replace("num_layers = 2", 'num_layers = 2\npooling = "sum"')
    cfg.write_text(text)
    out = tmp_path / "probe.json"
    assert lightgcl_similarity.main(["--config", str(cfg), "--steps", "3",
                                     "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert list(result["variants"]) == list(lightgcl_similarity.VARIANTS)
    for variant in result["variants"].values():
        assert [t["step"] for t in variant["trace"]] == [1, 3]
        assert 0 <= variant["test"]["recall@20"] <= 1
    traces = [v["trace"][-1]["bpr"] for v in result["variants"].values()]
    assert len(set(traces)) == 3  # the variants really differ
    assert result["steps"] == 3 and result["git_revision"]


def test_unknown_variant_is_refused(capsys):
    with pytest.raises(SystemExit):
        lightgcl_similarity.main(["--variants", "dot-sum,l2"])
    assert "unknown variants ['l2']" in capsys.readouterr().err
