"""The benchmark runner: ``python -m benchmarks.run SUBCOMMAND [OPTIONS]``.

Subcommands (``python -m benchmarks.run SUBCOMMAND --help`` for each one's options):

* ``probe``: this machine's copy bandwidth and sgemm rate (the floors).
* ``eval``: full-ranking evaluation time against the sgemm-rate floor, per ranker.
* ``step``: seconds per training step of chosen objectives / encoders.
* ``epoch``: seconds per epoch through ``graphcl_rec.Trainer``.
* ``memory train|eval``: peak memory of training / evaluation (fresh processes).
* ``allocator``: training steps with glibc's default allocator and with freed blocks
  held (``graphcl_rec.train.hold_freed_memory``), fresh processes alternated.
* ``kernels topk|nce|spmm``: the native kernels and the propagation on their own.
* ``peers pyg|recbole``: epochs side by side with PyG or RecBole.
* ``ab --old REV -- SUBCOMMAND ...``: a subcommand on two library trees, alternated.
* ``diagnose``: gradient shares and embedding norms of BPR and the contrastive term.
* ``sweep``: validation curves of objectives under ``init`` / ``ssl_warmup`` variants.
* ``variants``: one objective under constructor-argument variants at a time budget.
* ``robust``: every objective at its defaults on five datasets and several seeds,
  against popularity and LightGCN at the same wall-clock budget (issue 18).
* ``serve-load``: the HTTP service (``graphcl-rec serve``) under concurrent clients on
  loopback: latency, requests/s, errors, and that no posted feedback is lost.
* ``foldin`` / ``update`` / ``ann`` / ``latency``: held-out users folded in, new
  feedback four ways, the exported faiss index, and exact ``recommend()`` latency
  (issue 19; results in ``benchmarks/results/serving/``).
* ``uniformity``: LightGCN, SGL-ED and XSimGCL embeddings projected with t-SNE, with
  density estimates, uniformity and alignment (the SimGCL paper's figure).
* ``scale --pairs 1e6,3e6``: epoch time and peak memory of training and of full-ranking
  evaluation on synthetic power-law graphs fitted to Gowalla (issue 23).
* ``ddp --config CONFIG --nproc 1,2``: seconds per training epoch of one config in one
  and in several processes (``graphcl-rec train --nproc``), each in a fresh child.

Every subcommand prints its figures and, with ``--json PATH``, writes them with the
date, git revision, torch version, threads and CPU model. Run from the repository
root (or with it on ``PYTHONPATH``); see ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from benchmarks.bench import (
    ab,
    allocator,
    ddp,
    diagnose,
    evaluation,
    kernels,
    memory,
    peers,
    probe,
    robust,
    scale,
    serve_ann,
    serve_foldin,
    serve_latency,
    serve_load,
    serve_update,
    sweep,
    training,
    uniformity,
    variants,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0],
        epilog="See benchmarks/README.md.")
    sub = p.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    probe.add_parser(sub)
    evaluation.add_parser(sub)
    training.add_parsers(sub)
    memory.add_parser(sub)
    allocator.add_parser(sub)
    kernels.add_parser(sub)
    peers.add_parser(sub)
    ab.add_parser(sub)
    diagnose.add_parser(sub)
    sweep.add_parser(sub)
    variants.add_parser(sub)
    robust.add_parser(sub)
    serve_load.add_parser(sub)
    serve_foldin.add_parser(sub)
    serve_update.add_parser(sub)
    serve_ann.add_parser(sub)
    serve_latency.add_parser(sub)
    uniformity.add_parser(sub)
    scale.add_parser(sub)
    ddp.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None):
    """Runs one subcommand; returns its :class:`~benchmarks.bench.common.Result`."""
    args = parser().parse_args(argv)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    threads = getattr(args, "threads", None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    result = args.func(args)
    if result is not None:
        result.write(getattr(args, "json", None))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
