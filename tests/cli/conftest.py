import pytest


@pytest.fixture
def ratings(tmp_path):
    """A small ratings file with string ids: 30 users, 40 items, a header."""
    lines = ["user\titem\trating"]
    for u in range(30):
        for i in range(u % 7, 40, 3):
            lines.append(f"u{u}\ti{i}\t5")
    path = tmp_path / "ratings.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


CONFIG = """
name = "tiny"
seed = 3

[data]
path = "{path}"
sep = "\\t"
ratios = [0.8, 0.1, 0.1]

[model]
objective = "{objective}"
reg_weight = 1e-4
{extra}

[model.encoder]
name = "lightgcn"
dim = 8
num_layers = 2

[train]
epochs = {epochs}
batch_size = 64
lr = 0.01
patience = 5
device = "cpu"
"""


def write_config(tmp_path, ratings, objective="bpr", extra="", epochs=2):
    """Writes ``tiny.toml`` training on ``ratings``; returns its path."""
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(CONFIG.format(path=ratings, objective=objective, extra=extra,
                                 epochs=epochs))
    return cfg
