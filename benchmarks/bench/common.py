"""What every subcommand shares: timers, the machine probe, datasets, results.

The probe (copy bandwidth and sgemm rate) lives here once; ``eval``, ``kernels``
and ``probe`` itself call :func:`machine_rates`. Every subcommand returns a
:class:`Result`, whose figures ``ab`` compares and which ``--json PATH`` writes
together with :func:`meta` (date, git revision, torch, threads, CPU model).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

PACKAGE = Path(__file__).resolve().parents[1]
"""The ``benchmarks`` package folder (the runner)."""

CPU = torch.device("cpu")


# --- argument helpers ---------------------------------------------------------------

def csv(kind: Callable[[str], Any] = str) -> Callable[[str], list]:
    """An argparse ``type``: a comma-separated list, each item converted by ``kind``."""

    def parse(text: str) -> list:
        return [kind(part) for part in text.split(",") if part]

    parse.__name__ = f"list of {getattr(kind, '__name__', 'values')}"
    return parse


def common_options(parser: argparse.ArgumentParser, device: bool = True) -> None:
    """``--json``, ``--threads`` (and ``--device``) for one subcommand."""
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures, rows and machine details here")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    if device:
        parser.add_argument("--device", default="cpu", help="cpu, cuda[:n] or auto")


def resolve_device(name: str) -> torch.device:
    """``"auto"``: the first CUDA device if any, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


# --- timers -------------------------------------------------------------------------

def sync(device: torch.device) -> None:
    """Waits for the device's queued work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn: Callable[[], object], device: torch.device = CPU) -> float:
    """Wall-clock seconds of one call of ``fn``, device work included."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def best_of(fn: Callable[[], object], repeats: int = 5, device: torch.device = CPU,
            warmup: bool = True) -> float:
    """The fastest of ``repeats`` calls (after one untimed call if ``warmup``)."""
    if warmup:
        fn()
    return min(seconds(fn, device) for _ in range(max(repeats, 1)))


