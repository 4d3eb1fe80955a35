"""Runs one corpus case and classifies its outcome (see :mod:`tests.corpus`)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphcl_rec.cli.checks import ConfigError
from graphcl_rec.cli.runs import RunExistsError
from graphcl_rec.errors import CheckpointError, DataError, LeakageError

OUTCOMES = ("clear", "vague", "traceback", "silent", "hang", "correct", "refused")
"""Every outcome, in the order of the report's table."""

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    DataError, ConfigError, CheckpointError, LeakageError, RunExistsError,
    ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError)
"""Exception types a bad input may end in; any other type is a traceback."""
EXPECTED_NAMES = frozenset(t.__name__ for t in EXPECTED_ERRORS)
"""The same, as the command line prints them (``graphcl-rec: error: <Type>: ...``)."""

CLI_ERROR = re.compile(r"graphcl-rec(?: [a-z]+)?: error: (.*)")
"""The command line's error line; argparse's own errors name the subcommand."""
CLI_TYPE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*): ")


@dataclass
class Context:
    """What a case's ``check`` sees besides the result."""

    tmp: Path
    logs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class Case:
    """One bad (or unusual) input and how it must end.

    Args:
        name: Unique id (``group/what``).
        entry: The entry point, for the report (``data.load_interactions``, ``cli``).
        setup: Writes the input under the case's folder; its result goes to ``call``.
        call: The API call (returns its result), or for ``cli=True`` the argument
            list of :func:`graphcl_rec.cli.main.main`.
        mention: Substrings (case-insensitive) the error message must contain: the
            file, the key or argument, the value.
        expect: ``"clear"`` (an error) or ``"correct"`` (accepted).
        check: ``check(result, ctx) -> bool``: for ``"correct"`` the result is
            right; for ``"clear"`` a condition after the error (nothing written...).
            For the CLI, ``result`` is the exit code.
        cli: Whether ``call`` gives command-line arguments.
        timeout: Seconds before the case counts as a hang.
    """

    name: str
    entry: str
    setup: Callable[[Path], Any]
    call: Callable[[Any], Any]
    mention: tuple[str, ...] = ()
    expect: str = "clear"
    check: Callable[[Any, Context], bool] | None = None
    cli: bool = False
    timeout: float = 20.0


@dataclass(frozen=True)
class Outcome:
    """How a case ended."""

    case: Case
    outcome: str
    detail: str
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether the case ended as it should."""
        return self.outcome == self.case.expect


class CaseTimeout(BaseException):
    """Raised by the alarm when a case runs past its limit (not an ``Exception``)."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raises :class:`CaseTimeout` after ``seconds`` (main thread on POSIX only;
    elsewhere the elapsed time is checked afterwards)."""
    usable = (hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"ran past {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Records(logging.Handler):
    """Collects the library's log messages during a case."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _names_everything(message: str, mention: Sequence[str]) -> bool:
    lowered = message.lower()
    return all(m.lower() in lowered for m in mention)


def _classify_error(exc: BaseException, case: Case) -> tuple[str, str]:
    text = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, EXPECTED_ERRORS):
        return "traceback", text
    if case.expect == "correct":
        return "refused", text
    if not _names_everything(str(exc), case.mention):
        return "vague", f"{text}  [should name {list(case.mention)}]"
    return "clear", text


def _classify_cli(rc: Any, ctx: Context, case: Case) -> tuple[str, str]:
    lines = [ln for ln in ctx.stderr.splitlines() if ln.strip()]
    errors = [m.group(1) for ln in lines if (m := CLI_ERROR.match(ln))]
    shown = " | ".join(lines[-3:])
    if rc == 0:
        return ("correct", shown) if case.expect == "correct" else (
            "silent", f"exit 0: {shown}")
    if "Traceback (most recent call last)" in ctx.stderr:
        return "traceback", shown
    if rc != 2 or len(errors) != 1:
        return "traceback", f"exit {rc}: {shown}"
    message = errors[0]
    typed = CLI_TYPE.match(message)
    if typed and typed.group(1).endswith(("Error", "Exception", "Exit", "Interrupt")) \
            and typed.group(1) not in EXPECTED_NAMES:
        return "traceback", message
    if case.expect == "correct":
        return "refused", message
    if not _names_everything(message, case.mention):
        return "vague", f"{message}  [should name {list(case.mention)}]"
    return "clear", message


def _run_cli(argv: Sequence[str], ctx: Context) -> Any:
    from graphcl_rec.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(list(argv))
            except SystemExit as exc:  # argparse
                rc = exc.code
    finally:
        ctx.stdout, ctx.stderr = out.getvalue(), err.getvalue()
    return rc


def run_case(case: Case, tmp: Path) -> Outcome:
    """Runs ``case`` in the empty folder ``tmp`` and classifies how it ended."""
    ctx = Context(tmp)
    arg = case.setup(tmp)  # a broken setup is a broken test, not an outcome
    handler = _Records()
    logger = logging.getLogger("graphcl_rec")
    logger.addHandler(handler)
    previous_revision = os.environ.get("GRAPHCL_REC_REVISION")
    os.environ["GRAPHCL_REC_REVISION"] = "corpus"  # no git subprocess per CLI run
    t0 = time.perf_counter()
    result: Any = None
    error: BaseException | None = None
    try:
        with warnings.catch_warnings(record=True) as caught, _alarm(case.timeout):
            warnings.simplefilter("always")
            try:
                result = (_run_cli(case.call(arg), ctx) if case.cli
                          else case.call(arg))
            except CaseTimeout as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - classified below
                error = exc
        ctx.warnings = [str(w.message) for w in caught]
    finally:
        seconds = time.perf_counter() - t0
        logger.removeHandler(handler)
        if previous_revision is None:
            os.environ.pop("GRAPHCL_REC_REVISION", None)
        else:
            os.environ["GRAPHCL_REC_REVISION"] = previous_revision
    ctx.logs = handler.messages
    if isinstance(error, CaseTimeout) or seconds > case.timeout:
        return Outcome(case, "hang", f"{seconds:.1f} s", seconds)
    if case.cli and error is None:
        outcome, detail = _classify_cli(result, ctx, case)
    elif error is not None:
        outcome, detail = _classify_error(error, case)
    else:
        outcome = "correct" if case.expect == "correct" else "silent"
        detail = f"returned {_short(result)}"
    if case.check is not None and outcome in ("clear", "correct"):
        try:
            passed = bool(case.check(result, ctx))
        except Exception as exc:  # noqa: BLE001 - a failed check is a wrong result
            passed, detail = False, f"{detail}; check raised {exc!r}"
        if not passed:
            outcome, detail = "silent", f"wrong result or side effect: {detail}"
    return Outcome(case, outcome, detail, seconds)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """``{outcome: number of cases}`` over :data:`OUTCOMES`."""
    out = dict.fromkeys(OUTCOMES, 0)
    for o in outcomes:
        out[o.outcome] += 1
    return out


def table(outcomes: Sequence[Outcome]) -> str:
    """The counts per entry-point group and in total, as a Markdown table."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.case.name.split("/")[0], []).append(o)
    header = ["group", *OUTCOMES, "total"]
    rows = [[g, *(str(counts(os_)[k]) for k in OUTCOMES), str(len(os_))]
            for g, os_ in groups.items()]
    rows.append(["**all**", *(str(counts(outcomes)[k]) for k in OUTCOMES),
                 str(len(outcomes))])
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
