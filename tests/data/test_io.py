import gzip
import logging
import os
import re
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


# --- header detection by column names -------------------------------------------


def raw_pairs(inter) -> set[tuple[str, str]]:
    return {
        (inter.user_ids[u], inter.item_ids[i])
        for u, i in zip(inter.user.tolist(), inter.item.tolist())
    }


def test_text_ids_header_is_found_by_its_names_and_maps_the_rating(tmp_path):
    f = write(tmp_path / "r.csv", "user,item,rating\nann,x,5\nbob,y,2\nann,y,4\n")
    inter = load_interactions(f)
    assert raw_pairs(inter) == {("ann", "x"), ("bob", "y"), ("ann", "y")}
    assert "user" not in inter.user_ids and "item" not in inter.item_ids
    kept = load_interactions(f, min_rating=4)  # the rating column is read by name
    assert raw_pairs(kept) == {("ann", "x"), ("ann", "y")}


@pytest.mark.parametrize(
    "head",
    [
        "user_id,item_id,rating,timestamp",
        "USER,Item,Rating,Time",
        "timestamp,item_id,user,rating",
        "UserID,ItemId,rating,time",
    ],
)
def test_header_names_map_columns_in_any_order_and_case(tmp_path, head):
    names = [h.lower() for h in head.split(",")]
    rows = [("ann", "x", "5", "30"), ("bob", "y", "2", "10")]
    order = [
        next(k for k, n in enumerate(names) if n.startswith(role))
        for role in ("user", "item", "rating", "time")
    ]
    lines = []
    for row in rows:
        fields = [""] * 4
        for value, k in zip(row, order):
            fields[k] = value
        lines.append(",".join(fields))
    f = write(tmp_path / "r.csv", head + "\n" + "\n".join(lines) + "\n")
    inter = load_interactions(f, min_rating=3)
    assert raw_pairs(inter) == {("ann", "x")}
    assert inter.timestamp.tolist() == [30]


def test_a_header_with_unknown_item_name_still_maps_known_names(tmp_path):
    f = write(tmp_path / "r.csv", "user_id,movie,rating\nann,m1,4\nbob,m2,1\n")
    inter = load_interactions(f, min_rating=3)
    assert raw_pairs(inter) == {("ann", "m1")}


@pytest.mark.parametrize(
    "content,line,value,words",
    [
        ("user,item,rating\n", 2, "", "no data rows after the header"),
        ("user\titem\n\n", 2, "", "no data rows after the header"),
        ("user,item,rating\na,x,5\nb,y,nan\n", 3, "nan", "rating is not a finite"),
        ("user,item,rating\na,x,\n", 2, "", "rating is not a finite"),
        ("user,item,time\na,x,1\nb,y,yesterday\n", 3, "yesterday", "timestamp"),
        ("user,item,time\na,x,1_000\n", 2, "1_000", "timestamp"),
        ("user,item\na,x\nuser,item\nb,y\n", 3, "user,item", "header row appears"),
        ("user,user_id,item\na,1,x\n", 1, "user_id", "two user columns"),
        ("user,item,count\na,x,3\nb,y,-1\n", 3, "-1", "weight is negative"),
        ("user,item,weight\na,x,inf\n", 2, "inf", "weight is not a finite"),
    ],
)
def test_header_and_value_errors_name_file_line_and_value(
    tmp_path, content, line, value, words
):
    f = write(tmp_path / ("r.tsv" if "\t" in content else "r.csv"), content)
    with pytest.raises(DataError) as err:
        load_interactions(f)
    assert f"{f}:{line}:" in str(err.value) and words in str(err.value)
    assert repr(value) in str(err.value) or value in str(err.value)


def test_explicit_header_false_refuses_a_row_of_column_names(tmp_path):
    f = write(tmp_path / "r.csv", "user,item\na,x\n")
    with pytest.raises(DataError, match="looks like a header"):
        load_interactions(f, header=False)


def test_extra_columns_without_header_are_reported(tmp_path, caplog):
    f = write(tmp_path / "r.csv", "a,x,5\nb,y,4\n")
    with caplog.at_level(logging.WARNING, logger="graphcl_rec"):
        inter = load_interactions(f)
    assert len(inter) == 2 and "ignoring the other 1 columns" in caplog.text


def test_two_roles_on_one_column_is_an_error(tmp_path):
    f = write(tmp_path / "r.csv", "a,x\n")
    with pytest.raises(DataError, match="read as both user and item"):
        load_interactions(f, columns={"user": 0, "item": 0})


# --- weight / count column --------------------------------------------------------


def test_count_column_is_an_edge_weight_with_its_own_threshold(tmp_path):
    text = "user,item,count\nann,x,5\nbob,y,1\nann,y,2\nann,x,9\n"
    f = write(tmp_path / "plays.csv", text)
    inter = load_interactions(f)
    assert inter.weight is not None and inter.weight.dtype == torch.float32
    got = dict(zip(raw_pairs(inter), [None] * len(inter)))
    weights = {
        (inter.user_ids[u], inter.item_ids[i]): w
        for u, i, w in zip(
            inter.user.tolist(), inter.item.tolist(), inter.weight.tolist()
        )
    }
    assert set(got) == set(weights)
    assert weights == {("ann", "x"): 5.0, ("bob", "y"): 1.0, ("ann", "y"): 2.0}
    heavy = load_interactions(f, min_weight=2)
    assert raw_pairs(heavy) == {("ann", "x"), ("ann", "y")}
    assert heavy.subset(torch.tensor([1])).weight.tolist() == [2.0]
    with pytest.raises(ValueError, match="use min_weight"):
        load_interactions(f, min_rating=2)


