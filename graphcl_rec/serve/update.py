"""Incremental update: grow the model for new users and items, warm-start, fine-tune."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.models.embedding import EmbeddingEncoder
from graphcl_rec.serve.foldin import neighbour_mean
from graphcl_rec.serve.ids import RawId
from graphcl_rec.train.history import History
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
    ``num_items`` are updated and the new table keeps ``requires_grad``.

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
    num_users = encoder.num_users
    rows = torch.cat([old[:num_users].detach(), user_rows.to(old),
                      old[num_users:].detach(), item_rows.to(old)])
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


def update(rec: TrainedRecommender, new: NewPairs, *, epochs: int | None = None,
           steps: int | None = None, trainer: Trainer | None = None,
           seed: int = 0) -> History:
    """Extends the graph with new feedback and fine-tunes the model from its weights.

    1. Raw ids of ``new`` map through the recommender's id maps; unknown ones are
       appended. Folded-in users and items (and their interactions) join too.
    2. Every :class:`~graphcl_rec.models.embedding.EmbeddingEncoder` in the model
       (the encoder and any EMA target copy) grows rows for the new nodes
       (:func:`grow_table`); old rows keep their ids and values.
    3. The model is fine-tuned with :class:`~graphcl_rec.train.trainer.Trainer`
       (``reset_parameters=False``) on *all* interactions, old and new. A replay
       mix (new pairs plus a sample of old ones) is not offered: the trainer
       propagates over the graph it samples from, so a partial graph would change
       every embedding. The trainer builds a fresh Adam, so no optimiser state is
       carried over from the original training.
    4. The cached embeddings are recomputed on the enlarged graph and fold-ins are
       cleared (the nodes are now trained).

    Args:
        rec: The recommender to update (changed in place).
        new: ``Interactions`` carrying ``user_ids``/``item_ids``, or raw pairs.
        epochs: Fine-tuning epochs.
        steps: Alternatively, optimiser steps, rounded up to whole epochs
            (``ceil(E / batch_size)`` steps each over the ``E`` pairs).
        trainer: Settings to fine-tune with (copied; its ``epochs`` replaced by
            ``epochs``/``steps`` when given); default ``Trainer(progress=False)``
            on the model's device.
        seed: Seed of the new rows' draws and of the default trainer.

    Returns:
        The fine-tuning :class:`~graphcl_rec.train.history.History`.

    Raises:
        ValueError: Unless exactly one of ``epochs``/``steps`` is given (or a
            ``trainer``), or if ``trainer.reset_parameters`` is set.
        TypeError: If the model holds no ``EmbeddingEncoder`` to grow.
    """
    if epochs is not None and steps is not None:
        raise ValueError(f"give one of 'epochs' and 'steps', not both (got "
                         f"epochs={epochs!r}, steps={steps!r})")
    if epochs is None and steps is None and trainer is None:
        raise ValueError("give exactly one of 'epochs' and 'steps' (or a 'trainer' "
                         "whose epochs to use)")
    if trainer is not None and trainer.reset_parameters:
        raise ValueError("'trainer' has reset_parameters=True, which would discard "
                         "the weights update() warm-starts from")
    trainer = copy.copy(trainer) if trainer is not None else Trainer(
        progress=False, device=str(rec.device), seed=seed)
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
        grow_table(module, user_rows, item_rows)
    if steps is not None:
        epochs = math.ceil(steps / math.ceil(len(combined) / trainer.batch_size))
    if epochs is not None:
        trainer.epochs = epochs
    log.info("update: %d new pairs, %d users (+%d), %d items (+%d), %d epochs",
             new_user.numel(), combined.num_users, user_rows.size(0),
             combined.num_items, item_rows.size(0), trainer.epochs)
    try:
        history = trainer.fit(rec.model, combined)
    finally:  # even a failed fit leaves the recommender matching the grown model
        rec.reset(combined)
    return history
