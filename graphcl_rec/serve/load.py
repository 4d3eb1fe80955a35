"""``graphcl_rec.load(run)``: a finished run, ready to recommend."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.errors import CheckpointError
from graphcl_rec.models.build import build_recommender
from graphcl_rec.serve.artifact import artifact_path, read_artifact
from graphcl_rec.serve.recommender import TrainedRecommender

log = logging.getLogger("graphcl_rec")


def load(run: str | Path, *, device: str | torch.device = "cpu") -> TrainedRecommender:
    """Loads a run's model artifact as a :class:`TrainedRecommender`.

    The artifact (:mod:`graphcl_rec.serve.artifact`; every finished command-line
    run writes ``<out>/<name>-seed<k>/model.pt``) is verified against its sha256
    and read weights-only; the model is rebuilt from its stored ``[model]`` table
    by the command line's builder
    (:func:`~graphcl_rec.models.build.build_recommender`), the weights are loaded
    strictly, and the training graph is rebuilt from the stored pairs, sizes and
    raw ids, so nothing about the data has to be rebuilt by the caller (and the
    index spaces are the run's own, whatever the data file holds now).

    Args:
        run: The run folder ``<out>/<name>-seed<k>``, its results file
            ``<out>/<name>-seed<k>.json``, or the artifact file itself.
        device: Where the model and embeddings live.

    Returns:
        The trained recommender: ``recommend``, ``similar_items``, fold-in,
        ``update``; ``.model`` is the rebuilt model and ``.train`` its graph.

    Raises:
        FileNotFoundError: Naming the missing run folder or artifact.
        CheckpointError: For a corrupt, unsealed or foreign file, or weights that
            do not fit the model its config builds (one line naming the file).

    Examples:
        A finished run is loaded by its folder, e.g.
        ``graphcl_rec.load("runs/main/ml-100k-lightgcn-seed0")``; here an artifact
        is written first (what a run does at its end):

        >>> import tempfile
        >>> from pathlib import Path
        >>> import torch
        >>> import graphcl_rec
        >>> from graphcl_rec.models.build import build_recommender
        >>> from graphcl_rec.serve import save_model
        >>> _ = torch.manual_seed(0)
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3,
        ...                      user_ids=("ann", "bob"), item_ids=("x", "y", "z"))
        >>> table = {"encoder": {"name": "lightgcn", "dim": 4, "num_layers": 1}}
        >>> model = build_recommender(table, 2, 3)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = save_model(Path(tmp) / "model.pt", model, train, table)
        ...     rec = graphcl_rec.load(tmp)
        >>> type(rec.model).__name__, rec.train.num_users
        ('BPRRecommender', 2)
        >>> items, scores = rec.recommend("ann", k=2)
        >>> items.tolist(), scores.shape
        (['y', 'z'], (2,))
    """
    path = artifact_path(run)
    state = read_artifact(path)
    num_users, num_items = int(state["num_users"]), int(state["num_items"])
    user_ids, item_ids = state["user_ids"], state["item_ids"]
    try:
        train = Interactions(
            state["train_user"], state["train_item"], num_users, num_items,
            user_ids=None if user_ids is None else tuple(user_ids),
            item_ids=None if item_ids is None else tuple(item_ids))
    except ValueError as exc:
        raise CheckpointError(f"model artifact {path}: bad training graph "
                              f"({exc})") from None
    with torch.random.fork_rng(devices=[]):  # the fresh init is overwritten
        model = build_recommender(state["model_config"], num_users, num_items)
    try:
        model.load_state_dict(state["model"], strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(f"model artifact {path}: its weights do not fit the "
                              f"model its config builds ({detail})") from None
    model.to(device)
    log.info("loaded %s: %r", path, train)
    return TrainedRecommender(model, train)
