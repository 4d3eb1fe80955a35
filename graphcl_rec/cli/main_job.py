"""`graphcl-rec run`: the models compared on ML-100K by the main job."""

from __future__ import annotations

from typing import Any

from graphcl_rec.cli.config import DataConfig, RunConfig, TrainConfig

ENCODER = {"dim": 64}
LIGHTGCN = {"name": "lightgcn", "num_layers": 3, **ENCODER}

MAIN_JOB: list[tuple[str, dict[str, Any]]] = [
    ("MF", {"objective": "bpr", "reg_weight": 1e-4,
            "encoder": {"name": "mf", **ENCODER}}),
    ("LightGCN", {"objective": "bpr", "reg_weight": 1e-4, "encoder": LIGHTGCN}),
]


def main_job_configs(epochs: int = 300, seed: int = 0, device: str = "auto",
                     names: list[str] | None = None) -> list[RunConfig]:
    """One :class:`RunConfig` per model of the main job (ML-100K, 80/10/10 split)."""
    chosen = [(n, m) for n, m in MAIN_JOB if names is None or n in names]
    return [
        RunConfig(
            data=DataConfig(dataset="ml-100k", val_ratio=0.1, split_seed=0),
            model=dict(model),
            train=TrainConfig(epochs=epochs, batch_size=2048, lr=1e-3, patience=10,
                              eval_every=1, sampler="interaction", device=device),
            seed=seed, name=f"ml-100k-{name.lower()}")
        for name, model in chosen
    ]
