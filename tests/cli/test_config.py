from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from graphcl_rec.cli.build import build_model
from graphcl_rec.cli.checks import ConfigError, matches, type_name
from graphcl_rec.cli.config import (
    TRAIN_EXCLUDED,
    TrainConfig,
    apply_overrides,
    from_dict,
    load_config,
    parse_value,
)
from graphcl_rec.cli.experiment import make_trainer
from graphcl_rec.cli.model_schema import check_model
from graphcl_rec.cli.schema import parameters
from graphcl_rec.contrast import SGL
from graphcl_rec.models import LightGCN
from graphcl_rec.train import EarlyStopping, Trainer

SGL_TABLE = {"objective": "sgl", "tau": 0.3,
             "encoder": {"name": "lightgcn", "dim": 8, "num_layers": 2},
             "augment": {"name": "edge_dropout", "p": 0.2}}


def with_key(section, key, value):
    """A valid raw config with ``section.key = value`` set."""
    raw = {"model": {**SGL_TABLE, "encoder": {**SGL_TABLE["encoder"]},
                     "augment": {**SGL_TABLE["augment"]}}}
    node = raw
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    return raw


def test_from_dict_rejects_unknown_sections_and_keys():
    with pytest.raises(ValueError, match="unknown section"):
        from_dict({"trian": {}})
    with pytest.raises(ValueError, match="unknown key"):
        from_dict({"train": {"learning_rate": 1}})


@pytest.mark.parametrize("section,valid", [
    ("data", "val_ratio"), ("train", "patience"), ("model", "ssl_weight"),
    ("model.encoder", "num_layers"), ("model.augment", "per_layer"),
])
def test_unknown_key_lists_the_valid_keys_of_its_section(section, valid):
    with pytest.raises(ConfigError) as info:
        from_dict(with_key(section, "nope", 1))
    msg = str(info.value)
    assert f"unknown key 'nope' in [{section}]; valid keys: [" in msg
    assert f"'{valid}'" in msg and "\n" not in msg


def test_valid_keys_are_the_constructor_arguments():
    with pytest.raises(ConfigError) as info:
        from_dict(with_key("model.encoder", "width", 3))
    listed = str(info.value).split("valid keys: ")[1]
    names = set(inspect.signature(LightGCN).parameters) - {"num_users", "num_items"}
    assert sorted(names | {"name"}) == eval(listed)  # noqa: S307 - our own message


@pytest.mark.parametrize("section,key,value,expected", [
    ("data", "val_ratio", "x", "float"),
    ("data", "format", "csv", "one of 'delimited', 'lightgcn'"),
    ("train", "lr", "fast", "float"),
    ("train", "patience", True, "int"),
    ("train", "k", 20, "Sequence[int]"),
    ("train", "max_seconds", "1h", "float | None"),
    ("model", "tau", "warm", "float"),
    ("model.encoder", "dim", 1.5, "int"),
    ("model.augment", "p", [0.1], "float"),
])
def test_wrong_type_names_section_key_value_and_type(section, key, value, expected):
    with pytest.raises(ConfigError) as info:
        from_dict(with_key(section, key, value))
    assert str(info.value) == f"[{section}] {key} = {value!r}: expected {expected}"


def test_top_level_values_are_checked():
    with pytest.raises(ConfigError, match=r"^seed = 'one': expected int$"):
        from_dict({"seed": "one"})


