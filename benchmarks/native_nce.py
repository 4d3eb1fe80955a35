"""InfoNCE forward + backward through torch's blocks and the fused kernel, alternated.

Usage: python benchmarks/native_nce.py [--shapes 1877x29858 1896x40981 ...]
                                       [--rounds 5] [--threads 2] [--tile-floats N]
                                       [--avx2]

For each ``BxM`` shape (anchors x candidates, 64-d, tau = 0.2, random
embeddings), times ``info_nce(..., kernel="torch")`` and ``kernel="native"``
(loss and both gradients through autograd) in alternating rounds and prints the
best time of each, their ratio, and the three ``[B, 64] x [64, M]`` products at the
rate of a 2048^3 sgemm timed in the same process. The default shapes are the two
all-node terms of an average SGL-ED batch on Gowalla (1,877 distinct users against
29,858, 1,896 distinct items against 40,981) and a sweep of candidate counts.
``--tile-floats`` sets the kernel's per-thread tile of exponentials
(``graphcl_rec.native.nce.TILE_FLOATS``); ``--avx2`` builds the kernels without
AVX-512 (the AVX2 + FMA micro-kernels), as on hosts without AVX-512.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch

from graphcl_rec import native
from graphcl_rec.losses import contrastive, info_nce
from graphcl_rec.native import nce

DEFAULT = ["1877x29858", "1896x40981", "2000x2000", "2000x4000", "2000x8000",
           "2000x16000"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", nargs="+", default=DEFAULT)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tile-floats", type=int, default=nce.TILE_FLOATS)
    p.add_argument("--avx2", action="store_true")
    args = p.parse_args()
    nce.TILE_FLOATS = args.tile_floats
    flags = native.AVX2_FLAGS if args.avx2 else native.FLAGS
    contrastive.softmax_terms = partial(nce.softmax_terms, flags=flags)
    torch.set_num_threads(args.threads)
    print(f"native kernel: {native.status()}, build {' '.join(flags)}: vector width "
          f"{native.load(flags).native_simd()}")
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    sgemm = 2 * 2048**3 / best
    print(f"{args.threads} threads, sgemm {sgemm / 1e9:.0f} GFLOP/s, tiles of "
          f"{args.tile_floats} floats")
    gen = torch.Generator().manual_seed(0)
    for shape in args.shapes:
        rows, num = map(int, shape.split("x"))
        anchor = torch.randn(rows, 64, generator=gen, requires_grad=True)
        cands = torch.randn(num, 64, generator=gen, requires_grad=True)
        target = torch.randint(0, num, (rows,), generator=gen)
        times = {"torch": float("inf"), "native": float("inf")}
        order = list(times)
        for r in range(args.rounds):
            for kernel in order if r % 2 == 0 else order[::-1]:
                t0 = time.perf_counter()
                info_nce(anchor, cands, target, 0.2, kernel=kernel).backward()
                times[kernel] = min(times[kernel], time.perf_counter() - t0)
        floor = 3 * 2 * rows * num * 64 / sgemm
        print(f"  {rows:5d} x {num:6d}: torch {times['torch'] * 1e3:7.1f} ms, native "
              f"{times['native'] * 1e3:7.1f} ms, torch / native "
              f"{times['torch'] / times['native']:.2f}; three products at the sgemm "
              f"rate {floor * 1e3:.1f} ms (native {times['native'] / floor:.2f}x)")


if __name__ == "__main__":
    main()
