"""Fuzzing the file readers: any input loads correctly or raises DataError.

Every generated file either loads (and then the result is checked against
invariants, or against a naive reference parser where one is simple to write) or
raises :class:`graphcl_rec.errors.DataError` whose message names the file and, for
a problem on a line, ``file:line``. Any other exception type fails the test, and
the per-example deadline catches hangs.
"""

import gzip
import re
from datetime import timedelta

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphcl_rec.data.io import load_interactions
from graphcl_rec.data.lightgcn import read_lightgcn
from graphcl_rec.errors import DataError

EXAMPLES = {
    "delimited_bytes": 150,
    "delimited_text": 350,
    "delimited_oracle": 150,
    "lightgcn_bytes": 150,
    "lightgcn_text": 350,
}
FUZZ_CASES = sum(EXAMPLES.values())  # generated files per full run of this module

FUZZ = settings(
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DELIMITED_NAMES = ["r.csv", "r.tsv", "r.txt", "r.csv.gz", "r.txt.gz"]
LIGHTGCN_NAMES = ["train.txt", "test.txt.gz"]
ENDINGS = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\n \n"])
SPECIAL = ["", " ", "u1", "i2", "1e5", "nan", "-inf", "inf", "1e400", "0x1F", "１２",
           "é", "日本", "\u00a0", "\u3000", "\ufeff", "\x1c", "\x85", "a b", '"q"',
           "\x00", "5.0", "user", "item", "rating", "timestamp", "-0", "1_0"]
FIELDS = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(SPECIAL),
    st.text(max_size=4),
)
SEPS = st.sampled_from([",", "\t", ";", " ", "|", ", "])
COLUMNS = st.sampled_from([
    None,
    {"user": 0, "item": 1},
    {"user": 1, "item": 0},
    {"user": 0, "item": 1, "rating": 2},
    {"user": 0, "item": 1, "timestamp": 2},
    {"user": 0, "item": 1, "weight": 2},
    {"user": "user", "item": "item"},
])


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def write(directory, name, data, compress=True):
    path = directory / name
    gz = name.endswith(".gz") and compress
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def check_error(exc, path, data):
    text = str(exc)
    assert path.name in text, text
    if exc.line is not None:
        assert f"{path.name}:{exc.line}" in text, text
        assert 1 <= exc.line <= line_at(data, len(data)) + 1, (exc.line, text)


def check_interactions(inter):
    n = len(inter)
    assert inter.user.dtype == inter.item.dtype == torch.long
    assert inter.user.shape == inter.item.shape == (n,)
    assert n >= 1
    assert 0 <= int(inter.user.min()) and int(inter.user.max()) < inter.num_users
    assert 0 <= int(inter.item.min()) and int(inter.item.max()) < inter.num_items
    assert len(inter.user_ids) == inter.num_users == inter.user.unique().numel()
    assert len(inter.item_ids) == inter.num_items == inter.item.unique().numel()
    keys = inter.keys()
    assert keys.unique().numel() == n, "duplicate pairs"
    assert torch.equal(keys, keys.sort().values), "not ordered by (user, item)"
    for raw in inter.user_ids + inter.item_ids:
        assert raw and raw == raw.strip()
    if inter.timestamp is not None:
        assert inter.timestamp.numel() == n


def load(path, data, **kwargs):
    try:
        inter = load_interactions(path, **kwargs)
    except DataError as exc:
        check_error(exc, path, data)
        return None
    check_interactions(inter)
    return inter


@settings(FUZZ, max_examples=EXAMPLES["delimited_bytes"])
@given(data=st.binary(max_size=300), name=st.sampled_from(DELIMITED_NAMES),
       compress=st.booleans())
def test_delimited_random_bytes(fuzz_dir, data, name, compress):
    path = write(fuzz_dir, name, data, compress)
    inter = load(path, data)
    if name.endswith(".gz") and not compress:
        assert inter is None  # raw bytes are not a gzip stream


@st.composite
def delimited_text(draw):
    rows = draw(st.lists(st.tuples(st.lists(FIELDS, max_size=5), SEPS), max_size=12))
    text = ""
    for fields, sep in rows:
        text += sep.join(fields) + draw(ENDINGS)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]  # truncated file
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1",
                                     "utf-16"]))
    return text.encode(encoding, errors="replace")


@settings(FUZZ, max_examples=EXAMPLES["delimited_text"])
@given(data=delimited_text(), name=st.sampled_from(DELIMITED_NAMES),
       sep=st.sampled_from([None, ",", "\t", ";", " "]), columns=COLUMNS,
       header=st.sampled_from(["auto", True, False]), min_rating=st.booleans(),
       on_duplicate=st.sampled_from(["collapse", "error"]))
def test_delimited_text(fuzz_dir, data, name, sep, columns, header, min_rating,
                        on_duplicate):
    named = columns is not None and isinstance(columns["user"], str)
    if named and header is False:
        header = True  # header names without a header is an argument error
    rating = columns is not None and "rating" in columns
    path = write(fuzz_dir, name, data)
    inter = load(path, data, sep=sep, columns=columns, header=header,
                 min_rating=3.0 if rating and min_rating else None,
                 on_duplicate=on_duplicate)
    if inter is not None and not (rating and min_rating):
        # LF, CR LF and a lone CR all end a line (as the readers count them).
        rows = [ln for ln in re.split(r"\r\n|\r|\n", data.decode("utf-8", "replace"))
                if ln.strip()]
        assert len(inter) <= len(rows)


