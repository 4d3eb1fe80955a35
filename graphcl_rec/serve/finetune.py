"""The fine-tuning loop of an incremental update: a given optimiser, a budget."""

from __future__ import annotations

import logging
import time

import torch

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.data.sampling import PairSampler
from graphcl_rec.graph.normalize import adjacency
from graphcl_rec.models.base import Recommender
from graphcl_rec.serve.optim import trainable
from graphcl_rec.train.guards import check_finite_step, check_finite_weights
from graphcl_rec.train.history import History
from graphcl_rec.train.trainer import Trainer

log = logging.getLogger("graphcl_rec")


def fine_tune(model: Recommender, train: Interactions, opt: torch.optim.Optimizer,
              settings: Trainer, *, epochs: int | None = None,
              steps: int | None = None, generator: torch.Generator) -> History:
    """Fine-tunes ``model`` on ``train`` for ``epochs`` epochs or ``steps`` steps.

    The steps of :meth:`Trainer.fit <graphcl_rec.train.trainer.Trainer.fit>`
    (one ``model.sample_views`` per epoch, batches of
    :class:`~graphcl_rec.data.sampling.PairSampler`, ``model.loss``, a step of
    ``opt``, ``model.on_step_end``), but with the caller's optimiser (its state
    carries over from call to call), an exact step budget (the last epoch may stop
    part-way), no validation and no checkpoints. Every step is checked for a
    non-finite loss or gradient before the optimiser steps, and the weights after
    every epoch; ``settings.max_seconds`` ends the loop after the step that exceeds
    it.

    Args:
        model: The recommender, on the device its data should be on.
        train: The interactions to fine-tune on (graph and BPR positives).
        opt: The optimiser of ``model``'s trainable parameters.
        settings: The sampling settings (``batch_size``, ``sampler``,
            ``num_negatives``, ``negative_sampling``) and ``max_seconds``.
        epochs: Epochs to take (``len(sampler)`` steps each); give this or
            ``steps``.
        steps: Exactly this many optimiser steps.
        generator: Every random draw (views, batches, negatives).

    Returns:
        One record per (possibly partial) epoch: ``epoch``, ``steps``, the mean
        loss terms and ``train_seconds``.

    Raises:
        FloatingPointError: On a non-finite loss, gradient or weight.
        ValueError: Unless exactly one of ``epochs`` and ``steps`` is given.
    """
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of 'epochs' and 'steps' (got "
                         f"epochs={epochs!r}, steps={steps!r})")
    param = next(model.parameters())
    train = train.to(param.device)
    adjs = [adjacency(train)] * model.encoder.num_layers
    sampler = PairSampler(train, settings.batch_size, mode=settings.sampler,
                          num_negatives=settings.num_negatives,
                          negatives=settings.negative_sampling)
    total = steps if steps is not None else int(epochs or 0) * len(sampler)
    named = trainable(model)
    was_training = model.training
    history = History()
    start = time.perf_counter()
    done = epoch = 0
    out_of_time = False
    while done < total and not out_of_time:
        model.train()
        t0 = time.perf_counter()
        views = model.sample_views(train, generator)
        sums: dict[str, torch.Tensor] = {}
        taken = 0
        for step, batch in enumerate(sampler.epoch(generator)):
            out = model.loss(batch, adjs, views, generator)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            check_finite_step(out, named, epoch, step)
            opt.step()
            model.on_step_end()
            for key, value in out.items():
                value = value.detach()
                sums[key] = sums[key] + value if key in sums else value
            taken += 1
            done += 1
            out_of_time = (settings.max_seconds is not None
                           and time.perf_counter() - start > settings.max_seconds)
            if done == total or out_of_time:
                break
        check_finite_weights(model, epoch)
        record: dict = {"epoch": epoch + 1, "steps": taken}
        record.update({k: float(v) / max(taken, 1) for k, v in sums.items()})
        record["train_seconds"] = time.perf_counter() - t0
        history.records.append(record)
        log.info("update: epoch %d, %d steps, loss %.4f", epoch + 1, taken,
                 record.get("loss", float("nan")))
        epoch += 1
    model.train(was_training)
    return history
