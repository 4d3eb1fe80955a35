import math
import threading
import time

import pytest

from graphcl_rec.serve import TrainedRecommender
from graphcl_rec.serve.live import LiveRecommender
from tests.serve.conftest import trained


def promptly(fn, timeout=10.0):
    """``fn()`` in a thread; fails if it has not returned within ``timeout``."""
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("value", fn()))
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn} blocked for {timeout} s"
    return out["value"]


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def pause_updates(monkeypatch):
    """Makes ``update`` wait inside until released: ``(entered, release)``."""
    entered, release = threading.Event(), threading.Event()
    original = TrainedRecommender.update

    def paused(self, new, **kwargs):
        entered.set()
        assert release.wait(60)
        return original(self, new, **kwargs)

    monkeypatch.setattr(TrainedRecommender, "update", paused)
    return entered, release


def balanced(health):
    return health["feedback_accepted"] == health["pending"] + health[
        "feedback_applied"]


def test_options_are_checked(small):
    rec = trained("mf", small)
    for every in (0, -1, math.inf, math.nan):
        with pytest.raises(ValueError, match="'update_every' must be > 0"):
            LiveRecommender(rec, update_every=every)
    for epochs in (0, True, 1.5):
        with pytest.raises(ValueError, match="'update_epochs' must be an int"):
            LiveRecommender(rec, update_epochs=epochs)
    with pytest.raises(TypeError, match="must be a TrainedRecommender"):
        LiveRecommender(object())


def test_feedback_then_update(small):
    live = LiveRecommender(trained("lightgcn", small), update_epochs=2)
    assert live.update_now() == 0 and live.health()["updates"] == 0
    done = live.add_feedback([("new", "i1"), ("new", "i2"), ("u3", "fresh-item"),
                              ("lonely", "fresh-item")])
    assert (done.accepted, done.pending) == (4, 4)
    assert (done.folded_in, done.waiting) == (["new"], ["lonely"])
    assert live.recommend("new", k=3)[0].shape == (3,)
    assert live.locate([("new", "i1"), ("u3", "fresh-item"), ("u0", "zz")]) == [
        "pending", "pending", "missing"]
    health = live.health()
    assert health["pending"] == 4 and health["users"] == 21 and balanced(health)
    assert live.update_now() == 4
    health = live.health()
    assert (health["pending"], health["updates"], health["feedback_applied"]) == (
        0, 1, 4)
    assert health["status"] == "ok" and health["last_update_pairs"] == 4
    assert health["trained_users"] == 22 and health["trained_items"] == 16
    assert health["last_update"] is not None and not health["updating"]
    assert live.locate([("new", "i1"), ("lonely", "fresh-item"), ("u0", "zz")]) == [
        "trained", "trained", "missing"]
    assert len(live.recommend("lonely", k=3)[0]) == 3


