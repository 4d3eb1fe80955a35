import threading
import time

import pytest

from graphcl_rec.data import Interactions
from graphcl_rec.serve import TrainedRecommender
from graphcl_rec.serve.live import LiveRecommender
from tests.serve.conftest import trained

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from fastapi.testclient import TestClient  # noqa: E402

from graphcl_rec.serve.http import create_app  # noqa: E402


def numeric(inter: Interactions) -> Interactions:
    """The same pairs with numeric raw ids: users 100.., items 500.."""
    return Interactions(inter.user, inter.item, inter.num_users, inter.num_items,
                        user_ids=tuple(str(100 + u) for u in range(inter.num_users)),
                        item_ids=tuple(str(500 + i) for i in range(inter.num_items)))


@pytest.fixture
def client(small):
    app = create_app(trained("lightgcn", small))
    with TestClient(app) as c:
        yield c


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status):
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and detail
    return detail


def test_recommend_matches_the_library(client):
    live = client.app.state.live
    body = ok(client.get("/recommend", params={"user": "u3", "k": 4}))
    ids, scores = live.recommend("u3", k=4)
    assert body["user"] == "u3" and body["known"]
    assert body["items"] == list(ids)
    assert body["scores"] == pytest.approx([float(s) for s in scores])
    # exclude_seen=false and an allow-list (comma-separated and repeated).
    everything = ok(client.get("/recommend?user=u3&k=15&exclude_seen=false"))
    assert everything["items"] == list(live.recommend("u3", k=15,
                                                      exclude_seen=False)[0])
    allowed = ok(client.get("/recommend?user=u3&k=15&exclude_seen=false"
                            "&items=i1,i2&items=i7"))
    assert sorted(allowed["items"]) == ["i1", "i2", "i7"]
    # A list shorter than k loses its padding.
    short = ok(client.get("/recommend?user=u3&k=15&items=i1,i2,i7"))
    assert set(short["items"]) <= {"i1", "i2", "i7"}
    assert len(short["items"]) == len(short["scores"])


def test_unknown_users_get_404_or_the_popular_items(client, small):
    assert refused(client.get("/recommend?user=nobody"), 404) == (
        "unknown user id 'nobody'")
    body = ok(client.get("/recommend?user=nobody&k=3&unknown=popular"))
    assert not body["known"]
    assert body["items"] == list(client.app.state.live.recommend(
        "nobody", k=3, unknown="popular")[0])
    with TestClient(create_app(trained("mf", small), unknown="popular")) as other:
        assert not ok(other.get("/recommend?user=nobody&k=2"))["known"]
        refused(other.get("/recommend?user=nobody&unknown=error"), 404)


@pytest.mark.parametrize("url, status, detail", [
    ("/recommend?user=u1&k=0", 422, "query parameter 'k' must be >= 1 (got 0)"),
    ("/recommend?user=u1&k=-3", 422, "query parameter 'k' must be >= 1 (got -3)"),
    ("/recommend?user=u1&k=abc", 422, "query parameter 'k': "),
    ("/recommend?k=3", 422, "query parameter 'user': Field required"),
    ("/recommend?user=u1&exclude_seen=maybe", 422, "query parameter 'exclude_seen'"),
    ("/recommend?user=u1&items=i1,nope", 404, "unknown item id 'nope'"),
    ("/recommend?user=u1&items=,", 422, "query parameter 'items' names no item"),
    ("/recommend?user=u1&unknown=guess", 422, "query parameter 'unknown' must be"),
    ("/similar?k=3", 422, "give exactly one of the query parameters"),
    ("/similar?item=i1&user=u1", 422, "give exactly one of the query parameters"),
    ("/similar?item=i1&k=0", 422, "query parameter 'k' must be >= 1"),
    ("/similar?item=nope", 404, "unknown item id 'nope'"),
    ("/similar?user=nobody", 404, "unknown user id 'nobody'"),
])
def test_bad_reads_get_a_one_line_reason(client, url, status, detail):
    assert refused(client.get(url), status).startswith(detail)


def test_similar_items_and_users(client):
    live = client.app.state.live
    body = ok(client.get("/similar?item=i2&k=3"))
    ids, scores = live.similar_items("i2", k=3)
    assert body == {"item": "i2", "items": list(ids),
                    "scores": pytest.approx([float(s) for s in scores])}
    body = ok(client.get("/similar?user=u2&k=2"))
    assert body["user"] == "u2" and body["users"] == list(
        live.similar_users("u2", k=2)[0])


