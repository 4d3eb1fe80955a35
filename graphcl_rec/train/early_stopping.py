"""Early stopping on a validation metric (Lightning's names and semantics)."""

from __future__ import annotations

import math
from typing import Any, Literal

AUTO_WARMUP_CAP = 50
"""Evaluations after which ``warmup="auto"`` starts counting patience even if the
metric never improved on its first value (the run then stops ``patience``
evaluations later)."""


class EarlyStopping:
    """Stops training when a monitored metric stops improving.

    ``patience`` counts evaluations, not epochs. An evaluation improves when
    ``current - min_delta > best`` (``mode="max"``) or ``current + min_delta < best``
    (``mode="min"``); training stops once ``wait >= patience``.

    Args:
        monitor: Metric key, e.g. ``"recall@20"``.
        mode: ``"max"`` or ``"min"``.
        patience: Evaluations without improvement before stopping.
        min_delta: Minimum change that counts as an improvement.
        warmup: Evaluations during which training never stops (the best value is
            still tracked). Contrastive objectives can sit on a plateau or dip
            below their first value for their first epochs; stopping there
            reports a collapsed model. ``"auto"``: patience starts counting only
            once the metric first improves on the first evaluation's value (by
            more than ``min_delta``), so a warm-up dip of any length is waited
            out; after :data:`AUTO_WARMUP_CAP` evaluations it counts regardless.

    Examples:
        >>> es = EarlyStopping("recall@20", patience=2)
        >>> [es.step({"recall@20": v}) for v in (0.1, 0.2, 0.2, 0.19)]
        [False, False, False, True]
        >>> es.best, es.best_step
        (0.2, 1)
        >>> es = EarlyStopping("recall@20", patience=2, warmup="auto")
        >>> [es.step({"recall@20": v}) for v in (0.1, 0.05, 0.02, 0.03, 0.2, 0.1, 0.1)]
        [False, False, False, False, False, False, True]
    """

    def __init__(self, monitor: str = "recall@20", *, mode: str = "max",
                 patience: int = 10, min_delta: float = 0.0,
                 warmup: int | Literal["auto"] = 0) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"Could not resolve mode '{mode}' among choices "
                             "['max', 'min']")
        if patience < 1:
            raise ValueError(f"'patience' must be >= 1 (got {patience})")
        if min_delta < 0:
            raise ValueError(f"'min_delta' must be >= 0 (got {min_delta})")
        if isinstance(warmup, str) or isinstance(warmup, bool):
            if warmup != "auto":
                raise ValueError(f"'warmup' must be an int >= 0 or 'auto' "
                                 f"(got {warmup!r})")
        elif warmup < 0:
            raise ValueError(f"'warmup' must be >= 0 (got {warmup})")
        self.warmup = warmup
        self.first = math.nan
        self.armed = warmup != "auto"
        self.monitor, self.mode = monitor, mode
        self.patience, self.min_delta = patience, min_delta
        self.best = -math.inf if mode == "max" else math.inf
        self.best_step = -1
        self.wait = 0
        self.num_steps = 0
        self.improved = False

    def is_better(self, current: float, reference: float | None = None) -> bool:
        """Whether ``current`` beats ``reference`` (default: best) by ``min_delta``."""
        ref = self.best if reference is None else reference
        if self.mode == "max":
            return current - self.min_delta > ref
        return current + self.min_delta < ref

    def step(self, metrics: dict[str, float]) -> bool:
        """Records one evaluation; returns ``True`` when training should stop."""
        if self.monitor not in metrics:
            raise KeyError(f"monitored metric '{self.monitor}' not in "
                           f"{sorted(metrics)}")
        current = float(metrics[self.monitor])
        self.improved = math.isfinite(current) and self.is_better(current)
        if not self.armed:
            if self.num_steps == 0:
                self.first = current
            elif ((math.isfinite(current) and self.is_better(current, self.first))
                  or self.num_steps >= AUTO_WARMUP_CAP):
                self.armed = True
        if self.improved:
            self.best, self.best_step, self.wait = current, self.num_steps, 0
        elif self.armed:
            self.wait += 1
        self.num_steps += 1
        if self.warmup == "auto":
            return self.armed and self.wait >= self.patience
        return self.wait >= self.patience and self.num_steps > self.warmup

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly."""
        return {"monitor": self.monitor, "mode": self.mode, "patience": self.patience,
                "min_delta": self.min_delta, "warmup": self.warmup,
                "best": self.best,
                "best_step": self.best_step, "wait": self.wait,
                "num_steps": self.num_steps, "first": self.first,
                "armed": self.armed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a :meth:`state_dict`."""
        for key, value in state.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor='{self.monitor}', mode='{self.mode}', "
                f"patience={self.patience}, min_delta={self.min_delta}, "
                f"warmup={self.warmup!r})")
