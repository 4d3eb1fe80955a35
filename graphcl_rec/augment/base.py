"""The augmentation interface and the construction of per-layer graph views."""

from __future__ import annotations

import inspect
import numbers
from abc import ABC, abstractmethod
from typing import Any

import torch

from graphcl_rec.data.interactions import Interactions
from graphcl_rec.graph.normalize import adjacency
from graphcl_rec.registry import Registry
from graphcl_rec.tensor_types import Views

AUGMENTATIONS = Registry("augmentation")
"""Registry of augmentations, keyed by the names used in TOML configs."""


def check_probability(name: str, value: float) -> float:
    """Validates a probability argument.

    Args:
        name: The argument's name, quoted in the error message.
        value: The value received.

    Returns:
        ``value`` as a ``float``.

    Raises:
        TypeError: If ``value`` is not a number (``bool`` included).
        ValueError: If ``value`` is not in ``[0, 1]`` (NaN included).

    Examples:
        >>> check_probability("p", 0.25)
        0.25
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"'{name}' has to be a number, a probability in [0, 1] "
                        f"(got {value!r})")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"'{name}' has to be a probability in [0, 1] (got {value!r})")
    return float(value)


class Augmentation(ABC):
    """A random sub-graph of the training interactions.

    ``__call__`` keeps a subset of the user–item pairs. It never normalises, never
    moves tensors to another device and never changes ``num_users``/``num_items``;
    :func:`make_views` turns the result into normalised adjacencies. All randomness
    comes from the ``generator`` argument, which must live on the interactions'
    device.

    Subclasses store every constructor argument under an attribute of the same name
    (the scikit-learn ``get_params`` convention), so :meth:`params` and ``repr``
    work without further code.

    Attributes:
        per_layer: ``True`` draws a fresh sub-graph for every propagation layer,
            ``False`` shares one sub-graph across layers.

    Examples:
        >>> from graphcl_rec.augment import EdgeDropout
        >>> inter = Interactions(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1]),
        ...                      2, 2)
        >>> augment = EdgeDropout(0.5)
        >>> isinstance(augment, Augmentation), augment.params()
        (True, {'p': 0.5, 'per_layer': False, 'exact': False})
        >>> kept = augment(inter, torch.Generator().manual_seed(0))
        >>> len(kept) <= len(inter), (kept.num_users, kept.num_items)
        (True, (2, 2))
    """

    per_layer: bool = False

    @abstractmethod
    def __call__(self, inter: Interactions, generator: torch.Generator) -> Interactions:
        """Draws one augmented sub-graph.

        Args:
            inter: Training interactions with ``E`` unique pairs.
            generator: Source of randomness, on ``inter.device``.

        Returns:
            Interactions holding a subset of ``inter``'s pairs (in their original
            order) over the same index spaces.
        """

    def params(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this object.

        Returns:
            ``{name: value}`` such that ``type(self)(**self.params())`` is equivalent
            to ``self``.
        """
        return {name: getattr(self, name) for name in _init_defaults(type(self))}

    def __repr__(self) -> str:
        defaults = _init_defaults(type(self))
        shown = [
            f"{name}={value!r}"
            for name, value in self.params().items()
            if not (isinstance(value, bool) and value == defaults[name])
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


def _init_defaults(cls: type) -> dict[str, Any]:
    """Named constructor parameters of ``cls`` and their defaults."""
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    return {
        name: par.default
        for name, par in sig.parameters.items()
        if name != "self" and par.kind not in skip
    }


@AUGMENTATIONS.register("none")
class Identity(Augmentation):
    """No augmentation: returns the interactions unchanged.

    Consumes no generator state. Useful as a control in ablations.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 1]), torch.tensor([1, 0]), 2, 2)
        >>> aug = Identity()
        >>> aug(inter, torch.Generator().manual_seed(0)) is inter
        True
        >>> aug
        Identity()
    """

    def __call__(self, inter: Interactions, generator: torch.Generator) -> Interactions:
        """Returns ``inter`` itself (see :class:`Augmentation`)."""
        return inter


def make_views(
    inter: Interactions,
    aug: Augmentation,
    num_layers: int,
    generator: torch.Generator,
) -> Views:
    """One normalised adjacency per propagation layer, drawn from ``aug``.

    This is the only place that reads :attr:`Augmentation.per_layer`. A shared view
    is drawn and normalised once and the same tensor object is repeated; a per-layer
    augmentation is drawn and normalised ``num_layers`` times.

    Args:
        inter: Training interactions.
        aug: The augmentation.
        num_layers: Number of propagation layers ``L``. ``0`` gives ``[]`` and draws
            nothing.
        generator: Source of randomness, on ``inter.device``.

    Returns:
        A list of ``L`` sparse CSR tensors of shape ``[U+I, U+I]``.

    Raises:
        ValueError: If ``num_layers`` is negative.

    Examples:
        >>> inter = Interactions(torch.tensor([0, 1]), torch.tensor([1, 0]), 2, 2)
        >>> views = make_views(inter, Identity(), 3, torch.Generator().manual_seed(0))
        >>> len(views), views[0].shape, views[0] is views[2]
        (3, torch.Size([4, 4]), True)
    """
    if num_layers < 0:
        raise ValueError(f"'num_layers' must be non-negative (got {num_layers!r})")
    if aug.per_layer:
        return [adjacency(aug(inter, generator)) for _ in range(num_layers)]
    if num_layers == 0:
        return []
    return [adjacency(aug(inter, generator))] * num_layers