@pytest.mark.parametrize("content, status, detail", [
    (b"not json", 400, "request body is not valid JSON"),
    (b"\xff\xfe", 400, "request body is not valid JSON"),
    (b"[1, 2]", 422, 'request body must be {"pairs"'),
    (b'{"pairs": []}', 422, 'request body must be {"pairs"'),
    (b'{"pair": [["u1", "i1"]]}', 422, 'request body must be {"pairs"'),
    (b'{"pairs": [["u1", "i1"], ["u1"]]}', 422, "pair 1 must be [user, item]"),
    (b'{"pairs": [[1.5, "i1"]]}', 422, "pair 0: the user id must be"),
    (b'{"pairs": [["u1", null]]}', 422, "pair 0: the item id must be"),
])
def test_bad_feedback_gets_a_one_line_reason_and_is_not_taken(client, content, status,
                                                              detail):
    for path in ("/feedback", "/feedback/status"):
        assert refused(client.post(path, content=content), status).startswith(detail)
    assert ok(client.get("/health"))["feedback_accepted"] == 0


def test_too_many_pairs_in_one_post(small):
    with TestClient(create_app(trained("mf", small), max_pairs=2)) as c:
        pairs = [["u1", "i1"]] * 3
        assert refused(c.post("/feedback", json={"pairs": pairs}), 413) == (
            "3 pairs in one request; at most 2")
        ok(c.post("/feedback", json={"pairs": pairs[:2]}), 202)


def test_feedback_folds_a_new_user_in_at_once(client):
    refused(client.get("/recommend?user=newbie"), 404)
    body = ok(client.post("/feedback", json={"pairs": [["newbie", "i1"],
                                                       ["newbie", "i4"],
                                                       ["ghost", "x"]]}), 202)
    assert body == {"accepted": 3, "pending": 3, "folded_in": ["newbie"],
                    "waiting": ["ghost"]}
    rec = ok(client.get("/recommend?user=newbie&k=20"))
    assert rec["known"] and len(rec["items"]) == 13
    assert not {"i1", "i4"} & set(rec["items"])
    refused(client.get("/recommend?user=ghost"), 404)
    where = ok(client.post("/feedback/status", json={"pairs": [
        ["newbie", "i1"], ["ghost", "x"], ["u0", "nope"]]}))
    assert where == {"pending": 2, "trained": 0, "missing": 1,
                     "missing_pairs": [["u0", "nope"]]}
    health = ok(client.get("/health"))
    assert (health["pending"], health["users"], health["trained_users"]) == (3, 21, 20)


def test_update_now_applies_the_feedback(client):
    ok(client.post("/feedback", json={"pairs": [["ghost", "x"], ["u1", "i2"]]}), 202)
    assert client.app.state.live.update_now() == 2
    health = ok(client.get("/health"))
    assert (health["pending"], health["updates"], health["feedback_applied"]) == (
        0, 1, 2)
    assert health["trained_users"] == 21 and health["trained_items"] == 16
    assert ok(client.get("/recommend?user=ghost&k=3"))["known"]
    assert ok(client.post("/feedback/status", json={"pairs": [["ghost", "x"]]}))[
        "trained"] == 1


def test_health(client):
    health = ok(client.get("/health"))
    assert health["status"] == "ok" and health["model"].startswith("BPRRecommender(")
    assert (health["users"], health["items"], health["pending"]) == (20, 15, 0)
    assert (health["updates"], health["last_update"], health["last_error"]) == (
        0, None, None)
    assert health["update_every"] is None and health["update_epochs"] == 1


def test_background_update_runs_between_startup_and_shutdown(small):
    app = create_app(trained("mf", small), update_every=0.05, update_epochs=1)
    with TestClient(app) as c:
        ok(c.post("/feedback", json={"pairs": [["later", "brand-new"]]}), 202)
        deadline = time.monotonic() + 60
        while ok(c.get("/health"))["updates"] < 1:
            assert time.monotonic() < deadline, "no background update in 60 s"
            time.sleep(0.02)
        assert ok(c.get("/recommend?user=later&k=2"))["known"]
    assert not app.state.live.running  # stopped at shutdown


