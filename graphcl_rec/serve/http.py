"""A small HTTP service over a trained model (FastAPI; the ``serve`` extra).

Endpoints (JSON; every error is a 4xx with a one-line ``detail``):

- ``GET /recommend?user=ID&k=20[&exclude_seen=true][&items=a,b,c][&unknown=popular]``
  -> ``{user, known, items, scores}``. ``items`` (comma-separated or repeated) is an
  allow-list; an unknown user is a 404 unless ``unknown=popular``.
- ``GET /similar?item=ID&k=10`` -> ``{item, items, scores}``; ``?user=ID`` ->
  ``{user, users, scores}`` (cosine similarity).
- ``POST /feedback`` with ``{"pairs": [[user, item], ...]}`` -> 202
  ``{accepted, pending, folded_in, waiting}``: appended to the pending log, new
  users folded in at once, the log applied by ``update`` in the background
  (:class:`~graphcl_rec.serve.live.LiveRecommender`).
- ``POST /feedback/status`` with the same body -> ``{pending, trained, missing,
  missing_pairs}``: where each pair is now.
- ``GET /health`` -> :meth:`~graphcl_rec.serve.live.LiveRecommender.health`.

Raw ids arrive as strings (in the URL) or as JSON strings or integers; they are
looked up by their decimal spelling, as everywhere in :mod:`graphcl_rec.serve`, and
returned as the strings the model stores. FastAPI is imported only when an app is
built, so ``import graphcl_rec`` never needs it.
"""

import json
import logging
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from graphcl_rec.serve.embeddings import UNKNOWN
from graphcl_rec.serve.ids import UnknownIdError
from graphcl_rec.serve.live import LiveRecommender
from graphcl_rec.serve.recommender import TrainedRecommender

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("graphcl_rec")

INSTALL = ("serving over HTTP needs FastAPI and uvicorn (the 'serve' extra): "
           "pip install 'graphcl-rec[serve]'")


