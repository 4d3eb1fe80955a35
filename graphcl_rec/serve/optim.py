"""The Adam optimiser an incrementally updated model keeps between updates.

:func:`~graphcl_rec.serve.update.update` fine-tunes with one Adam per
recommender, created on the first update. When the embedding table grows
(:func:`~graphcl_rec.serve.update.grow_table` replaces its parameter), the
optimiser follows: the new parameter takes the old one's place in its group and
its per-row state (``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``) gains zero
rows at the new users and items, while the step count is kept. Old rows keep
their moments, so their effective step sizes do not restart.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

log = logging.getLogger("graphcl_rec")


def splice_rows(table: Tensor, num_users: int, user_rows: Tensor,
                item_rows: Tensor) -> Tensor:
    """``[U + I, ...]`` -> ``[U + U' + I + I', ...]``: new users after the old ones.

    Args:
        table: Rows of ``num_users`` users followed by items.
        num_users: ``U``.
        user_rows: ``[U', ...]`` rows of the new users.
        item_rows: ``[I', ...]`` rows of the new items.

    Examples:
        >>> splice_rows(torch.tensor([1, 2, 3]), 1, torch.tensor([7]),
        ...             torch.tensor([9])).tolist()
        [1, 7, 2, 3, 9]
    """
    return torch.cat([table[:num_users], user_rows.to(table), table[num_users:],
                      item_rows.to(table)])


def trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` of every parameter of ``model`` that needs a gradient."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def make_adam(model: nn.Module, *, lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam over ``model``'s trainable parameters, as the trainer builds it.

    Fused where PyTorch has the kernel for the parameters' device (CPU, CUDA).
    """
    params = [p for _, p in trainable(model)]
    device = params[0].device.type if params else "cpu"
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay,
                            fused=device in ("cpu", "cuda") and bool(params))


def grow_adam(opt: torch.optim.Optimizer, old: Tensor, new: Tensor, num_users: int,
              new_users: int, new_items: int) -> bool:
    """Puts ``new`` in ``old``'s place in ``opt``, growing its per-row state.

    Every state tensor shaped like ``old`` (the moments) gets ``new_users`` zero
    rows after its first ``num_users`` rows and ``new_items`` at the end, the
    layout of :func:`splice_rows`; other entries (``step``) are kept as they are.

    Args:
        opt: The optimiser.
        old: The parameter before growing, ``[U + I, d]``.
        new: Its replacement, ``[U + U' + I + I', d]``.
        num_users: ``U``.
        new_users: ``U'``.
        new_items: ``I'``.

    Returns:
        Whether ``old`` was one of ``opt``'s parameters (an EMA target is not).
    """
    found = False
    for group in opt.param_groups:
        for i, p in enumerate(group["params"]):
            if p is old:
                group["params"][i], found = new, True
    state = opt.state.pop(old, None)
    if state:
        width = old.shape[1:]
        users = torch.zeros(new_users, *width)
        items = torch.zeros(new_items, *width)
        opt.state[new] = {
            key: splice_rows(value, num_users, users, items)
            if isinstance(value, Tensor) and value.shape == old.shape else value
            for key, value in state.items()}
    return found


def follow_model(opt: torch.optim.Optimizer, model: nn.Module) -> bool:
    """Checks that ``opt`` optimises exactly ``model``'s trainable parameters.

    State tensors on another device than their parameter (the model was moved)
    are moved to it.

    Returns:
        ``False`` if the parameters differ (the optimiser must be rebuilt).
    """
    held = [p for group in opt.param_groups for p in group["params"]]
    wanted = [p for _, p in trainable(model)]
    if {id(p) for p in held} != {id(p) for p in wanted} or len(held) != len(wanted):
        return False
    for p in held:
        state: dict = opt.state.get(p) or {}
        for key, value in state.items():
            if isinstance(value, Tensor) and value.device != p.device:
                state[key] = value.to(p.device)
    return True


def fine_tune_adam(current: torch.optim.Optimizer | None, model: nn.Module, *,
                   lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """``current`` with ``lr`` and ``weight_decay`` set, or a new Adam.

    A new one is made when there is none yet or when ``model``'s trainable
    parameters are no longer the ones ``current`` holds (logged: its state is
    lost).
    """
    if current is not None and not follow_model(current, model):
        log.warning("update: the model's parameters changed outside update(); "
                    "its optimiser state is dropped and a new Adam is built")
        current = None
    if current is None:
        return make_adam(model, lr=lr, weight_decay=weight_decay)
    for group in current.param_groups:
        group["lr"], group["weight_decay"] = lr, weight_decay
    return current
