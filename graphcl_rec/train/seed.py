"""Seeding and device selection."""

from __future__ import annotations

import random

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; other values pass through.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:<n>"`` or a
            :class:`torch.device` (returned as it is).

    Returns:
        The device.

    Raises:
        ValueError: For another string, or a CUDA device without CUDA.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(
            f"Could not resolve device '{device}' among choices ['auto', 'cpu', 'cuda']"
        )
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device '{device}' requested but CUDA is not available")
    return torch.device(device)


def seed_everything(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """Seeds Python's and torch's global RNGs and returns an explicit generator.

    The library draws all its randomness from the returned generator; the global
    seeds only cover third-party code that uses the global RNGs.

    Args:
        seed: Non-negative integer seed.
        device: Device of the returned generator (where sampling happens).

    Returns:
        A ``torch.Generator`` seeded with ``seed``.

    Examples:
        >>> g1, g2 = seed_everything(0), seed_everything(0)
        >>> torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))
        True
    """
    if seed < 0:
        raise ValueError(f"'seed' must be non-negative (got {seed})")
    random.seed(seed)
    torch.manual_seed(seed)
    gen = torch.Generator(device=resolve_device(device))
    gen.manual_seed(seed)
    return gen