def test_a_failed_update_keeps_the_model_and_the_pending_pairs(small, monkeypatch):
    live = LiveRecommender(trained("lightgcn", small))
    live.add_feedback([("new", "i1"), ("u1", "x")])
    with live.reading() as before:
        pass

    def fails(self, new, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(TrainedRecommender, "update", fails)
    with pytest.raises(RuntimeError, match="disk full"):
        live.update_now()
    health = live.health()
    assert health["status"] == "degraded" and health["pending"] == 2
    assert health["last_error"] == "RuntimeError: disk full"
    assert (health["update_failures"], health["updates"]) == (1, 0)
    assert not health["updating"] and balanced(health)
    with live.reading() as rec:
        assert rec is before
    assert live.pending() == [("new", "i1"), ("u1", "x")]
    monkeypatch.undo()
    assert live.update_now() == 2
    health = live.health()
    assert health["status"] == "ok" and health["last_error"] is None
    assert (health["update_failures"], health["updates"], health["pending"]) == (
        1, 1, 0)


def test_reads_and_feedback_go_on_during_an_update(small, monkeypatch):
    live = LiveRecommender(trained("lightgcn", small))
    live.add_feedback([("early", "i1"), ("u2", "new-item")])
    entered, release = pause_updates(monkeypatch)
    applied = {}
    updater = threading.Thread(target=lambda: applied.update(n=live.update_now()))
    updater.start()
    assert entered.wait(30)
    # The update is inside update(); reads and feedback do not wait for it.
    assert promptly(lambda: live.health())["updating"]
    promptly(lambda: live.recommend("u1", k=3))
    with live.reading() as rec:
        _, item = rec.seen.gather(rec.users.lookup(["u5"]))
        seen_u5 = {rec.items.ids[i] for i in item.tolist()}
    target = next(f"i{n}" for n in range(15) if f"i{n}" not in seen_u5)
    done = promptly(lambda: live.add_feedback([("late", "i3"), ("u5", target)]))
    assert done.folded_in == ["late"]
    assert promptly(lambda: live.recommend("late", k=3))[0].shape == (3,)
    release.set()
    updater.join(60)
    assert applied["n"] == 2
    with live.reading() as rec:
        assert rec.num_trained_users == 21 and "late" in rec.users
        assert rec.users.index["late"] >= rec.num_trained_users  # folded in again
        assert target not in set(rec.recommend("u5", k=16)[0])  # seen, replayed
    assert live.pending() == [("late", "i3"), ("u5", target)]
    assert live.locate([("early", "i1"), ("u2", "new-item"), ("late", "i3")]) == [
        "trained", "trained", "pending"]


def test_feedback_posted_from_threads_during_an_update_is_never_lost(
        small, monkeypatch):
    live = LiveRecommender(trained("mf", small))
    live.add_feedback([("first", "i0")])
    entered, release = pause_updates(monkeypatch)
    updater = threading.Thread(target=live.update_now)
    updater.start()
    assert entered.wait(30)
    posted: list[tuple[str, str]] = []
    lock = threading.Lock()
    errors = []

    def post(n):
        try:
            for j in range(15):
                pairs = [(f"t{n}-{j}", f"i{(n + j) % 15}"), (f"u{j}", f"x{n}-{j}")]
                done = live.add_feedback(pairs)
                assert done.folded_in == [f"t{n}-{j}"]
                with lock:
                    posted.extend(pairs)
                assert len(live.recommend(f"t{n}-{j}", k=5)[0]) == 5
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    posters = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for t in posters:
        t.start()
    wait_for(lambda: len(posted) >= 20 or errors)
    release.set()  # the update swaps in while the posters go on
    for t in [*posters, updater]:
        t.join(60)
    assert not errors
    assert len(posted) == 120
    where = live.locate([("first", "i0"), *posted])
    assert where[0] == "trained" and "missing" not in where
    health = live.health()
    assert health["feedback_accepted"] == 121 and balanced(health)
    assert health["updates"] == 1
    assert live.update_now() == health["pending"]
    assert set(live.locate(posted)) == {"trained"}


def test_background_updates_follow_the_schedule(small):
    live = LiveRecommender(trained("mf", small), update_every=0.05)
    live.start()
    try:
        time.sleep(0.3)
        assert live.health()["updates"] == 0  # nothing pending, nothing to do
        live.add_feedback([("new", "i1")])
        wait_for(lambda: live.health()["updates"] >= 1)
    finally:
        live.stop(60)
    assert live.pending() == [] and live.locate([("new", "i1")]) == ["trained"]


def test_background_updates_retry_after_a_failure(small, monkeypatch):
    live = LiveRecommender(trained("mf", small), update_every=0.05)

    def fails(self, new, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(TrainedRecommender, "update", fails)
    live.add_feedback([("new", "i1")])
    live.start()
    try:
        wait_for(lambda: live.health()["update_failures"] >= 2)
        assert live.health()["status"] == "degraded" and live.pending()
        monkeypatch.undo()
        wait_for(lambda: live.health()["updates"] >= 1)
    finally:
        live.stop(60)
    health = live.health()
    assert health["status"] == "ok" and health["pending"] == 0 and balanced(health)
