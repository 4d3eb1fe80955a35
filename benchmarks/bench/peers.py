"""``peers``: side-by-side epochs against other libraries (``benchmarks/peers/``).

* ``peers pyg [OPTIONS]``: LightGCN+BPR epochs against PyG's ``LightGCN`` on the
  same batches (``benchmarks/peers/pyg_compare.py``; PyG is a dependency).
* ``peers recbole [OPTIONS]``: LightGCN and SGL-ED epochs against RecBole 1.2.1 on
  the same split (``benchmarks/peers/recbole_compare.py``); RecBole runs in its own
  virtual environment, made once by ``bash benchmarks/peers/setup_recbole.sh``.

The options after the name go to that comparison (``peers pyg --help``); see
``benchmarks/peers/README.md`` for what each measures.
"""

from __future__ import annotations

import argparse

PEERS = {"pyg": "benchmarks.peers.pyg_compare",
         "recbole": "benchmarks.peers.recbole_compare"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("peers", help="epochs side by side with PyG or RecBole",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("peer", choices=sorted(PEERS))
    p.add_argument("options", nargs=argparse.REMAINDER,
                   help="the comparison's own options (peers NAME --help)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    import importlib

    module = importlib.import_module(PEERS[args.peer])
    module.main(args.options)
