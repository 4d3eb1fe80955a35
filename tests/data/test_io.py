import gzip
import logging
from pathlib import Path

import pytest
import torch

from graphcl_rec.data import load_interactions
from graphcl_rec.errors import DataError


def write(path: Path, content: str | bytes) -> Path:
    data = content.encode() if isinstance(content, str) else content
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def test_string_ids_are_reindexed_in_order_of_first_appearance(tmp_path):
    f = write(tmp_path / "r.csv", "bob,x9\nann,x1\nbob,x1\ncid,x9\n")
    inter = load_interactions(f)
    assert inter.user_ids == ("bob", "ann", "cid")
    assert inter.item_ids == ("x9", "x1")
    raw = {
        (inter.user_ids[u], inter.item_ids[i])
        for u, i in zip(inter.user.tolist(), inter.item.tolist())
    }
    assert raw == {("bob", "x9"), ("ann", "x1"), ("bob", "x1"), ("cid", "x9")}
    assert inter.shape == (3, 2)
    assert inter.timestamp is None


@pytest.mark.parametrize(
    "name,sep", [("r.tsv", None), ("r.txt", None), ("r.tsv.gz", None), ("r.dat", "::")]
)
def test_separator_and_gzip(tmp_path, name, sep):
    rows = ["u1", "i1"], ["u2", "i2"], ["u1", "i2"]
    joined = "\n".join((sep or "\t").join(r) for r in rows) + "\n"
    inter = load_interactions(write(tmp_path / name, joined), sep=sep)
    assert len(inter) == 3 and inter.shape == (2, 2)


def test_separator_cannot_be_inferred(tmp_path):
    with pytest.raises(ValueError, match="sep"):
        load_interactions(write(tmp_path / "r.dat", "a\tb\n"))


def test_header_names_and_timestamps(tmp_path):
    text = "ts,item,user,rating\n30,a,u,5\n10,b,u,3\n20,a,v,4\n"
    f = write(tmp_path / "r.csv", text)
    inter = load_interactions(
        f, columns={"user": "user", "item": "item", "timestamp": "ts"}
    )
    assert inter.timestamp is not None and inter.timestamp.dtype == torch.int64
    got = {
        (inter.user_ids[u], inter.item_ids[i], t)
        for u, i, t in zip(
            inter.user.tolist(), inter.item.tolist(), inter.timestamp.tolist()
        )
    }
    assert got == {("u", "a", 30), ("u", "b", 10), ("v", "a", 20)}


def test_fractional_timestamps_are_float(tmp_path):
    f = write(tmp_path / "r.csv", "u,a,1.5\nv,a,2\n")
    inter = load_interactions(f, columns={"user": 0, "item": 1, "timestamp": 2})
    assert inter.timestamp.dtype == torch.float64
    assert sorted(inter.timestamp.tolist()) == [1.5, 2.0]


def test_header_auto_detection(tmp_path):
    f = write(tmp_path / "r.tsv", "user\titem\trating\ttimestamp\n1\t7\t4\t99\n")
    inter = load_interactions(f)  # header found; rating/timestamp picked by name
    assert inter.user_ids == ("1",) and inter.item_ids == ("7",)
    assert inter.timestamp.tolist() == [99]
    plain = load_interactions(write(tmp_path / "p.tsv", "1\t7\n2\t7\n"))
    assert plain.user_ids == ("1", "2")


def test_min_rating_filters_before_reindexing(tmp_path):
    text = "u,i,r\nann,x,5\nbob,y,2\nann,y,4\ncid,z,1\n"
    inter = load_interactions(
        write(tmp_path / "r.csv", text),
        min_rating=4,
        columns={"user": "u", "item": "i", "rating": "r"},
    )
    assert inter.user_ids == ("ann",)
    assert inter.item_ids == ("x", "y")
    assert len(inter) == 2


def test_min_rating_needs_a_rating_column(tmp_path):
    with pytest.raises(ValueError, match="rating"):
        load_interactions(write(tmp_path / "r.csv", "a,b\n"), min_rating=3)


def test_bad_columns_argument(tmp_path):
    f = write(tmp_path / "r.csv", "a,b\n")
    with pytest.raises(ValueError, match="roles"):
        load_interactions(f, columns={"user": 0, "thing": 1})
    with pytest.raises(ValueError, match="header=False"):
        load_interactions(f, columns={"user": "a", "item": "b"}, header=False)


