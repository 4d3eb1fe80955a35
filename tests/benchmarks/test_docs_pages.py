"""``python -m benchmarks.docs_pages`` on a small repository of real results files."""

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.docs_pages.__main__ import FIGURES, build_pages, main, stale, write

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
README = "# x\n\nbefore\n\n<!-- results:start -->\nold\n<!-- results:end -->\n\nafter\n"


def uniformity_record() -> dict:
    circle = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.1], [0.2, -1.0], [0.7, 0.7]]
    row = {"model": "LightGCN", "best_epoch": 3, "epochs_run": 5, "train_seconds": 1.0,
           "test": {"recall@20": 0.25, "ndcg@20": 0.125}, "uniformity_user": -1.5,
           "uniformity_item": -2.5, "alignment_train": 0.5, "alignment_test": 0.75,
           "tsne_user": circle, "tsne_item": circle}
    return {"subcommand": "uniformity", "args": {"epochs": 5, "patience": 2},
            "meta": {"date": "2026-01-02T03:04:05+00:00", "revision": "abc1234",
                     "argv": ["uniformity"], "dataset": {"name": "tiny"}},
            "figures": {}, "rows": [row]}


@pytest.fixture
def repo(tmp_path):
    """mkdocs.yml, PERF.md, a README, two results files, a robustness side."""
    (tmp_path / "mkdocs.yml").write_text("repo_url: https://example.org/r\n")
    (tmp_path / "README.md").write_text(README)
    bench = tmp_path / "benchmarks"
    (bench / "results" / "uniformity").mkdir(parents=True)
    (bench / "PERF.md").write_text("# Perf\n\n## Table\n\n[runner](README.md)\n")
    for name in ("xsimgcl_yelp2018-legacy-seed0.json", "ml100k/ml-100k-mf-seed0.json"):
        shutil.copy(RESULTS / name, bench / "results" / Path(name).name)
    side = bench / "results" / "robustness" / "suite" / "after-xavier" / "ml-100k"
    side.mkdir(parents=True)
    for model in ("popularity", "lightgcn", "sgl"):
        suite = RESULTS / "robustness/suite/after-xavier/ml-100k"
        shutil.copy(suite / f"{model}-seed0.json", side)
    (bench / "results" / "uniformity" / "tiny.json").write_text(
        json.dumps(uniformity_record()))
    return tmp_path


def test_pages_tables_and_figures_come_from_the_files(repo):
    pages = build_pages(repo)
    assert stale(pages, repo)  # nothing written yet
    write(pages, repo)
    assert stale(build_pages(repo), repo) == []
    results = (repo / "docs/results.md").read_text()
    run = json.loads((RESULTS / "xsimgcl_yelp2018-legacy-seed0.json").read_text())
    assert f"{run['test']['recall@20']:.4f}" in results
    assert "https://example.org/r/blob/main/benchmarks/results/" in results
    readme = (repo / "README.md").read_text()
    assert readme.startswith("# x\n\nbefore\n") and readme.endswith("\n\nafter\n")
    assert "| yelp2018 | xsimgcl_yelp2018 | legacy |" in readme and "old" not in readme
    assert "ml-100k-mf" not in readme  # no published figure, so not in the README
    perf = (repo / "docs/performance.md").read_text()
    assert "### Table" in perf and "(https://example.org/r/blob/main/benchmarks/" \
                                   "README.md)" in perf
    robust = (repo / "docs/robustness.md").read_text()
    assert "| ml-100k | sgl |" in robust and "**after-xavier**" in robust
    uniformity = (repo / "docs/uniformity.md").read_text()
    assert "| LightGCN | 3 / 5 | 0.2500 | 0.1250 | -1.500 | -2.500 |" in uniformity
    figures = sorted(p.name for p in (repo / FIGURES).iterdir())
    assert figures == sorted(f for page in pages for f in page.figures)
    assert "uniformity_tiny_users.png" in figures
    assert "curves_yelp2018_legacy.png" in figures


def test_check_fails_when_a_results_file_or_a_figure_changes(repo, capsys):
    write(build_pages(repo), repo, figures=False)
    problems = stale(build_pages(repo), repo)
    assert problems and all(p.endswith(": missing") for p in problems)
    write(build_pages(repo), repo)
    assert main(["--check", "--root", str(repo)]) == 0
    path = repo / "benchmarks/results/xsimgcl_yelp2018-legacy-seed0.json"
    run = json.loads(path.read_text())
    run["test"]["recall@20"] += 0.01
    path.write_text(json.dumps(run))
    assert main(["--check", "--root", str(repo)]) == 1
    err = capsys.readouterr().err
    assert "docs/results.md: not what the results files make now" in err
    assert "README.md: not what the results files make now" in err
    assert main(["--root", str(repo), "--no-figures"]) == 0
    (repo / FIGURES / "curves_ml-100k_validated.png").unlink()
    assert stale(build_pages(repo), repo) == [
        f"{FIGURES}/curves_ml-100k_validated.png: missing"]


def test_a_readme_without_its_markers_is_refused(repo):
    (repo / "README.md").write_text("# x\n")
    with pytest.raises(SystemExit, match="results:start"):
        build_pages(repo)


def test_the_repository_pages_name_every_results_file():
    pages = {p.path: p for p in build_pages(ROOT)}
    results = pages["docs/results.md"].text
    for path in RESULTS.rglob("*.json"):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "protocol" in data and "test" in data:
            assert f"/{path.relative_to(ROOT).as_posix()})" in results, path
