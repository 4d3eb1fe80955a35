"""The runner's subcommands, one module per family (``benchmarks.run`` wires them)."""
