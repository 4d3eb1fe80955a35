"""A readers-writer lock: many readers at once, or one writer, writers first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadWriteLock:
    """Shared reads, exclusive writes; a waiting writer holds back new readers.

    Readers (``with lock.read():``) run together; a writer (``with lock.write():``)
    waits until the readers inside have left and then runs alone. While a writer
    waits, readers that arrive after it wait too, so a steady stream of reads cannot
    starve it. Neither side is re-entrant: a thread holding the lock must not take
    it again.

    Examples:
        >>> lock = ReadWriteLock()
        >>> with lock.read():
        ...     lock.readers
        1
        >>> with lock.write():
        ...     lock.writing
        True
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self.readers = 0
        """Readers inside now."""
        self.writing = False
        """Whether a writer is inside now."""
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Holds the lock shared for the ``with`` block."""
        with self._cond:
            while self.writing or self._waiting_writers:
                self._cond.wait()
            self.readers += 1
        try:
            yield
        finally:
            with self._cond:
                self.readers -= 1
                if not self.readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Holds the lock exclusively for the ``with`` block."""
        with self._cond:
            self._waiting_writers += 1
            try:
                while self.writing or self.readers:
                    self._cond.wait()
            finally:
                self._waiting_writers -= 1
            self.writing = True
        try:
            yield
        finally:
            with self._cond:
                self.writing = False
                self._cond.notify_all()
