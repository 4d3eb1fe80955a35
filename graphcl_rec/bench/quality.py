r"""Time to quality: when a run first reached a share of its published Recall@20.

Read from each results file's per-epoch ``history``. Only ``legacy`` runs count:
they evaluate the test split after every evaluated epoch, as the papers did, so
their curve is the one the published figure was read from; a ``validated`` run's
curve is on its validation split and is not comparable with a test figure.

For a threshold :math:`\theta` (0.95 or 1.0) and the published Recall@20
:math:`R^*`, the run reaches it at the first evaluated epoch :math:`e` with
:math:`\mathrm{Recall@20}_e \ge \theta R^*`; its cost is

.. math::
    T_{\mathrm{train}}(e) = \sum_{i \le e} t^{\mathrm{train}}_i, \qquad
    T_{\mathrm{wall}}(e) = T_{\mathrm{train}}(e)
        + \sum_{i \le e} t^{\mathrm{eval}}_i,

the training seconds of every epoch up to it, and the same plus the evaluations
made on the way (their number depends on ``eval_every``, a choice of the run,
not of the method).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphcl_rec.bench.devices import device_cell, median_train_seconds
from graphcl_rec.bench.published import published_key

THRESHOLDS: tuple[float, ...] = (0.95, 1.0)
"""Shares of the published Recall@20 the table reports."""

PEER_RUN = "peer_run"
"""``kind`` of a peer library's code run here (``benchmarks/peers/``)."""

REFERENCE_KINDS: tuple[str, ...] = ("reference_log", PEER_RUN)
"""Curves that are not this library's runs: a log the authors published, and a
peer run."""


def is_peer_run(ref: dict[str, Any]) -> bool:
    """Whether a reference curve was measured on this machine (a peer run)."""
    return ref.get("kind") == PEER_RUN


def reference_device(ref: dict[str, Any]) -> str:
    """Where a reference curve was measured, as the tables and plots name it.

    A published log ran on the authors' hardware; a peer run names this
    machine's device, the peer's code and its threads (``device``, ``library``,
    ``threads`` of the file).
    """
    if is_peer_run(ref):
        threads = ref.get("threads")
        count = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
        return f"{ref.get('device', 'cpu')} ({ref.get('library', 'peer')} code{count})"
    return "authors' hardware (published log)"


@dataclass(frozen=True)
class Reached:
    """The first evaluated epoch at or above a target, and what it cost.

    Attributes:
        epoch: The epoch (1-based, as the history records it).
        train_seconds: Training seconds of epochs ``1..epoch``.
        wall_seconds: ``train_seconds`` plus the evaluations of epochs ``1..epoch``.
    """

    epoch: int
    train_seconds: float
    wall_seconds: float


def first_reached(history: list[dict[str, Any]], target: float,
                  metric: str = "recall@20") -> Reached | None:
    """The first evaluated epoch of ``history`` whose ``metric`` is ``>= target``.

    Args:
        history: Per-epoch records (``epoch``, ``train_seconds``, optionally
            ``eval_seconds`` and ``val``, the selection split's metrics), in
            epoch order.
        target: The value to reach.
        metric: Key of ``val``.

    Returns:
        Where it was reached, or ``None`` when no evaluated epoch reached it.

    Raises:
        ValueError: When the records are not in increasing epoch order (a
            history spliced from two runs would misstate the cost).
    """
    train = wall = 0.0
    last = 0
    for rec in history:
        epoch = int(rec["epoch"])
        if epoch <= last:
            raise ValueError(f"history epochs are not increasing: {epoch} after {last}")
        last = epoch
        train += float(rec.get("train_seconds") or 0.0)
        wall += float(rec.get("train_seconds") or 0.0) + float(
            rec.get("eval_seconds") or 0.0)
        value = (rec.get("val") or {}).get(metric)
        if value is not None and value >= target:
            return Reached(epoch, train, wall)
    return None


def _cell(hit: Reached | None) -> str:
    if hit is None:
        return "not reached"
    return (f"epoch {hit.epoch}: {hit.train_seconds / 60:.1f} / "
            f"{hit.wall_seconds / 60:.1f} min")


def quality_table(results: list[dict[str, Any]],
                  published: Mapping[tuple[str, str], tuple[float, float]],
                  references: Sequence[dict[str, Any]] = ()) -> list[str]:
    """Markdown rows: per legacy run with a published Recall@20, time to 95 / 100 %.

    A run whose config name has no published figure is measured against its
    objective's (``config["model"]["objective"]``), as a variant of it
    (:func:`~graphcl_rec.bench.published.published_key`). The device column names
    the CPU model where the run recorded one
    (:func:`~graphcl_rec.bench.devices.device_cell`): minutes compare only
    within one model.

    Args:
        results: Results files' contents (``name``, ``protocol``, ``seed``,
            ``config``, ``history``, ``test``).
        published: ``(model key, dataset) -> (Recall@20, NDCG@20)``.
        references: Published per-epoch logs and peer libraries' runs (``name``,
            ``model``, ``dataset``, ``history``; see
            ``graphcl_rec.bench.report.load_references``), each a row on the
            device :func:`reference_device` names, seed ``—`` for a published log.

    Returns:
        The table's lines (header, separator, one row per run), or no lines when
        no run qualifies.
    """
    sources = []  # (dataset, name, device, seed, model key, history)
    for r in results:
        key = published_key(r, published)
        if r["protocol"] == "legacy" and key is not None:
            sources.append((key.dataset, r["name"], device_cell([r]), str(r["seed"]),
                            key.model, r.get("history")))
    sources += [(ref["dataset"], ref["name"], reference_device(ref),
                 str(ref.get("seed", "—")), ref["model"], ref.get("history"))
                for ref in references]
    rows = []
    for ds, name, device, seed, model, history in sources:
        pub = published.get((model, ds))
        if pub is None or not history:
            continue
        hits = [first_reached(history, share * pub[0]) for share in THRESHOLDS]
        best = max((rec.get("val") or {}).get("recall@20") or 0.0 for rec in history)
        rows.append((ds, name, device, seed, pub[0], hits, best, len(history),
                     median_train_seconds(history) or 0.0))
    if not rows:
        return []
    lines = ["| dataset | config | device | seed | published recall@20 | "
             + " | ".join(f"{share:.0%} reached (train / with eval)"
                          for share in THRESHOLDS)
             + " | best (share) | epochs run | median training s/epoch |",
             "|" + "---|" * (8 + len(THRESHOLDS))]
    for ds, name, device, seed, target, hits, best, n, median in sorted(
            rows, key=lambda t: t[:4]):
        lines.append(f"| {ds} | {name} | {device} | {seed} | {target} | "
                     + " | ".join(_cell(h) for h in hits)
                     + f" | {best:.4f} ({best / target:.1%}) | {n} | {median:.1f} |")
    return lines
