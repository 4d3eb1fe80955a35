import ctypes

import pytest
import torch

from graphcl_rec import native
from graphcl_rec.eval.blocks import item_slabs
from graphcl_rec.native.build import _host
from graphcl_rec.native.topk import topk_dot
from tests.native.conftest import AVX2, BUILDS, PORTABLE


def dense_reference(rows, items, mask, k):
    scores = (rows.double() @ items.double().T).masked_fill(mask, float("-inf"))
    return scores, torch.topk(scores, k, dim=1).values


def run(rows, items, mask, k, threads=2, flags=native.FLAGS):
    num_items = items.size(0)
    width = -(-num_items // 64) * 64
    slabs = item_slabs(torch.cat([items, items.new_zeros(width - num_items,
                                                         items.size(1))]))
    r, i = mask.nonzero(as_tuple=True)  # row-major: items ascending per row
    ptr = torch.searchsorted(r, torch.arange(rows.size(0) + 1))
    return topk_dot(rows, slabs, num_items, k, ptr, i, threads, flags)


@pytest.mark.parametrize("flags", BUILDS)
@pytest.mark.parametrize(
    ("n", "num_items", "dim", "k"),
    [(1, 1, 1, 1), (5, 63, 7, 5), (7, 65, 64, 20), (97, 200, 16, 200),
     (200, 1000, 64, 20), (13, 700, 3, 50), (900, 70, 4, 3)],  # 900: 3 chunks
)
def test_native_topk_matches_dense_masked_topk(kernel, flags, n, num_items, dim, k):
    gen = torch.Generator().manual_seed(n * 1000 + num_items)
    rows = torch.randn(n, dim, generator=gen)
    items = torch.randn(num_items, dim, generator=gen)
    mask = torch.rand(n, num_items, generator=gen) < 0.3
    if n > 2:
        mask[1] = True  # nothing rankable
        mask[2] = True
        mask[2, [0, num_items - 1]] = False  # the first and last items only
    values, indices = run(rows, items, mask, k, flags=flags)
    scores, ref = dense_reference(rows, items, mask, k)
    assert values.shape == indices.shape == (n, k)
    assert torch.equal(values > float("-inf"), ref > float("-inf"))
    finite = values > float("-inf")
    torch.testing.assert_close(values[finite].double(), ref[finite], rtol=1e-5,
                               atol=1e-5)
    torch.testing.assert_close(scores.gather(1, indices)[finite], ref[finite],
                               rtol=1e-5, atol=1e-5)
    assert not mask.gather(1, indices)[finite].any()
    assert bool((indices[~finite] == 0).all()) and int(indices.max()) < num_items
    for row, fin in zip(indices, finite):
        assert row[fin].unique().numel() == int(fin.sum())  # no item twice


def test_native_topk_keeps_the_lower_index_first_among_ties(kernel):
    gen = torch.Generator().manual_seed(0)
    items, rows = torch.randn(300, 8, generator=gen), torch.randn(1, 8, generator=gen)
    items[3] = items[250] = rows[0] * 5  # two equal top scores
    values, indices = run(rows, items, torch.zeros(1, 300, dtype=torch.bool), 2)
    assert indices.tolist() == [[3, 250]] and values[0, 0] == values[0, 1]


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_native_topk_is_the_same_for_any_thread_count(kernel, threads):
    gen = torch.Generator().manual_seed(5)
    rows = torch.randn(10, 16, generator=gen)
    items = torch.randn(500, 16, generator=gen)
    mask = torch.rand(10, 500, generator=gen) < 0.5
    one = run(rows, items, mask, 20, threads=1)
    many = run(rows, items, mask, 20, threads=threads)
    assert torch.equal(one[0], many[0]) and torch.equal(one[1], many[1])


def test_each_build_reports_the_micro_kernels_it_has(kernel, monkeypatch):
    import graphcl_rec.native.build as build

    flags = f" {_host()} "
    portable = native.load(PORTABLE)
    assert portable.native_simd() == 0
    assert isinstance(portable, ctypes.CDLL)
    if " avx512f " in flags:
        assert native.load().native_simd() == 512
        assert native.status() == (True, "avx512")
    if " avx2 " in flags and " fma " in flags:
        assert native.load(AVX2).native_simd() == 256
        monkeypatch.setattr(build, "FLAGS", AVX2)  # as on a host without AVX-512
        monkeypatch.setattr(build.load, "__defaults__", (AVX2,))
        assert native.status() == (True, "avx2")
    monkeypatch.setattr(build.load, "__defaults__", (PORTABLE,))
    ok, why = native.status()
    assert not ok and "without SIMD" in why


def test_native_topk_refuses_bad_arguments(kernel):
    rows, items = torch.randn(2, 4), torch.randn(64, 4)
    slabs = item_slabs(items)
    ptr = torch.zeros(3, dtype=torch.long)
    none = torch.zeros(0, dtype=torch.long)
    with pytest.raises(ValueError, match="float32 tensors.*'rows' of torch.float64"):
        topk_dot(rows.double(), slabs.double(), 64, 1, ptr, none)
    with pytest.raises(ValueError, match="do not fit"):
        topk_dot(rows, slabs, 65, 1, ptr, none)
    with pytest.raises(ValueError, match="'k'"):
        topk_dot(rows, slabs, 64, 65, ptr, none)
    with pytest.raises(ValueError, match=r"'ex_ptr' must have shape \[3\]"):
        topk_dot(rows, slabs, 64, 1, ptr[:2], none)
    with pytest.raises(ValueError, match="'ex_ptr' must rise"):
        topk_dot(rows, slabs, 64, 1, torch.tensor([0, 2, 1]), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="'ex_ptr' must rise"):
        topk_dot(rows, slabs, 64, 1, torch.tensor([0, 1, 3]), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"excluded items must lie in \[0, 64\)"):
        topk_dot(rows, slabs, 64, 1, torch.tensor([0, 1, 2]), torch.tensor([1, 64]))


def test_disabled_or_missing_compiler_is_reported_and_auto_falls_back(
        monkeypatch, tmp_path):
    from graphcl_rec.eval.blocks import auto_ranker

    monkeypatch.setenv("GRAPHCL_REC_NATIVE", "0")
    assert native.status() == (False, "disabled by GRAPHCL_REC_NATIVE=0")
    emb = torch.randn(3, 4)
    assert auto_ranker(emb, emb, 5) == "group-major"
    monkeypatch.setenv("GRAPHCL_REC_NATIVE", "1")
    monkeypatch.setenv("GRAPHCL_REC_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.raises(native.NativeUnavailable, match="no C compiler found"):
        native.load()
    ok, why = native.status()
    assert not ok and "no-such-compiler-here" in why
    assert auto_ranker(emb, emb, 5) == "group-major"


def test_an_unwritable_cache_makes_the_kernels_unavailable_not_an_error(
        monkeypatch, tmp_path):
    from graphcl_rec.eval.blocks import auto_ranker

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("GRAPHCL_REC_NATIVE", "1")
    monkeypatch.setenv("GRAPHCL_REC_CACHE", str(blocker))
    ok, why = native.status()
    assert not ok and "cannot build" in why
    emb = torch.randn(3, 4)
    assert auto_ranker(emb, emb, 5) == "group-major"


def test_a_compiler_that_hangs_is_given_up_on(monkeypatch, tmp_path):
    import graphcl_rec.native.build as build

    slow = tmp_path / "slow-cc"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setenv("GRAPHCL_REC_NATIVE", "1")
    monkeypatch.setenv("CC", str(slow))
    monkeypatch.setenv("GRAPHCL_REC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(build, "COMPILE_TIMEOUT_S", 0.5)
    with pytest.raises(native.NativeUnavailable, match="took over 0.5 s"):
        native.load()
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_failing_compile_names_the_compiler_and_its_message(
        kernel, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHCL_REC_CACHE", str(tmp_path))
    with pytest.raises(native.NativeUnavailable, match="failed"):
        native.load(("-O2", "-shared", "-fPIC", "--no-such-flag"))
    assert list(tmp_path.iterdir()) == []  # no half-written library left behind


def test_auto_picks_native_only_for_float32_cpu_and_small_k(kernel):
    from graphcl_rec.eval.blocks import NATIVE_MAX_K, auto_ranker

    emb = torch.randn(3, 4)
    expected = "native" if native.status()[0] else "group-major"
    assert auto_ranker(emb, emb, 20) == expected
    assert auto_ranker(emb, emb, NATIVE_MAX_K + 1) == "group-major"
    assert auto_ranker(emb.double(), emb.double(), 20) == "group-major"


def test_native_blocks_are_the_same_however_many_calls_make_them(kernel,
                                                                 monkeypatch):
    import graphcl_rec.eval.blocks as blocks

    gen = torch.Generator().manual_seed(9)
    user_emb = torch.randn(40, 8, generator=gen)
    item_emb = torch.randn(300, 8, generator=gen)
    users = torch.arange(0, 40, 3)
    keys = torch.unique(torch.randint(0, 40 * 300, (2000,), generator=gen))

    def ranked() -> list:
        return list(blocks.topk_blocks(user_emb, item_emb, users, keys, 10, 3,
                                       "native"))

    one_call = ranked()
    monkeypatch.setattr(blocks, "NATIVE_ROWS", 5)  # 3 users per call
    many_calls = ranked()
    assert [s for s, _, _ in many_calls] == [s for s, _, _ in one_call]
    assert [s for s, _, _ in one_call] == list(range(0, users.numel(), 3))
    for (_, v1, i1), (_, v2, i2) in zip(one_call, many_calls):
        assert torch.equal(v1, v2) and torch.equal(i1, i2)