@pytest.mark.parametrize("override,needle", [
    ("--model.tau=fast", "[model] tau = 'fast': expected float"),
    ("--model.encoder.dim=1.5", "[model.encoder] dim = 1.5: expected int"),
    ("--model.augment.p=[0.1]", "[model.augment] p = [0.1]: expected float"),
    ("--model.encoder.width=3", "unknown key 'width' in [model.encoder]; valid keys"),
    ("--model.augment.q=3", "unknown key 'q' in [model.augment]; valid keys"),
    ("--model.taux=3", "unknown key 'taux' in [model]; valid keys"),
    ("--train.patience=true", "[train] patience = True: expected int"),
    ("--data.split_seed=0.5", "[data] split_seed = 0.5: expected int"),
])
def test_overrides_are_type_checked_in_every_section(tmp_path, override, needle):
    path = tmp_path / "sgl.toml"
    path.write_text(
        '[model]\nobjective = "sgl"\n[model.encoder]\nname = "lightgcn"\n'
        '[model.augment]\nname = "edge_dropout"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, [override])
    assert str(info.value).startswith(f"override '{override}': ")
    assert needle in str(info.value)


def test_overrides_type_checked():
    raw = {}
    apply_overrides(raw, ["--train.lr=1", "--train.sampler=interaction",
                          "--model.augment.p=0.2", "--train.max_seconds=10"])
    assert raw["train"]["lr"] == 1 and raw["model"]["augment"]["p"] == 0.2
    with pytest.raises(ValueError, match="expected float"):
        apply_overrides({}, ["--data.val_ratio=true"])
    with pytest.raises(ValueError, match="section.key=value"):
        apply_overrides({}, ["--train.lr"])


def test_an_override_may_switch_the_objective_with_its_arguments():
    raw = {"model": {"objective": "bpr"}}
    apply_overrides(raw, ["--model.eps=0.3", "--model.objective=simgcl"])
    assert from_dict(raw).model == {"objective": "simgcl", "eps": 0.3}


def test_defaults_are_the_constructors_own():
    cfg = from_dict({})
    trainer, reference = make_trainer(cfg, progress=False), Trainer()
    for name in TrainConfig.SOURCES[Trainer]:
        assert getattr(trainer, name) == getattr(reference, name), name
    assert repr(trainer.early_stopping) == repr(EarlyStopping())
    assert trainer.reset_parameters is True  # the runner's choice, see TRAIN_EXCLUDED
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    expected = (set(parameters(Trainer)) | set(parameters(EarlyStopping))) - set(
        TRAIN_EXCLUDED)
    assert fields == expected and "negative_sampling" in fields
    assert "negatives" not in fields


def test_every_exclusion_is_a_real_argument():
    assert set(TRAIN_EXCLUDED) <= set(parameters(Trainer)) | set(
        parameters(EarlyStopping))


def test_sgl_without_augment_is_refused_before_construction():
    table = {"objective": "sgl", "encoder": {"name": "mf"}}
    required = parameters(SGL)["augment"].required
    if required:
        with pytest.raises(ConfigError, match=r"missing required key\(s\) \['augment'\]"
                           r" in \[model\] \(add a \[model.augment\] table\)"):
            check_model(table)
    with pytest.raises(ConfigError, match=r"\[model.augment\] needs a 'name'"):
        check_model({**table, "augment": {"p": 0.1}})
    with pytest.raises(ConfigError, match="unknown key 'augment' in \\[model\\]"):
        check_model({"objective": "simgcl", "augment": {"name": "edge_dropout"}})


def test_parse_value():
    assert parse_value("true") is True and parse_value("None") is None
    assert parse_value("a,b") == "a,b"


def test_build_model_resolves_registries():
    model = build_model(SGL_TABLE, 5, 6)
    assert isinstance(model, SGL) and isinstance(model.encoder, LightGCN)
    assert model.tau == 0.3 and model.augment.p == 0.2
    with pytest.raises(TypeError, match="unknown key 'taux' in \\[model\\]"):
        build_model({"objective": "bpr", "taux": 1, "encoder": {"name": "mf"}}, 5, 6)
    with pytest.raises(ValueError, match="Could not resolve objective"):
        build_model({"objective": "gan", "encoder": {"name": "mf"}}, 5, 6)
    assert build_model({"objective": "bpr"}, 5, 6).encoder.num_users == 5


class Dummy:
    def __init__(self, encoder: object, *, size: int, scale: float | None = None,
                 path: Path | None = None, names: tuple[str, ...] = ("a",),
                 **extra: object) -> None: ...


def test_parameters_read_any_signature():
    params = parameters(Dummy, exclude=["encoder"])
    assert list(params) == ["size", "scale", "path", "names"]
    assert params["size"].required and not params["scale"].required
    assert type_name(params["scale"].hint) == "float | None"
    assert matches("runs/x", params["path"].hint)
    assert not matches(3, params["path"].hint)
    assert matches(["b", "c"], params["names"].hint)
    assert not matches(["b", 1], params["names"].hint)


class Hidden:
    def __init__(self, *, thing: NotImportedAnywhere = None, n: int = 2):  # noqa: F821
        ...


def test_an_unresolvable_annotation_is_not_checked():
    params = parameters(Hidden)
    assert params["n"].hint is int and matches("anything", params["thing"].hint)


@pytest.mark.parametrize("raw,needle", [
    ({"train": {"epochs": 0}}, "[train] epochs = 0: a run trains at least one epoch "
                               "(with none, its test metrics would be those of an "
                               "untrained model)"),
    ({"train": {"max_seconds": -5}}, "[train] max_seconds must be >= 0 seconds, or "
                                     "None for no budget (got -5)"),
    ({"train": {"patience": 0}}, "[train] 'patience' must be >= 1 (got 0)"),
    ({"data": {"dataset": "ml-100k", "path": "x.tsv"}},
     "[data] sets both dataset = 'ml-100k' and path = 'x.tsv'; give only one"),
    ({"name": "../evil"}, "name = '../evil': a run name must be one plain file name"),
    ({"name": "/tmp/abs"}, "name = '/tmp/abs': a run name"),
    ({"name": "a\\b"}, "name = 'a\\\\b': a run name"),
    ({"name": ".."}, "name = '..': a run name"),
    ({"name": ""}, "name = '': a run name"),
    ({"name": "x\ny"}, "name = 'x\\ny': a run name"),
])
def test_values_that_would_mislead_or_escape_are_refused(raw, needle):
    with pytest.raises(ConfigError) as info:
        from_dict(raw)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_data_records_the_source_that_is_read():
    assert from_dict({}).data.dataset == "ml-100k"
    data = from_dict({"data": {"path": "x.tsv"}}).data
    assert data.dataset is None and data.path == "x.tsv"
    assert from_dict({"data": {"dataset": "gowalla"}}).data.dataset == "gowalla"


def test_a_run_name_from_the_file_name_is_checked_too(tmp_path):
    path = tmp_path / "...toml"
    path.write_text("[train]\nepochs = 1\n")
    with pytest.raises(ConfigError, match=r"\.\.\.toml: the run name taken from the "
                                          r"file name = '\.\.': a run name"):
        load_config(path)
    assert load_config(path, ["--name=ok"]).name == "ok"


def test_a_run_named_outside_out_writes_nothing(tmp_path, ratings, capsys):
    from graphcl_rec.cli.main import main
    from tests.cli.conftest import write_config

    cfg = write_config(tmp_path, ratings)
    cfg.write_text(cfg.read_text().replace('name = "tiny"', 'name = "../evil"'))
    out = tmp_path / "a" / "out"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress"]) == 2
    assert "name = '../evil'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_an_augmentation_without_edges_is_refused_naming_its_table():
    table = {**SGL_TABLE, "augment": {"name": "edge_dropout", "p": 1.0}}
    with pytest.raises(ConfigError, match=r"^\[model.augment\] EdgeDropout: 'p' must "
                                          r"be < 1 \(got 1.0\): .* no edges"):
        build_model(table, 5, 6)
    node = {**SGL_TABLE, "augment": {"name": "node_dropout", "p": 1.0}}
    with pytest.raises(ValueError, match="NodeDropout: 'p' must be < 1"):
        build_model(node, 5, 6)
