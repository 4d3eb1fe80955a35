"""The library's own exception types."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data: names the file, the 1-based line and the offending value.

    Args:
        message: What is wrong.
        path: The file being read, if any.
        line: The 1-based line number, if known.
        value: The offending value (shown with ``repr``), if any.

    Examples:
        >>> str(DataError("not an integer", path="train.txt", line=3, value="x"))
        "train.txt:3: not an integer (got 'x')"
    """

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        value: object = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.value = value
        where = self.path or ""
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        text = f"{where}: {message}" if where else message
        if value is not None:
            shown = repr(value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            text = f"{text} (got {shown})"
        super().__init__(text)


class LeakageError(ValueError):
    """Two parts of a split (or an evaluation's exclude and truth sets) overlap."""


class CheckpointError(RuntimeError):
    """A checkpoint is unsafe, corrupt or incompatible with the current run."""
