"""A recommender served while feedback arrives: fold in now, update in the background.

:class:`LiveRecommender` wraps a
:class:`~graphcl_rec.serve.recommender.TrainedRecommender` for concurrent use (the
HTTP service of :mod:`graphcl_rec.serve.http` runs its requests on a thread pool):

- **Reads** (``recommend``, ``similar_*``) share a readers-writer lock
  (:class:`~graphcl_rec.serve.rwlock.ReadWriteLock`) and run together.
- **Feedback** (:meth:`LiveRecommender.add_feedback`) is appended to the *pending
  log* first; then, under the write lock for a moment, new users are folded in
  (:meth:`~graphcl_rec.serve.recommender.TrainedRecommender.fold_in_users`) so the
  next read serves them, and pairs of trained users with known items are marked
  seen.
- **Updates** (:meth:`LiveRecommender.update_now`, or every ``update_every``
  seconds on a background thread) deep-copy the served recommender (write lock held
  for the copy only), run ``update(pending, epochs=...)`` on the copy with no lock
  held, replay onto it the feedback that arrived meanwhile, and swap it in. Reads
  during the fine-tuning go on against the old recommender.

Feedback is never lost: a pair leaves the pending log only in the same critical
section that swaps in a model updated with it. A failed update leaves the served
model and the log as they were, and :meth:`LiveRecommender.health` reports it.
The log and the updated model live in memory only: nothing is written to disk.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from graphcl_rec.serve.feedback import Accepted, Pair, apply_feedback, raw_pairs
from graphcl_rec.serve.ids import RawId
from graphcl_rec.serve.recommender import TrainedRecommender
from graphcl_rec.serve.rwlock import ReadWriteLock
from graphcl_rec.serve.schedule import Every

log = logging.getLogger("graphcl_rec")


class LiveRecommender:
    """A trained recommender that takes feedback while it serves reads.

    See the module docstring for the locking. Reads go through :meth:`reading`
    (or :meth:`recommend` / :meth:`similar_items` / :meth:`similar_users`), never to
    a recommender held across calls: an update replaces it.

    Args:
        recommender: The trained recommender to serve (it becomes this object's;
            do not use it elsewhere).
        update_every: Seconds between background updates (only while pairs are
            pending); ``None``: only :meth:`update_now` updates.
        update_epochs: Fine-tuning epochs per update.

    Examples:
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.models import BPRRecommender, LightGCN
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3,
        ...                      user_ids=("ann", "bob"), item_ids=("x", "y", "z"))
        >>> live = LiveRecommender(TrainedRecommender(
        ...     BPRRecommender(LightGCN(2, 3, dim=4)), train))
        >>> live.add_feedback([("cat", "x"), ("ann", "new-item")]).folded_in
        ['cat']
        >>> live.recommend("cat", k=3)[0].tolist()
        ['y', 'z', None]
        >>> live.update_now(), live.health()["pending"]
        (2, 0)
    """

    def __init__(self, recommender: TrainedRecommender, *,
                 update_every: float | None = None, update_epochs: int = 1) -> None:
        if not isinstance(recommender, TrainedRecommender):
            raise TypeError(f"'recommender' must be a TrainedRecommender (got "
                            f"{type(recommender).__name__})")
        if update_every is not None and not 0 < update_every < math.inf:
            raise ValueError(f"'update_every' must be > 0 seconds (finite) or None "
                             f"(got {update_every!r})")
        if isinstance(update_epochs, bool) or not isinstance(update_epochs, int) or (
                update_epochs < 1):
            raise ValueError(f"'update_epochs' must be an int >= 1 "
                             f"(got {update_epochs!r})")
        self.update_every = update_every
        self.update_epochs = update_epochs
        self._live = recommender
        self._live.layers()  # cached now, so the first fold-in holds no forward pass
        # torch imports its compiler stack when the first optimiser is built, holding
        # the interpreter for a while: here, not in the first update under load.
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])
        self._lock = ReadWriteLock()
        self._feedback = threading.Lock()  # the pending log and the counters
        self._updating = threading.Lock()  # one update at a time
        self._pending: list[Pair] = []
        self._stats: dict[str, Any] = {
            "feedback_accepted": 0, "feedback_applied": 0, "updates": 0,
            "update_failures": 0, "updating": False, "last_update": None,
            "last_update_seconds": None, "last_update_pairs": None,
            "last_error": None}
        self._every = None if update_every is None else Every(
            update_every, self.update_now, name="graphcl-rec-update")

    @contextmanager
    def reading(self) -> Iterator[TrainedRecommender]:
        """The served recommender, held for reading (no change while inside)."""
        with self._lock.read():
            yield self._live

    def recommend(self, users: RawId | Sequence[RawId], k: int = 20,
                  **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`~graphcl_rec.serve.embeddings.EmbeddingRecommender.recommend`."""
        with self.reading() as rec:
            return rec.recommend(users, k, **kwargs)

    def similar_items(self, items: RawId | Sequence[RawId], k: int = 10,
                      **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`~graphcl_rec.serve.embeddings.EmbeddingRecommender.similar_items`."""
        with self.reading() as rec:
            return rec.similar_items(items, k, **kwargs)

    def similar_users(self, users: RawId | Sequence[RawId], k: int = 10,
                      **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`~graphcl_rec.serve.embeddings.EmbeddingRecommender.similar_users`."""
        with self.reading() as rec:
            return rec.similar_users(users, k, **kwargs)

    def add_feedback(self, pairs: Iterable[Sequence[RawId]]) -> Accepted:
        """Appends ``(user, item)`` raw-id pairs to the pending log and folds in.

        Raises:
            ValueError: For a malformed pair (nothing is appended then).
        """
        batch = raw_pairs(pairs)
        with self._feedback:
            self._pending.extend(batch)
            self._stats["feedback_accepted"] += len(batch)
            with self._lock.write():
                folded, waiting = apply_feedback(self._live, batch)
            return Accepted(len(batch), len(self._pending), folded, waiting)

    def pending(self) -> list[Pair]:
        """A copy of the pending log: pairs not yet in the model's training graph."""
        with self._feedback:
            return list(self._pending)

    def update_now(self) -> int:
        """Applies the pending feedback with ``update`` and swaps the result in.

        Returns:
            The number of pending pairs applied (0: nothing was pending).

        Raises:
            Exception: Whatever the update raised; the served model and the pending
                log are then unchanged, and :meth:`health` names the error.
        """
        with self._updating:
            with self._feedback:
                count = len(self._pending)
                if not count:
                    return 0
                batch = self._pending[:count]
                with self._lock.write():  # readers fill caches; copy them still
                    work = copy.deepcopy(self._live)
                self._stats["updating"] = True
            start = time.perf_counter()
            try:
                work.update(batch, epochs=self.update_epochs)
                work.layers()
                with self._feedback:
                    apply_feedback(work, self._pending[count:])
                    with self._lock.write():
                        self._live = work
                    del self._pending[:count]
                    self._stats.update(
                        feedback_applied=self._stats["feedback_applied"] + count,
                        updates=self._stats["updates"] + 1, updating=False,
                        last_update=dt.datetime.now(dt.timezone.utc).isoformat(
                            timespec="seconds"),
                        last_update_seconds=round(time.perf_counter() - start, 3),
                        last_update_pairs=count, last_error=None)
            except Exception as exc:
                with self._feedback:
                    self._stats.update(
                        updating=False,
                        update_failures=self._stats["update_failures"] + 1,
                        last_error=f"{type(exc).__name__}: {exc}")
                raise
            log.info("update: %d pending pairs applied in %.2f s", count,
                     time.perf_counter() - start)
            return count

    def locate(self, pairs: Iterable[Sequence[RawId]]) -> list[str]:
        """Where each ``(user, item)`` pair is now.

        ``"pending"`` (in the pending log), ``"trained"`` (in the graph the served
        model was trained or updated on) or ``"missing"``.

        Raises:
            ValueError: For a malformed pair.
        """
        batch = raw_pairs(pairs)
        with self._feedback:  # no swap and no fold-in meanwhile
            pending = set(self._pending)
            rec = self._live
            user = rec.users.lookup([u for u, _ in batch], missing=-1)
            item = rec.items.lookup([i for _, i in batch], missing=-1)
            train = rec.train
            width = max(train.num_items, len(rec.items))
            keys = train.user.cpu() * width + train.item.cpu()
            known = (user >= 0) & (item >= 0)
            found = torch.isin(user * width + item, keys) & known
        return ["pending" if pair in pending else "trained" if hit else "missing"
                for pair, hit in zip(batch, found.tolist())]

    def health(self) -> dict[str, Any]:
        """Status, model, sizes, pending feedback and update history.

        ``feedback_accepted`` always equals ``pending + feedback_applied``;
        ``status`` is ``"ok"``, or ``"degraded"`` while the last update failed.
        """
        with self._feedback, self.reading() as rec:
            out: dict[str, Any] = {
                "status": "ok" if self._stats["last_error"] is None else "degraded",
                "model": rec.description, "users": rec.num_users,
                "items": rec.num_items, "trained_users": rec.num_trained_users,
                "trained_items": rec.num_trained_items,
                "pending": len(self._pending), **self._stats,
                "update_every": self.update_every,
                "update_epochs": self.update_epochs}
        return out

    def start(self) -> None:
        """Starts the background updates (a no-op without ``update_every``)."""
        if self._every is not None:
            self._every.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stops the background updates, waiting up to ``timeout`` for one running."""
        if self._every is not None:
            self._every.stop(timeout)

    @property
    def running(self) -> bool:
        """Whether background updates are started."""
        return self._every is not None and self._every.running

    def __repr__(self) -> str:
        with self._feedback:
            pending = len(self._pending)
        return (f"LiveRecommender({self._live!r}, pending={pending}, "
                f"update_every={self.update_every})")
