"""``docs/scale.md``: the scale and ddp results files made into a page."""

import json

import pytest

from benchmarks.docs_pages import scale_page

META = {"date": "2026-01-02T03:04:05+00:00", "revision": "abc1234", "host": "vm",
        "cpu": "cpu", "cpus": 2, "threads": 1, "argv": ["scale"], "device": "cpu",
        "load_average": [1.0]}


def point(pairs, users, items, what, mb, **extra):
    return {"pairs": pairs, "target_pairs": pairs, "users": users, "items": items,
            "what": what, "seconds": pairs / 1000, "rss_before_data_mb": 100.0,
            "rss_after_data_mb": 110.0, "peak_rss_mb": 100.0 + mb, **extra}


def per_mb(nodes, pairs, per_node=1000.0, per_pair=100.0):
    return (per_node * nodes + per_pair * pairs) / 2**20


@pytest.fixture
def root(tmp_path):
    (tmp_path / "mkdocs.yml").write_text("repo_url: https://example.org/r\n")
    folder = tmp_path / scale_page.FOLDER
    folder.mkdir(parents=True)
    for fit, sizes in (("gowalla", [(10_000, 400, 600), (40_000, 1600, 2400)]),
                       ("yelp2018", [(10_000, 250, 150), (40_000, 1000, 600)])):
        rows = [{"fit": fit}]
        for p, u, i in sizes:
            rows.append(point(p, u, i, "lightgcn", per_mb(u + i, p),
                              step_seconds=p / 1e6, batches=5, estimated=True,
                              spmm_ns_per_nnz=20.0))
            rows.append(point(p, u, i, "eval", 1.0, ranked_users=10, test_users=40,
                              estimated=True))
        rows.append({**point(90_000, 1, 1, "lightgcn", 0),
                     "failed": "child failed (-9)"})
        (folder / f"{fit}.json").write_text(json.dumps(
            {"subcommand": "scale", "args": {"fit": fit}, "meta": META, "rows": rows}))
    ddp = {"variant": "2 proc x 1 thread", "nproc": 2, "threads_per_proc": 1,
           "batch_per_proc": 2048, "global_batch": 4096, "median": 30.0, "min": 29.0,
           "n": 3, "speedup": 1.25, "wall_median_s": 50.0, "name": "lightgcn_gowalla"}
    (folder / "ddp.json").write_text(json.dumps(
        {"subcommand": "ddp", "args": {}, "meta": META, "rows": [ddp]}))
    return tmp_path


def test_page_tables_exponents_memory_fit_and_ddp(root):
    page = scale_page.build(root)
    text = page.text
    assert "## Degrees fitted to gowalla" in text
    assert "## Degrees fitted to yelp2018" in text
    assert "| 10,000 | 400 | 600 | 0.01 | 10 (est.) |" in text
    assert "(est. from 10 of 40 users)" in text and "| failed |" in text
    assert "lightgcn: time per step grows as pairs^1.00" in text
    # Two datasets' node/interaction ratios separate the two costs exactly here.
    assert "lightgcn: 1,000 bytes per node" in text
    assert "100 bytes per interaction" in text
    assert ("| 2 proc x 1 thread | 2 | 1 | 2048 | 4096 | 30.00 | 29.00 | 3 | 1.25 "
            "| 50 |") in text
    assert page.figures == [scale_page.FIGURE]
    page.draw(root)
    assert (root / scale_page.FIGURE).stat().st_size > 0


def test_memory_model_needs_two_ratios():
    rows = [point(p, p // 10, p // 10, "lightgcn", per_mb(p // 5, p))
            for p in (1000, 4000)]
    assert scale_page.memory_model(rows) is None
    assert scale_page.memory_model(rows[:1]) is None


def test_no_files_no_figure(tmp_path):
    (tmp_path / "mkdocs.yml").write_text("repo_url: https://example.org/r\n")
    page = scale_page.build(tmp_path)
    assert "No scale results yet." in page.text and page.figures == []