def require_fastapi() -> None:
    """Raises a one-line :class:`ImportError` naming the extra, without FastAPI."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ImportError(INSTALL) from None


def _listing(ids: np.ndarray, scores: np.ndarray) -> tuple[list[str], list[float]]:
    """Raw ids and scores of one result row, without the ``None`` / -inf padding."""
    kept = [(str(i), float(s)) for i, s in zip(ids, scores)
            if i is not None and not math.isinf(s)]
    return [i for i, _ in kept], [s for _, s in kept]


def _split(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [part for value in values for part in value.split(",") if part]


def create_app(recommender: TrainedRecommender | LiveRecommender, *,
               update_every: float | None = None, update_epochs: int = 1,
               unknown: str = "error", max_pairs: int = 10_000) -> "FastAPI":
    """The FastAPI app serving ``recommender``; see the module docstring.

    The background updates run between the app's startup and shutdown (uvicorn,
    or ``with fastapi.testclient.TestClient(app):``); ``app.state.live`` is the
    :class:`~graphcl_rec.serve.live.LiveRecommender` (``update_now()`` applies the
    pending feedback at once).

    Args:
        recommender: A trained recommender (wrapped in a ``LiveRecommender`` with
            ``update_every``/``update_epochs``), or a ``LiveRecommender``.
        update_every: Seconds between background updates; ``None``: none.
        update_epochs: Fine-tuning epochs per update.
        unknown: What ``/recommend`` does for an unknown user unless the request
            says: ``"error"`` (404) or ``"popular"``.
        max_pairs: Most pairs one ``/feedback`` request may post (more: 413).

    Raises:
        ImportError: Without FastAPI (one line naming the ``serve`` extra).
        ValueError: For a bad ``unknown``/``max_pairs``/``update_*``, or
            ``update_*`` given with a ``LiveRecommender``.

    Examples:
        >>> import torch
        >>> from fastapi.testclient import TestClient
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.models import MF, BPRRecommender
        >>> from graphcl_rec.serve import TrainedRecommender
        >>> _ = torch.manual_seed(0)
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3,
        ...                      user_ids=("ann", "bob"), item_ids=("x", "y", "z"))
        >>> app = create_app(TrainedRecommender(BPRRecommender(MF(2, 3, dim=4)), train))
        >>> with TestClient(app) as client:
        ...     reply = client.get("/recommend", params={"user": "ann", "k": 2})
        >>> reply.status_code, reply.json()["items"]
        (200, ['y', 'z'])
    """
    require_fastapi()
    from fastapi import FastAPI, HTTPException, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    if unknown not in UNKNOWN:
        raise ValueError(f"'unknown' must be one of {list(UNKNOWN)} (got {unknown!r})")
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1:
        raise ValueError(f"'max_pairs' must be an int >= 1 (got {max_pairs!r})")
    if isinstance(recommender, LiveRecommender):
        if update_every is not None or update_epochs != 1:
            raise ValueError("'update_every'/'update_epochs' belong to the "
                             "LiveRecommender given; set them there")
        live = recommender
    else:
        live = LiveRecommender(recommender, update_every=update_every,
                               update_epochs=update_epochs)
    default_unknown = unknown

    @asynccontextmanager
    async def lifespan(_: "FastAPI") -> AsyncIterator[None]:
        live.start()
        try:
            yield
        finally:
            live.stop(timeout=10)
            left = live.health()["pending"]
            if left:  # the log and the updated model live in memory only
                log.warning("shutting down with %d feedback pairs pending; they "
                            "are not saved", left)

    app = FastAPI(title="graphcl-rec", lifespan=lifespan)
    app.state.live = live

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        error = exc.errors()[0]
        where = [str(part) for part in error.get("loc", ())]
        name = f"{where[0]} parameter '{'.'.join(where[1:])}'" if len(where) > 1 \
            else "request"
        got = "" if error.get("type") == "missing" else f" (got {error.get('input')!r})"
        return JSONResponse(status_code=422,
                            content={"detail": f"{name}: {error['msg']}{got}"})

    def check_k(k: int) -> None:
        if k < 1:
            raise HTTPException(422, f"query parameter 'k' must be >= 1 (got {k})")

    @app.get("/recommend")
    def recommend(user: str, k: int = 20, exclude_seen: bool = True,
                  items: list[str] | None = Query(None),  # noqa: B008
                  unknown: str | None = None) -> dict[str, Any]:
        check_k(k)
        fallback = unknown if unknown is not None else default_unknown
        if fallback not in UNKNOWN:
            raise HTTPException(422, f"query parameter 'unknown' must be one of "
                                     f"{list(UNKNOWN)} (got {fallback!r})")
        allow = _split(items)
        if allow is not None and not allow:
            raise HTTPException(422, "query parameter 'items' names no item")
        try:
            with live.reading() as rec:
                known = user in rec.users
                ids, scores = rec.recommend(user, k, exclude_seen=exclude_seen,
                                            items=allow, unknown=fallback)
        except UnknownIdError as exc:
            raise HTTPException(404, str(exc)) from None
        listed, values = _listing(ids, scores)
        return {"user": user, "known": known, "items": listed, "scores": values}

    @app.get("/similar")
    def similar(item: str | None = None, user: str | None = None,
                k: int = 10) -> dict[str, Any]:
        if (item is None) == (user is None):
            raise HTTPException(422, "give exactly one of the query parameters "
                                     "'item' and 'user'")
        check_k(k)
        kind, query = ("item", item) if item is not None else ("user", str(user))
        try:
            if kind == "item":
                ids, scores = live.similar_items(query, k)
            else:
                ids, scores = live.similar_users(query, k)
        except UnknownIdError as exc:
            raise HTTPException(404, str(exc)) from None
        listed, values = _listing(ids, scores)
        return {kind: query, f"{kind}s": listed, "scores": values}

    async def read_pairs(request: Request) -> list[Any]:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"request body is not valid JSON "
                                     f"({type(exc).__name__}: {exc})") from None
        pairs = body.get("pairs") if isinstance(body, dict) else None
        if not isinstance(pairs, list) or not pairs:
            raise HTTPException(422, 'request body must be {"pairs": [[user, '
                                     'item], ...]} with at least one pair')
        if len(pairs) > max_pairs:
            raise HTTPException(413, f"{len(pairs)} pairs in one request; at most "
                                     f"{max_pairs}")
        return pairs

    @app.post("/feedback", status_code=202)
    async def feedback(request: Request) -> dict[str, Any]:
        pairs = await read_pairs(request)
        try:
            done = await run_in_threadpool(live.add_feedback, pairs)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"accepted": done.accepted, "pending": done.pending,
                "folded_in": done.folded_in, "waiting": done.waiting}

    @app.post("/feedback/status")
    async def feedback_status(request: Request) -> dict[str, Any]:
        pairs = await read_pairs(request)
        try:
            where = await run_in_threadpool(live.locate, pairs)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        missing = [list(p) for p, w in zip(pairs, where) if w == "missing"]
        return {"pending": where.count("pending"), "trained": where.count("trained"),
                "missing": len(missing), "missing_pairs": missing}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return live.health()

    return app
