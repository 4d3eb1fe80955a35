import pytest

from graphcl_rec.cli.build import build_model
from graphcl_rec.cli.config import apply_overrides, from_dict, parse_value
from graphcl_rec.contrast import SGL
from graphcl_rec.models import LightGCN


def test_from_dict_rejects_unknown_sections_and_keys():
    with pytest.raises(ValueError, match="unknown section"):
        from_dict({"trian": {}})
    with pytest.raises(ValueError, match="unknown key"):
        from_dict({"train": {"learning_rate": 1}})


def test_overrides_type_checked():
    raw = {}
    apply_overrides(raw, ["--train.lr=1", "--train.sampler=interaction",
                          "--model.augment.p=0.2", "--train.max_seconds=10"])
    assert raw["train"]["lr"] == 1 and raw["model"]["augment"]["p"] == 0.2
    with pytest.raises(ValueError, match="expected float"):
        apply_overrides({}, ["--data.val_ratio=true"])
    with pytest.raises(ValueError, match="section.key=value"):
        apply_overrides({}, ["--train.lr"])


def test_parse_value():
    assert parse_value("true") is True and parse_value("None") is None
    assert parse_value("a,b") == "a,b"


def test_build_model_resolves_registries():
    model = build_model({"objective": "sgl", "tau": 0.3,
                         "encoder": {"name": "lightgcn", "dim": 8, "num_layers": 2},
                         "augment": {"name": "edge_dropout", "p": 0.2}}, 5, 6)
    assert isinstance(model, SGL) and isinstance(model.encoder, LightGCN)
    assert model.tau == 0.3 and model.augment.p == 0.2
    with pytest.raises(TypeError):
        build_model({"objective": "bpr", "taux": 1, "encoder": {"name": "mf"}}, 5, 6)
    with pytest.raises(ValueError, match="Could not resolve objective"):
        build_model({"objective": "gan", "encoder": {"name": "mf"}}, 5, 6)
