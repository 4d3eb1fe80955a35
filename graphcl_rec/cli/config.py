"""Run configuration: sections loaded from TOML, ``--a.b=value`` overrides.

The signature is the schema: ``[train]`` holds the keyword arguments of
:class:`~graphcl_rec.train.Trainer` and :class:`~graphcl_rec.train.EarlyStopping`
(less :data:`TRAIN_EXCLUDED`), and ``[model]`` with its sub-tables those of the
registered classes they name (:mod:`graphcl_rec.cli.model_schema`). Keys, types
and defaults are read from the constructors; no default is repeated here.
``[data]`` has no single constructor behind it and is the CLI's own dataclass,
checked the same way.
"""

from __future__ import annotations

import ast
import copy
import os
import sys
from collections.abc import Mapping
from dataclasses import Field, asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from graphcl_rec.cli.checks import ConfigError, check_fields, check_keys, check_value
from graphcl_rec.cli.model_schema import (
    DEFAULT_ENCODER,
    DEFAULT_OBJECTIVE,
    check_model,
    section_params,
)
from graphcl_rec.cli.schema import dataclass_params, from_signatures
from graphcl_rec.data.files import check_file
from graphcl_rec.errors import DataError
from graphcl_rec.train import EarlyStopping, Trainer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TRAIN_EXCLUDED: dict[str, str] = {
    "early_stopping": "built from this section's EarlyStopping keys",
    "seed": "the top-level 'seed' (it also names the run)",
    "reset_parameters": "a run always initialises its new model from 'seed'",
    "log_path": "the runner writes <out>/<run>.epochs.jsonl",
    "checkpoint_dir": "the runner writes <out>/<run>/ (train --resume reads it)",
    "progress": "a command-line flag (--no-progress)",
    "config": "the run's configuration itself, stored in checkpoints",
    "run_info": "the runner records the code revision of each (resumed) part",
}
"""Constructor arguments of the ``[train]`` sources that are not config keys (why)."""

TRAIN_SOURCES: tuple[type, ...] = (Trainer, EarlyStopping)
"""The constructors whose keyword arguments make up ``[train]``."""

DEFAULT_DATASET = "ml-100k"
"""The dataset of a ``[data]`` section that names neither ``dataset`` nor ``path``."""


@dataclass
class DataConfig:
    """Where the interactions come from and how they are split.

    ``dataset`` names a packaged/benchmark dataset (split by
    :func:`graphcl_rec.data.load`, ``val_ratio`` held out of train; with neither
    key, :data:`DEFAULT_DATASET`). Alternatively, and never together with
    ``dataset``, ``path`` points at a delimited file (``format = "delimited"``: ``sep``,
    ``header``, ``min_rating``, ``columns`` as in
    :func:`~graphcl_rec.data.load_interactions`; split per user by ``ratios``) or
    at a folder with LightGCN-format ``train.txt`` and ``test.txt``
    (``format = "lightgcn"``; ``val_ratio`` of each user's training pairs held
    out, as for the named LightGCN datasets).
    """

    dataset: str | None = None
    path: str | None = None
    format: Literal["delimited", "lightgcn"] = "delimited"
    sep: str | None = None
    header: bool | Literal["auto"] = "auto"
    min_rating: float | None = None
    columns: dict[str, Any] | None = None
    ratios: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    val_ratio: float = 0.1
    split_seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self, "data")
        if self.dataset is not None and self.path is not None:
            raise ConfigError(
                f"[data] sets both dataset = {self.dataset!r} and path = "
                f"{self.path!r}; give only one of them (the path would be read and "
                f"the dataset recorded)")
        if self.dataset is None and self.path is None:
            self.dataset = DEFAULT_DATASET
        if (len(self.ratios) != 3 or any(not r >= 0 for r in self.ratios)
                or abs(sum(self.ratios) - 1) > 1e-6):
            raise ConfigError(f"[data] ratios = {self.ratios!r}: give three shares "
                              "(train, validation, test), each >= 0, summing to 1")
        if not 0 <= self.val_ratio < 1:
            raise ConfigError(f"[data] val_ratio = {self.val_ratio!r}: the share of "
                              "the training pairs held out for validation must be "
                              "in [0, 1)")


