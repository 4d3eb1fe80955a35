from pathlib import Path

import pytest

from graphcl_rec.cli.build import build_model
from graphcl_rec.cli.config import load_config

CONFIGS = sorted((Path(__file__).parents[2] / "benchmarks" / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_benchmark_config_builds(path):
    cfg = load_config(path)
    assert cfg.name == path.stem
    model = build_model(cfg.model, 7, 9)
    assert model.encoder.num_users == 7
    assert cfg.data.dataset in path.stem


def test_there_are_benchmark_configs():
    assert len(CONFIGS) >= 6
