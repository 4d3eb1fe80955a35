"""Run configuration: dataclass sections loaded from TOML, ``--a.b=value`` overrides."""

from __future__ import annotations

import ast
import dataclasses
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class DataConfig:
    """Where the interactions come from and how they are split.

    ``dataset`` names a packaged/benchmark dataset; alternatively ``path`` points at
    a delimited file (``sep``, ``min_rating``, ``columns``) or a LightGCN-format
    folder (``format = "lightgcn"``) that is split by ``ratios``.
    """

    dataset: str | None = "ml-100k"
    path: str | None = None
    format: str = "delimited"
    sep: str | None = None
    min_rating: float | None = None
    columns: dict[str, Any] | None = None
    ratios: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    val_ratio: float = 0.1
    split_seed: int = 0


@dataclass
class TrainConfig:
    """Trainer arguments (see :class:`graphcl_rec.train.Trainer`)."""

    epochs: int = 100
    batch_size: int = 2048
    lr: float = 1e-3
    weight_decay: float = 0.0
    eval_every: int = 1
    k: list[int] = field(default_factory=lambda: [20])
    monitor: str = "recall@20"
    patience: int = 10
    min_delta: float = 0.0
    warmup: int = 0
    sampler: str = "user"
    num_negatives: int = 1
    negatives: str = "uniform"
    device: str = "auto"
    max_seconds: float | None = None
    eval_batch_size: int | None = None


@dataclass
class RunConfig:
    """A whole run: data, model (free-form tables resolved by registries), training."""

    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(
        default_factory=lambda: {"objective": "bpr",
                                 "encoder": {"name": "lightgcn"}})
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    name: str = "run"
    output_dir: str = "runs"

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON/TOML-serialisable)."""
        return asdict(self)


SECTIONS = {"data": DataConfig, "train": TrainConfig}


def _check_keys(section: str, cls: type, table: dict[str, Any]) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in [{section}]; valid keys: "
                         f"{sorted(names)}")


def from_dict(raw: dict[str, Any], name: str = "run") -> RunConfig:
    """Builds a :class:`RunConfig`, rejecting unknown sections and keys."""
    top = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ValueError(f"unknown section(s) {unknown}; valid: {sorted(top)}")
    kwargs: dict[str, Any] = {"name": raw.get("name", name)}
    for section, cls in SECTIONS.items():
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ValueError(f"[{section}] must be a table")
        _check_keys(section, cls, table)
        kwargs[section] = cls(**table)
    if "model" in raw:
        if not isinstance(raw["model"], dict):
            raise ValueError("[model] must be a table")
        kwargs["model"] = raw["model"]
    for key in ("seed", "output_dir"):
        if key in raw:
            kwargs[key] = raw[key]
    return RunConfig(**kwargs)


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Reads a TOML config and applies ``--section.key=value`` overrides.

    Args:
        path: TOML file.
        overrides: Strings like ``"--train.lr=5e-4"`` or ``"model.encoder.dim=32"``.

    Returns:
        The validated configuration.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: invalid TOML: {exc}") from exc
    apply_overrides(raw, overrides or [])
    return from_dict(raw, name=path.stem)


def parse_value(text: str) -> Any:
    """A Python literal (number, bool, list, ...) or the raw string.

    Examples:
        >>> parse_value("5e-4"), parse_value("[1, 2]"), parse_value("lightgcn")
        (0.0005, [1, 2], 'lightgcn')
    """
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> None:
    """Applies ``--a.b.c=value`` overrides in place, type-checked against defaults.

    Examples:
        >>> raw = {"train": {"lr": 1e-3}}
        >>> apply_overrides(raw, ["--train.lr=5e-4", "--model.encoder.dim=32"])
        >>> raw["train"]["lr"], raw["model"]["encoder"]["dim"]
        (0.0005, 32)
    """
    for item in overrides:
        body = item[2:] if item.startswith("--") else item
        if "=" not in body:
            raise ValueError(f"override '{item}' must look like --section.key=value")
        dotted, text = body.split("=", 1)
        keys = dotted.split(".")
        value = parse_value(text)
        default = _default_of(keys)
        if default is not None and value is not None and not _same_type(default, value):
            raise ValueError(f"override '{item}': expected {type(default).__name__} "
                             f"like the default {default!r}, got {value!r}")
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"override '{item}': '{key}' is not a table")
        node[keys[-1]] = value


def _default_of(keys: list[str]) -> Any:
    if len(keys) == 2 and keys[0] in SECTIONS:
        for f in dataclasses.fields(SECTIONS[keys[0]]):
            if f.name == keys[1]:
                if f.default is not dataclasses.MISSING:
                    return f.default
                return f.default_factory()  # type: ignore[misc]
        raise ValueError(f"unknown key '{keys[1]}' in [{keys[0]}]")
    return None


def _same_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))
