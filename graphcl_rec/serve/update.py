"""Incremental update: grow the model for new users and items, warm-start, fine-tune."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.models.embedding import EmbeddingEncoder
from graphcl_rec.serve.finetune import fine_tune
from graphcl_rec.serve.foldin import neighbour_mean
from graphcl_rec.serve.ids import RawId
from graphcl_rec.serve.optim import fine_tune_adam, grow_adam, splice_rows
from graphcl_rec.train.history import History
from graphcl_rec.train.seed import resolve_device, seed_everything
from graphcl_rec.train.trainer import Trainer

if TYPE_CHECKING:
    from graphcl_rec.serve.recommender import TrainedRecommender

log = logging.getLogger("graphcl_rec")

NewPairs = Interactions | Iterable[tuple[RawId, RawId]]
"""New feedback: ``Interactions`` with raw-id maps, or raw ``(user, item)`` pairs."""


def grow_table(encoder: EmbeddingEncoder, user_rows: Tensor, item_rows: Tensor
               ) -> None:
    """Appends user and item rows to an encoder's embedding table, in place.

    The table ``[U + I, d]`` becomes ``[U + U' + I + I', d]``: old users, new users,
    old items, new items, so every old row keeps its id. ``num_users`` and
    ``num_items`` are updated and the new table keeps ``requires_grad``. The
    table is a new parameter: an optimiser holding the old one must follow
    (:func:`~graphcl_rec.serve.optim.grow_adam`; :func:`update` does).

    Args:
        encoder: The encoder (also an EMA copy).
        user_rows: ``[U', d]`` rows of the new users.
        item_rows: ``[I', d]`` rows of the new items.

    Examples:
        >>> from graphcl_rec.models import MF
        >>> enc = MF(2, 3, dim=4)
        >>> grow_table(enc, torch.zeros(1, 4), torch.zeros(2, 4))
        >>> enc.num_users, enc.num_items, tuple(enc.embedding.weight.shape)
        (3, 5, (8, 4))
    """
    old = encoder.embedding.weight
    rows = splice_rows(old.detach(), encoder.num_users, user_rows, item_rows)
    table = nn.Embedding(rows.size(0), rows.size(1), device=old.device,
                         dtype=old.dtype)
    with torch.no_grad():
        table.weight.copy_(rows)
    table.weight.requires_grad_(old.requires_grad)
    encoder.embedding = table
    encoder.num_users += user_rows.size(0)
    encoder.num_items += item_rows.size(0)


def _new_pairs(rec: TrainedRecommender, new: NewPairs) -> tuple[Tensor, Tensor]:
    """Indices of the new pairs, appending unknown raw ids to the maps."""
    if isinstance(new, Interactions):
        if new.user_ids is None or new.item_ids is None:
            raise ValueError("'new' Interactions must carry raw ids "
                             "(user_ids and item_ids) to be mapped")
        users = [new.user_ids[u] for u in new.user.tolist()]
        items = [new.item_ids[i] for i in new.item.tolist()]
    else:
        pairs = list(new)
        users, items = [p[0] for p in pairs], [p[1] for p in pairs]
    return rec.users.add(users), rec.items.add(items)


def _new_rows(rec: TrainedRecommender, kind: str, pairs: tuple[Tensor, Tensor],
              ego: tuple[Tensor, Tensor], generator: torch.Generator) -> Tensor:
    """Warm-start ego rows of the nodes a model lacks.

    A folded-in node keeps its fold-in ego row; any other new node gets the mean of
    its trained neighbours' ego rows, or (none trained) a normal draw with the
    table's standard deviation.
    """
    is_user = kind == "user"
    start = rec.num_trained_users if is_user else rec.num_trained_items
    count = (len(rec.users) if is_user else len(rec.items)) - start
    other_trained = rec.num_trained_items if is_user else rec.num_trained_users
    own, nbr = pairs if is_user else pairs[::-1]
    table = ego[1] if is_user else ego[0]
    keep = (own >= start) & (nbr < other_trained)
    rows = neighbour_mean(own[keep] - start, nbr[keep], count, table)
    has = torch.bincount(own[keep] - start, minlength=count) > 0
    noise = torch.randn(count, table.size(1), generator=generator,
                        device=table.device) * table.std()
    rows = torch.where(has.unsqueeze(1), rows, noise.to(rows.dtype))
    for index, (_, row) in rec.folded[kind].items():
        rows[index - start] = row
    return rows


def _check_budget(epochs: int | None, steps: int | None,
                  trainer: Trainer | None) -> None:
    """Exactly one of ``epochs`` and ``steps`` (or neither, with a trainer)."""
    if epochs is not None and steps is not None:
        raise ValueError(f"give one of 'epochs' and 'steps', not both (got "
                         f"epochs={epochs!r}, steps={steps!r})")
    if epochs is None and steps is None and trainer is None:
        raise ValueError("give exactly one of 'epochs' and 'steps' (or a 'trainer' "
                         "whose epochs to use)")
    for name, value in (("epochs", epochs), ("steps", steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise ValueError(f"'{name}' must be an int >= 0 (got {value!r})")
    if trainer is None:
        return
    if trainer.reset_parameters:
        raise ValueError("'trainer' has reset_parameters=True, which would discard "
                         "the weights update() warm-starts from")
    for name in ("early_stopping", "checkpoint_dir", "log_path"):
        if getattr(trainer, name) is not None:
            raise ValueError(f"update() fine-tunes without validation, checkpoints "
                             f"or an epoch log; 'trainer' has {name}="
                             f"{getattr(trainer, name)!r}")


def update(rec: TrainedRecommender, new: NewPairs, *, epochs: int | None = None,
           steps: int | None = None, trainer: Trainer | None = None,
           seed: int = 0) -> History:
    """Extends the graph with new feedback and fine-tunes the model from its weights.

    1. Raw ids of ``new`` map through the recommender's id maps; unknown ones are
       appended. Folded-in users and items (and their interactions) join too.
    2. Every :class:`~graphcl_rec.models.embedding.EmbeddingEncoder` in the model
       (the encoder and any EMA target copy) grows rows for the new nodes
       (:func:`grow_table`); old rows keep their ids and values. Other state (a
       MoCo queue of past keys, BYOL's predictor, the ``ssl_warmup`` step count)
       is not per node and carries over as it is.
    3. The model is fine-tuned on *all* interactions, old and new, with the
       recommender's Adam (:attr:`TrainedRecommender.optimizer
       <graphcl_rec.serve.recommender.TrainedRecommender.optimizer>`), created on
       the first update and kept from one update to the next: when the table
       grows, the optimiser's moments grow with it (zero rows for the new nodes,
       old rows and the step count kept; :mod:`graphcl_rec.serve.optim`). The
       original training's optimiser state is not in a run's artifact, so the
       first update starts from fresh moments. A replay mix (new pairs plus a
       sample of old ones) is not offered: the loss propagates over the graph it
       samples from, so a partial graph would change every embedding. The loop is
       :func:`~graphcl_rec.serve.finetune.fine_tune`.
    4. The cached embeddings are recomputed on the enlarged graph and fold-ins are
       cleared (the nodes are now trained).

    Args:
        rec: The recommender to update (changed in place).
        new: ``Interactions`` carrying ``user_ids``/``item_ids``, or raw pairs.
        epochs: Fine-tuning epochs (passes over the sampler's batches).
        steps: Alternatively, exactly this many optimiser steps (the last epoch
            may stop part-way).
        trainer: Settings to fine-tune with: ``batch_size``, ``lr``,
            ``weight_decay`` (set on the kept optimiser at every update),
            ``sampler``, ``num_negatives``, ``negative_sampling``, ``device``,
            ``seed`` and ``max_seconds``; its ``epochs`` is used when neither
            ``epochs`` nor ``steps`` is given. Default ``Trainer(progress=False)``
            on the model's device with ``seed``.
        seed: Seed of the new rows' draws and of the default trainer.

    Returns:
        The fine-tuning :class:`~graphcl_rec.train.history.History`: one record
        per (possibly partial) epoch with ``steps``, the mean loss terms and
        ``train_seconds``.

    Raises:
        ValueError: Unless exactly one of ``epochs``/``steps`` is given (or a
            ``trainer``), for a negative or non-int budget, or for a ``trainer``
            with ``reset_parameters``, ``early_stopping``, ``checkpoint_dir`` or
            ``log_path`` set.
        TypeError: If the model holds no ``EmbeddingEncoder`` to grow.

    Examples:
        >>> import torch
        >>> from graphcl_rec.data import Interactions
        >>> from graphcl_rec.models import MF, BPRRecommender
        >>> from graphcl_rec.serve import TrainedRecommender
        >>> _ = torch.manual_seed(0)
        >>> train = Interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), 2, 3,
        ...                      user_ids=("ann", "bob"), item_ids=("x", "y", "z"))
        >>> rec = TrainedRecommender(BPRRecommender(MF(2, 3, dim=4)), train)
        >>> history = update(rec, [("ann", "z"), ("cat", "x")], epochs=1)
        >>> len(history.records), rec.train.num_users, len(rec.train)
        (1, 3, 4)
    """
    _check_budget(epochs, steps, trainer)
    settings = trainer if trainer is not None else Trainer(
        progress=False, device=str(rec.device), seed=seed)
    if epochs is None and steps is None:
        epochs = settings.epochs
    grown = [m for m in rec.model.modules() if isinstance(m, EmbeddingEncoder)]
    if not grown:
        raise TypeError(f"update() grows EmbeddingEncoder tables; the model has "
                        f"none ({type(rec.model.encoder).__name__})")
    new_user, new_item = _new_pairs(rec, new)
    extra_user, extra_item = rec.seen.extra_pairs()
    user = torch.cat([rec.train.user, extra_user, new_user.to(rec.device)])
    item = torch.cat([rec.train.item, extra_item, new_item.to(rec.device)])
    combined, _ = Interactions(user, item, len(rec.users), len(rec.items),
                               user_ids=tuple(rec.users.ids),
                               item_ids=tuple(rec.items.ids)).deduplicate()
    gen = torch.Generator(device=rec.device).manual_seed(seed)
    enc = rec.model.encoder
    ego_user, ego_item = enc.ego()
    ego = (ego_user.detach(), ego_item.detach())
    pairs = (combined.user, combined.item)
    user_rows = _new_rows(rec, "user", pairs, ego, gen)
    item_rows = _new_rows(rec, "item", pairs, ego, gen)
    for module in grown:
        old, num_users = module.embedding.weight, module.num_users
        grow_table(module, user_rows, item_rows)
        if rec.optimizer is not None:
            grow_adam(rec.optimizer, old, module.embedding.weight, num_users,
                      user_rows.size(0), item_rows.size(0))
    log.info("update: %d new pairs, %d users (+%d), %d items (+%d), %s",
             new_user.numel(), combined.num_users, user_rows.size(0),
             combined.num_items, item_rows.size(0),
             f"{steps} steps" if steps is not None else f"{epochs} epochs")
    try:
        device = resolve_device(settings.device)
        rec.model.to(device)
        rec.optimizer = fine_tune_adam(rec.optimizer, rec.model, lr=settings.lr,
                                       weight_decay=settings.weight_decay)
        history = fine_tune(rec.model, combined, rec.optimizer, settings,
                            epochs=epochs, steps=steps,
                            generator=seed_everything(settings.seed, device))
    finally:  # even a failed fit leaves the recommender matching the grown model
        rec.reset(combined)
    return history
