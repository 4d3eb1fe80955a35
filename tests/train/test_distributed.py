"""Data-parallel training: 2 CPU processes (gloo) against 1 process.

One spawn of two processes runs every multi-process scenario (module fixture);
the tests compare what they saved with single-process runs made here.

Why 2 processes differ from 1 at all: the global batch is the same and so is the
gradient, a mean over its triples, but it is summed in two halves and then averaged:
floating-point reordering, ~1e-7 relative (the gradient tolerance). Adam then
divides by ``sqrt(v) + eps``: in its first steps, while ``v`` is tiny, a rounding
difference ``d`` of a near-zero gradient moves a weight by up to ``lr * d / eps``
(0.01 * 1e-10 / 1e-8 = 1e-4 here), hence the weight tolerance ``TOL``: 1 % of
one step of ``lr``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from graphcl_rec.augment import EdgeDropout
from graphcl_rec.cli.main import main
from graphcl_rec.contrast import SGL
from graphcl_rec.data import random_split
from graphcl_rec.data.sampling import Batch, PairSampler
from graphcl_rec.eval import evaluate_embeddings
from graphcl_rec.eval.sharded import evaluate_sharded
from graphcl_rec.graph import adjacency
from graphcl_rec.models import BPRRecommender, LightGCN
from graphcl_rec.train import Trainer
from graphcl_rec.train.ddp import DataParallelFit
from graphcl_rec.train.distributed import Group, all_reduce_sum, launched
from tests.cli.conftest import write_config
from tests.conftest import random_interactions

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not built into this torch")

WORLD = 2
USERS, ITEMS = 60, 40
TOL = 1e-4


def _data() -> tuple[Any, Any]:
    inter = random_interactions(USERS, ITEMS, 900, seed=0)
    return random_split(inter, ratios=(0.8, 0.2), seed=0)


def _model(objective: str) -> torch.nn.Module:
    torch.manual_seed(0)
    encoder = LightGCN(USERS, ITEMS, dim=8, num_layers=2)
    if objective == "sgl":
        return SGL(encoder, augment=EdgeDropout(0.2), ssl_warmup=0)
    return BPRRecommender(encoder)


def _trainer(epochs: int, batch_size: int = 70, **kwargs: Any) -> Trainer:
    # 720 pairs in global batches of 70: a last batch of 20, which with 2 processes
    # of 35 leaves the second without a batch; eval blocks of 7 users: several
    # blocks per process.
    return Trainer(epochs=epochs, batch_size=batch_size, lr=0.01, k=[5, 10],
                   device="cpu", progress=False, reset_parameters=True,
                   eval_batch_size=7, sampler="interaction", **kwargs)


def _fit(objective: str, epochs: int, batch_size: int = 70, **kwargs: Any
         ) -> dict[str, Any]:
    train, val = _data()
    model = _model(objective)
    resume = kwargs.pop("resume", False)
    hist = _trainer(epochs, batch_size, **kwargs).fit(model, train, val,
                                                      resume=resume)
    return {"state": {k: v.clone() for k, v in model.state_dict().items()},
            "records": hist.records}


def _embeddings() -> tuple[torch.Tensor, torch.Tensor, Any, Any]:
    g = torch.Generator().manual_seed(1)
    train, val = _data()
    return (torch.randn(USERS, 8, generator=g), torch.randn(ITEMS, 8, generator=g),
            train, val)


def _gradients(group: Group | None = None, size: int = 70
               ) -> dict[str, torch.Tensor]:
    """Gradients of one global batch of ``size`` triples (data-parallel in ``group``).

    In ``group`` the batch is cut in batches of ``ceil(size / 2)``, one per
    process; with ``size=1`` the second process has none and runs one triple at
    weight 0.
    """
    train, _ = _data()
    model = _model("bpr")
    gen = torch.Generator().manual_seed(0)
    batch = next(PairSampler(train, size, mode="interaction").epoch(gen))
    adjs = [adjacency(train)] * model.encoder.num_layers
    if group is None:
        model.loss(batch, adjs, None, gen)["loss"].backward()
    else:
        fleet = DataParallelFit(model, group, seed=0)
        half = -(-size // WORLD)
        for part in fleet.batches(iter(Batch(*parts) for parts in zip(
                *(x.split(half) for x in batch)))):
            fleet.loss(part, adjs, None, gen)["loss"].backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def _worker(rank: int, port: int, tmp: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD),
                      GLOO_SOCKET_IFNAME="lo")  # not the host name's address
    torch.set_num_threads(1)
    root = Path(tmp)
    mine = root / f"rank{rank}"
    with launched("cpu") as group:
        assert group is not None and group.backend == "gloo"
        out: dict[str, Any] = {}
        out["grad"] = {size: _gradients(group, size) for size in (70, 1)}
        out["bpr"] = _fit("bpr", 2, 35, log_path=mine / "log.jsonl",
                          checkpoint_dir=mine / "ckpt")
        views: list[torch.Tensor] = []
        train, val = _data()
        model = _model("sgl")
        draw = model.sample_views

        def recorded(inter: Any, gen: torch.Generator) -> Any:
            pair = draw(inter, gen)
            views.append(torch.stack([v[0].to_dense() for v in pair]))
            return pair

        model.sample_views = recorded  # type: ignore[method-assign]
        hist = _trainer(2, 35).fit(model, train, val)
        out["sgl"] = {"views": views, "state": model.state_dict(),
                      "records": hist.records}
        out["resumed"] = _fit("bpr", 3, 35, resume=root / "single" / "ckpt",
                              checkpoint_dir=mine / "resumed")
        user_emb, item_emb, train, val = _embeddings()
        out["eval"] = [evaluate_sharded(
            user_emb, item_emb, val, exclude=train, k=[3, 10], batch_size=size,
            ranker=ranker, rank=group.rank, world_size=group.world_size,
            all_reduce=lambda t: all_reduce_sum(t, group))
            for size in (1, 5, 7, 1000) for ranker in ("native", "group-major")]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            out["cli"] = main(["train", str(root / "tiny.toml"), "--out",
                               str(root / "cli"), "--no-progress", "--nproc", "2"])
        out["cli_printed"] = printed.getvalue()
        torch.save(out, root / f"out{rank}.pt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(tmp: Path, tries: int = 2) -> None:
    """Runs :func:`_worker` in ``WORLD`` processes; once more if one was killed.

    Gloo's TCP transport can abort a process (SIGABRT from a C++ thread, e.g. a
    peer's address lookup or a port taken between :func:`_free_port` and the
    store's bind) before any of this library's code runs. Such a death is
    retried once on a fresh port; a worker that raises (a failed assertion, a
    wrong value) exits with a status instead of a signal and is never retried.
    """
    for attempt in range(tries):
        for name in [f"rank{r}" for r in range(WORLD)] + ["cli"]:
            shutil.rmtree(tmp / name, ignore_errors=True)
        try:
            mp.spawn(_worker, args=(_free_port(), str(tmp)), nprocs=WORLD, join=True)
            return
        except mp.ProcessExitedException as err:
            if err.signal_name is None or attempt == tries - 1:
                raise
            print(f"2-process spawn retried: {err}", file=sys.stderr)


@pytest.fixture(scope="module")
def spawned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Single-process references, then one spawn of the 2-process scenarios."""
    tmp = tmp_path_factory.mktemp("ddp")
    ratings = tmp / "ratings.tsv"
    ratings.write_text("user\titem\trating\n" + "".join(
        f"u{u}\ti{i}\t5\n" for u in range(30) for i in range(u % 7, 40, 3)))
    write_config(tmp, ratings, epochs=2)
    assert main(["train", str(tmp / "tiny.toml"), "--out", str(tmp / "cli1"),
                 "--no-progress", "--train.batch_size=128"]) == 0  # 2 x 64
    single = {"two": _fit("bpr", 2, checkpoint_dir=tmp / "single" / "ckpt"),
              "three": _fit("bpr", 3),
              "sgl": _fit("sgl", 2)}
    _spawn(tmp)
    ranks = [torch.load(tmp / f"out{r}.pt", weights_only=False) for r in range(WORLD)]
    return {"tmp": tmp, "single": single, "ranks": ranks}


