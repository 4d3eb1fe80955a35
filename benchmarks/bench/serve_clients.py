"""The clients of ``serve-load``: requests on kept-alive connections, and the checks.

Only the standard library: ``http.client`` connections, one per client thread.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time
import urllib.parse
from typing import Any

HOST = "127.0.0.1"
CHECK_CHUNK = 5000
"""Pairs per ``/feedback/status`` request (the service takes at most 10,000)."""


def call(conn: http.client.HTTPConnection, method: str, path: str,
         body: Any = None) -> tuple[int, Any, float]:
    """``(status, decoded JSON, seconds)`` of one request on a kept-alive connection."""
    data = None if body is None else json.dumps(body).encode()
    headers = {} if data is None else {"Content-Type": "application/json"}
    start = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    seconds = time.perf_counter() - start
    return response.status, json.loads(raw) if raw else None, seconds


def wait_ready(port: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            status, health, _ = call(conn, "GET", "/health")
            conn.close()
            if status == 200:
                return health
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the service on {HOST}:{port} did not answer /health "
                             f"within {timeout:.0f} s")
        time.sleep(0.2)


class Load:
    """What the clients share: users to draw, posted pairs, latencies, errors."""

    def __init__(self, users: list[str], items: list[str]) -> None:
        self.users, self.items = users, items
        self.new_users: list[str] = []
        self.posted: list[tuple[str, str]] = []
        self.times: dict[str, list[float]] = {"recommend": [], "feedback": []}
        self.errors: list[str] = []
        self.lock = threading.Lock()


def client(n: int, port: int, load: Load, args: argparse.Namespace,
           deadline: float) -> None:
    rng = random.Random(args.seed * 100_003 + n)
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    count = 0
    while time.perf_counter() < deadline:
        count += 1
        try:
            if rng.random() < args.feedback_fraction:
                kind = "feedback"
                if rng.random() < 0.5:
                    user = f"serve-load-{args.seed}-{n}-{count}"
                    pairs = [(user, i) for i in rng.sample(load.items, 3)]
                else:
                    pairs = [(rng.choice(load.users), rng.choice(load.items))]
                status, body, secs = call(conn, "POST", "/feedback",
                                          {"pairs": pairs})
                ok = status == 202
                if ok:
                    with load.lock:
                        load.posted += pairs
                        load.new_users += body["folded_in"]
            else:
                kind = "recommend"
                with load.lock:
                    fresh = load.new_users and rng.random() < 0.1
                    user = rng.choice(load.new_users if fresh else load.users)
                query = urllib.parse.urlencode({"user": user, "k": args.k})
                status, body, secs = call(conn, "GET", f"/recommend?{query}")
                ok = status == 200 and len(body["items"]) > 0
        except (OSError, http.client.HTTPException, ValueError) as exc:
            with load.lock:
                load.errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            continue
        with load.lock:
            load.times[kind].append(secs)
            if not ok:
                load.errors.append(f"{kind} -> {status}: {body}")
    conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def check_feedback(port: int, posted: list[tuple[str, str]]) -> dict[str, Any]:
    """Where every posted pair is now, and /health's counters."""
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    found = {"pending": 0, "trained": 0, "missing": 0}
    examples: list[Any] = []
    for start in range(0, len(posted), CHECK_CHUNK):
        chunk = [list(p) for p in posted[start:start + CHECK_CHUNK]]
        status, body, _ = call(conn, "POST", "/feedback/status", {"pairs": chunk})
        if status != 200:
            raise SystemExit(f"/feedback/status -> {status}: {body}")
        for key in found:
            found[key] += body[key]
        examples += body["missing_pairs"][:5]
    status, health, _ = call(conn, "GET", "/health")
    conn.close()
    return {**found, "missing_examples": examples[:5], "health": health}


def drain(port: int, timeout: float) -> float | None:
    """Seconds until /health shows nothing pending and no update running."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            _, health, _ = call(conn, "GET", "/health")
            if not health["pending"] and not health["updating"]:
                return time.perf_counter() - start
            time.sleep(0.1)
    finally:
        conn.close()
    return None