def alternate(variants: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """``(round, name)`` in alternating order: forwards on even rounds, else back."""
    for r in range(rounds):
        for name in variants if r % 2 == 0 else list(variants)[::-1]:
            yield r, name


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and count of a list of timings."""
    return {"median": statistics.median(values), "min": min(values),
            "n": len(values)}


def peak_rss_mb() -> float:
    """The process's peak resident set so far (``ru_maxrss``), in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


# --- the machine probe --------------------------------------------------------------

def machine_rates(device: torch.device = CPU, copy_mb: int | None = None,
                  n: int | None = None, repeats: int = 5) -> dict[str, float]:
    """Copy bandwidth and sgemm rate of ``device``, best of ``repeats``.

    Bandwidth: ``y.copy_(x)`` of ``copy_mb`` MiB of float32 (64 on CPU, 1024 on
    CUDA), counted as read plus write. Rate: one ``n x n`` float32 product (2048 on
    CPU, 8192 on CUDA), ``2 n^3`` FLOP.
    """
    big = device.type == "cuda"
    copy_mb = copy_mb or (1024 if big else 64)
    n = n or (8192 if big else 2048)
    copy_s = _copy_seconds(copy_mb, repeats, device)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    gemm_s = best_of(lambda: a @ b, repeats, device)
    return {"copy_bytes_per_s": 2 * copy_mb * 2**20 / copy_s,
            "sgemm_flop_per_s": 2 * n**3 / gemm_s, "copy_mb": copy_mb, "sgemm_n": n}


def _copy_seconds(mb: int, repeats: int, device: torch.device) -> float:
    x = torch.empty(mb * 2**20 // 4, device=device)
    y = torch.empty_like(x)
    return best_of(lambda: y.copy_(x), repeats, device)


def rates_line(rates: dict[str, float]) -> str:
    return (f"copy bandwidth {rates['copy_bytes_per_s'] / 1e9:.1f} GB/s "
            f"({rates['copy_mb']} MiB), sgemm {rates['sgemm_flop_per_s'] / 1e9:.0f} "
            f"GFLOP/s ({rates['sgemm_n']}^3)")


# --- datasets -----------------------------------------------------------------------

SYNTHETIC = {"toy": (64, 96, 800), "synthetic": (5000, 8000, 100_000)}
"""Synthetic datasets ``(users, items, pairs)``; ``synthetic:U:I:P`` names any size."""


def is_synthetic(name: str) -> bool:
    return name in SYNTHETIC or name.startswith("synthetic:")


PERMUTE_MAX = 2**26
"""Largest ``users * items`` drawn with one permutation of every key (the sizes the
recorded runs used); beyond it keys are drawn with replacement and deduplicated, in
memory linear in the number of pairs."""


def random_keys(space: int, count: int, generator: torch.Generator) -> Tensor:
    """``count`` distinct keys from ``range(space)``, uniformly, in random order.

    Args:
        space: Number of possible keys (``users * items``).
        count: Keys wanted, at most ``space // 2``.
        generator: The random source.

    Returns:
        ``[count]`` int64 keys.

    Examples:
        >>> keys = random_keys(10**12, 5, torch.Generator().manual_seed(0))
        >>> keys.shape, bool((keys < 10**12).all()), keys.unique().numel()
        (torch.Size([5]), True, 5)
    """
    if space <= PERMUTE_MAX:
        return torch.randperm(space, generator=generator)[:count]
    keys = torch.empty(0, dtype=torch.long)
    while keys.numel() < count:
        need = count - keys.numel()
        draw = torch.randint(space, (need + need // 8 + 16,), generator=generator)
        keys = torch.unique(torch.cat([keys, draw]))
    return keys[torch.randperm(keys.numel(), generator=generator)[:count]]


def load_split(name: str, seed: int = 0):
    """``(train, test)`` of a named dataset, without a validation split.

    Named datasets come from ``graphcl_rec.data.load(name, val_ratio=0.0)``;
    ``toy``, ``synthetic`` and ``synthetic:USERS:ITEMS:PAIRS`` are uniformly random
    pairs (seeded), 80 % train and 20 % test.
    """
    import graphcl_rec as gr

    if not is_synthetic(name):
        train, _, test = gr.data.load(name, val_ratio=0.0)
        return train, test
    if name in SYNTHETIC:
        users, items, pairs = SYNTHETIC[name]
    else:
        try:
            users, items, pairs = (int(v) for v in name.split(":")[1:])
        except ValueError:
            raise SystemExit(f"{name!r}: write synthetic:USERS:ITEMS:PAIRS") from None
    pairs = min(pairs, users * items // 2)
    g = torch.Generator().manual_seed(seed)
    keys = random_keys(users * items, pairs, g)
    inter = gr.data.Interactions(keys // items, keys % items, users, items)
    is_test = torch.rand(pairs, generator=g) < 0.2
    return inter.subset(~is_test), inter.subset(is_test)


def dataset_line(name: str, train, test=None) -> str:
    extra = "" if test is None else f", {len(test)} test pairs"
    return (f"{name}: {train.num_users} users, {train.num_items} items, "
            f"{len(train)} train pairs{extra}")


# --- what a run records -------------------------------------------------------------

def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_revision(path: Path) -> str | None:
    """The commit of the git tree holding ``path``, ``+dirty`` if ``path`` changed."""
    root = _git(path, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    rev = _git(path, "rev-parse", "--short=12", "HEAD")
    dirty = _git(Path(root), "status", "--porcelain", "--", str(path))
    return f"{rev}+dirty" if dirty else rev


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_path() -> Path:
    """The folder of the ``graphcl_rec`` package this process imports."""
    import graphcl_rec

    return Path(graphcl_rec.__file__).resolve().parent


def meta(device: torch.device | None = None, native: bool = False) -> dict[str, Any]:
    """Date, machine, versions and git revisions of this run."""
    import graphcl_rec

    try:  # an older library tree (``ab --old``) may predate the module
        from graphcl_rec.train.allocator import allocator_state
    except ImportError:
        def allocator_state() -> dict[str, Any]:
            return {"allocator": "system", "reason": "library predates the setting"}

    lib = library_path()
    out: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "graphcl_rec": graphcl_rec.__version__,
        "library": str(lib),
        "revision": git_revision(lib),
        "runner_revision": git_revision(PACKAGE),
        "argv": sys.argv[1:],
        "allocator": allocator_state(),
    }
    if device is not None:
        out["device"] = str(device)
        if device.type == "cuda":
            out["device_name"] = torch.cuda.get_device_name(device)
            out["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
    if native:
        from graphcl_rec import native as native_mod

        out["native"] = list(native_mod.status())
    return out


def meta_line(info: dict[str, Any]) -> str:
    where = info.get("device_name") or info.get("device", "cpu")
    return (f"# {info['date']} {info['host']} ({info['cpu']}, {info['cpus']} CPUs, "
            f"load {info['load_average'][0]}); torch {info['torch']}, "
            f"{info['threads']} threads, {where}; graphcl_rec "
            f"{info['revision'] or '?'} at {info['library']}")


class Result:
    """The figures of one run (``name -> value`` with a unit), rows and details."""

    def __init__(self, subcommand: str, args: argparse.Namespace,
                 device: torch.device | None = None, native: bool = False) -> None:
        self.subcommand = subcommand
        self.meta = meta(device, native)
        self.args = {k: (str(v) if isinstance(v, Path) else v)
                     for k, v in vars(args).items() if k not in ("func", "json")}
        self.figures: dict[str, dict[str, Any]] = {}
        self.rows: list[dict[str, Any]] = []
        print(meta_line(self.meta), flush=True)

    def figure(self, name: str, value: float, unit: str) -> None:
        """One headline number (``ab`` compares these by name)."""
        self.figures[name] = {"value": float(value), "unit": unit}

    def as_dict(self) -> dict[str, Any]:
        return {"subcommand": self.subcommand, "meta": self.meta, "args": self.args,
                "figures": self.figures, "rows": self.rows}

    def write(self, path: Path | None) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=1, default=str) + "\n")
        print(f"wrote {path}", flush=True)


# --- child processes ----------------------------------------------------------------

@contextmanager
def runner_link() -> Iterator[Path]:
    """A temporary folder holding only a ``benchmarks`` link to this runner.

    Put first on a child's ``PYTHONPATH``, it makes the child import this runner
    whatever library tree comes after it (a tree may hold its own ``benchmarks``).
    """
    with tempfile.TemporaryDirectory(prefix="graphcl-bench-") as tmp:
        (Path(tmp) / "benchmarks").symlink_to(PACKAGE, target_is_directory=True)
        yield Path(tmp)


def child_env(link: Path, tree: Path) -> dict[str, str]:
    """Environment of a child running this runner against the library in ``tree``.

    The child is started with ``python -P`` (no script or working folder on
    ``sys.path``), so ``PYTHONPATH`` alone decides what it imports. The datasets
    stay the ones this process would read (``$GRAPHCL_REC_DATA``, else the
    repository's ``data/``).
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(link), str(tree)]),
               PYTHONUNBUFFERED="1")
    if "GRAPHCL_REC_DATA" not in env:
        data = library_path().parent / "data"
        if data.is_dir():
            env["GRAPHCL_REC_DATA"] = str(data)
    return env


def run_child(argv: Sequence[str], env: dict[str, str], echo: bool = False
              ) -> dict[str, Any]:
    """Runs ``python -P -m benchmarks.run ARGV --json TMP`` and returns the JSON."""
    with tempfile.TemporaryDirectory(prefix="graphcl-bench-out-") as tmp:
        out = Path(tmp) / "result.json"
        # -P (Python 3.11+) keeps the working folder off sys.path; before 3.11 the
        # child starts in the link's folder, which holds nothing else.
        safe = ["-P"] if sys.version_info >= (3, 11) else []
        command = [sys.executable, *safe, "-m", "benchmarks.run", *argv, "--json",
                   str(out)]
        cwd = None if safe else env["PYTHONPATH"].split(os.pathsep)[0]
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True,
                              text=True)
        if echo or done.returncode != 0:
            sys.stdout.write(done.stdout)
            sys.stderr.write(done.stderr)
        if done.returncode != 0:
            raise SystemExit(f"child failed ({done.returncode}): {' '.join(command)}")
        return json.loads(out.read_text())
