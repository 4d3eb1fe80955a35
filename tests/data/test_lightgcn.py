import gzip
import random
from pathlib import Path

import pytest

from graphcl_rec.data import read_lightgcn
from graphcl_rec.errors import DataError

REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def write(path: Path, content: str | bytes) -> Path:
    data = content.encode() if isinstance(content, str) else content
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def reference(text: str) -> tuple[list[int], list[int]]:
    users, items = [], []
    for line in text.splitlines():
        ids = [int(t) for t in line.split()]
        for item in ids[1:]:
            users.append(ids[0])
            items.append(item)
    return users, items


def test_basic_format(tmp_path):
    user, item = read_lightgcn(write(tmp_path / "train.txt", "0 3 1\n1 2\n2 0 1 2\n"))
    assert user.tolist() == [0, 0, 1, 2, 2, 2]
    assert item.tolist() == [3, 1, 2, 0, 1, 2]
    assert str(user.dtype) == "torch.int64" and str(item.dtype) == "torch.int64"


def test_user_without_items_blank_lines_and_line_endings(tmp_path):
    text = "0 5\r\n7\r\n\r\n  \n3\t4  9\n12"  # no final newline
    user, item = read_lightgcn(write(tmp_path / "t.txt", text))
    assert user.tolist() == [0, 3, 3]
    assert item.tolist() == [5, 4, 9]


@pytest.mark.parametrize("suffix", [".txt", ".txt.gz"])
def test_matches_reference_parser(tmp_path, suffix):
    rng = random.Random(0)
    lines = [
        " ".join(map(str, [u] + rng.sample(range(10**6), rng.randint(0, 30))))
        for u in rng.sample(range(5000), 300)
    ]
    text = "\n".join(lines) + "\n"
    user, item = read_lightgcn(write(tmp_path / f"train{suffix}", text))
    ref_user, ref_item = reference(text)
    assert user.tolist() == ref_user and item.tolist() == ref_item


BAD = {
    # id: (file name, content, line, value shown, words in the message)
    "empty": ("train.txt", "\n \n", 1, "", "empty"),
    "not_integer": ("train.txt", "0 1 2\n1 3 x4 5\n", 2, "x4", "not an integer"),
    "float_id": ("train.txt.gz", "0 1\n\n1 2.5\n", 3, "2.5", "not an integer"),
    "negative": ("train.txt", "0 1\n1 2\n2 -3\n", 3, "-3", "negative id"),
    "negative_user": ("train.txt", "-1 2\n", 1, "-1", "negative id"),
    "nul_bytes": ("train.txt", b"0 1\n1 2\x00\x00\n", 2, "1 2\\x00", "binary"),
    "bad_utf8": ("train.txt.gz", b"0 1\n1 2\n2 \xff\xfe\n", 3, "2 \\xff", "UTF-8"),
    "too_large": ("train.txt", "0 1\n1 " + "9" * 25 + "\n", 2, "9" * 25, "too large"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_line_and_value(tmp_path, case):
    name, content, line, value, words = BAD[case]
    f = write(tmp_path / name, content)
    with pytest.raises(DataError) as err:
        read_lightgcn(f)
    message = str(err.value)
    assert f"{f}:{line}:" in message
    assert words in message
    assert value in message


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found") as err:
        read_lightgcn(tmp_path / "train.txt.gz")
    assert "train.txt.gz" in str(err.value)


@pytest.mark.dataset
def test_published_gowalla_files():
    user, item = read_lightgcn(REPO_DATA / "gowalla" / "train.txt.gz")
    assert len(user) == 810128
    assert int(user.max()) + 1 == 29858 and int(item.max()) + 1 == 40981
    user, item = read_lightgcn(REPO_DATA / "gowalla" / "test.txt.gz")
    assert len(user) == 217242


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_every_line_ending_gives_the_same_pairs(tmp_path, eol):
    text = eol.join(["0 5 7", "1", "2 5"]) + eol
    user, item = read_lightgcn(write(tmp_path / "t.txt", text))
    assert (user.tolist(), item.tolist()) == ([0, 0, 2], [5, 7, 5])


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_bad_token_names_the_right_line_whatever_the_line_ending(tmp_path, eol):
    text = eol.join(["0 5 7", "1 2", "2 x5"]) + eol
    with pytest.raises(DataError, match="x5") as err:
        read_lightgcn(write(tmp_path / "t.txt", text))
    assert err.value.line == 3


def test_an_id_far_beyond_the_file_size_is_refused_naming_the_line(tmp_path):
    f = write(tmp_path / "train.txt", "0 1 2\n1 2\n2 1000000000000 3\n")
    with pytest.raises(DataError, match="far beyond the size of the file") as err:
        read_lightgcn(f)
    assert err.value.line == 3 and f"{f}:3:" in str(err.value)
    assert "1000000000000" in str(err.value) and "max_id" in str(err.value)
    user, item = read_lightgcn(f, max_id=10**12)  # explicitly allowed
    assert int(item.max()) == 10**12


def test_a_large_user_id_is_refused_too(tmp_path):
    f = write(tmp_path / "train.txt", "0 1\n99999999999 2\n")
    with pytest.raises(DataError, match="far beyond") as err:
        read_lightgcn(f)
    assert err.value.line == 2


def test_ids_within_the_default_bound_are_read(tmp_path):
    from graphcl_rec.data.lightgcn import default_max_id

    bound = default_max_id(2)
    user, item = read_lightgcn(write(tmp_path / "t.txt", f"0 {bound}\n"))
    assert item.tolist() == [bound]
    with pytest.raises(DataError, match="far beyond"):
        read_lightgcn(write(tmp_path / "u.txt", f"0 {bound + 1}\n"))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_max_id_must_be_a_non_negative_int(tmp_path, bad):
    with pytest.raises(ValueError, match="max_id"):
        read_lightgcn(write(tmp_path / "t.txt", "0 1\n"), max_id=bad)


def test_a_directory_is_named_as_such(tmp_path):
    (tmp_path / "train.txt").mkdir()
    with pytest.raises(DataError, match="is a directory"):
        read_lightgcn(tmp_path / "train.txt")