ID = st.text(alphabet="abxyz019é-", min_size=1, max_size=3)


@st.composite
def clean_rows(draw):
    pairs = draw(st.lists(st.tuples(ID, ID), min_size=1, max_size=15))
    lines = []
    for user, item in pairs:
        fields = []
        for value in (user, item):
            pad = draw(st.sampled_from(["", " ", "\t "]))
            if pad != "\t " and draw(st.booleans()):  # RFC 4180 quoting
                fields.append(f'{pad}"{value}"')
            else:
                fields.append(f"{pad}{value}{pad}")
        lines.append(",".join(fields))
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["", "  ", "\t"])))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return pairs, ending.join(lines) + draw(st.sampled_from(["", ending]))


@settings(FUZZ, max_examples=EXAMPLES["delimited_oracle"])
@given(case=clean_rows(), name=st.sampled_from(["r.csv", "r.csv.gz"]))
def test_delimited_matches_reference_parser(fuzz_dir, case, name):
    pairs, text = case
    path = write(fuzz_dir, name, text.encode())
    inter = load_interactions(path, header=False)
    check_interactions(inter)
    users = list(dict.fromkeys(u for u, _ in pairs))
    items = list(dict.fromkeys(i for _, i in pairs))
    assert list(inter.user_ids) == users and list(inter.item_ids) == items
    got = {(inter.user_ids[u], inter.item_ids[i])
           for u, i in zip(inter.user.tolist(), inter.item.tolist())}
    assert got == set(pairs) and len(inter) == len(set(pairs))


def line_at(data, pos):
    """1-based line of byte ``pos``; LF, CR LF and a lone CR each end a line."""
    return len(re.findall(rb"\r\n|\r|\n", data[:pos])) + 1


def lightgcn_reference(data):
    """``("error", line)`` or ``("ok", (users, items))`` for LightGCN-format bytes."""
    if not data.strip():
        return "error", 1
    nul = data.find(b"\x00")
    if nul >= 0:
        return "error", line_at(data, nul)
    tokens = [(m.group(), line_at(data, m.start()))
              for m in re.finditer(rb"[^ \t\r\n]+", data)]
    bound = 100 * len(tokens) + 10**6  # read_lightgcn's default max_id
    for check in (lambda t: re.fullmatch(rb"[0-9]+", t), lambda t: len(t) <= 18,
                  lambda t: int(t) <= bound):
        bad = next((line for tok, line in tokens if not check(tok)), None)
        if bad is not None:
            return "error", bad
    users, items, owner, last = [], [], None, None
    for tok, line in tokens:
        if line != last:
            owner, last = int(tok), line
        else:
            users.append(owner)
            items.append(int(tok))
    return "ok", (users, items)


def check_lightgcn(path, data, expect_error=False):
    kind, expected = ("error", None) if expect_error else lightgcn_reference(data)
    try:
        user, item = read_lightgcn(path)
    except DataError as exc:
        check_error(exc, path, data)
        assert kind == "error", f"reader refused valid input: {exc}"
        if expected is not None:
            assert exc.line == expected, (exc.line, expected, str(exc))
        return
    assert kind == "ok", f"reader accepted input refused at line {expected}"
    assert user.dtype == item.dtype == torch.long
    assert user.tolist() == expected[0] and item.tolist() == expected[1]


@settings(FUZZ, max_examples=EXAMPLES["lightgcn_bytes"])
@given(data=st.binary(max_size=300), name=st.sampled_from(LIGHTGCN_NAMES),
       compress=st.booleans())
def test_lightgcn_random_bytes(fuzz_dir, data, name, compress):
    path = write(fuzz_dir, name, data, compress)
    check_lightgcn(path, data, expect_error=name.endswith(".gz") and not compress)


TOKENS = st.one_of(
    st.integers(0, 10**6).map(str),
    st.integers(0, 10**30).map(str),
    st.integers(-50, -1).map(str),
    st.sampled_from(["+3", "1.5", "1e3", "x", "0007", "٣", "\u00a0", "\x00", "",
                     "9" * 18, "9" * 19, "\x0b", "\x0c", "é", "1,2"]),
)


@st.composite
def lightgcn_text(draw):
    text = ""
    for _ in range(draw(st.integers(0, 10))):
        tokens = draw(st.lists(TOKENS, max_size=6))
        blank = draw(st.sampled_from([" ", "\t", "  ", " \t"]))
        lead = draw(st.sampled_from(["", " ", "\t"]))
        text += lead + blank.join(tokens) + draw(ENDINGS)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode()


@settings(FUZZ, max_examples=EXAMPLES["lightgcn_text"])
@given(data=lightgcn_text(), name=st.sampled_from(LIGHTGCN_NAMES))
def test_lightgcn_text(fuzz_dir, data, name):
    check_lightgcn(write(fuzz_dir, name, data), data)


@pytest.mark.parametrize("content", ["\u00a0\n", "\u3000\n\u00a0\n", "\x1c"])
def test_only_unicode_blank_lines_is_a_data_error(tmp_path, content):
    path = tmp_path / "r.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=r"r\.csv:1: no data rows"):
        load_interactions(path)
