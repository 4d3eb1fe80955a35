"""``serve-load``: the HTTP service under concurrent clients on loopback (issue 19).

The server is ``graphcl-rec serve RUN`` in a child process (``--server thread``: the
same app under uvicorn in a thread of this process, for quick checks), on
127.0.0.1, updating in the background every ``--update-every`` seconds. ``--clients``
threads, each with its own keep-alive ``http.client`` connection, send requests
back to back for ``--seconds``: with probability ``--feedback-fraction`` a
``POST /feedback``, otherwise ``GET /recommend?user=U&k=K`` for a random user.
Half the feedback posts name a new user with 3 random items (folded in at once:
from then on the recommend requests draw it too, and a 404 for it counts as an
error), half one random item for a known user. A request's latency is client side,
from sending to the whole response read; clients and server share the machine.

After the load every pair whose post was accepted is looked up with
``POST /feedback/status``: each must be pending or in the served model's training
graph (``lost`` counts the others), and ``/health`` must balance (accepted =
pending + applied). Then (``--drain``) the background update gets up to that many
seconds to apply the pending pairs, and every pair is looked up again. Figures:
p50 / p99 latency per endpoint, requests/s, errors, lost pairs, updates applied
during the load.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.bench.common import Result, common_options, library_path
from benchmarks.bench.serve_clients import (
    HOST,
    Load,
    check_feedback,
    client,
    drain,
    percentile,
    wait_ready,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve-load", help="the HTTP service under concurrent clients "
                                          "on loopback: latency, errors, lost feedback",
                       description=__doc__.split("\n\n")[0])
    common_options(p, device=False)
    p.add_argument("--run", required=True, metavar="RUN_DIR",
                   help="a finished run (folder, results file or model.pt)")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients")
    p.add_argument("--seconds", type=float, default=30.0, help="load duration")
    p.add_argument("--feedback-fraction", type=float, default=0.05,
                   help="share of requests that post feedback")
    p.add_argument("--k", type=int, default=20, help="list length of /recommend")
    p.add_argument("--update-every", type=float, default=5.0,
                   help="the server's background update period (seconds)")
    p.add_argument("--update-epochs", type=int, default=1)
    p.add_argument("--server", choices=["process", "thread"], default="process",
                   help="the server in a child process (default) or a thread here")
    p.add_argument("--drain", type=float, default=60.0, metavar="SECONDS",
                   help="after the load, wait up to this long for the background "
                        "update to apply every pending pair, then check again that "
                        "each one is in the model (0: skip)")
    p.add_argument("--startup-timeout", type=float, default=120.0,
                   help="seconds to wait for /health to answer")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(args: argparse.Namespace, port: int) -> Iterator[None]:
    """The service on ``HOST:port`` for the ``with`` block."""
    if args.server == "thread":
        import uvicorn

        import graphcl_rec
        from graphcl_rec.serve.http import create_app

        app = create_app(graphcl_rec.load(args.run), update_every=args.update_every,
                         update_epochs=args.update_epochs)
        srv = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port,
                                            log_level="warning"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            srv.should_exit = True
            thread.join(60)
        return
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(library_path().parent), *filter(None, [env.get("PYTHONPATH")])])
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    command = [sys.executable, "-m", "graphcl_rec.cli.main", "serve", str(args.run),
               "--host", HOST, "--port", str(port), "--update-every",
               str(args.update_every), "--update-epochs", str(args.update_epochs),
               "--log-level", "warning"]
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(command, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, text=True)
        try:
            yield
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read()[-4000:])
            raise
        finally:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        log.seek(0)
        tail = log.read().strip()
        if tail:
            print(f"server output (last lines):\n{tail[-2000:]}")


def run(args: argparse.Namespace) -> Result:
    import graphcl_rec

    if args.clients < 1 or not args.seconds > 0 or not 0 <= args.feedback_fraction <= 1:
        raise SystemExit("--clients >= 1, --seconds > 0 and --feedback-fraction in "
                         "[0, 1] please")
    result = Result("serve-load", args)
    rec = graphcl_rec.load(args.run)
    load = Load(list(rec.users.ids), list(rec.items.ids))
    del rec
    port = free_port()
    with server(args, port):
        start_health = wait_ready(port, args.startup_timeout)
        print(f"serving {args.run} ({start_health['users']} users, "
              f"{start_health['items']} items) on {HOST}:{port} "
              f"[{args.server}]; {args.clients} clients for {args.seconds:g} s, "
              f"feedback {args.feedback_fraction:.0%}", flush=True)
        start = time.perf_counter()
        deadline = start + args.seconds
        threads = [threading.Thread(target=client, args=(n, port, load, args,
                                                         deadline))
                   for n in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        check = check_feedback(port, load.posted)
        drained = after = None
        if args.drain > 0:
            drained = drain(port, args.drain)
            after = check_feedback(port, load.posted)
    health = check["health"]
    total = sum(len(v) for v in load.times.values())
    balanced = health["feedback_accepted"] == health["pending"] + health[
        "feedback_applied"] and health["feedback_accepted"] == len(load.posted)
    for kind, values in load.times.items():
        ms = [v * 1e3 for v in values]
        row = {"endpoint": kind, "requests": len(ms),
               "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
               "mean_ms": statistics.fmean(ms) if ms else float("nan"),
               "max_ms": max(ms, default=float("nan"))}
        result.rows.append(row)
        print(f"{kind:>9}: {row['requests']} requests, p50 {row['p50_ms']:.2f} ms, "
              f"p99 {row['p99_ms']:.2f} ms, max {row['max_ms']:.1f} ms")
        if ms:
            result.figure(f"{kind} p50", row["p50_ms"], "ms")
            result.figure(f"{kind} p99", row["p99_ms"], "ms")
    lost = check["missing"]
    print(f"{total / elapsed:.0f} requests/s over {elapsed:.1f} s; "
          f"{len(load.errors)} errors; {len(load.posted)} feedback pairs posted "
          f"({len(load.new_users)} new users folded in): {check['trained']} in the "
          f"model, {check['pending']} pending, {lost} lost; {health['updates']} "
          f"updates applied, {health['update_failures']} failed; /health "
          f"{'balances' if balanced else 'does NOT balance'}")
    if after is not None:
        print("after the load: " + (
            f"the pending pairs were applied within {drained:.1f} s" if drained
            is not None else f"pairs still pending after {args.drain:g} s") +
            f"; {after['trained']} in the model, {after['pending']} pending, "
            f"{after['missing']} lost; {after['health']['updates']} updates in all")
        lost += after["missing"]
    for error in load.errors[:5]:
        print(f"  error: {error}")
    result.figure("requests/s", total / elapsed, "1/s")
    result.figure("errors", len(load.errors), "count")
    result.figure("lost feedback pairs", lost, "count")
    result.figure("updates applied during the load", health["updates"], "count")
    result.rows.append({
        "endpoint": "summary", "seconds": elapsed, "requests": total,
        "errors": len(load.errors), "error_examples": load.errors[:5],
        "posted_pairs": len(load.posted), "new_users_folded_in": len(load.new_users),
        "pairs_trained": check["trained"], "pairs_pending": check["pending"],
        "pairs_lost": lost, "lost_examples": check["missing_examples"],
        "health_balances": balanced, "health": health,
        "drain_seconds": drained,
        "after_drain": None if after is None else {
            k: after[k] for k in ("trained", "pending", "missing", "health")},
        "ok": not load.errors and not lost and balanced})
    return result

