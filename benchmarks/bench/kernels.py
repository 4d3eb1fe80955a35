"""``kernels``: the native kernels and the sparse propagation, each on its own.

* ``kernels topk``: the fused top-K kernel (``graphcl_rec.native.topk.topk_dot``)
  ranking every test user against all items (random embeddings, nothing excluded)
  for each ``--k``, against the sgemm rate. ``k = 1`` shows the products' cost;
  larger ``k`` adds the selection's insertions.
* ``kernels nce``: ``graphcl_rec.losses.info_nce`` forward + backward with
  ``kernel="torch"`` and ``kernel="native"`` alternated, for ``BxM`` shapes (anchors
  x candidates, tau = 0.2), against its three products at the sgemm rate. ``--dot``
  times the dot-product form (``normalize=False``, LightGCL's) on rows of norm
  about 1, where the kernel's bound holds.
* ``kernels spmm``: one 3-layer propagation forward + backward
  (``graphcl_rec.graph.spmm``) over the training adjacency, against the bytes it
  must stream at the measured copy bandwidth; with ``--backends
  torch,torch_sparse`` also over a ``torch_sparse.SparseTensor``, and ``--autograd``
  adds each backend's own sparse backward (``adj @ x``) for comparison.

``--avx2`` (topk, nce) uses the AVX2 + FMA build (``graphcl_rec.native.AVX2_FLAGS``),
as on hosts without AVX-512; for ``nce`` it times the kernel's softmax terms
(``graphcl_rec.native.nce.softmax_terms``) in both builds, since ``info_nce``
always takes the default build.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from benchmarks.bench.common import (
    Result,
    alternate,
    best_of,
    common_options,
    csv,
    dataset_line,
    load_split,
    machine_rates,
    rates_line,
    resolve_device,
    seconds,
    summary,
)

NCE_SHAPES = ["1877x29858", "1896x40981", "2000x2000", "2000x4000", "2000x8000",
              "2000x16000"]
"""The two all-node terms of an average SGL-ED batch on Gowalla, then a sweep."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kernels", help="native top-K / InfoNCE kernels, propagation",
                       description=__doc__.split("\n\n")[0])
    kinds = p.add_subparsers(dest="kernel", required=True)

    t = kinds.add_parser("topk", help="the fused top-K kernel against the sgemm rate")
    common_options(t, device=False)
    t.add_argument("--dataset", default="yelp2018")
    t.add_argument("--k", type=csv(int), default=[1, 20, 100])
    t.add_argument("--repeats", type=int, default=3)
    t.add_argument("--avx2", action="store_true")
    t.set_defaults(func=run_topk)

    n = kinds.add_parser("nce", help="InfoNCE through torch and the fused kernel")
    common_options(n, device=False)
    n.add_argument("--shapes", type=csv(), default=NCE_SHAPES,
                   help="anchors x candidates, comma-separated")
    n.add_argument("--dim", type=int, default=64)
    n.add_argument("--rounds", type=int, default=5)
    n.add_argument("--tile-floats", type=int, default=None,
                   help="graphcl_rec.native.nce.TILE_FLOATS for this run")
    n.add_argument("--avx2", action="store_true")
    n.add_argument("--dot", action="store_true",
                   help="dot products (normalize=False) instead of cosines")
    n.set_defaults(func=run_nce)

    s = kinds.add_parser("spmm", help="3-layer propagation against the streaming floor")
    common_options(s)
    s.add_argument("--dataset", type=csv(), default=["ml-100k", "gowalla", "yelp2018"])
    s.add_argument("--backends", type=csv(), default=["torch"],
                   help="torch and/or torch_sparse")
    s.add_argument("--autograd", action="store_true",
                   help="also each backend's own sparse backward (adj @ x)")
    s.add_argument("--dim", type=int, default=64)
    s.add_argument("--layers", type=int, default=3)
    s.add_argument("--rounds", type=int, default=5)
    s.set_defaults(func=run_spmm)


