"""``probe``: this machine's copy bandwidth and sgemm rate, the floors of the others.

Every figure elsewhere is read against these two rates measured in the same run:
evaluation against its products at the sgemm rate (``eval``), propagation against
the bytes it streams (``kernels spmm``), the fused kernels against the sgemm rate
(``kernels topk|nce``).
"""

from __future__ import annotations

import argparse

from benchmarks.bench.common import (
    Result,
    common_options,
    machine_rates,
    rates_line,
    resolve_device,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="copy bandwidth and sgemm rate of this machine",
                       description=__doc__.split("\n\n")[0])
    common_options(p)
    p.add_argument("--copy-mb", type=int, default=None,
                   help="MiB copied (default 64 on CPU, 1024 on CUDA)")
    p.add_argument("--n", type=int, default=None,
                   help="sgemm size n (n x n times n x n; default 2048 CPU, 8192 CUDA)")
    p.add_argument("--repeats", type=int, default=5, help="best of this many")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Result:
    device = resolve_device(args.device)
    result = Result("probe", args, device)
    rates = machine_rates(device, args.copy_mb, args.n, args.repeats)
    print(rates_line(rates))
    result.figure("copy bandwidth", rates["copy_bytes_per_s"] / 1e9, "GB/s")
    result.figure("sgemm rate", rates["sgemm_flop_per_s"] / 1e9, "GFLOP/s")
    result.rows.append(rates)
    return result