def test_shutdown_warns_about_pending_feedback(small, caplog):
    with TestClient(create_app(trained("mf", small))) as c:
        ok(c.post("/feedback", json={"pairs": [["u1", "i1"], ["u2", "x"]]}), 202)
    assert "shutting down with 2 feedback pairs pending" in caplog.text


def test_numeric_raw_ids_from_urls_and_json_ints(small):
    rec = TrainedRecommender(trained("lightgcn", small).model, numeric(small))
    with TestClient(create_app(rec)) as c:
        body = ok(c.get("/recommend?user=103&k=3"))
        assert body["user"] == "103" and all(i.startswith("5") for i in body["items"])
        assert ok(c.get("/similar?item=502&k=2"))["items"][0].startswith("5")
        # JSON ints and strings name the same ids.
        done = ok(c.post("/feedback", json={"pairs": [[900, 501], ["900", "502"],
                                                      [103, 9999]]}), 202)
        assert done["folded_in"] == ["900"] and done["accepted"] == 3
        listed = ok(c.get("/recommend?user=900&k=20"))["items"]
        assert listed and not {"501", "502"} & set(listed)
        where = ok(c.post("/feedback/status", json={"pairs": [["900", 501],
                                                              [103, "9999"]]}))
        assert where["pending"] == 2
        c.app.state.live.update_now()
        assert ok(c.get("/similar?item=9999&k=2"))["item"] == "9999"


def test_create_app_options(small):
    rec = trained("mf", small)
    with pytest.raises(ValueError, match="'unknown' must be one of"):
        create_app(rec, unknown="maybe")
    with pytest.raises(ValueError, match="'max_pairs' must be an int >= 1"):
        create_app(rec, max_pairs=0)
    live = LiveRecommender(rec, update_every=5)
    with pytest.raises(ValueError, match="belong to the LiveRecommender"):
        create_app(live, update_every=1)
    assert create_app(live).state.live is live


def test_concurrent_feedback_over_http_during_an_update(small, monkeypatch):
    app = create_app(trained("mf", small))
    live = app.state.live
    entered, release = threading.Event(), threading.Event()
    original = TrainedRecommender.update

    def paused(self, new, **kwargs):
        entered.set()
        assert release.wait(60)
        return original(self, new, **kwargs)

    monkeypatch.setattr(TrainedRecommender, "update", paused)
    with TestClient(app) as c:
        ok(c.post("/feedback", json={"pairs": [["first", "i0"]]}), 202)
        updater = threading.Thread(target=live.update_now)
        updater.start()
        assert entered.wait(30)
        statuses = []

        def post(n):
            for j in range(10):
                pairs = [[f"h{n}-{j}", f"i{j}"], [f"u{n}", f"new{n}-{j}"]]
                statuses.append(c.post("/feedback", json={"pairs": pairs}).status_code)
                statuses.append(c.get(f"/recommend?user=h{n}-{j}").status_code)

        posters = [threading.Thread(target=post, args=(n,)) for n in range(3)]
        for t in posters:
            t.start()
        for t in posters[:1]:
            t.join(60)
        release.set()
        for t in [*posters, updater]:
            t.join(60)
        assert sorted(set(statuses)) == [200, 202]
        pairs = [["first", "i0"]] + [p for n in range(3) for j in range(10) for p in (
            [f"h{n}-{j}", f"i{j}"], [f"u{n}", f"new{n}-{j}"])]
        where = ok(c.post("/feedback/status", json={"pairs": pairs}))
        assert where["missing"] == 0 and where["trained"] >= 1
        health = ok(c.get("/health"))
        assert health["feedback_accepted"] == 61 == (health["pending"]
                                                     + health["feedback_applied"])


def test_import_does_not_need_fastapi():
    import subprocess
    import sys

    code = ("import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None\n"
            "import graphcl_rec, graphcl_rec.serve.http as h, graphcl_rec.cli.main\n"
            "try:\n    h.create_app(None)\nexcept ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "serving over HTTP needs FastAPI and uvicorn (the 'serve' extra): "
        "pip install 'graphcl-rec[serve]'")


def test_a_run_without_raw_ids(small):
    bare = Interactions(small.user, small.item, small.num_users, small.num_items)
    rec = TrainedRecommender(trained("mf", small).model, bare)
    with TestClient(create_app(rec)) as c:
        assert ok(c.get("/recommend?user=7&k=2"))["user"] == "7"
        assert ok(c.post("/feedback", json={"pairs": [[7, 3]]}), 202)["accepted"] == 1
