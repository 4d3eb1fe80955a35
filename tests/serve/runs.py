"""Tiny command-line runs for the serving tests: train one, find its parts."""

import json
from dataclasses import dataclass
from pathlib import Path

from graphcl_rec.cli.build import load_data
from graphcl_rec.cli.config import load_config
from graphcl_rec.cli.main import main

MODEL = """
[model]
objective = "bpr"

[model.encoder]
name = "{encoder}"
dim = 8
{layers}

[train]
epochs = 2
batch_size = 64
lr = 0.01
k = [5, 20]
device = "cpu"
"""


@dataclass
class Run:
    config: Path
    out: Path
    folder: Path
    result: dict

    def splits(self):
        """``(train, val, test)`` as the run loaded them."""
        return load_data(load_config(self.config).data)


def ratings_file(root: Path) -> Path:
    """30 users (u0..u29), 40 items (i0..i39), ~13 pairs each, string ids."""
    lines = ["user\titem\trating"]
    for u in range(30):
        lines += [f"u{u}\ti{i}\t5" for i in range(u % 7, 40, 3)]
    path = root / "ratings.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def train_run(root: Path, data_table: str, encoder: str = "lightgcn",
              command: str = "train", name: str = "tiny",
              extra: tuple[str, ...] = (), stem: str | None = None) -> Run:
    """Trains ``data_table`` + a dim-8 BPR model for 2 epochs through ``main``."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / f"{name}.toml"
    layers = "num_layers = 2" if encoder == "lightgcn" else ""
    config.write_text(data_table + MODEL.format(encoder=encoder, layers=layers))
    out = root / "out"
    argv = [command, str(config), "--out", str(out), "--no-progress"]
    if command == "bench":
        argv += ["--report", str(root / "R.md")]
    assert main([*argv, *extra]) == 0
    stem = stem or f"{name}-seed0"
    result = json.loads((out / f"{stem}.json").read_text())
    return Run(config, out, out / stem, result)


def delimited(path: Path) -> str:
    return f'[data]\npath = "{path}"\nsep = "\\t"\nratios = [0.8, 0.1, 0.1]\n'
