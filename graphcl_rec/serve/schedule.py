"""A background thread that calls a function every few seconds until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("graphcl_rec")


class Every:
    """Calls ``fn()`` every ``seconds`` (counted from the end of the last call).

    An exception from ``fn`` is logged and the schedule goes on.

    Args:
        seconds: The period, > 0.
        fn: What to call.
        name: The thread's name.

    Examples:
        >>> import time
        >>> calls = []
        >>> every = Every(0.01, lambda: calls.append(1))
        >>> every.start(); time.sleep(0.2); every.stop()
        >>> len(calls) > 1, every.running
        (True, False)
    """

    def __init__(self, seconds: float, fn: Callable[[], object],
                 name: str = "graphcl-rec-every") -> None:
        self.seconds, self.fn, self.name = seconds, fn, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is started and not stopped."""
        return self._thread is not None

    def start(self) -> None:
        """Starts the thread (a no-op while it runs)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=self.name)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stops the thread, waiting up to ``timeout`` for a call in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.fn()
            except Exception:  # noqa: BLE001 - logged; the next period retries
                log.exception("%s: the scheduled call failed", self.name)
