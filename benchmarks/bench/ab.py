"""``ab``: one subcommand against two source trees of the library, alternated.

``python -m benchmarks.run ab --old REV [--new REV] [--rounds N] -- SUBCOMMAND ...``

The old side is git revision ``REV``, checked out with ``git worktree add`` into a
temporary folder (removed afterwards); the new side is the working tree (or
``--new REV``, checked out the same way). Each round runs the subcommand once per
side, each in a fresh process of this runner with ``PYTHONPATH`` pointing at that
side's tree, the order alternating (old first on odd rounds). So both sides share
the machine's load, and both run this runner's code: only the library differs. It
prints, for every figure the subcommand reports, each side's median over the
rounds and new / old (below 1: the new tree is faster or smaller).

``--old-env`` / ``--new-env KEY=VALUE`` (repeatable) set environment variables of one
side's processes: with ``--old HEAD --new HEAD`` only the environment differs, e.g.
``--new-env THP_MEM_ALLOC_ENABLE=1`` (torch's CPU allocator then asks for
transparent huge pages; it reads the variable once, when it is loaded, which is
why a setting like this is compared in fresh processes).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.bench.common import (
    PACKAGE,
    Result,
    alternate,
    child_env,
    run_child,
    runner_link,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ab", help="a subcommand on two library trees, alternated",
                       description=__doc__.split("\n\n")[0],
                       usage="python -m benchmarks.run ab --old REV [--new REV] "
                             "[--rounds N] [--json PATH] -- SUBCOMMAND [OPTIONS]")
    p.add_argument("--old", required=True, help="git revision of the old side")
    p.add_argument("--new", default=None,
                   help="git revision of the new side (default: the working tree)")
    p.add_argument("--rounds", type=int, default=3,
                   help="runs per side, alternating which goes first")
    p.add_argument("--json", type=Path, metavar="PATH",
                   help="also write both sides' results and the comparison here")
    for side in ("old", "new"):
        p.add_argument(f"--{side}-env", action="append", default=[], type=_env_pair,
                       metavar="KEY=VALUE",
                       help=f"environment variable of the {side} side's processes "
                            "(repeatable)")
    p.add_argument("--echo", action="store_true", help="show the children's output")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary worktrees (their paths are printed)")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="-- SUBCOMMAND [OPTIONS]: what to run on each side")
    p.set_defaults(func=run)


def _env_pair(text: str) -> tuple[str, str]:
    """``"KEY=VALUE" -> ("KEY", "VALUE")``.

    Examples:
        >>> _env_pair("THP_MEM_ALLOC_ENABLE=1")
        ('THP_MEM_ALLOC_ENABLE', '1')
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def run(args: argparse.Namespace) -> Result:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise SystemExit("ab: name the subcommand after --, e.g. "
                         "ab --old HEAD -- step --dataset ml-100k")
    if command[0] in ("ab", "peers"):
        raise SystemExit(f"ab cannot run {command[0]!r}")
    if "--json" in command:
        raise SystemExit("ab: give --json before --, not to the subcommand")
    repo = Path(_git(PACKAGE, "rev-parse", "--show-toplevel"))
    result = Result("ab", args)
    sides: dict[str, dict[str, Any]] = {}
    worktrees: list[Path] = []
    tmp = Path(tempfile.mkdtemp(prefix="graphcl-ab-"))
    try:
        for side, rev in (("old", args.old), ("new", args.new)):
            if rev is None:
                sides[side] = {"tree": repo, "rev": "working tree"}
                continue
            commit = _git(repo, "rev-parse", "--verify", f"{rev}^{{commit}}")
            tree = tmp / side
            _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
            worktrees.append(tree)
            sides[side] = {"tree": tree, "rev": f"{rev} ({commit[:12]})"}
        for side, info in sides.items():
            info["env"] = dict(getattr(args, f"{side}_env"))
            extra = "".join(f" {k}={v}" for k, v in info["env"].items())
            print(f"{side}: {info['rev']} at {info['tree']}{extra}")
        print(f"command: {' '.join(command)}; {args.rounds} rounds", flush=True)
        runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
        with runner_link() as link:
            for r, side in alternate(["old", "new"], args.rounds):
                tree = Path(sides[side]["tree"])
                env = {**child_env(link, tree), **sides[side]["env"]}
                child = run_child(command, env, args.echo)
                library = Path(child["meta"]["library"])
                if tree.resolve() not in library.parents:
                    raise SystemExit(f"the {side} side imported graphcl_rec from "
                                     f"{library}, not from {tree}")
                runs[side].append(child)
                brief = ", ".join(f"{k} {v['value']:.4g}"
                                  for k, v in list(child["figures"].items())[:3])
                print(f"round {r + 1} {side}: {brief}"
                      + (" ..." if len(child["figures"]) > 3 else ""), flush=True)
    finally:
        for tree in worktrees:
            if args.keep:
                print(f"kept {tree}")
            else:
                subprocess.run(["git", "-C", str(repo), "worktree", "remove",
                                "--force", str(tree)], capture_output=True)
        if not args.keep:
            subprocess.run(["git", "-C", str(repo), "worktree", "prune"],
                           capture_output=True)
            shutil.rmtree(tmp, ignore_errors=True)
    _compare(runs, sides, result)
    result.rows.append({"sides": {s: {"rev": i["rev"], "tree": str(i["tree"]),
                                      "env": i.get("env", {})}
                                  for s, i in sides.items()},
                        "command": command, "runs": runs})
    return result


def _compare(runs: dict[str, list[dict[str, Any]]], sides: dict[str, dict[str, Any]],
             result: Result) -> None:
    names = [n for n in runs["new"][0]["figures"] if n in runs["old"][0]["figures"]]
    width = max([len(n) for n in names] + [6])
    print(f"\n{'figure':{width}s} {'unit':>7s} {'old':>11s} {'new':>11s} "
          f"{'new/old':>8s}   (medians over {len(runs['old'])} runs each; old = "
          f"{sides['old']['rev']}, new = {sides['new']['rev']})")
    for name in names:
        unit = runs["new"][0]["figures"][name]["unit"]
        old = statistics.median(c["figures"][name]["value"] for c in runs["old"])
        new = statistics.median(c["figures"][name]["value"] for c in runs["new"])
        ratio = new / old if old else float("nan")
        print(f"{name:{width}s} {unit:>7s} {old:11.5g} {new:11.5g} {ratio:8.3f}")
        result.figure(f"{name} old", old, unit)
        result.figure(f"{name} new", new, unit)
        result.figure(f"{name} new/old", ratio, "ratio")
    missing = set(runs["old"][0]["figures"]) ^ set(runs["new"][0]["figures"])
    if missing:
        print(f"figures on one side only: {sorted(missing)}")
    # The first step's loss of every step variant: equal trees compute equal losses.
    losses = [(a["first_loss"], b["first_loss"]) for a, b in
              zip(runs["old"][0]["rows"], runs["new"][0]["rows"])
              if a.get("first_loss") is not None and b.get("first_loss") is not None]
    if losses:
        gap = max(abs(a - b) / max(abs(a), 1e-30) for a, b in losses)
        print(f"first-step losses: largest relative difference old/new {gap:.1e}")
        result.figure("first-step loss relative difference", gap, "ratio")
