"""String-to-class registries used only at the CLI/TOML edge."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class Registry:
    """A named mapping from keys to classes (or factories).

    Args:
        name: What is registered, used in error messages (e.g. ``"encoder"``).

    Examples:
        >>> ENC = Registry("encoder")
        >>> @ENC.register("dummy")
        ... class Dummy:
        ...     def __init__(self, x: int = 1) -> None:
        ...         self.x = x
        >>> ENC.resolve("dummy", x=3).x
        3
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[str, Callable[..., Any]] = {}

    def register(self, key: str) -> Callable[[T], T]:
        """Decorator that registers a class under ``key``."""

        def wrap(obj: T) -> T:
            if key in self._items:
                raise ValueError(f"{self.name} '{key}' is already registered")
            self._items[key] = obj  # type: ignore[assignment]
            return obj

        return wrap

    def get(self, key: str) -> Callable[..., Any]:
        """Returns the class registered under ``key`` (case-insensitive)."""
        norm = key.lower().replace("-", "_")
        if norm not in self._items:
            raise ValueError(
                f"Could not resolve {self.name} '{key}' among choices "
                f"{sorted(self._items)}"
            )
        return self._items[norm]

    def resolve(self, key_or_obj: Any, **kwargs: Any) -> Any:
        """Instantiates ``key_or_obj`` if it is a string; returns objects unchanged."""
        if not isinstance(key_or_obj, str):
            return key_or_obj
        return self.get(key_or_obj)(**kwargs)

    def items(self) -> list[tuple[str, Callable[..., Any]]]:
        """All ``(key, class)`` pairs, sorted by key."""
        return sorted(self._items.items())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower().replace("-", "_") in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {sorted(self._items)})"
