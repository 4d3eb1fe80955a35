"""``graphcl-rec recommend``, ``export`` and ``serve``: use a finished run."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from graphcl_rec.serve import export, load
from graphcl_rec.serve.embeddings import UNKNOWN


def cmd_recommend(args: argparse.Namespace) -> int:
    """Prints each user's top-``k`` raw item ids and scores from a run's model."""
    if args.k < 1:
        raise ValueError(f"argument --k: must be >= 1 (got {args.k})")
    rec = load(args.run_dir, device=args.device)
    known = [user in rec.users.index for user in args.user]
    ids, scores = rec.recommend(args.user, k=args.k, unknown=args.unknown,
                                exclude_seen=not args.include_seen)
    lists = []
    for user, is_known, row_ids, row_scores in zip(args.user, known, ids, scores):
        items = [(str(i), float(s)) for i, s in zip(row_ids, row_scores)
                 if i is not None and not math.isinf(s)]
        lists.append({"user": user, "known": is_known,
                      "items": [i for i, _ in items],
                      "scores": [s for _, s in items]})
    if args.json:
        out: dict[str, Any] = {"run": str(args.run_dir), "k": args.k,
                               "exclude_seen": not args.include_seen,
                               "recommendations": lists}
        print(json.dumps(out, indent=1))
        return 0
    for entry in lists:
        note = "" if entry["known"] else " (unknown: most popular items)"
        print(f"user {entry['user']}{note}")
        for rank, (item, score) in enumerate(zip(entry["items"], entry["scores"]), 1):
            print(f"  {rank:>3}  {item}  {score:.6g}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Writes a run's user and item embeddings with their raw ids (npz + JSON)."""
    rec = load(args.run_dir)
    path = export(rec, args.out, ann=args.ann, overwrite=args.overwrite)
    print(f"exported {rec.num_users} users and {rec.num_items} items "
          f"(dim {rec.user_emb.size(1)}) -> {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serves a run's model over HTTP (:mod:`graphcl_rec.serve.http`) until stopped."""
    from graphcl_rec.serve.http import create_app, require_fastapi

    require_fastapi()  # before the model loads: one line naming the extra
    import uvicorn

    if not 0 <= args.port <= 65535:
        raise ValueError(f"argument --port: must be in 0..65535 (got {args.port})")
    if not 0 <= args.update_every < math.inf:
        raise ValueError(f"argument --update-every: must be >= 0 seconds "
                         f"(got {args.update_every})")
    if args.update_epochs < 1:
        raise ValueError(f"argument --update-epochs: must be >= 1 "
                         f"(got {args.update_epochs})")
    rec = load(args.run_dir, device=args.device)
    app = create_app(rec, update_every=args.update_every or None,
                     update_epochs=args.update_epochs, unknown=args.unknown)
    print(f"serving {args.run_dir} ({rec.num_users} users, {rec.num_items} items) "
          f"on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def add_commands(sub: Any) -> None:
    """Adds ``recommend``, ``export`` and ``serve`` to the command line's subparsers."""
    run_help = ("a finished run: its folder <out>/<name>-seed<k> (holding "
                "model.pt), its results file <out>/<name>-seed<k>.json, or the "
                "model.pt file")
    r = sub.add_parser("recommend", help="top-K items for users of a trained run")
    r.add_argument("run_dir", metavar="RUN_DIR", help=run_help)
    r.add_argument("--user", action="append", required=True, metavar="ID",
                   help="raw user id as in the data file; repeatable")
    r.add_argument("--k", type=int, default=20, help="list length (default: 20)")
    r.add_argument("--unknown", choices=list(UNKNOWN), default="error",
                   help="an unknown user id: 'error' (default) or the 'popular' "
                        "items (most training users)")
    r.add_argument("--include-seen", action="store_true",
                   help="also rank the user's training items (excluded by default)")
    r.add_argument("--device", default="cpu")
    r.add_argument("--json", action="store_true",
                   help="print JSON: {run, k, exclude_seen, recommendations: "
                        "[{user, known, items, scores}]}")
    r.set_defaults(func=cmd_recommend)
    e = sub.add_parser("export", help="write a run's embeddings and raw ids "
                                      "(embeddings.npz + meta.json)")
    e.add_argument("run_dir", metavar="RUN_DIR", help=run_help)
    e.add_argument("--out", required=True, metavar="PATH",
                   help="export folder to create")
    e.add_argument("--ann", action=argparse.BooleanOptionalAction, default=None,
                   help="also write a faiss HNSW index (default: when faiss is "
                        "installed, the 'ann' extra)")
    e.add_argument("--overwrite", action="store_true",
                   help="replace an existing PATH")
    e.set_defaults(func=cmd_export)
    s = sub.add_parser("serve", help="serve a run over HTTP: /recommend, /similar, "
                                     "/feedback, /health (the 'serve' extra)")
    s.add_argument("run_dir", metavar="RUN_DIR", help=run_help)
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    s.add_argument("--port", type=int, default=8000, help="(default: 8000)")
    s.add_argument("--update-every", type=float, default=60.0, metavar="SECONDS",
                   help="apply the pending feedback with an incremental update this "
                        "often, in the background (default: 60; 0: never)")
    s.add_argument("--update-epochs", type=int, default=1, metavar="N",
                   help="fine-tuning epochs per update (default: 1)")
    s.add_argument("--unknown", choices=list(UNKNOWN), default="error",
                   help="/recommend for an unknown user unless the request says: "
                        "'error' (404, default) or the 'popular' items")
    s.add_argument("--device", default="cpu")
    s.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level ('info' logs every request)")
    s.set_defaults(func=cmd_serve)
