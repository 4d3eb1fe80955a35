"""Command-line interface (the only place that prints)."""

__all__: list[str] = []
