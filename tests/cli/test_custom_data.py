"""`graphcl-rec train CONFIG` for every documented ``[data]`` source."""

import gzip
import json

import pytest

from graphcl_rec.cli.build import load_data, load_lightgcn_folder
from graphcl_rec.cli.config import DataConfig
from graphcl_rec.cli.main import main
from graphcl_rec.errors import DataError

MODEL = """
[model]
objective = "bpr"

[model.encoder]
name = "{encoder}"
dim = 8

[train]
epochs = {epochs}
batch_size = 256
lr = 0.01
device = "cpu"
"""


def lightgcn_folder(root, gz=False):
    """30 users; user u likes items (u + j) % 30, j < 10: 8 train pairs, 2 test."""
    root.mkdir()
    train = [f"{u} " + " ".join(str((u + j) % 30) for j in range(8)) for u in range(30)]
    test = [f"{u} {(u + 8) % 30} {(u + 9) % 30}" for u in range(30)]
    for name, lines in (("train.txt", train), ("test.txt", test)):
        text = "\n".join(lines) + "\n"
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (root / name).write_text(text)
    return root


def train(tmp_path, data_table, encoder="lightgcn", epochs=2, extra=()):
    cfg = tmp_path / "custom.toml"
    cfg.write_text(data_table + MODEL.format(encoder=encoder, epochs=epochs))
    out = tmp_path / "out"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress",
                 *extra]) == 0
    return json.loads((out / "custom-seed0.json").read_text())


def test_train_a_delimited_file(tmp_path, ratings):
    res = train(tmp_path, f'[data]\npath = "{ratings}"\nsep = "\\t"\nheader = true\n'
                          'ratios = [0.8, 0.1, 0.1]\n')
    assert res["data"]["users"] == 30 and res["epochs_run"] == 2
    assert res["data"]["train"] + res["data"]["val"] + res["data"]["test"] == sum(
        1 for _ in ratings.read_text().splitlines()[1:])


def test_train_a_lightgcn_folder(tmp_path):
    folder = lightgcn_folder(tmp_path / "lgcn")
    res = train(tmp_path, f'[data]\npath = "{folder}"\nformat = "lightgcn"\n'
                          'val_ratio = 0.25\n')
    assert (res["data"]["users"], res["data"]["items"]) == (30, 30)
    assert (res["data"]["train"], res["data"]["val"]) == (180, 60)
    assert res["data"]["test"] == 60 and 0 <= res["test"]["recall@20"] <= 1


def test_train_a_named_dataset(tmp_path):
    res = train(tmp_path, '[data]\ndataset = "ml-100k"\n', encoder="mf",
                extra=["--train.epochs=1", "--train.batch_size=8192"])
    assert (res["data"]["users"], res["data"]["items"]) == (943, 1682)
    assert res["epochs_run"] == 1


def test_lightgcn_folder_matches_the_named_loader_rules(tmp_path):
    plain = load_lightgcn_folder(lightgcn_folder(tmp_path / "a"), 0.25, seed=3)
    packed = load_data(DataConfig(path=str(lightgcn_folder(tmp_path / "b", gz=True)),
                                  format="lightgcn", val_ratio=0.25, split_seed=3))
    for x, y in zip(plain, packed, strict=True):
        assert x.user.tolist() == y.user.tolist() and x.item.tolist() == y.item.tolist()
    train, val, test = plain
    assert len(load_lightgcn_folder(tmp_path / "a", 0.0)[1]) == 0
    assert train.user_ids == tuple(map(str, range(30)))


def test_lightgcn_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no train.txt or train.txt.gz"):
        load_lightgcn_folder(tmp_path)
    folder = lightgcn_folder(tmp_path / "cold")
    (folder / "test.txt").write_text("0 8 9\n31 1\n")
    with pytest.raises(DataError, match="1 test pairs have a user or item with no"):
        load_lightgcn_folder(folder)


def test_unknown_format_is_a_config_error(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[data]\npath = "x"\nformat = "csv"\n')
    assert main(["train", str(cfg), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "[data] format = 'csv': expected one of 'delimited', 'lightgcn'" in err


def test_a_file_with_one_user_is_refused_not_scored_perfect(tmp_path, capsys):
    # Every item is the user's own: the test ranking would hold only test items.
    data = tmp_path / "one.tsv"
    data.write_text("".join(f"u0\ti{i}\t5\n" for i in range(50)))
    cfg = tmp_path / "one.toml"
    cfg.write_text(f'[data]\npath = "{data}"\nsep = "\\t"\n'
                   + MODEL.format(encoder="mf", epochs=1))
    assert main(["train", str(cfg), "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{data}: each of the 1 test user(s) has a pair with every one of the 50 " \
           "items" in err and "every metric would be 1.0" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "out").exists()


def test_some_users_with_every_item_are_reported(caplog):
    import torch

    from graphcl_rec.cli.build import check_rankable
    from graphcl_rec.data import Interactions

    def part(pairs):
        user, item = torch.tensor(pairs).T
        return Interactions(user, item, 2, 4)

    train = part([(0, 0), (0, 1), (1, 0)])
    val, test = part([(0, 2)]), part([(0, 3), (1, 1)])
    check_rankable((train, val, test), "x.tsv")
    assert "1 of 2 test users have a pair with every item" in caplog.text
    with pytest.raises(DataError, match="x.tsv: each of the 1 test user"):
        check_rankable((train, val, part([(0, 3)])), "x.tsv")