def _flags(avx2: bool) -> tuple[str, ...]:
    from graphcl_rec import native

    return native.AVX2_FLAGS if avx2 else native.FLAGS


def _build_line(flags: tuple[str, ...]) -> str:
    from graphcl_rec import native

    return (f"native kernels: {native.status()}; build {' '.join(flags)}: vector "
            f"width {native.load(flags).native_simd()}")


def run_topk(args: argparse.Namespace) -> Result:
    from graphcl_rec.native.topk import topk_dot

    result = Result("kernels topk", args, torch.device("cpu"), native=True)
    flags = _flags(args.avx2)
    print(_build_line(flags))
    rates = machine_rates()
    print(rates_line(rates))
    train, test = load_split(args.dataset)
    gen = torch.Generator().manual_seed(0)
    users = torch.unique(test.user)
    rows = torch.randn(train.num_users, 64, generator=gen)[users]
    items = torch.randn(train.num_items, 64, generator=gen)
    width = -(-train.num_items // 64) * 64
    padded = torch.cat([items, items.new_zeros(width - len(items), 64)])
    # [G, d, 64] item slabs, as topk_dot documents them.
    slabs = padded.view(width // 64, 64, 64).transpose(1, 2).contiguous()
    ptr = torch.zeros(len(users) + 1, dtype=torch.long)
    none = torch.zeros(0, dtype=torch.long)
    flop = 2 * len(users) * train.num_items * 64
    floor = flop / rates["sgemm_flop_per_s"]
    print(f"{dataset_line(args.dataset, train, test)}: {len(users)} users ranked; "
          f"the products take {floor * 1e3:.0f} ms at the sgemm rate")
    for k in args.k:
        t = best_of(lambda k=k: topk_dot(rows, slabs, train.num_items, k, ptr, none,
                                         torch.get_num_threads(), flags),
                    args.repeats)
        print(f"  k = {k:4d}: {t * 1e3:7.1f} ms, {flop / t / 1e9:5.0f} GFLOP/s "
              f"({floor / t:.2f} of the sgemm rate)", flush=True)
        result.figure(f"{args.dataset} topk k={k} s", t, "s")
        result.rows.append({"dataset": args.dataset, "k": k, "seconds": t,
                            "floor_s": floor, "users": len(users),
                            "items": train.num_items, "flags": list(flags)})
    return result


def run_nce(args: argparse.Namespace) -> Result:
    from graphcl_rec.native import nce

    result = Result("kernels nce", args, torch.device("cpu"), native=True)
    if args.tile_floats is not None:
        nce.TILE_FLOATS = args.tile_floats
    flags = _flags(args.avx2)
    print(_build_line(flags))
    rates = machine_rates()
    print(rates_line(rates) + f"; tiles of {nce.TILE_FLOATS} floats")
    gen = torch.Generator().manual_seed(0)
    for shape in args.shapes:
        _nce_shape(shape, args, flags, rates, gen, result)
    return result


def _nce_shape(shape: str, args: argparse.Namespace, flags: tuple[str, ...],
               rates: dict[str, float], gen: torch.Generator, result: Result) -> None:
    from graphcl_rec.losses import info_nce
    from graphcl_rec.native import nce

    rows, num = map(int, shape.split("x"))
    norm = args.dim ** -0.5 if args.dot else 1.0  # rows of norm about 1 for --dot
    anchor = (norm * torch.randn(rows, args.dim, generator=gen)).requires_grad_()
    cands = (norm * torch.randn(num, args.dim, generator=gen)).requires_grad_()
    target = torch.randint(0, num, (rows,), generator=gen)
    if args.dot:
        a, c = anchor.detach() / 0.2, cands.detach()
    else:
        a = torch.nn.functional.normalize(anchor.detach(), dim=1) / 0.2
        c = torch.nn.functional.normalize(cands.detach(), dim=1)
    normalize = not args.dot

    def through(kernel: str) -> Callable[[], None]:
        return lambda: info_nce(anchor, cands, target, 0.2, kernel=kernel,
                                normalize=normalize).backward()

    fns: dict[str, Callable[[], None]] = {"torch": through("torch"),
                                          "native": through("native")}
    if args.avx2:
        for label, f in (("terms default build", _flags(False)),
                         ("terms AVX2 build", flags)):
            fns[label] = lambda f=f: nce.softmax_terms(a, c, None, True, flags=f)
    for fn in fns.values():
        fn()  # warm-up (and the kernel's build)
    times: dict[str, list[float]] = {label: [] for label in fns}
    for _, label in alternate(list(fns), args.rounds):
        times[label].append(seconds(fns[label]))
    floor = 3 * 2 * rows * num * args.dim / rates["sgemm_flop_per_s"]
    best = {label: min(v) for label, v in times.items()}
    cells = ", ".join(f"{label} {t * 1e3:.1f} ms" for label, t in best.items())
    print(f"  {rows:5d} x {num:6d}: {cells}; torch / native "
          f"{best['torch'] / best['native']:.2f}; three products at the sgemm "
          f"rate {floor * 1e3:.1f} ms (native {best['native'] / floor:.2f}x)",
          flush=True)
    for label, values in times.items():
        result.figure(f"{shape} {label} s", min(values), "s")
        result.rows.append({"shape": shape, "variant": label, "seconds": values,
                            **summary(values), "floor_s": floor})


def run_spmm(args: argparse.Namespace) -> Result:
    from graphcl_rec import graph

    device = resolve_device(args.device)
    result = Result("kernels spmm", args, device)
    rates = machine_rates(device)
    bw = rates["copy_bytes_per_s"]
    print(rates_line(rates))
    for name in args.dataset:
        train, _ = load_split(name)
        train = train.to(device)
        adj = graph.adjacency(train)
        n, nnz, d = adj.shape[0], adj._nnz(), args.dim
        # Each product streams the CSR (8 B index + 4 B value per non-zero), reads
        # the dense input once and writes the output once; forward + backward make
        # 2 products per layer.
        floor = 2 * args.layers * (12 * nnz + 2 * n * d * 4) / bw
        print(f"\n## {dataset_line(name, train)}; {n} nodes, {nnz} non-zeros; "
              f"streaming floor {floor * 1e3:.2f} ms", flush=True)
        x = torch.randn(n, d, device=device, requires_grad=True)
        fns: dict[str, Callable[[], None]] = {}
        for backend in args.backends:
            a = adj if backend == "torch" else graph.to_backend(adj, backend)
            fns[f"{backend} spmm"] = _propagation(a, graph.spmm, x, args.layers)
            if args.autograd:
                mm = (lambda m, y: m @ y) if backend == "torch" else \
                    (lambda m, y: m.matmul(y))
                fns[f"{backend} autograd"] = _propagation(a, mm, x, args.layers)
        for fn in fns.values():
            fn()
        times: dict[str, list[float]] = {label: [] for label in fns}
        for _, label in alternate(list(fns), args.rounds):
            times[label].append(best_of(fns[label], 3, device, warmup=False))
        base = None
        for label, values in times.items():
            stats = summary(values)
            base = base or stats["median"]
            print(f"{label:24s} {args.layers}-layer propagation fwd+bwd: median "
                  f"{stats['median'] * 1e3:8.2f} ms (min {stats['min'] * 1e3:.2f}); "
                  f"{stats['median'] / floor:.1f}x the streaming floor, "
                  f"{stats['median'] / base:.2f}x the first row", flush=True)
            result.figure(f"{name} {label} s", stats["median"], "s")
            result.rows.append({"dataset": name, "variant": label, "seconds": values,
                                **stats, "floor_s": floor, "nnz": nnz, "nodes": n})
    return result


def _propagation(adj, mm: Callable, x: torch.Tensor, layers: int
                 ) -> Callable[[], None]:
    def run() -> None:
        y = x
        for _ in range(layers):
            y = mm(adj, y)
        y.sum().backward()
        x.grad = None

    return run
