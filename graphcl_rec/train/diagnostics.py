r"""What a fit watches besides its loss: a popularity baseline and collapse signs.

A contrastive objective can train without error and still return a model worse
than ranking items by popularity: validation dips below its first value, or all
embeddings end up pointing the same way. :class:`RunMonitor` computes the
popularity baseline on the run's own validation split (one evaluation of
one-dimensional embeddings), measures alignment and uniformity (Wang & Isola
2020, :mod:`graphcl_rec.analysis.embeddings`) of the ranking embeddings on every
evaluated epoch, and raises a :class:`TrainingWarning` (also logged) when

- ``"below_popularity"``: the selected epoch's validation metric is below the
  baseline's (checked once, at the end of the fit);
- ``"validation_drop"``: validation stayed below :data:`DROP_FRACTION` of its
  best so far for :data:`DROP_EVALS` consecutive evaluations;
- ``"collapse"``: the uniformity of the embeddings (mean of the users' and the
  items') rose above :data:`COLLAPSE_UNIFORMITY`, i.e. close to its maximum 0;
- ``"ranking_stalled"``: the epoch mean of the BPR term stayed within
  :data:`STALL_TOLERANCE` of :math:`\ln 2` (positives scored like negatives) for
  :data:`STALL_EPOCHS` consecutive epochs (checked on every epoch, without
  validation too; not for hard-negative selection, whose negatives score like
  the positives by design);
- ``"many_candidates"``: hard-negative selection (``hard_negatives`` ``True``,
  ``"hardest"`` or ``"mixgcf"``) picks from more than :data:`CANDIDATE_SHARE` of
  the catalogue per triple (checked when the fit starts, without validation too).

Each kind is raised at most once per fit. Measuring is read-only: embeddings come
from one extra ``model.embed`` without gradients, and the probe's sample is drawn
once by its own generator, so a monitored run draws and trains exactly as an
unmonitored one (same weights, same metrics).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from graphcl_rec.analysis.embeddings import EmbeddingProbe
from graphcl_rec.data.interactions import Interactions
from graphcl_rec.eval.popularity import popularity_metrics
from graphcl_rec.train.history import History

log = logging.getLogger("graphcl_rec")

DROP_FRACTION = 0.5
"""Validation below this fraction of its best so far counts as a drop."""

DROP_EVALS = 3
"""Consecutive dropped evaluations that raise ``"validation_drop"``: one low
evaluation is noise, three in a row is a trend."""

COLLAPSE_UNIFORMITY = -0.1
r"""Uniformity (:math:`t = 2`, mean of users' and items') above which the
embeddings count as collapsed. Embeddings spread at random score about -3.9 (64
dimensions); trained ones on ML-100K score -1 to -3.5, except that LightGCN's
users crowd together early in training (users -0.19, items -1.02 after its first
epoch at the main job's settings: a mean of -0.6). -0.1 needs both sides at a
mean squared distance of about 0.05 between normalised embeddings (cosine
similarity about 0.97): all embeddings nearly one direction."""

CANDIDATE_SHARE = 0.02
"""Share of the catalogue (``num_negatives / num_items``) above which selecting
the best-scored of the candidates warns: the more of the catalogue the
candidates cover, the more often the best-scored one is an item the user would
like but has not interacted with in training (a false negative), which the
hard-negative term then pushes down."""

STALL_EPOCHS = 3
r"""Consecutive epochs at :math:`\ln 2` that raise ``"ranking_stalled"``."""

STALL_TOLERANCE = 1e-3
r"""Distance from :math:`\ln 2` within which an epoch's mean BPR term counts as
stalled: the positives' and the negatives' scores then differ by about 0.002 on
average (to first order), where a learning model's differences grow within its
first epochs."""

PROBE_SIZE = 1024
"""Users, items and training pairs sampled once per run for the measurements."""

PROBE_SEED_OFFSET = 0x5EED
"""Added to the run's seed to seed the probe's own generator."""

LN2 = math.log(2.0)
"""The BPR term when every positive scores like its negative."""


class TrainingWarning(UserWarning):
    """A run finished but probably did not learn what it should have.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warnings.warn("below the popularity baseline", TrainingWarning)
        >>> caught[0].category.__name__, issubclass(TrainingWarning, UserWarning)
        ('TrainingWarning', True)
    """


class RunMonitor:
    """Popularity baseline, embedding diagnostics and training warnings of one fit.

    The trainer calls :meth:`start` once, :meth:`on_eval` on every evaluated epoch
    (before appending its record) and :meth:`finish` after the last epoch. Fired
    warnings are stored in the epoch records (``record["warnings"]``), so a resumed
    run rebuilds them from its restored history.

    Args:
        train: Training interactions (popularity and the probe's sample).
        val: Validation interactions, or ``None`` (then nothing is measured).
        k: Cut-offs of the validation metrics.
        monitor: Key of the monitored validation metric, e.g. ``"recall@20"``.
        mode: ``"max"`` or ``"min"``; the metric checks only apply to ``"max"``.
        seed: The run's seed (the probe is drawn from ``seed + PROBE_SEED_OFFSET``).
        name: What the messages call the model.
        batch_size: Users per block of the baseline's evaluation.
    """

    def __init__(self, train: Interactions, val: Interactions | None,
                 k: Sequence[int], monitor: str, mode: str = "max", seed: int = 0,
                 name: str = "model", batch_size: int | None = None) -> None:
        self.monitor, self.mode, self.name = monitor, mode, name
        self.baseline: dict[str, float] | None = None
        self.probe: EmbeddingProbe | None = None
        if val is not None and len(val):
            self.baseline = popularity_metrics(train, val, exclude=train, k=k,
                                               batch_size=batch_size)
            self.probe = EmbeddingProbe.sample(train, PROBE_SIZE,
                                               seed + PROBE_SEED_OFFSET)

    def start(self, history: History) -> None:
        """Stores the baseline in ``history`` and collects restored warnings."""
        history.baseline = self.baseline
        history.warnings = [w for r in history.records for w in r.get("warnings", [])]

    def check_candidates(self, history: History, hard_negatives: bool | str,
                         num_negatives: int, num_items: int) -> None:
        """Raises ``"many_candidates"`` when hard negatives cover much of the catalogue.

        Called once when a fit starts (a resumed fit checks again: the warning
        concerns the settings, not an epoch, so its ``epoch`` is ``None``).

        Args:
            history: The run's history; the warning is appended to its ``warnings``.
            hard_negatives: The model's ``hard_negatives`` (``False``: every
                candidate enters the loss, nothing is selected, no warning).
            num_negatives: Candidates drawn per training triple.
            num_items: Items in the catalogue.
        """
        share = num_negatives / max(num_items, 1)
        if hard_negatives is False or num_negatives < 2 or share <= CANDIDATE_SHARE:
            return
        self._warning(
            "many_candidates", None,
            f"hard_negatives={hard_negatives!r} selects from {num_negatives} "
            f"candidates per triple out of {num_items} items ({share:.1%} of the "
            f"catalogue, above {CANDIDATE_SHARE:.0%}): the best-scored candidate is "
            "then often an item the user would like but has not interacted with; "
            "fewer candidates (the trainer's num_negatives), chosen on the "
            "validation split, may do better", history)

    def on_epoch(self, record: dict[str, Any], history: History,
                 hard_negatives: bool | str = False) -> None:
        """Raises ``"ranking_stalled"`` if BPR sat at ln 2 for :data:`STALL_EPOCHS`.

        Args:
            record: This epoch's record (its ``"bpr"`` is the epoch mean of the
                BPR term; objectives without one are never checked); receives
                the warning under ``warnings``.
            history: The run's history (records of the previous epochs).
            hard_negatives: The model's ``hard_negatives``. With a selection the
                check is skipped: the negative is chosen (or, with MixGCF,
                mixed from the positive) to score like the positive, so a BPR
                term near ln 2 is what a learning model shows too.
        """
        if hard_negatives is not False or any(
                w["kind"] == "ranking_stalled" for w in history.warnings):
            return
        recent = [*history.records, record][-STALL_EPOCHS:]
        values = [r.get("bpr") for r in recent]
        if len(values) < STALL_EPOCHS or not all(
                isinstance(v, float) and abs(v - LN2) <= STALL_TOLERANCE
                for v in values):
            return
        entry = self._warning(
            "ranking_stalled", record["epoch"],
            f"the BPR term has stayed at ln 2 = {LN2:.4f} (positives scored like "
            f"negatives) for {STALL_EPOCHS} epochs (now {record['bpr']:.4f}): the "
            "ranking loss has not started learning. With a contrastive term, its "
            "gradient may set every step while the embeddings are short: ramp it in "
            "(ssl_warmup), lower ssl_weight, or start from longer rows", history)
        record.setdefault("warnings", []).append(entry)

    def on_eval(self, embeddings: tuple[Tensor, Tensor], record: dict[str, Any],
                history: History) -> None:
        """Measures one evaluated epoch into ``record`` and raises due warnings.

        Args:
            embeddings: ``(user [U, d], item [I, d])`` embeddings the epoch was
                evaluated with.
            record: This epoch's record, holding ``val``; receives
                ``diagnostics``, ``popularity`` (on the first evaluated epoch)
                and ``warnings`` (if any fired).
            history: The run's history (records of the previous epochs); fired
                warnings are also appended to ``history.warnings``.
        """
        if self.probe is None:
            return
        if not any("val" in r for r in history.records):
            record["popularity"] = self.baseline
        record["diagnostics"] = self.probe(*embeddings)
        fired = {w["kind"] for w in history.warnings}
        new = []
        if "validation_drop" not in fired and self._dropped(history, record):
            new.append(self._warning(
                "validation_drop", record["epoch"],
                f"validation {self.monitor} has been below {DROP_FRACTION:g} x its "
                f"best ({self._best_so_far(history, record):.4f}) for "
                f"{DROP_EVALS} evaluations (now {record['val'][self.monitor]:.4f})"))
        uni = record["diagnostics"]["uniformity"]
        if "collapse" not in fired and uni > COLLAPSE_UNIFORMITY:
            new.append(self._warning(
                "collapse", record["epoch"],
                f"embeddings collapsed: uniformity {uni:.3f} > "
                f"{COLLAPSE_UNIFORMITY} (all embeddings point nearly one way)"))
        if new:
            record.setdefault("warnings", []).extend(new)
            history.warnings.extend(new)

    def finish(self, history: History) -> None:
        """Raises ``"below_popularity"`` if the selected epoch is below it."""
        base = (self.baseline or {}).get(self.monitor)
        best = (history.best or {}).get(self.monitor)
        if (self.mode != "max" or base is None or best is None or best >= base
                or any(w["kind"] == "below_popularity" for w in history.warnings)):
            return
        self._warning("below_popularity", history.best_epoch,
                      f"the selected epoch {history.best_epoch} has validation "
                      f"{self.monitor} {best:.4f}, below the popularity baseline's "
                      f"{base:.4f}", history)

    def _values(self, history: History, record: dict[str, Any]) -> list[float]:
        vals = [r["val"].get(self.monitor, math.nan)
                for r in [*history.records, record] if "val" in r]
        return [v for v in vals if math.isfinite(v)]

    def _best_so_far(self, history: History, record: dict[str, Any]) -> float:
        return max(self._values(history, record), default=math.nan)

    def _dropped(self, history: History, record: dict[str, Any]) -> bool:
        """Whether the last :data:`DROP_EVALS` values are below the threshold."""
        vals = self._values(history, record)
        if self.mode != "max" or len(vals) <= DROP_EVALS:
            return False
        best = max(vals)
        return best > 0 and all(v < DROP_FRACTION * best for v in vals[-DROP_EVALS:])

    def _warning(self, kind: str, epoch: int | None, message: str,
                 history: History | None = None) -> dict[str, Any]:
        """Logs and warns ``message``; returns (and with ``history``, stores) it."""
        text = f"{self.name}: {message}"
        log.warning(text)
        warnings.warn(text, TrainingWarning, stacklevel=4)
        entry = {"kind": kind, "epoch": epoch, "message": text}
        if history is not None:
            history.warnings.append(entry)
        return entry
