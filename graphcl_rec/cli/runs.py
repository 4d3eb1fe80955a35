"""A run's files, and the rules that keep a finished run from being lost.

A run ``<name>-seed<k>`` (the *stem*) owns three things in its output folder: the
results ``<stem>.json``, the epoch log ``<stem>.epochs.jsonl`` and the run folder
``<stem>/`` (checkpoints, and the finished run's model artifact ``model.pt``). A
new run refuses to start where any of them exists (a non-empty folder) unless it
continues that run (``--resume``) or the user asked to replace it
(``--overwrite``); replacing deletes the old files first, so results of two runs
are never mixed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from pathlib import Path

from graphcl_rec.serve.artifact import MODEL_FILE
from graphcl_rec.train.checkpoint import BEST, LAST, remove_stale_temporaries

log = logging.getLogger("graphcl_rec")

RESUME_CHANGEABLE: dict[str, str] = {"train.lr": "trainer.lr",
                                     "train.weight_decay": "trainer.weight_decay"}
"""Config keys ``train --allow-change`` accepts, with the trainer setting each sets
on the restored optimiser (``Trainer.fit(..., allow_change=...)``)."""


class RunExistsError(FileExistsError):
    """A new run would overwrite the files of an earlier run with the same name."""


def run_files(out: str | Path, stem: str) -> list[Path]:
    """The files of run ``stem`` that exist in ``out`` (a folder only if non-empty).

    Examples:
        >>> run_files("/nonexistent", "sgl-seed0")
        []
    """
    out = Path(out)
    found = [p for p in (out / f"{stem}.json", out / f"{stem}.epochs.jsonl")
             if p.exists()]
    folder = out / stem
    if folder.is_dir() and any(folder.iterdir()):
        found.append(folder)
    elif folder.exists() and not folder.is_dir():
        found.append(folder)
    return found


def check_runs_free(runs: Iterable[tuple[str | Path, str]]) -> None:
    """Raises if any ``(out, stem)`` run already has files (see :func:`run_files`).

    Called before the first of several runs is trained, so that a conflict on the
    last one is reported before hours of training, not after.

    Raises:
        RunExistsError: Naming the runs and their files (the first three).
    """
    taken = [(Path(out), stem, files) for out, stem in runs
             if (files := run_files(out, stem))]
    if not taken:
        return
    shown = "; ".join(f"{stem} ({', '.join(str(f) for f in files)})"
                      for _, stem, files in taken[:3])
    more = f" and {len(taken) - 3} more" if len(taken) > 3 else ""
    raise RunExistsError(
        f"{len(taken)} run(s) already have results: {shown}{more}; continue them "
        f"with --resume, replace them with --overwrite, or change --out or the name")


def claim_run(out: str | Path, stem: str, overwrite: bool = False) -> None:
    """Makes ``out`` ready for a new run ``stem``.

    Args:
        out: The output folder.
        stem: ``<name>-seed<k>`` (``<name>-legacy-seed<k>`` under the legacy
            protocol).
        overwrite: Delete the earlier run's results, epoch log and checkpoints
            and model artifact (``last.pt``, ``best.pt``, ``model.pt``, interrupted
            writes; other files in its folder stay) instead of refusing.

    Raises:
        RunExistsError: If the run has files and ``overwrite`` is not set.
        FileExistsError: If ``out`` exists and is not a folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"the output folder {out} exists and is not a "
                              "directory; give another --out")
    if not overwrite:
        check_runs_free([(out, stem)])
        return
    for path in (out / f"{stem}.json", out / f"{stem}.epochs.jsonl"):
        if path.is_file():
            path.unlink()
            log.warning("--overwrite: deleted %s", path)
    folder = out / stem
    if folder.is_dir():
        remove_stale_temporaries(folder)
        for name in (LAST, BEST, MODEL_FILE):
            if (folder / name).is_file():
                (folder / name).unlink()
                log.warning("--overwrite: deleted %s", folder / name)


def trainer_allow_change(keys: Collection[str]) -> set[str]:
    """The ``Trainer.fit(allow_change=...)`` keys for ``train --allow-change`` keys.

    Each config key (``train.lr``) is allowed together with the trainer setting
    it feeds (``trainer.lr``), which the resumed optimiser then uses.

    Raises:
        ValueError: Naming a key that cannot change and the keys that can.

    Examples:
        >>> sorted(trainer_allow_change(["train.lr"]))
        ['train.lr', 'trainer.lr']
    """
    out = set()
    for key in keys:
        if key not in RESUME_CHANGEABLE:
            raise ValueError(
                f"argument --allow-change: {key!r} cannot change when resuming; the "
                f"keys that can are {sorted(RESUME_CHANGEABLE)} (train.epochs, "
                f"train.max_seconds, train.device and the evaluation batch size "
                f"may change without it)")
        out |= {key, RESUME_CHANGEABLE[key]}
    return out
