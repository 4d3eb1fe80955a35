"""Versions, git revision and device, recorded in every results file."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch


def git_revision(cwd: str | Path | None = None) -> str | None:
    """The current ``git`` commit (with ``-dirty`` when modified), or ``None``.

    ``$GRAPHCL_REC_REVISION``, when set, is returned instead: for a copy of the tree
    shipped to another machine, whose ``git`` metadata (if any came along) need not
    describe the files that run.
    """
    if os.environ.get("GRAPHCL_REC_REVISION"):
        return os.environ["GRAPHCL_REC_REVISION"]
    cwd = cwd or Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty else rev


_FIRST_REVISION: dict[str, str | None] = {}
"""This process's first :func:`git_revision` of its own tree (see
:func:`process_revision`)."""


def process_revision() -> str | None:
    """The revision of the code this process runs: the tree's at its first call.

    Python keeps the modules it imported, so a process that trains several runs
    (``bench --seeds 0 1 2``) runs the same code for all of them even when the
    tree is committed to or edited meanwhile; asking ``git`` again per run would
    name code the process never loaded. The first call comes after the CLI's
    imports, before any run trains. ``$GRAPHCL_REC_REVISION`` still wins on every
    call (:func:`git_revision`).
    """
    if os.environ.get("GRAPHCL_REC_REVISION"):
        return os.environ["GRAPHCL_REC_REVISION"]
    if "tree" not in _FIRST_REVISION:
        _FIRST_REVISION["tree"] = git_revision()
    return _FIRST_REVISION["tree"]


def versions() -> dict[str, Any]:
    """Versions of Python, torch, PyG and this library."""
    import torch_geometric

    from graphcl_rec._version import __version__

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "graphcl_rec": __version__,
            "platform": platform.platform()}


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The CPU's model name (Linux's ``/proc/cpuinfo``), or ``None`` elsewhere.

    ``platform.processor()`` names only the architecture on Linux, and two
    machines of one architecture can differ in speed and in the last bits of a
    matrix product, so timings are compared only within one model.
    """
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return None


def device_info(device: torch.device) -> dict[str, Any]:
    """A description of the compute device (CPU: threads, architecture, model)."""
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device)}
    info: dict[str, Any] = {"type": "cpu", "threads": torch.get_num_threads(),
                            "processor": platform.processor() or platform.machine()}
    model = cpu_model()
    if model is not None:
        info["model"] = model
    return info