def _close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=TOL, msg=key)


@pytest.mark.parametrize("size", [70, 1])
def test_two_processes_give_one_process_gradient_of_the_global_batch(spawned, size):
    one = _gradients(size=size)
    for rank in spawned["ranks"]:
        grad = rank["grad"][size]
        assert grad.keys() == one.keys()
        for key in one:
            torch.testing.assert_close(grad[key], one[key], rtol=1e-5, atol=1e-9,
                                       msg=key)


def test_two_processes_train_like_one_with_the_same_global_batch(spawned):
    one, two = spawned["single"]["two"], spawned["ranks"][0]["bpr"]
    _close(two["state"], one["state"])
    other = spawned["ranks"][1]["bpr"]["state"]
    assert all(torch.equal(other[k], v) for k, v in two["state"].items())
    for r1, r2 in zip(one["records"], two["records"]):
        assert r2["loss"] == pytest.approx(r1["loss"], rel=1e-5)
        assert r2["val"] == pytest.approx(r1["val"], abs=1e-6)
    assert len(two["records"]) == 2


def test_every_process_sees_the_same_views_and_weights(spawned):
    first, second = (r["sgl"] for r in spawned["ranks"])
    assert len(first["views"]) == 2
    for a, b in zip(first["views"], second["views"]):
        assert torch.equal(a, b)
        assert not torch.equal(a[0], a[1])  # two different views
    for key in first["state"]:
        assert torch.equal(first["state"][key], second["state"][key])
    # InfoNCE over each half's unique nodes is not the whole batch's: close only.
    for r1, r2 in zip(spawned["single"]["sgl"]["records"], first["records"]):
        assert r2["loss"] == pytest.approx(r1["loss"], rel=0.1)


