"""``graphcl-rec train --nproc N``: the same command in N processes, via torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

LOOPBACK = Path("/sys/class/net/lo")
"""Linux's loopback interface: where local processes' gloo connections go."""


def strip_option(argv: Sequence[str], name: str) -> list[str]:
    """``argv`` without ``name VALUE`` and ``name=VALUE``.

    Examples:
        >>> strip_option(["train", "a.toml", "--nproc", "2", "--seeds", "1"], "--nproc")
        ['train', 'a.toml', '--seeds', '1']
        >>> strip_option(["train", "--nproc=2", "a.toml"], "--nproc")
        ['train', 'a.toml']
    """
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(f"{name}="):
            out.append(arg)
    return out


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """The torchrun command line that runs ``graphcl-rec ARGV`` in ``nproc`` processes.

    ``--standalone`` makes torchrun pick a free local port for the rendezvous.

    Examples:
        >>> torchrun_command(2, ["train", "a.toml"])[1:]
        ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node=2', \
'-m', 'graphcl_rec.cli', 'train', 'a.toml']
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"argument --nproc: must be an int >= 1 (got {nproc!r})")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", "-m", "graphcl_rec.cli", *argv]


def launch_local(nproc: int, argv: Sequence[str]) -> int:
    """Runs ``graphcl-rec ARGV`` (without ``--nproc``) in ``nproc`` local processes.

    Unless ``OMP_NUM_THREADS`` is set, each process gets an equal share of this
    machine's cores as its threads (torchrun would give each one thread). Unless
    ``GLOO_SOCKET_IFNAME`` is set, on Linux the CPU backend (gloo) connects the
    processes over the loopback interface ``lo``: all of them run here, and gloo
    would otherwise use the address the host name resolves to, which on some
    machines is not reachable or not stable.

    Returns:
        torchrun's exit status (non-zero when any process failed; torchrun then
        stops the others).
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    if LOOPBACK.exists():
        env.setdefault("GLOO_SOCKET_IFNAME", LOOPBACK.name)
    cmd = torchrun_command(nproc, strip_option(argv, "--nproc"))
    return subprocess.call(cmd, env=env)