@from_signatures(*TRAIN_SOURCES, exclude=TRAIN_EXCLUDED)
class TrainConfig:
    """``[train]``: the keyword arguments of ``Trainer`` and ``EarlyStopping``.

    Fields, types and defaults are those of the two constructors, less
    :data:`TRAIN_EXCLUDED`; values are type-checked on construction.
    """

    if TYPE_CHECKING:  # the fields are made from the signatures at import time
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

        def __init__(self, **kwargs: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    def __post_init__(self) -> None:
        check_fields(self, "train")
        if self.epochs < 1:
            raise ConfigError(f"[train] epochs = {self.epochs!r}: a run trains at "
                              "least one epoch (with none, its test metrics would be "
                              "those of an untrained model)")
        try:  # the constructors' own range checks, the two together
            stopper = EarlyStopping(**self.kwargs(EarlyStopping))
            Trainer(**self.kwargs(Trainer), early_stopping=stopper)
        except ValueError as exc:
            raise ConfigError(f"[train] {exc}") from None

    def kwargs(self, source: type) -> dict[str, Any]:
        """The fields that are arguments of ``source`` (a class of SOURCES)."""
        names = self.SOURCES[source]  # type: ignore[attr-defined]
        return {name: copy.deepcopy(getattr(self, name)) for name in names}


@dataclass
class RunConfig:
    """A whole run: data, model (tables resolved by registries), training."""

    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(
        default_factory=lambda: {"objective": DEFAULT_OBJECTIVE,
                                 "encoder": {"name": DEFAULT_ENCODER}})
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    name: str = "run"
    output_dir: str = "runs"

    def __post_init__(self) -> None:
        params = dataclass_params(RunConfig)
        for key in SCALARS:
            check_value("", key, getattr(self, key), params[key].hint)
        if self.seed < 0:
            raise ConfigError(f"seed = {self.seed!r}: a seed must be >= 0")
        check_run_name(self.name)
        check_model(self.model)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON/TOML-serialisable)."""
        return asdict(self)


SECTIONS: dict[str, type] = {"data": DataConfig, "train": TrainConfig}
"""The sections with a fixed schema (``[model]``'s depends on the classes named)."""
SCALARS = ("seed", "name", "output_dir")
"""Top-level keys that are values, not tables."""


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"section.key": value}``.

    Examples:
        >>> flatten({"model": {"encoder": {"dim": 64}}, "seed": 0})
        {'model.encoder.dim': 64, 'seed': 0}
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_run_name(name: str, source: str = "name") -> None:
    """Refuses a run name that is not one plain file name.

    Results go to ``<out>/<name>-seed<k>.json``, so a name with a path separator,
    ``..``, an absolute path or a control character would write outside ``--out``
    or fail there.

    Args:
        name: The run name.
        source: Where it comes from, quoted in the error.

    Raises:
        ConfigError: Naming ``source`` and the value.

    Examples:
        >>> check_run_name("sgl_gowalla")
        >>> check_run_name("../x")
        Traceback (most recent call last):
        ...
        graphcl_rec.cli.checks.ConfigError: name = '../x': a run name must be one \
plain file name (no path separator, '..', drive or control character), as results \
go to <out>/<name>-seed<k>.json
    """
    separators = {"/", "\\", os.sep, os.altsep or "/"}
    bad = (name in ("", ".", "..") or any(sep in name for sep in separators)
           or any(ord(c) < 32 for c in name) or bool(Path(name).drive)
           or Path(name).is_absolute())
    if bad:
        raise ConfigError(f"{source} = {name!r}: a run name must be one plain file "
                          "name (no path separator, '..', drive or control "
                          "character), as results go to <out>/<name>-seed<k>.json")


def from_dict(raw: Mapping[str, Any], name: str = "run") -> RunConfig:
    """Builds a :class:`RunConfig`, rejecting unknown sections, keys and types.

    Raises:
        ConfigError: Naming the section, the key and what is valid there.
        ValueError: For an unregistered objective, encoder or augmentation.
    """
    valid = sorted([*SECTIONS, "model", *SCALARS])
    unknown = sorted(set(raw) - set(valid))
    if unknown:
        raise ConfigError(f"unknown section(s) {unknown}; valid: {valid}")
    kwargs: dict[str, Any] = {"name": name}
    for section, cls in SECTIONS.items():
        table = raw.get(section, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"[{section}] must be a table (got {table!r})")
        check_keys(section, table, dataclass_params(cls))
        kwargs[section] = cls(**table)
    if "model" in raw:
        if not isinstance(raw["model"], Mapping):
            raise ConfigError(f"[model] must be a table (got {raw['model']!r})")
        kwargs["model"] = copy.deepcopy(dict(raw["model"]))
    kwargs.update({key: raw[key] for key in SCALARS if key in raw})
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
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            check_file(path)  # says what the path is instead
        except DataError as exc:
            raise ValueError(f"config file {exc}") from None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: invalid TOML: {exc}") from exc
    apply_overrides(raw, overrides or [])
    if "name" not in raw:
        check_run_name(path.stem, f"{path}: the run name taken from the file name")
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
    """Applies ``--a.b.c=value`` overrides in place, checked against the schemas.

    Once all are applied (so that ``--model.objective`` and its arguments can come
    together), each overridden key must be a key of its section and its value of
    the constructor's type; a section whose class cannot be resolved yet (no
    ``name``) is left to :func:`from_dict`.

    Raises:
        ConfigError: Quoting the override, for an unknown key or a wrong type.

    Examples:
        >>> raw = {"train": {"lr": 1e-3}}
        >>> apply_overrides(raw, ["--train.lr=5e-4", "--model.encoder.dim=32"])
        >>> raw["train"]["lr"], raw["model"]["encoder"]["dim"]
        (0.0005, 32)
    """
    applied = []
    for item in overrides:
        body = item[2:] if item.startswith("--") else item
        if "=" not in body:
            raise ValueError(f"override '{item}' must look like --section.key=value")
        dotted, text = body.split("=", 1)
        keys, value = dotted.split("."), parse_value(text)
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}': '{key}' is not a table")
        node[keys[-1]] = value
        applied.append((item, keys, value))
    for item, keys, value in applied:
        try:
            _check_override(raw, keys, value)
        except ConfigError as exc:
            raise ConfigError(f"override '{item}': {exc}") from None


def _check_override(raw: Mapping[str, Any], keys: list[str], value: Any) -> None:
    """Checks one overridden key against its section's schema, when it has one."""
    *path, key = keys
    section = ".".join(path)
    if not path:
        params = {k: dataclass_params(RunConfig)[k] for k in SCALARS}
        if key not in params:
            return  # a whole table, or an unknown section: from_dict reports it
    elif len(path) == 1 and path[0] in SECTIONS:
        params = dataclass_params(SECTIONS[path[0]])
    elif path[0] == "model":
        try:
            params = section_params(raw.get("model", {}), path[1:])
        except ValueError:
            return  # the class is not named (yet): from_dict reports it
        if isinstance(value, Mapping):
            return  # a whole sub-table
    else:
        return
    check_keys(section, {key: value}, params)
    check_value(section, key, value, params[key].hint)