def test_distributed_evaluation_equals_one_process_exactly(spawned):
    user_emb, item_emb, train, val = _embeddings()
    expected = [evaluate_embeddings(user_emb, item_emb, val, exclude=train, k=[3, 10],
                                    batch_size=size, ranker=ranker)
                for size in (1, 5, 7, 1000) for ranker in ("native", "group-major")]
    for rank in spawned["ranks"]:
        assert rank["eval"] == expected


def test_only_rank_zero_writes_files(spawned):
    tmp = spawned["tmp"]
    assert (tmp / "rank0" / "log.jsonl").is_file()
    assert (tmp / "rank0" / "ckpt" / "last.pt").is_file()
    assert (tmp / "rank0" / "resumed" / "last.pt").is_file()
    assert not (tmp / "rank1").exists()


def test_a_two_process_checkpoint_resumes_in_one_process(spawned):
    tmp = spawned["tmp"]
    resumed = _fit("bpr", 3, resume=tmp / "rank0" / "ckpt")
    assert len(resumed["records"]) == 3
    _close(resumed["state"], spawned["single"]["three"]["state"])


def test_a_one_process_checkpoint_resumes_in_two_processes(spawned):
    for rank in spawned["ranks"]:
        assert len(rank["resumed"]["records"]) == 3
        _close(rank["resumed"]["state"], spawned["single"]["three"]["state"])


def test_train_command_under_torchrun_trains_like_one_process(spawned):
    tmp = spawned["tmp"]
    first, second = spawned["ranks"]
    assert first["cli"] == second["cli"] == 0
    assert "tiny seed=3: test recall@20=" in first["cli_printed"]
    assert second["cli_printed"] == ""
    assert sorted(p.name for p in (tmp / "cli").iterdir()) == [
        "tiny-seed3", "tiny-seed3.epochs.jsonl", "tiny-seed3.json"]
    one = json.loads((tmp / "cli1" / "tiny-seed3.json").read_text())
    two = json.loads((tmp / "cli" / "tiny-seed3.json").read_text())
    assert two["test"] == pytest.approx(one["test"], abs=1e-6)
    for r1, r2 in zip(one["history"], two["history"], strict=True):
        assert r2["loss"] == pytest.approx(r1["loss"], rel=1e-5)
