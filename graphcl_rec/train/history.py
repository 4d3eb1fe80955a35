"""The record of one training run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class History:
    """Per-epoch records plus the selected (best-on-validation) epoch.

    Attributes:
        records: One dict per epoch: ``epoch``, mean loss terms, ``train_seconds``,
            and, on evaluated epochs, ``val`` (metric dict), ``eval_seconds`` and
            ``diagnostics`` (alignment and uniformity of the embeddings, see
            :mod:`graphcl_rec.train.diagnostics`); the first evaluated epoch also
            holds ``popularity`` (the baseline's validation metrics), and an epoch
            in which a :class:`~graphcl_rec.train.diagnostics.TrainingWarning` was
            raised holds it under ``warnings``.
        best_epoch: 1-based epoch whose weights were restored, or ``None``.
        best: Validation metrics of that epoch.
        stopped_early: Whether early stopping ended the run.
        peak_memory_mb: Peak memory of the run (CUDA allocator on GPU, process RSS on
            CPU).
        baseline: Validation metrics of the popularity baseline (items ranked by
            training degree, seen items excluded), or ``None`` without validation.
        warnings: Every training warning of the run, in order: dicts with
            ``kind``, ``epoch`` and ``message``.

    Examples:
        >>> history = History(records=[{"epoch": 1, "loss": 0.5}], best_epoch=1)
        >>> history.records[0]["loss"], history.best_epoch, history.stopped_early
        (0.5, 1, False)
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best: dict[str, float] | None = None
    stopped_early: bool = False
    peak_memory_mb: float = 0.0
    baseline: dict[str, float] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.records[index]

    def mean_seconds(self, key: str = "train_seconds") -> float:
        """Mean of ``key`` over the records that have it (0.0 if none)."""
        values = [r[key] for r in self.records if key in r]
        return sum(values) / len(values) if values else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view."""
        return {"records": self.records, "best_epoch": self.best_epoch,
                "best": self.best, "stopped_early": self.stopped_early,
                "peak_memory_mb": self.peak_memory_mb, "baseline": self.baseline,
                "warnings": self.warnings}