def test_weight_by_explicit_columns(tmp_path):
    f = write(tmp_path / "r.tsv", "a\tx\t0.5\nb\ty\t2\n")
    inter = load_interactions(f, columns={"user": 0, "item": 1, "weight": 2})
    assert inter.weight.tolist() == [0.5, 2.0]


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"min_rating": 6}, "min_rating=6 keeps none of the 3 rows (rating ranges"),
        ({"min_weight": 10}, "min_weight=10 keeps none of the 3 rows (weight ranges"),
    ],
)
def test_a_filter_that_keeps_nothing_is_an_error(tmp_path, kwargs, words):
    text = "user,item,rating,count\na,x,5,1\nb,y,1,2\nc,z,3,3\n"
    f = write(tmp_path / "r.csv", text)
    with pytest.raises(DataError) as err:
        load_interactions(f, **kwargs)
    assert words in str(err.value) and str(f) in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), "4", True])
def test_thresholds_must_be_numbers(tmp_path, bad):
    f = write(tmp_path / "r.csv", "user,item,rating\na,x,5\n")
    with pytest.raises(ValueError, match="min_rating"):
        load_interactions(f, min_rating=bad)


# --- quoting and id spellings ----------------------------------------------------


def test_rfc4180_quoting(tmp_path):
    text = 'user,item\n"1",x\n1,"x"\n" 1 ",y\n"a,b","say ""hi"""\n'
    inter = load_interactions(write(tmp_path / "r.csv", text))
    assert inter.user_ids == ("1", "a,b")
    assert inter.item_ids == ("x", "y", 'say "hi"')
    assert len(inter) == 3  # "1",x and 1,"x" are the same pair


def test_quoted_ids_with_a_multi_character_separator(tmp_path):
    f = write(tmp_path / "r.dat", '1::"2"::5\n"1"::2::4\n1::3::1\n')
    inter = load_interactions(f, sep="::", columns={"user": 0, "item": 1})
    assert inter.user_ids == ("1",) and inter.item_ids == ("2", "3")
    assert len(inter) == 2


@pytest.mark.parametrize(
    "text,line,words",
    [
        ('a,x\n"b,y\nc,z\n', 2, "malformed quoting"),
        ('a,x\n"b\nc",y\n', 2, "quoted field runs over lines 2-3"),
        ('a,x\n"b" c,y\n', 2, "malformed quoting"),
        ('a,x\n"",y\n', 2, "empty user id"),
    ],
)
def test_bad_quoting_names_the_line(tmp_path, text, line, words):
    f = write(tmp_path / "r.csv", text)
    with pytest.raises(DataError, match=words) as err:
        load_interactions(f)
    assert err.value.line == line and f"{f}:{line}:" in str(err.value)


def test_integral_decimal_ids_are_the_integer(tmp_path):
    f = write(tmp_path / "r.csv", "1,10\n1.0,20.\n2.00,10.0\n")
    inter = load_interactions(f)
    assert inter.user_ids == ("1", "2") and inter.item_ids == ("10", "20")
    assert len(inter) == 3


@pytest.mark.parametrize(
    "text,line,shown",
    [
        ("1000,x\n1e3,y\n", 2, "1e3"),
        ("u,+7\nv,7\n", 2, "7"),
        ("1.5,x\n1.50,x\n", 2, "1.50"),
    ],
)
def test_two_spellings_of_one_number_are_refused(tmp_path, text, line, shown):
    f = write(tmp_path / "r.csv", text)
    with pytest.raises(DataError, match="same number") as err:
        load_interactions(f)
    assert err.value.line == line and repr(shown) in str(err.value)
    assert "on line 1" in str(err.value)


def test_leading_zeros_keep_ids_distinct(tmp_path):
    inter = load_interactions(write(tmp_path / "r.csv", "007,x\n7,x\n"))
    assert inter.user_ids == ("007", "7")


# --- arguments and paths ----------------------------------------------------------


@pytest.mark.parametrize("sep", ["", '"', "\n", 3])
def test_bad_separator_is_named(tmp_path, sep):
    f = write(tmp_path / "r.csv", "a,x\n")
    with pytest.raises(ValueError, match="'sep'") as err:
        load_interactions(f, sep=sep)
    assert repr(sep) in str(err.value)


def test_directory_fifo_and_symlink_loop_are_named(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    cases = {"dir.csv": "is a directory"}
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.csv")
        cases["pipe.csv"] = "named pipe (FIFO)"
    if hasattr(os, "symlink"):
        os.symlink(tmp_path / "loop.csv", tmp_path / "loop.csv")
        os.symlink(tmp_path / "gone.csv", tmp_path / "dangling.csv")
        cases["loop.csv"] = "symbolic link loop"
        cases["dangling.csv"] = "broken symbolic link"
    for name, words in cases.items():
        with pytest.raises(DataError, match=re.escape(words)) as err:
            load_interactions(tmp_path / name)
        assert name in str(err.value) and "not found" not in str(err.value)


def test_blanks_around_quoted_fields(tmp_path):
    f = write(tmp_path / "r.csv", ' "u", "x"\nu ,  x\n  "u",x\n')
    inter = load_interactions(f)
    assert inter.user_ids == ("u",) and inter.item_ids == ("x",)
    with pytest.raises(DataError, match="malformed quoting") as err:
        load_interactions(write(tmp_path / "s.csv", 'u,x\n"v" ,y\n'))
    assert err.value.line == 2