def test_duplicates_are_collapsed_and_counted(tmp_path, caplog):
    f = write(tmp_path / "r.csv", "a,x,1\nb,x,2\na,x,3\na,y,4\na,x,5\n")
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        inter = load_interactions(f, columns={"user": 0, "item": 1, "timestamp": 2})
    assert len(inter) == 3
    assert "2 duplicate" in caplog.text and "r.csv" in caplog.text
    first = {
        (inter.user_ids[u], inter.item_ids[i]): t
        for u, i, t in zip(
            inter.user.tolist(), inter.item.tolist(), inter.timestamp.tolist()
        )
    }
    assert first[("a", "x")] == 1  # the first occurrence wins


def test_duplicates_can_be_an_error(tmp_path):
    f = write(tmp_path / "r.csv", "a,x\nb,x\na,y\na,x\n")
    with pytest.raises(DataError) as err:
        load_interactions(f, on_duplicate="error")
    assert err.value.line == 4 and "r.csv:4" in str(err.value)
    assert "a,x" in str(err.value)


BAD = {
    # id: (file name, content, kwargs, line, value shown, words in the message)
    "empty": ("r.csv", "  \n\n", {}, 1, "", "empty"),
    "column_count": ("r.csv", "a,b\nc,d\ne,f,g\n", {}, 3, "e,f,g", "fields"),
    "rating": (
        "r.csv",
        "a,b,4\nc,d,five\n",
        {"columns": {"user": 0, "item": 1, "rating": 2}},
        2,
        "five",
        "rating",
    ),
    "timestamp": (
        "r.tsv",
        "a\tb\t1\n\nc\td\t2020-01-01\n",
        {"columns": {"user": 0, "item": 1, "timestamp": 2}},
        3,
        "2020-01-01",
        "timestamp",
    ),
    "nan_rating": (
        "r.csv",
        "a,b,nan\n",
        {"columns": {"user": 0, "item": 1, "rating": 2}, "header": False},
        1,
        "nan",
        "finite",
    ),
    "unexpected_header": (
        "r.csv",
        "user,item,rating\na,b,3\n",
        {"columns": {"user": 0, "item": 1, "rating": 2}, "header": False},
        1,
        "user,item,rating",
        "looks like a header",
    ),
    "header_name": (
        "r.csv",
        "u,i\na,b\n",
        {"columns": {"user": "u", "item": "item"}},
        1,
        "item",
        "not in the header",
    ),
    "header_only": ("r.csv", "u,i\n", {"header": True}, 2, "", "no data rows"),
    "nul_bytes": ("r.csv", b"a,b\nc,d\nx\x00\x01,y\n", {}, 3, "x\\x00", "binary"),
    "bad_utf8": ("r.csv.gz", b"a,b\n\xff\xfe,c\n", {}, 2, "\\xff", "UTF-8"),
    "empty_id": ("r.csv", "a,b\nc,\n", {}, 2, "c,", "empty item id"),
    "column_index": (
        "r.csv",
        "a,b\n",
        {"columns": {"user": 0, "item": 5}},
        1,
        "a,b",
        "out of range",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_line_and_value(tmp_path, case):
    name, content, kwargs, line, value, words = BAD[case]
    f = write(tmp_path / name, content)
    with pytest.raises(DataError) as err:
        load_interactions(f, **kwargs)
    message = str(err.value)
    assert f"{f}:{line}:" in message
    assert words in message
    assert value in message
    assert err.value.line == line and err.value.path == str(f)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found") as err:
        load_interactions(tmp_path / "absent.csv")
    assert "absent.csv" in str(err.value)


def test_corrupt_gzip(tmp_path):
    f = tmp_path / "r.csv.gz"
    f.write_bytes(b"this is not gzip")
    with pytest.raises(DataError, match="gzip") as err:
        load_interactions(f)
    assert str(f) in str(err.value)


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_every_line_ending_gives_the_same_pairs(tmp_path, eol):
    text = eol.join(["user,item", "a,x", "b,y", "a,y"]) + eol
    inter = load_interactions(write(tmp_path / "r.csv", text), header=True)
    assert len(inter) == 3 and inter.user_ids == ("a", "b")
    assert inter.item.tolist() == [0, 1, 1]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_errors_name_the_right_line_whatever_the_line_ending(tmp_path, eol):
    text = eol.join(["a,x", "b,y", "c,y,extra"]) + eol
    with pytest.raises(DataError, match="expected 2 fields") as err:
        load_interactions(write(tmp_path / "r.csv", text))
    assert err.value.line == 3
