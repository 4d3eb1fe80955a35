"""``python -m benchmarks.run uniformity`` on toy data, and its figure."""

import json
import math

import pytest

from benchmarks.bench.uniformity_plot import caption, densities
from benchmarks.run import main

FAST = ["--dataset", "toy", "--epochs", "1", "--tsne-iter", "250", "--threads", "1"]


def test_writes_measures_coordinates_and_both_figures(tmp_path, capsys):
    out = tmp_path / "u.json"
    main(["uniformity", *FAST, "--models", "LightGCN,XSimGCL", "--json", str(out),
          "--figures", str(tmp_path / "fig")])
    printed = capsys.readouterr().out
    assert "LightGCN: best epoch" in printed and "uniformity users" in printed
    data = json.loads(out.read_text())
    assert data["subcommand"] == "uniformity"
    assert data["meta"]["dataset"] == {"name": "toy", "users": 64, "items": 96,
                                       "train": 574, "val": 60, "test": 166}
    assert [r["model"] for r in data["rows"]] == ["LightGCN", "XSimGCL"]
    for row in data["rows"]:
        assert len(row["tsne_user"]) == 64 and len(row["tsne_item"]) == 96
        assert all(len(p) == 2 for p in row["tsne_item"])
        assert -8.0 <= row["uniformity_user"] <= 0.0  # uniformity's range, t = 2
        assert 0.0 <= row["alignment_test"] <= 4.0  # alignment's range, alpha = 2
        assert row["epochs_run"] == 1 and 0 <= row["test"]["recall@20"] <= 1
    assert set(data["figures"]) == {f"{m} {k}" for m in ("LightGCN", "XSimGCL")
                                    for k in ("uniformity_user", "uniformity_item",
                                              "alignment_train", "alignment_test")}
    pngs = sorted(p.name for p in (tmp_path / "fig").iterdir())
    assert pngs == ["uniformity_toy_items.png", "uniformity_toy_users.png"]
    assert caption(data).startswith("toy; run ")


def test_no_figures_and_the_default_json_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["uniformity", *FAST, "--models", "SGL-ED", "--figures", "-"])
    written = sorted(p.relative_to(tmp_path).as_posix()
                     for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["benchmarks/results/uniformity/toy.json"]


def test_unknown_models_are_refused():
    with pytest.raises(SystemExit, match="not among"):
        main(["uniformity", *FAST, "--models", "LightGCN,MF", "--figures", "-",
              "--json", "/nonexistent/never.json"])


def test_densities_integrate_to_one_and_wrap_around():
    points = [[math.cos(a / 10), math.sin(a / 10)] for a in range(63)]  # a full circle
    plane, at, dens = densities(points)
    step = at[1] - at[0]
    assert float(dens.sum() * step) == pytest.approx(1.0, abs=0.02)
    assert dens[0] == pytest.approx(dens[-1])  # -pi and pi are the same angle
    mid = plane.shape[0] // 2  # rows are y, columns x, both from -1.3 to 1.3
    on_ring = plane[mid, round(mid * (1 + 1 / 1.3))]  # the point (1, 0)
    assert on_ring > plane[mid, mid]  # denser on the circle than at its centre
