"""``step`` and ``epoch``: the cost of training, per objective and encoder.

``step`` times ``model.loss(batch, adjs, views, generator)``, ``backward`` and a fused
Adam step, on batches drawn beforehand (one epoch of :class:`PairSampler`), with the
views drawn once. The variants (model x sampler x InfoNCE precision) alternate
round by round in one process, so they share the machine's load; each round times
``--steps`` steps of each. The epoch estimate adds the variant's per-epoch work
(``sample_views``: SGL's two views, NCL's k-means, LightGCL's SVD) and batch
sampling to the median step times the batches per epoch. NCL is timed past its
``proto_warmup`` (its epoch counter is advanced), so its epochs cluster as a run's
later ones do; LightGCL factorises the graph in its first epoch only, so its
estimate is that of a run's first epoch.

``epoch`` trains whole epochs through :class:`graphcl_rec.Trainer` (no evaluation)
and reports its ``train_seconds`` per epoch. NCL clusters only after its
``proto_warmup`` (20) epochs: ``--warmup-epochs 20`` times epochs that do.

Models are built only from the public constructors, with keyword arguments:
``OBJECTIVE[+ENCODER]``, e.g. ``sgl-ed``, ``xsimgcl+sgc``, ``bpr+mf``; the encoders
are 64-d (``--dim``) with 3 layers (``--layers``), every objective at its defaults.
The pair sampler draws one negative per pair, except for :data:`NUM_NEGATIVES`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.bench.common import (
    Result,
    alternate,
    common_options,
    csv,
    dataset_line,
    load_split,
    peak_rss_mb,
    resolve_device,
    summary,
    sync,
)

ENCODERS = ("lightgcn", "sgc", "mf")

ALIASES = {"lightgcn": "bpr+lightgcn", "mf": "bpr+mf", "sgc": "bpr+sgc",
           "lightgcn-bpr": "bpr+lightgcn", "mf-bpr": "bpr+mf", "sgc-bpr": "bpr+sgc"}

NCE_OBJECTIVES = ("sgl-ed", "sgl-nd", "sgl-rw", "sgl-ed-per-layer", "simgcl", "xsimgcl",
                  "lightgcl", "ncl")
"""The objectives that take ``nce_precision``."""

NUM_NEGATIVES = {"bpr-hard": 4, "bpr-mixgcf": 64}
"""Candidate negatives per pair of the objectives that choose among several
(MixGCF's paper takes 16 to 64); every other objective gets one."""


def _objectives() -> dict[str, Callable[..., Any]]:
    """``name -> build(encoder, **extra)``, every objective at its defaults."""
    from graphcl_rec import augment, contrast, models

    return {
        "bpr": lambda enc, **kw: models.BPRRecommender(enc, **kw),
        "bpr-hard": lambda enc, **kw: models.BPRRecommender(enc, hard_negatives=True,
                                                            **kw),
        "sgl-ed": lambda enc, **kw: contrast.SGL(
            enc, augment=augment.EdgeDropout(p=0.1), **kw),
        "sgl-nd": lambda enc, **kw: contrast.SGL(
            enc, augment=augment.NodeDropout(p=0.1), **kw),
        "sgl-rw": lambda enc, **kw: contrast.SGL(
            enc, augment=augment.RandomWalk(per_layer=True), **kw),
        "sgl-ed-per-layer": lambda enc, **kw: contrast.SGL(
            enc, augment=augment.EdgeDropout(p=0.1, per_layer=True), **kw),
        "simgcl": lambda enc, **kw: contrast.SimGCL(enc, **kw),
        "xsimgcl": lambda enc, **kw: contrast.XSimGCL(enc, **kw),
        "moco": lambda enc, **kw: contrast.MoCo(enc, augment=augment.EdgeDropout(p=0.1),
                                                **kw),
        "byol": lambda enc, **kw: contrast.BYOL(enc, augment=augment.EdgeDropout(p=0.1),
                                                **kw),
        "bpr-mixgcf": lambda enc, **kw: models.BPRRecommender(
            enc, hard_negatives="mixgcf", **kw),
        "directau": lambda enc, **kw: contrast.DirectAU(enc, **kw),
        "lightgcl": lambda enc, **kw: contrast.LightGCL(enc, **kw),
        "ncl": lambda enc, **kw: contrast.NCL(enc, **kw),
    }


OBJECTIVES = ("bpr", "bpr-hard", "sgl-ed", "sgl-nd", "sgl-rw", "sgl-ed-per-layer",
              "simgcl", "xsimgcl", "moco", "byol", "bpr-mixgcf", "directau", "lightgcl",
              "ncl")


def parse_model(spec: str) -> tuple[str, str]:
    """``"sgl-ed" -> ("sgl-ed", "lightgcn")``; ``"bpr+mf" -> ("bpr", "mf")``."""
    spec = ALIASES.get(spec, spec)
    objective, _, encoder = spec.partition("+")
    encoder = encoder or "lightgcn"
    if objective not in OBJECTIVES or encoder not in ENCODERS:
        raise SystemExit(f"unknown model {spec!r}: OBJECTIVE[+ENCODER] with OBJECTIVE "
                         f"in {list(OBJECTIVES)} and ENCODER in {list(ENCODERS)} "
                         f"(aliases: {sorted(ALIASES)})")
    return objective, encoder


def build_model(objective: str, encoder: str, num_users: int, num_items: int,
                dim: int, layers: int, nce_precision: str | None = None,
                init: str | None = None, ssl_warmup: int | None = None):
    """The model, from the public constructors called with keyword arguments.

    ``init`` and ``ssl_warmup`` are passed only when given and only to constructors
    that take them, so that two revisions with different defaults can be timed
    with the same settings.
    """
    import inspect

    from graphcl_rec import models

    cls = {"mf": models.MF, "sgc": models.SGC}.get(encoder, models.LightGCN)
    kwargs: dict[str, Any] = {"dim": dim}
    if encoder != "mf":
        kwargs["num_layers"] = layers
    if init is not None:
        kwargs["init"] = init
    enc = cls(num_users, num_items, **kwargs)
    extra: dict[str, Any] = ({} if nce_precision in (None, "full")
                             else {"nce_precision": nce_precision})
    build = _objectives()[objective]
    model = build(enc, **extra)
    if ssl_warmup is not None and "ssl_warmup" in inspect.signature(
            type(model)).parameters:
        model = build(enc, ssl_warmup=ssl_warmup, **extra)
    return model


def past_warmups(model) -> None:
    """Advances NCL's epoch counter to its ``proto_warmup``, so that the next
    ``sample_views`` clusters the prototypes as every epoch after the warm-up does
    (models without the counter are left as they are)."""
    warmup = getattr(model, "proto_warmup", None)
    seen = getattr(model, "epochs_seen", None)
    if isinstance(warmup, int) and isinstance(seen, torch.Tensor):
        seen.fill_(warmup)


def pair_sampler(train, batch_size: int, mode: str, num_negatives: int = 1):
    """:class:`PairSampler` from ``graphcl_rec.data`` (or, in earlier revisions,
    ``graphcl_rec.data.sampling``, where it was not re-exported)."""
    try:
        from graphcl_rec.data import PairSampler
    except ImportError:
        from graphcl_rec.data.sampling import PairSampler
    return PairSampler(train, batch_size=batch_size, mode=mode,
                       num_negatives=num_negatives)


def variants(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every ``model x sampler x nce_precision`` asked for (precisions only where
    the objective takes one)."""
    out = []
    for spec in args.models:
        objective, encoder = parse_model(spec)
        for sampler in args.samplers:
            precisions = args.nce_precision if objective in NCE_OBJECTIVES else ["full"]
            for precision in dict.fromkeys(precisions):
                label = spec
                if len(args.samplers) > 1:
                    label += f" [{sampler}]"
                if precision != "full":
                    label += f" [{precision}]"
                out.append({"label": label, "model": spec, "objective": objective,
                            "encoder": encoder, "sampler": sampler,
                            "nce_precision": precision})
    return out


def shared_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=csv(), default=["ml-100k"],
                   help="ml-100k, gowalla, yelp2018, toy, synthetic or "
                        "synthetic:USERS:ITEMS:PAIRS (comma-separated for several)")
    p.add_argument("--models", type=csv(), default=["lightgcn", "sgl-ed"],
                   help="OBJECTIVE[+ENCODER], comma-separated; objectives: "
                        + ", ".join(OBJECTIVES) + "; encoders: " + ", ".join(ENCODERS)
                        + " (default lightgcn)")
    p.add_argument("--samplers", type=csv(), default=["user"],
                   help="epoch semantics: user and/or interaction")
    p.add_argument("--nce-precision", type=csv(), default=["full"],
                   help="full and/or bfloat16: InfoNCE product precision "
                        "(one variant each, for the objectives that take it)")
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=None,
                   help="encoder init (default: the library's); passed only when set")
    p.add_argument("--ssl-warmup", type=int, default=None,
                   help="ssl_warmup of the objectives that take it (default: the "
                        "library's); passed only when set")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    doc = __doc__.split("\n\n")
    p = sub.add_parser("step", help="seconds per training step (loss, backward, Adam)",
                       description="\n\n".join(doc[1:2] + doc[3:]))
    common_options(p)
    shared_options(p)
    p.add_argument("--steps", type=int, default=5, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds; the variants alternate within each")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per variant")
    p.add_argument("--backend", default="torch", choices=["torch", "torch_sparse"],
                   help="the training adjacency's propagation backend")
    p.add_argument("--profile", action="store_true",
                   help="then profile --steps steps of each variant (torch.profiler)")
    p.add_argument("--profile-rows", type=int, default=25)
    p.add_argument("--syncs", action="store_true",
                   help="list one step's host-device synchronisations (CUDA)")
    p.add_argument("--rss", action="store_true",
                   help="record resident memory after loading and at the end "
                        "(used by the memory subcommand)")
    p.add_argument("--allocator", choices=["system", "held"], default="system",
                   help="held: call graphcl_rec.train.hold_freed_memory() first, as "
                        "the graphcl-rec training commands do (used by the "
                        "allocator subcommand)")
    p.set_defaults(func=run_step)

    p = sub.add_parser("epoch", help="seconds per epoch through graphcl_rec.Trainer",
                       description=doc[2])
    common_options(p)
    shared_options(p)
    p.add_argument("--epochs", type=int, default=1, help="timed epochs per variant")
    p.add_argument("--warmup-epochs", type=int, default=0,
                   help="epochs trained first and left out of the figures")
    p.add_argument("--lr", type=float, default=1e-3)
    p.set_defaults(func=run_epoch)


class Stepper:
    """One variant's model, optimiser, views and pre-drawn batches."""

    def __init__(self, v: dict[str, Any], train, adj, args, device) -> None:
        self.v = v
        torch.manual_seed(args.seed)  # the same initial weights for every variant
        self.model = build_model(v["objective"], v["encoder"], train.num_users,
                                 train.num_items, args.dim, args.layers,
                                 v["nce_precision"], args.init,
                                 args.ssl_warmup).to(device)
        self.model.train()
        self.device = device
        self.adjs = [adj] * int(self.model.encoder.num_layers)
        self.gen = torch.Generator(device=device).manual_seed(args.seed)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(params, lr=1e-3,
                                    fused=device.type in ("cpu", "cuda"))
        negatives = NUM_NEGATIVES.get(v["objective"], 1)
        sampler = pair_sampler(train, args.batch_size, v["sampler"], negatives)
        past_warmups(self.model)
        sync(device)
        t0 = time.perf_counter()
        self.views = self.model.sample_views(train, self.gen)
        sync(device)
        t1 = time.perf_counter()
        self.batches = list(sampler.epoch(self.gen))
        sync(device)
        self.views_s, self.sample_s = t1 - t0, time.perf_counter() - t1
        self.next, self.first_loss = 0, None

    def step(self) -> None:
        batch = self.batches[self.next % len(self.batches)]
        self.next += 1
        out = self.model.loss(batch, self.adjs, self.views, self.gen)
        self.opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        self.opt.step()
        on_step_end = getattr(self.model, "on_step_end", None)
        if on_step_end is not None:
            on_step_end()
        if self.first_loss is None:
            self.first_loss = float(out["loss"].detach())

    def run(self, n: int) -> float:
        """Seconds per step over ``n`` steps."""
        sync(self.device)
        t0 = time.perf_counter()
        for _ in range(n):
            self.step()
        sync(self.device)
        return (time.perf_counter() - t0) / max(n, 1)


def _adjacency(train, backend: str):
    from graphcl_rec import graph

    adj = graph.adjacency(train)
    return adj if backend == "torch" else graph.to_backend(adj, backend)


def run_step(args: argparse.Namespace) -> Result:
    if args.allocator == "held":
        from graphcl_rec.train.allocator import hold_freed_memory

        hold_freed_memory()
    device = resolve_device(args.device)
    result = Result("step", args, device, native=device.type == "cpu")
    todo = variants(args)
    for name in args.dataset:
        train, _ = load_split(name, args.seed)
        train = train.to(device)
        rss_data = peak_rss_mb()
        adj = _adjacency(train, args.backend)
        print(f"\n## {dataset_line(name, train)}; batch {args.batch_size}, "
              f"{args.rounds} rounds of {args.steps} steps after {args.warmup} "
              f"warm-up step(s)", flush=True)
        steppers = {v["label"]: Stepper(v, train, adj, args, device) for v in todo}
        for s in steppers.values():
            s.run(args.warmup)
        times: dict[str, list[float]] = {label: [] for label in steppers}
        for _, label in alternate(list(steppers), args.rounds):
            times[label].append(steppers[label].run(args.steps))
        for label, s in steppers.items():
            stats = summary(times[label])
            epoch = s.views_s + s.sample_s + stats["median"] * len(s.batches)
            print(f"{label:28s} {stats['median'] * 1e3:9.2f} ms/step median "
                  f"(min {stats['min'] * 1e3:.2f}); views {s.views_s:.3f} s, "
                  f"batches {s.sample_s:.3f} s; {len(s.batches)} batches/epoch -> "
                  f"~{epoch:.2f} s/epoch", flush=True)
            result.figure(f"{name} {label} s/step", stats["median"], "s")
            result.figure(f"{name} {label} s/epoch (estimate)", epoch, "s")
            row = {"dataset": name, **s.v, "step_s": times[label], **stats,
                   "views_s": s.views_s, "sample_s": s.sample_s,
                   "batches": len(s.batches), "epoch_estimate_s": epoch,
                   "first_loss": s.first_loss}
            if args.rss:
                row.update(rss_after_data_mb=rss_data, peak_rss_mb=peak_rss_mb())
                if device.type == "cuda":
                    peak = torch.cuda.max_memory_allocated(device)
                    row["cuda_peak_mb"] = peak / 2**20
            result.rows.append(row)
        if args.syncs and device.type == "cuda":
            for s in steppers.values():
                _syncs(s)
        if args.profile:
            for s in steppers.values():
                _profile(s, args.steps, args.profile_rows)
        del steppers
    return result


def _syncs(s: Stepper) -> None:
    import collections
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        s.step()
        torch.cuda.set_sync_debug_mode("default")
    sites = collections.Counter(f"{w.filename}:{w.lineno}" for w in caught
                                if "synchroniz" in str(w.message))
    print(f"{s.v['label']}: {sum(sites.values())} host-device synchronisations in "
          f"one step")
    for site, n in sites.most_common():
        print(f"  {n} x {site}")


def _profile(s: Stepper, steps: int, rows: int) -> None:
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    cuda = s.device.type == "cuda"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as prof:
        per_step = s.run(steps)
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    print(f"\n{s.v['label']}: {per_step * 1e3:.2f} ms/step under the profiler, "
          f"{steps} steps")
    print(prof.key_averages().table(sort_by=key, row_limit=rows))
    if cuda:
        # Kernels, copies and memsets only: an operator's row repeats its kernels'.
        kernel = sum(e.self_device_time_total for e in prof.key_averages()
                     if e.device_type == DeviceType.CUDA) / 1e3 / steps
        print(f"summed device time {kernel:.2f} ms/step against {per_step * 1e3:.2f} "
              f"ms/step wall-clock under the profiler")


def run_epoch(args: argparse.Namespace) -> Result:
    import graphcl_rec as gr

    device = resolve_device(args.device)
    result = Result("epoch", args, device, native=device.type == "cpu")
    for name in args.dataset:
        train, _ = load_split(name, args.seed)
        print(f"\n## {dataset_line(name, train)}; batch {args.batch_size}, "
              f"{args.warmup_epochs} + {args.epochs} epochs per variant", flush=True)
        for v in variants(args):
            model = build_model(v["objective"], v["encoder"], train.num_users,
                                train.num_items, args.dim, args.layers,
                                v["nce_precision"], args.init, args.ssl_warmup)
            trainer = gr.Trainer(
                epochs=args.warmup_epochs + args.epochs, batch_size=args.batch_size,
                lr=args.lr, sampler=v["sampler"],
                num_negatives=NUM_NEGATIVES.get(v["objective"], 1),
                device=str(device), seed=args.seed, progress=False,
                reset_parameters=True)
            history = trainer.fit(model, train, None)
            epochs = [r["train_seconds"] for r in history.records][args.warmup_epochs:]
            stats = summary(epochs)
            print(f"{v['label']:28s} {stats['median']:9.3f} s/epoch median "
                  f"(min {stats['min']:.3f}, {len(epochs)} epochs); peak "
                  f"{history.peak_memory_mb:.0f} MB", flush=True)
            result.figure(f"{name} {v['label']} s/epoch", stats["median"], "s")
            result.rows.append({"dataset": name, **v, "epoch_s": epochs, **stats,
                                "loss": [r.get("loss") for r in history.records],
                                "peak_memory_mb": history.peak_memory_mb})
    return result
