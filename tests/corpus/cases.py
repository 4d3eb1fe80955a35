"""The corpus: bad (and unusual but valid) inputs, each with its entry point.

Groups (the part of a name before ``/``):

- ``delimited``: files for :func:`graphcl_rec.data.load_interactions`;
- ``lightgcn``: files for :func:`graphcl_rec.data.read_lightgcn` and folders for
  :func:`graphcl_rec.cli.build.load_lightgcn_folder`;
- ``split``: :class:`~graphcl_rec.data.Interactions`, the splits and ``concat``;
- ``train``: ``Trainer``, ``EarlyStopping``, augmentations and models;
- ``checkpoint``: files for :func:`graphcl_rec.train.load_checkpoint`;
- ``config``: TOML files for :func:`graphcl_rec.cli.config.load_config` (and the
  data and model they describe: ``load_data``, ``build_model``);
- ``cli``: ``graphcl-rec`` command lines (:func:`graphcl_rec.cli.main.main`).

Every input is tiny, so that no case can take long; training cases run one epoch of
an MF model of dimension 4 on 12 users.
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import io
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from graphcl_rec import data
from graphcl_rec.augment import EdgeDropout, NodeDropout, RandomWalk
from graphcl_rec.cli.build import build_model, load_data, load_lightgcn_folder
from graphcl_rec.cli.config import load_config
from graphcl_rec.data import Interactions
from graphcl_rec.models import MF, BPRRecommender, LightGCN
from graphcl_rec.train import EarlyStopping, Trainer, load_checkpoint, save_checkpoint
from graphcl_rec.train.checkpoint import LAST
from tests.corpus.runner import Case, Context

CASES: list[Case] = []
"""Every case, in the order they are defined."""


def add(case: Case) -> Case:
    """Registers ``case`` (names must be unique)."""
    if any(c.name == case.name for c in CASES):
        raise ValueError(f"duplicate corpus case {case.name!r}")
    CASES.append(case)
    return case


# ----------------------------------------------------------------- building inputs

def write(name: str, content: str | bytes) -> Callable[[Path], Path]:
    """A setup writing ``content`` to ``tmp/name`` (text as UTF-8); returns the path."""

    def setup(tmp: Path) -> Path:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return setup


def nothing(name: str) -> Callable[[Path], Path]:
    """A setup returning ``tmp/name`` without creating it."""
    return lambda tmp: tmp / name


def directory(name: str) -> Callable[[Path], Path]:
    """A setup creating the folder ``tmp/name``."""

    def setup(tmp: Path) -> Path:
        (tmp / name).mkdir(parents=True)
        return tmp / name

    return setup


def fifo(name: str) -> Callable[[Path], Path]:
    """A setup creating a named pipe ``tmp/name`` (opening it would block)."""

    def setup(tmp: Path) -> Path:
        os.mkfifo(tmp / name)
        return tmp / name

    return setup


def symlink_loop(name: str) -> Callable[[Path], Path]:
    """A setup making ``tmp/name`` a link to a link back to it."""

    def setup(tmp: Path) -> Path:
        (tmp / name).symlink_to(tmp / f"other-{name}")
        (tmp / f"other-{name}").symlink_to(tmp / name)
        return tmp / name

    return setup


def broken_link(name: str) -> Callable[[Path], Path]:
    """A setup making ``tmp/name`` a link to a missing file."""

    def setup(tmp: Path) -> Path:
        (tmp / name).symlink_to(tmp / "gone.csv")
        return tmp / name

    return setup


def garbage(n: int = 512, seed: int = 7) -> bytes:
    """``n`` deterministic pseudo-random bytes (NUL bytes among them)."""
    g = torch.Generator().manual_seed(seed)
    return bytes(torch.randint(0, 256, (n,), generator=g, dtype=torch.uint8).tolist())


def ratings_text(users: int = 12, items: int = 40, per_user: int = 10,
                 header: str = "user,item,rating", sep: str = ",") -> str:
    """A small valid ratings file: user ``u<k>`` rates ``per_user`` items ``i<j>``."""
    lines = [header] if header else []
    for u in range(users):
        lines += [f"u{u}{sep}i{(3 * u + j) % items}{sep}{1 + (u + j) % 5}"
                  for j in range(per_user)]
    return "\n".join(lines) + "\n"


GOOD_CSV = ratings_text()


def lightgcn_lines(users: int = 12, items: int = 15, per_user: int = 8,
                   offset: int = 0) -> str:
    """LightGCN-format lines: user ``u`` with items ``(u + offset + j) % items``."""
    return "".join(
        " ".join(str(x) for x in [u, *((u + offset + j) % items
                                       for j in range(per_user))]) + "\n"
        for u in range(users))


def lightgcn_folder(name: str = "lgcn", train: str | bytes | None = None,
                    test: str | bytes | None = None) -> Callable[[Path], Path]:
    """A setup writing a LightGCN folder (``None`` leaves a file out)."""

    def setup(tmp: Path) -> Path:
        folder = tmp / name
        folder.mkdir()
        for file, content in (("train.txt", train), ("test.txt", test)):
            if content is not None:
                write(file, content)(folder)
        return folder

    return setup


GOOD_TRAIN = lightgcn_lines()
GOOD_TEST = lightgcn_lines(per_user=2, offset=8)


def pairs(user: list[int], item: list[int], num_users: int | None = None,
          num_items: int | None = None, **kwargs: Any) -> Interactions:
    """Interactions from two lists (index spaces just large enough by default)."""
    u, i = torch.tensor(user, dtype=torch.long), torch.tensor(item, dtype=torch.long)
    return Interactions(u, i, num_users if num_users is not None else max(user) + 1,
                        num_items if num_items is not None else max(item) + 1,
                        **kwargs)


def grid(users: int = 6, items: int = 8, per_user: int = 5) -> Interactions:
    """``per_user`` distinct items for each user (no user has every item)."""
    user = [u for u in range(users) for _ in range(per_user)]
    item = [(u + j) % items for u in range(users) for j in range(per_user)]
    return pairs(user, item, users, items)


# ------------------------------------------------------------------- case builders

def api(name: str, entry: str, setup: Callable[[Path], Any],
        call: Callable[[Any], Any], mention: tuple[str, ...] = (),
        expect: str = "clear", check: Callable[[Any, Context], bool] | None = None
        ) -> Case:
    """Registers a library-call case."""
    return add(Case(name, entry, setup, call, mention, expect, check))


def inline(name: str, entry: str, call: Callable[[], Any],
           mention: tuple[str, ...] = (), expect: str = "clear",
           check: Callable[[Any, Context], bool] | None = None) -> Case:
    """Registers a case whose bad input is built in memory (no file)."""
    return api(name, entry, lambda tmp: None, lambda _: call(), mention, expect, check)


def logged(*words: str) -> Callable[[Context], bool]:
    """Whether one log message holds every word (case-insensitively)."""
    return lambda ctx: any(all(w.lower() in m.lower() for w in words)
                           for m in ctx.logs)


# ============================================================ delimited files (API)

def delimited(name: str, content: str | bytes | Callable[[Path], Path],
              mention: tuple[str, ...] = (), file: str = "r.csv",
              expect: str = "clear",
              check: Callable[[Interactions, Context], bool] | None = None,
              argument: bool = False, **kwargs: Any) -> Case:
    """``load_interactions(<file>, **kwargs)``; an error must name the file too,
    unless it is about an ``argument`` (refused before the file is read)."""
    setup = content if callable(content) else write(file, content)
    named = (file, *mention) if expect == "clear" and not argument else mention
    return api(f"delimited/{name}", "data.load_interactions", setup,
               partial(_load, kwargs), named, expect, check)


def _load(kwargs: dict[str, Any], path: Any) -> Interactions:
    return data.load_interactions(path, **kwargs)


def users_are(*ids: str) -> Callable[[Interactions, Context], bool]:
    """A check: the raw user ids, in order."""
    return lambda inter, ctx: inter.user_ids == ids


# what the path is
delimited("missing_file", nothing("missing.csv"), ("not found",), file="missing.csv")
delimited("directory", directory("dir.csv"), ("directory",), file="dir.csv")
delimited("fifo", fifo("pipe.csv"), ("named pipe",), file="pipe.csv")
delimited("symlink_loop", symlink_loop("loop.csv"), ("symbolic link loop",),
          file="loop.csv")
delimited("broken_symlink", broken_link("link.csv"), ("broken symbolic link",),
          file="link.csv")
inline("delimited/path_int", "data.load_interactions",
       lambda: data.load_interactions(5), ("path", "5"))
inline("delimited/path_none", "data.load_interactions",
       lambda: data.load_interactions(None), ("path", "None"))
# bytes that are not text
delimited("empty_file", "", ("empty",))
delimited("blank_lines_only", "  \n\n\t\n", ("empty",))
delimited("nbsp_only", "\u00a0\n\u00a0\n", ("no data rows",))
delimited("binary_garbage", garbage(), ("binary",))
delimited("nul_mid_file", b"1,2\n3,\x004\n", ("r.csv:2", "NUL"))
delimited("latin1_bytes", "user,item\ncaf\xe9,x\n".encode("latin-1"), ("UTF-8", ":2"))
delimited("gz_not_gzip", "user,item\n1,2\n", ("gzip",), file="r.csv.gz")
delimited("gz_truncated", gzip.compress(GOOD_CSV.encode())[:-12], ("gzip",),
          file="r.csv.gz")
delimited("gz_of_nothing", gzip.compress(b""), ("empty",), file="r.csv.gz")
delimited("gz_valid", gzip.compress(b"user,item\n1,2\n3,4\n"), expect="correct",
          file="r.csv.gz", check=users_are("1", "3"))
# headers
delimited("header_only", "user,item,rating\n", ("no data rows",))
delimited("header_not_a_pair", "user,item,rating\n1,2,5\n3,4,4\n", expect="correct",
          check=lambda inter, ctx: inter.user_ids == ("1", "3") and len(inter) == 2)
delimited("header_unknown_names", "a,b\n1,2\n3,4\n", expect="correct",
          check=users_are("1", "3"))
delimited("header_with_bom", "\ufeffuser,item\n1,2\n3,4\n", expect="correct",
          check=users_are("1", "3"))
delimited("header_false_but_header", "user,item\n1,2\n", ("r.csv:1", "header"),
          header=False)
delimited("header_repeated", "user,item\n1,2\nuser,item\n3,4\n", ("r.csv:3", "header"))
delimited("header_two_user_columns", "user,user_id,item\n1,2,3\n",
          ("user", "user_id"))
delimited("header_value_yes", "user,item\n1,2\n", ("header", "yes"), header="yes",
          argument=True)
# numeric columns
delimited("rating_nan", "user,item,rating\n1,2,nan\n", ("r.csv:2", "rating", "nan"))
delimited("rating_text", "user,item,rating\n1,2,good\n", ("r.csv:2", "rating", "good"))
delimited("rating_inf", "user,item,rating\n1,2,5\n3,4,inf\n",
          ("r.csv:3", "rating", "inf"))
delimited("rating_empty", "user,item,rating\n1,2,\n", ("r.csv:2", "rating"))
delimited("rating_comma_decimal", "user;item;rating\n1;2;4,5\n",
          ("r.csv:2", "rating", "4,5"), sep=";")
delimited("rating_by_index_text", "1,2,good\n", ("rating", "good"),
          columns={"user": 0, "item": 1, "rating": 2}, header=False)
delimited("timestamp_date", "user,item,timestamp\n1,2,2021-01-01\n",
          ("r.csv:2", "timestamp", "2021-01-01"))
delimited("timestamp_nan", "user,item,time\n1,2,NaN\n", ("timestamp", "NaN"))
delimited("timestamp_fraction", "user,item,timestamp\n1,2,1.5\n3,4,2\n",
          expect="correct",
          check=lambda inter, ctx: inter.timestamp.tolist() == [1.5, 2.0])
delimited("count_negative", "user,item,count\n1,2,-3\n", ("r.csv:2", "weight", "-3"))
delimited("weight_text", "user,item,weight\n1,2,many\n", ("weight", "many"))
delimited("count_column_kept", "user,item,count\n1,x,5\n2,y,1\n", expect="correct",
          check=lambda inter, ctx: inter.weight.tolist() == [5.0, 1.0])
# shape and quoting
delimited("ragged_row", "1,2\n3,4,5\n", ("r.csv:2", "expected 2 fields"))
delimited("single_column", "1\n2\n3\n", ("item", "1 columns"))
delimited("wrong_separator", "1,2\n3,4\n", ("r.tsv", "item", "1 columns"),
          file="r.tsv")
delimited("unknown_suffix", "1,2\n", ("sep",), file="r.dat")
delimited("unbalanced_quote", '1,"2\n3,4\n', ("r.csv:1", "quot"))
delimited("quote_then_text", '"a"b,c\n', ("r.csv:1", "quoting"))
delimited("extra_columns_no_header", "1,2,3\n4,5,6\n", expect="correct",
          check=lambda inter, ctx: len(inter) == 2 and logged("ignoring")(ctx))
delimited("quoted_sep_in_id", '"a,b",x\nc,y\n', expect="correct",
          check=users_are("a,b", "c"))
delimited("escaped_quote", 'user,item\n"a""b",x\n', expect="correct",
          check=users_are('a"b'))
delimited("crlf_lines", "user,item\r\n1,2\r\n3,4\r\n", expect="correct",
          check=users_are("1", "3"))
delimited("cr_lines", "user,item\r1,2\r3,4\r", expect="correct",
          check=users_are("1", "3"))
delimited("multichar_sep", "1::2\n3::4\n", expect="correct", sep="::",
          check=users_are("1", "3"))
delimited("multichar_sep_ragged", "1::2\n3::4::5\n", ("r.csv:2", "expected 2"),
          sep="::")
# ids
delimited("quoted_equals_unquoted", 'user,item\n"1",x\n1,y\n', expect="correct",
          check=lambda inter, ctx: inter.num_users == 1 and len(inter) == 2)
delimited("integral_float_ids", "1,x\n1.0,y\n", expect="correct",
          check=lambda inter, ctx: inter.user_ids == ("1",) and len(inter) == 2)
delimited("exponent_and_plain_ids", "1e3,x\n1000,y\n", ("1e3", "1000"))
delimited("plus_sign_ids", "+1,x\n1,y\n", ("+1", "r.csv:2"))
delimited("empty_user_id", "user,item\n,x\n", ("r.csv:2", "empty user id"))
delimited("empty_item_id", "user,item\nu,\n", ("r.csv:2", "empty item id"))
delimited("huge_text_ids", "123456789012345678901234567890,x\n7,y\n", expect="correct",
          check=users_are("123456789012345678901234567890", "7"))
delimited("duplicates_collapsed", "u,x\nu,x\nv,y\n", expect="correct",
          check=lambda inter, ctx: len(inter) == 2 and logged("collapsed 1")(ctx))
delimited("duplicates_refused", "u,x\nv,y\nu,x\n", ("r.csv:3", "repeated"),
          on_duplicate="error")
delimited("duplicate_quoted_spelling", 'u,x\n"u",x\n', ("r.csv:2", "repeated"),
          on_duplicate="error")
# arguments
delimited("sep_empty", "1,2\n", ("sep",), sep="", argument=True)
delimited("sep_quote", "1,2\n", ("sep",), sep='"', argument=True)
delimited("sep_newline", "1,2\n", ("sep",), sep="\n", argument=True)
delimited("sep_int", "1,2\n", ("sep", "5"), sep=5, argument=True)
delimited("on_duplicate_drop", "1,2\n", ("on_duplicate", "drop"),
          on_duplicate="drop", argument=True)
delimited("min_rating_keeps_none", "user,item,rating\n1,2,3\n3,4,1\n",
          ("min_rating", "5"), min_rating=5)
delimited("min_rating_no_rating_column", "1,2\n", ("min_rating", "rating"),
          min_rating=3)
delimited("min_rating_nan", "user,item,rating\n1,2,3\n", ("min_rating", "nan"),
          min_rating=math.nan, argument=True)
delimited("min_rating_string", "user,item,rating\n1,2,3\n", ("min_rating", "4"),
          min_rating="4", argument=True)
delimited("min_rating_bool", "user,item,rating\n1,2,3\n", ("min_rating", "True"),
          min_rating=True, argument=True)
delimited("min_weight_keeps_none", "user,item,count\n1,2,3\n", ("min_weight", "100"),
          min_weight=100)
delimited("min_weight_on_ratings", "user,item,rating\n1,2,3\n",
          ("min_weight", "min_rating"), min_weight=1)
delimited("columns_list", "1,2\n", ("columns",), columns=["user", "item"],
          argument=True)
delimited("columns_without_item", "1,2\n", ("columns", "item"), columns={"user": 0},
          argument=True)
delimited("columns_unknown_role", "1,2,3\n", ("columns", "score"),
          columns={"user": 0, "item": 1, "score": 2}, argument=True)
delimited("columns_index_out_of_range", "1,2\n", ("item", "5"),
          columns={"user": 0, "item": 5})
delimited("columns_name_not_in_header", "user,item\n1,2\n", ("user", "uid"),
          columns={"user": "uid", "item": "item"})
delimited("columns_same_index", "1,2\n", ("user", "item", "column 0"),
          columns={"user": 0, "item": 0})
delimited("columns_float_index", "1,2\n", ("item", "1.5"),
          columns={"user": 0, "item": 1.5}, argument=True)
delimited("columns_names_without_header", "1,2\n", ("header",),
          columns={"user": "user", "item": "item"}, header=False, argument=True)


# =========================================================== LightGCN format (API)

def lightgcn(name: str, content: str | bytes | Callable[[Path], Path],
             mention: tuple[str, ...] = (), file: str = "train.txt",
             expect: str = "clear",
             check: Callable[[Any, Context], bool] | None = None,
             argument: bool = False, **kwargs: Any) -> Case:
    """``read_lightgcn(<file>, **kwargs)``; an error must name the file too, unless
    it is about an ``argument``."""
    setup = content if callable(content) else write(file, content)
    named = (file, *mention) if expect == "clear" and not argument else mention
    return api(f"lightgcn/{name}", "data.read_lightgcn", setup,
               lambda path: data.read_lightgcn(path, **kwargs), named, expect, check)


def read_as(user: list[int], item: list[int]) -> Callable[[Any, Context], bool]:
    """A check: the pairs read."""
    return lambda res, ctx: res[0].tolist() == user and res[1].tolist() == item


lightgcn("missing_file", nothing("train.txt"), ("not found",))
lightgcn("directory", directory("train.txt"), ("directory",))
lightgcn("fifo", fifo("train.txt"), ("named pipe",))
lightgcn("symlink_loop", symlink_loop("train.txt"), ("symbolic link loop",))
lightgcn("empty_file", "", ("empty",))
lightgcn("binary_garbage", garbage(seed=3), ("binary",))
lightgcn("invalid_utf8", b"0 1\n1 \xff\xfe\n", ("train.txt:2", "UTF-8"))
lightgcn("negative_id", "0 1\n1 -1\n", ("train.txt:2", "negative", "-1"))
lightgcn("letter_id", "0 1\n1 a\n", ("train.txt:2", "'a'"))
lightgcn("float_id", "0 1.5\n", ("train.txt:1", "1.5"))
lightgcn("comma_separated", "0,1,2\n", ("train.txt:1", "0,1,2"))
lightgcn("arabic_digit", "0 \u0661\n", ("train.txt:1", "\u0661"))
lightgcn("id_1e12", "0 1\n1 1000000000000\n", ("train.txt:2", "1000000000000",
                                                "max_id"))
lightgcn("id_20_digits", "0 12345678901234567890\n", ("train.txt:1", "int64"))
lightgcn("id_above_max_id", "0 1\n1 9\n", ("train.txt:2", "9", "max_id"), max_id=5)
lightgcn("max_id_negative", "0 1\n", ("max_id", "-1"), max_id=-1, argument=True)
lightgcn("max_id_string", "0 1\n", ("max_id", "'10'"), max_id="10", argument=True)
lightgcn("max_id_bool", "0 1\n", ("max_id", "True"), max_id=True, argument=True)
lightgcn("gz_not_gzip", "0 1\n", ("gzip",), file="train.txt.gz")
lightgcn("user_without_items", "0 1 2\n1\n2 3\n", expect="correct",
         check=read_as([0, 0, 2], [1, 2, 3]))
lightgcn("crlf_and_tabs", "0\t1 2\r\n1\t2\r\n", expect="correct",
         check=read_as([0, 0, 1], [1, 2, 2]))


def folder(name: str, setup: Callable[[Path], Path], mention: tuple[str, ...],
           expect: str = "clear", val_ratio: float = 0.1,
           check: Callable[[Any, Context], bool] | None = None) -> Case:
    """``load_lightgcn_folder(<folder>, val_ratio)``."""
    return api(f"lightgcn/folder_{name}", "cli.build.load_lightgcn_folder", setup,
               lambda path: load_lightgcn_folder(path, val_ratio), mention, expect,
               check)


folder("missing", nothing("lgcn"), ("lgcn", "not found"))
folder("is_a_file", write("lgcn", GOOD_TRAIN), ("lgcn", "not a folder"))
folder("no_train", lightgcn_folder(test=GOOD_TEST), ("lgcn", "train.txt"))
folder("no_test", lightgcn_folder(train=GOOD_TRAIN), ("lgcn", "test.txt"))
folder("train_is_directory",
       lambda tmp: (lightgcn_folder(test=GOOD_TEST)(tmp) / "train.txt").mkdir()
       or tmp / "lgcn", ("train.txt", "directory"))
folder("empty_train", lightgcn_folder(train="", test=GOOD_TEST),
       ("train.txt", "empty"))
folder("bad_test_line", lightgcn_folder(train=GOOD_TRAIN, test="0 8\n1 x\n"),
       ("test.txt:2", "'x'"))
folder("cold_test_item", lightgcn_folder(train=GOOD_TRAIN, test="0 8\n1 99\n"),
       ("test.txt", "1 99", "no training pair"))
folder("cold_test_user", lightgcn_folder(train=GOOD_TRAIN, test="0 8\n40 3\n"),
       ("test.txt", "40 3", "no training pair"))
folder("val_ratio_one", lightgcn_folder(train=GOOD_TRAIN, test=GOOD_TEST),
       ("val_ratio", "1.0"), val_ratio=1.0)
folder("train_without_items", lightgcn_folder(train="0\n1\n", test=GOOD_TEST),
       ("train.txt", "no (user, item) pair"))
folder("test_without_items", lightgcn_folder(train=GOOD_TRAIN, test="0\n1\n"),
       ("test.txt", "no (user, item) pair"))
folder("valid", lightgcn_folder(train=GOOD_TRAIN, test=GOOD_TEST), (),
       expect="correct",
       check=lambda parts, ctx: sum(map(len, parts)) == 12 * 10)


# ====================================================== splits, Interactions (API)

split = partial(inline, entry="data.random_split")
interactions = partial(inline, entry="data.Interactions")

split("split/ratios_sum_below_one",
      call=lambda: data.random_split(grid(), (0.5, 0.2)), mention=("ratios", "0.5"))
split("split/ratio_negative",
      call=lambda: data.random_split(grid(), (1.2, -0.2)), mention=("ratios", "-0.2"))
split("split/ratios_empty", call=lambda: data.random_split(grid(), ()),
      mention=("ratios",))
split("split/ratio_nan",
      call=lambda: data.random_split(grid(), (math.nan, 0.5, 0.5)),
      mention=("ratios", "nan"))
split("split/ratios_bool", call=lambda: data.random_split(grid(), (True, False)),
      mention=("ratios", "True"))
split("split/ratios_string", call=lambda: data.random_split(grid(), "0.8"),
      mention=("ratios",))
split("split/zero_ratio_part", call=lambda: data.random_split(grid(), (0.8, 0, 0.2)),
      expect="correct",
      check=lambda parts, ctx: (len(parts[1]) == 0
                                and logged("'val'", "ratio is 0")(ctx)))
split("split/single_pair", call=lambda: data.random_split(pairs([0], [0], 1, 2)),
      mention=("val", "empty"))
split("split/no_pairs", call=lambda: data.random_split(pairs([0], [0]).subset(
      torch.tensor([], dtype=torch.long))), mention=("empty", "0 pairs"))
split("split/seed_string", call=lambda: data.random_split(grid(), seed="1"),
      mention=("seed", "'1'"))
split("split/cold_option", call=lambda: data.random_split(grid(), cold="maybe"),
      mention=("cold", "maybe"))
inline("split/holdout_ratio_one", "data.holdout",
       lambda: data.holdout(grid(), 1.0), ("ratio", "1.0"))
inline("split/holdout_ratio_negative", "data.holdout",
       lambda: data.holdout(grid(), -0.1), ("ratio", "-0.1"))
inline("split/holdout_ratio_string", "data.holdout",
       lambda: data.holdout(grid(), "0.1"), ("ratio", "'0.1'"))
inline("split/dataset_val_ratio", "data.load",
       lambda: data.load("ml-100k", val_ratio=0.95), ("val_ratio", "0.95"))
inline("split/dataset_unknown", "data.load", lambda: data.load("movielens"),
       ("movielens",))
inline("split/leave_one_out_short_users", "data.leave_one_out",
       lambda: data.leave_one_out(grid(per_user=2)), ("3", "at most 2"))
inline("split/temporal_without_timestamps", "data.temporal_split",
       lambda: data.temporal_split(grid()), ("timestamps",))
inline("split/disjoint_leak", "data.check_disjoint",
       lambda: data.check_disjoint(grid(), grid().subset(torch.tensor([0, 1])),
                                   names=["train", "test"]),
       ("train", "test", "share 2"))
interactions("split/user_out_of_range", call=lambda: pairs([0, 5], [0, 1], 3, 2),
             mention=("user", "range", "0..5"))
interactions("split/item_negative", call=lambda: pairs([0, 1], [0, -1], 2, 2),
             mention=("item", "range", "-1"))
interactions("split/length_mismatch",
             call=lambda: Interactions(torch.tensor([0, 1]), torch.tensor([0]), 2, 2),
             mention=("differ", "2 vs 1"))
interactions("split/float_indices",
             call=lambda: Interactions(torch.tensor([0.0]), torch.tensor([0]), 1, 1),
             mention=("int64", "float"))
interactions("split/two_dimensional",
             call=lambda: Interactions(torch.zeros(1, 2, dtype=torch.long),
                                       torch.zeros(1, 2, dtype=torch.long), 1, 1),
             mention=("1-D", "(1, 2)"))
interactions("split/negative_num_users",
             call=lambda: Interactions(torch.zeros(0, dtype=torch.long),
                                       torch.zeros(0, dtype=torch.long), -1, 2),
             mention=("num_users", "-1"))
interactions("split/user_ids_length", call=lambda: pairs([0, 1], [0, 1],
                                                         user_ids=("a",)),
             mention=("user_ids", "1 for 2"))
interactions("split/timestamp_length",
             call=lambda: pairs([0, 1], [0, 1], timestamp=torch.tensor([1])),
             mention=("timestamp", "(1,)"))
inline("split/concat_nothing", "data.concat", lambda: data.concat([]), ("concat",))
inline("split/concat_shapes", "data.concat",
       lambda: data.concat([pairs([0], [0], 2, 2), pairs([0], [0], 3, 2)]),
       ("shapes",))
inline("split/concat_id_maps", "data.concat",
       lambda: data.concat([pairs([0], [0], user_ids=("a",)),
                            pairs([0], [0], user_ids=("b",))]), ("user_ids",))
inline("split/concat_repeated_pair", "data.concat",
       lambda: data.concat([pairs([0, 1], [0, 1]), pairs([1], [1], 2, 2)]),
       expect="correct",
       check=lambda inter, ctx: len(inter) == 2 and logged("collapsed 1")(ctx))


# ========================================================= trainer, models (API)

def tiny_fit(trainer: Trainer, train: Interactions | None = None,
             val: Interactions | None = None) -> Any:
    """One fit of an MF model of dimension 4 on a 6-user grid."""
    inter = grid() if train is None else train
    model = BPRRecommender(MF(inter.num_users, inter.num_items, dim=4))
    return trainer.fit(model, inter, val)


trainer = partial(inline, entry="train.Trainer")
quiet = {"progress": False, "device": "cpu"}

trainer("train/epochs_negative", call=lambda: Trainer(epochs=-1),
        mention=("'epochs'", "got -1"))
trainer("train/lr_zero", call=lambda: Trainer(lr=0), mention=("'lr'", "got 0)"))
trainer("train/lr_nan", call=lambda: Trainer(lr=math.nan), mention=("lr", "nan"))
trainer("train/lr_inf", call=lambda: Trainer(lr=math.inf), mention=("lr", "inf"))
trainer("train/eval_every_zero", call=lambda: Trainer(eval_every=0),
        mention=("'eval_every'", "got 0)"))
trainer("train/checkpoint_every_zero", call=lambda: Trainer(checkpoint_every=0),
        mention=("'checkpoint_every'", "got 0)"))
trainer("train/max_seconds_negative", call=lambda: Trainer(max_seconds=-1),
        mention=("max_seconds", "-1"))
trainer("train/max_seconds_nan", call=lambda: Trainer(max_seconds=math.nan),
        mention=("max_seconds", "nan"))
trainer("train/step_guard_unknown", call=lambda: Trainer(step_guard="sometimes"),
        mention=("step_guard", "sometimes"))
trainer("train/config_reserved_key", call=lambda: Trainer(config={"trainer": 1}),
        mention=("config", "trainer"))
trainer("train/batch_size_zero", call=lambda: Trainer(batch_size=0),
        mention=("batch_size", "0"))
trainer("train/num_negatives_zero", call=lambda: Trainer(num_negatives=0),
        mention=("num_negatives", "0"))
trainer("train/sampler_unknown", call=lambda: Trainer(sampler="edge"),
        mention=("sampler", "edge"))
trainer("train/negative_sampling_unknown",
        call=lambda: Trainer(negative_sampling="hard"),
        mention=("negative_sampling", "hard"))
trainer("train/k_empty", call=lambda: Trainer(k=[]), mention=("k", "[]"))
trainer("train/k_zero", call=lambda: Trainer(k=[0]), mention=("k", "0"))
trainer("train/weight_decay_negative", call=lambda: Trainer(weight_decay=-1.0),
        mention=("weight_decay", "-1"))
trainer("train/eval_batch_size_zero", call=lambda: Trainer(eval_batch_size=0),
        mention=("eval_batch_size", "0"))
trainer("train/device_tpu", call=lambda: tiny_fit(Trainer(epochs=1, device="tpu",
                                                          progress=False)),
        mention=("device", "tpu"))
trainer("train/fit_empty_train",
        call=lambda: tiny_fit(Trainer(epochs=1, **quiet),
                              grid().subset(torch.tensor([], dtype=torch.long))),
        mention=("empty",))
trainer("train/fit_user_has_every_item",
        call=lambda: tiny_fit(Trainer(epochs=1, **quiet), pairs([0, 0, 1], [0, 1, 0])),
        mention=("user 0", "every item"))
trainer("train/fit_resume_missing",
        call=lambda: Trainer(epochs=1, **quiet).fit(
            BPRRecommender(MF(6, 8, dim=4)), grid(), resume="/nonexistent/last.pt"),
        mention=("/nonexistent",))
trainer("train/monitor_not_computed",
        call=lambda: tiny_fit(Trainer(epochs=1, early_stopping=EarlyStopping(
            "ndcg@50"), **quiet), grid().subset(torch.arange(1, 30)),
            grid().subset(torch.tensor([0]))),
        mention=("ndcg@50",))
inline("train/early_stopping_mode", "train.EarlyStopping",
       lambda: EarlyStopping(mode="up"), ("mode", "up"))
api("train/log_path_directory", "train.Trainer", directory("logs"),
    lambda path: Trainer(log_path=path), ("log_path", "directory", "logs"))
api("train/checkpoint_dir_is_a_file", "train.Trainer", write("ckpt", "x"),
    lambda path: Trainer(checkpoint_dir=path), ("checkpoint_dir", "ckpt"))
trainer("train/fit_with_k_empty",
        call=lambda: tiny_fit(Trainer(epochs=1, k=[], **quiet)), mention=("'k'", "[]"))
api("train/fit_log_path_directory", "train.Trainer.fit", directory("logs"),
    lambda path: tiny_fit(Trainer(epochs=1, log_path=path, **quiet)),
    ("log_path", "directory", "logs"))
api("train/fit_checkpoint_dir_is_a_file", "train.Trainer.fit", write("ckpt", "x"),
    lambda path: tiny_fit(Trainer(epochs=1, checkpoint_dir=path, **quiet)),
    ("checkpoint_dir", "ckpt"))
inline("train/early_stopping_patience_zero", "train.EarlyStopping",
       lambda: EarlyStopping(patience=0), ("patience", "0"))
inline("train/early_stopping_min_delta_negative", "train.EarlyStopping",
       lambda: EarlyStopping(min_delta=-1.0), ("min_delta", "-1"))
inline("train/early_stopping_warmup_text", "train.EarlyStopping",
       lambda: EarlyStopping(warmup="soon"), ("warmup", "soon"))
inline("train/early_stopping_warmup_negative", "train.EarlyStopping",
       lambda: EarlyStopping(warmup=-2), ("warmup", "-2"))
augment = partial(inline, entry="augment")
augment("train/edge_dropout_p_one", call=lambda: EdgeDropout(1.0), mention=("p", "1"))
augment("train/edge_dropout_p_negative", call=lambda: EdgeDropout(-0.1),
        mention=("p", "-0.1"))
augment("train/edge_dropout_p_nan", call=lambda: EdgeDropout(math.nan),
        mention=("p", "nan"))
augment("train/edge_dropout_p_string", call=lambda: EdgeDropout("0.5"),
        mention=("p", "'0.5'"))
augment("train/node_dropout_p_one", call=lambda: NodeDropout(1.0), mention=("p", "1"))
augment("train/random_walk_length_zero", call=lambda: RandomWalk(walk_length=0),
        mention=("walk_length", "0"))
augment("train/random_walk_restart_two", call=lambda: RandomWalk(restart_p=2.0),
        mention=("restart_p", "2"))
model = partial(inline, entry="models")
model("train/mf_dim_zero", call=lambda: MF(5, 5, dim=0), mention=("dim", "0"))
model("train/mf_init_unknown", call=lambda: MF(5, 5, init="zeros"),
      mention=("init", "zeros"))
model("train/lightgcn_layers_negative", call=lambda: LightGCN(5, 5, num_layers=-1),
      mention=("num_layers", "-1"))
model("train/bpr_reg_negative", call=lambda: BPRRecommender(MF(5, 5), reg_weight=-1),
      mention=("reg_weight", "-1"))


# ============================================================= checkpoints (API)

def sealed(state: dict[str, Any] | None = None, name: str = "last.pt"
           ) -> Callable[[Path], Path]:
    """A setup writing a checkpoint with :func:`save_checkpoint`."""
    state = state if state is not None else {
        "config": {"seed": 0, "lr": 0.1}, "epoch": 1,
        "model": {"w": torch.arange(64, dtype=torch.float32)}}
    return lambda tmp: save_checkpoint(tmp / name, state)


def damaged(how: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    """A setup writing a sealed checkpoint, then changing its bytes."""

    def setup(tmp: Path) -> Path:
        path = sealed()(tmp)
        path.write_bytes(how(path.read_bytes()))
        return path

    return setup


def flip(at: float) -> Callable[[bytes], bytes]:
    """Flips every bit of the byte at fraction ``at`` of the file."""

    def how(raw: bytes) -> bytes:
        k = min(int(len(raw) * at), len(raw) - 1)
        return raw[:k] + bytes([raw[k] ^ 0xFF]) + raw[k + 1:]

    return how


def torch_saved(obj: Any, name: str = "last.pt") -> Callable[[Path], Path]:
    """A setup writing ``obj`` with plain ``torch.save`` (no seal)."""

    def setup(tmp: Path) -> Path:
        torch.save(obj, tmp / name)
        return tmp / name

    return setup


class Planted:
    """Unpickling this would call ``os.system``: a weights-only load must refuse."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo planted",))


def zip_archive(tmp: Path) -> Path:
    with zipfile.ZipFile(tmp / "last.pt", "w") as z:
        z.writestr("archive/data.pkl", b"not a pickle")
    return tmp / "last.pt"


def checkpoint(name: str, setup: Callable[[Path], Path], mention: tuple[str, ...],
               file: str = "last.pt", **kwargs: Any) -> Case:
    """``load_checkpoint(<file>, **kwargs)``; the error must name the file."""
    return api(f"checkpoint/{name}", "train.load_checkpoint", setup,
               lambda path: load_checkpoint(path, **kwargs), (file, *mention))


checkpoint("missing", nothing("last.pt"), ("no checkpoint",))
checkpoint("directory", directory("last.pt"), ("not a regular file",))
checkpoint("fifo", fifo("last.pt"), ("not a regular file",))
checkpoint("symlink_loop", symlink_loop("last.pt"), ("symbolic link loop",))
checkpoint("empty", write("last.pt", b""), ("empty",))
checkpoint("random_bytes", write("last.pt", garbage(4096)), ("not a checkpoint",))
checkpoint("text_file", write("last.pt", "epoch = 3\n"), ("not a checkpoint",))
checkpoint("truncated_half", damaged(lambda raw: raw[: len(raw) // 2]),
           ("truncated or corrupt",))
checkpoint("truncated_tail", damaged(lambda raw: raw[:-40]), ("seal",))
checkpoint("flipped_byte_start", damaged(flip(0.3)), ("corrupt",))
checkpoint("flipped_byte_middle", damaged(flip(0.6)), ("corrupt",))
checkpoint("flipped_seal_byte", damaged(flip(0.999)), ("seal", "damaged"))
checkpoint("appended_bytes", damaged(lambda raw: raw + b"junk"), ("seal",))
checkpoint("nan_weights", sealed({"config": {}, "epoch": 1, "model": {
    "w": torch.tensor([1.0, math.nan])}}), ("model.w", "non-finite"))
checkpoint("planted_pickle", torch_saved({"model": Planted()}),
           ("unsafe", "could execute code"))
checkpoint("unsealed_torch_save", torch_saved({
    "format_version": 2, "library_version": __import__("graphcl_rec").__version__,
    "config": {}, "epoch": 1, "model": {}}), ("no checksum seal",))
checkpoint("torch_saved_list", torch_saved([1, 2, 3]), ("expected a dict", "list"))
checkpoint("missing_keys", sealed({"epoch": 1}), ("missing keys", "config"))
checkpoint("other_format_version", sealed({"format_version": 1, "config": {},
                                           "epoch": 1, "model": {}}),
           ("format_version",))
checkpoint("config_mismatch", sealed(), ("lr",),
           expected_config={"seed": 0, "lr": 0.01})
api("checkpoint/map_location_unknown", "train.load_checkpoint", sealed(),
    lambda path: load_checkpoint(path, map_location="tpu"), ("map_location", "tpu"))
if torch.cuda.is_available():
    api("checkpoint/map_location_cuda", "train.load_checkpoint", sealed(),
        lambda path: load_checkpoint(path, map_location="cuda"), expect="correct",
        check=lambda state, ctx: state["model"]["w"].is_cuda)
else:
    api("checkpoint/map_location_cuda", "train.load_checkpoint", sealed(),
        lambda path: load_checkpoint(path, map_location="cuda"),
        ("map_location", "CUDA"))
api("checkpoint/save_under_a_file", "train.save_checkpoint", write("run", "x"),
    lambda path: save_checkpoint(path / LAST, {"config": {}, "epoch": 1, "model": {}}),
    ("run", "folder"))
checkpoint("zip_not_torch", zip_archive, ("truncated or corrupt",))
checkpoint("pickle_header_garbage", write("last.pt", b"\x80\x02garbage" * 4),
           ("corrupt",))
inline("checkpoint/save_unplain_value", "train.save_checkpoint",
       lambda: save_checkpoint(Path(tempfile.gettempdir()) / "never.pt",
                               {"config": {}, "epoch": 1, "model": {"s": {1, 2}}}),
       ("checkpoint.model.s", "set"))


# ================================================================== configs (API)

DATA = 'path = "{data}"\nratios = [0.8, 0.1, 0.1]'
MODEL = 'objective = "bpr"'
ENCODER = 'name = "mf"\ndim = 4'
TRAIN = 'epochs = 1\nbatch_size = 64\ndevice = "cpu"'


def toml(top: str = 'name = "tiny"', data: str | None = DATA, model: str | None = MODEL,
         encoder: str | None = ENCODER, train: str | None = TRAIN,
         extra: str = "") -> str:
    """A config; a ``None`` section is left out, ``{data}`` is the ratings file."""
    parts = [top]
    for header, body in (("[data]", data), ("[model]", model),
                         ("[model.encoder]", encoder), ("[train]", train)):
        if body is not None:
            parts += [header, body]
    return "\n".join([*parts, extra]) + "\n"


def config_files(text: str | bytes, data_text: str | bytes = GOOD_CSV,
                 file: str = "cfg.toml", data_file: str = "ratings.csv",
                 more: Callable[[Path], Any] | None = None) -> Callable[[Path], Path]:
    """A setup writing the data file and the config (``{data}``, ``{tmp}`` filled)."""

    def setup(tmp: Path) -> Path:
        if more is not None:
            more(tmp)
        if data_text is not None:
            write(data_file, data_text)(tmp)
        body = text if isinstance(text, bytes) else text.format(
            data=tmp / data_file, tmp=tmp)
        return write(file, body)(tmp)

    return setup


def config(name: str, text: str | bytes | Callable[[Path], Path],
           mention: tuple[str, ...], overrides: tuple[str, ...] = (),
           stage: str = "load", expect: str = "clear",
           check: Callable[[Any, Context], bool] | None = None) -> Case:
    """``load_config(<cfg.toml>, overrides)``, then (``stage``) ``load_data`` of its
    ``[data]`` or ``build_model`` of its ``[model]``."""
    setup = text if callable(text) else config_files(text)

    def call(path: Path) -> Any:
        cfg = load_config(path, list(overrides))
        if stage == "data":
            return load_data(cfg.data)
        if stage == "model":
            return build_model(cfg.model, 12, 15)
        return cfg

    entry = {"load": "cli.config.load_config", "data": "cli.build.load_data",
             "model": "cli.build.build_model"}[stage]
    return api(f"config/{name}", entry, setup, call, mention, expect, check)


config("missing_file", nothing("cfg.toml"), ("cfg.toml", "not found"))
config("directory", directory("cfg.toml"), ("cfg.toml", "directory"))
config("fifo", fifo("cfg.toml"), ("cfg.toml", "named pipe"))
config("invalid_toml", "[train\nlr = 1\n", ("cfg.toml", "TOML", "line 1"))
config("binary_garbage", config_files(garbage(seed=11)), ("cfg.toml",))
config("duplicate_key", toml(train="epochs = 1\nepochs = 2"),
       ("cfg.toml", "line 12"))
config("unknown_section", toml(extra="[trainer]\nlr = 1"), ("trainer",))
config("top_level_epochs", toml(top='name = "tiny"\nepochs = 3'), ("epochs",))
config("unknown_train_key", toml(train="learning_rate = 0.1"),
       ("learning_rate", "[train]"))
config("unknown_data_key", toml(data='path = "{data}"\nseperator = ","'),
       ("seperator", "[data]"))
config("unknown_model_key", toml(model='objective = "bpr"\ntemperature = 0.2'),
       ("temperature", "[model]"))
config("unknown_encoder_key", toml(encoder='name = "mf"\nlayers = 2'),
       ("layers", "[model.encoder]"))
config("lr_text", toml(train='lr = "fast"'), ("lr", "fast"))
config("epochs_float", toml(train="epochs = 1.5"), ("epochs", "1.5"))
config("epochs_zero", toml(train="epochs = 0"), ("epochs", "0"))
config("epochs_negative", toml(train="epochs = -5"), ("epochs", "-5"))
config("max_seconds_negative", toml(train="max_seconds = -1"), ("max_seconds", "-1"))
config("max_seconds_nan", toml(train="max_seconds = nan"), ("max_seconds", "nan"))
config("lr_nan", toml(train="lr = nan"), ("lr", "nan"))
config("lr_negative", toml(train="lr = -0.1"), ("'lr'", "-0.1"))
config("batch_size_zero", toml(train="batch_size = 0"), ("batch_size", "0"))
config("k_empty", toml(train="k = []"), ("k", "[]"))
config("k_text_entry", toml(train='k = [20, "x"]'), ("k", "'x'"))
config("sampler_unknown", toml(train='sampler = "bogus"'), ("sampler", "bogus"))
config("patience_zero", toml(train="patience = 0"), ("patience", "0"))
config("eval_every_zero", toml(train="eval_every = 0"), ("'eval_every'", "got 0)"))
config("weight_decay_negative", toml(train="weight_decay = -1.0"),
       ("weight_decay", "-1"))
config("device_tpu", toml(train='device = "tpu"'), ("device", "tpu"))
config("data_not_a_table", toml(top='name = "tiny"\ndata = 5', data=None), ("data",))
config("model_not_a_table", toml(top='name = "tiny"\nmodel = "sgl"', model=None,
                                 encoder=None), ("model", "sgl"))
config("dataset_and_path", toml(data='dataset = "ml-100k"\npath = "{data}"'),
       ("dataset", "path"))
config("path_not_a_string", toml(data="path = 5"), ("path", "5"))
config("ratios_two_entries", toml(data='path = "{data}"\nratios = [0.8, 0.2]'),
       ("ratios", "three"))
config("ratios_sum", toml(data='path = "{data}"\nratios = [0.8, 0.3, 0.1]'),
       ("ratios", "0.3"))
config("val_ratio_one_half", toml(data='path = "{data}"\nval_ratio = 1.5'),
       ("val_ratio", "1.5"))
config("format_unknown", toml(data='path = "{data}"\nformat = "parquet"'),
       ("format", "parquet"))
config("header_text", toml(data='path = "{data}"\nheader = "yes"'), ("header", "yes"))
config("min_rating_text", toml(data='path = "{data}"\nmin_rating = "high"'),
       ("min_rating", "high"))
config("split_seed_text", toml(data='path = "{data}"\nsplit_seed = "x"'),
       ("split_seed", "x"))
config("seed_float", toml(top='name = "tiny"\nseed = 1.5'), ("seed", "1.5"))
config("seed_bool", toml(top='name = "tiny"\nseed = true'), ("seed", "True"))
config("seed_negative", toml(top='name = "tiny"\nseed = -1'), ("seed", "-1"))
config("monitor_not_computed", toml(train='monitor = "ndcg@50"'), ("ndcg@50", "'k'"))
config("k_without_monitored_cutoff", toml(train="k = [10]"), ("recall@20", "[10]"))
config("name_dotdot", toml(top='name = "../evil"'), ("name", "../evil"))
config("name_absolute", toml(top='name = "/tmp/evil"'), ("name", "/tmp/evil"))
config("name_empty", toml(top='name = ""'), ("name", "''"))
config("file_name_with_tab", config_files(toml(top=""), file="a\tb.toml"),
       ("name", "a\\tb"))
config("objective_unknown", toml(model='objective = "sgll"'), ("objective", "sgll"))
config("objective_number", toml(model="objective = 3"), ("objective", "3"))
config("encoder_unknown", toml(encoder='name = "transformer"'), ("transformer",))
config("encoder_dim_float", toml(encoder='name = "mf"\ndim = 1.5'), ("dim", "1.5"))
config("augment_unknown", toml(model='objective = "sgl"',
                               extra='[model.augment]\nname = "crop"'),
       ("augmentation", "crop"))
config("augment_without_name", toml(model='objective = "sgl"',
                                    extra="[model.augment]\np = 0.1"),
       ("model.augment", "name"))
config("sgl_without_augment", toml(model='objective = "sgl"'), ("augment",))
config("augment_on_bpr", toml(extra='[model.augment]\nname = "edge_dropout"'),
       ("augment", "[model]"))
config("override_without_value", toml(), ("--train.lr",), overrides=("--train.lr",))
config("override_unknown_key", toml(), ("learnin_rate",),
       overrides=("--train.learnin_rate=1",))
config("override_wrong_type", toml(), ("epochs", "abc"),
       overrides=("--train.epochs=abc",))
config("override_into_scalar", toml(), ("lr", "'x'"),
       overrides=("--train.lr.x=1",))
config("override_seed_text", toml(), ("seed", "abc"), overrides=("--seed=abc",))
config("override_name_dotdot", toml(), ("name", "../x"), overrides=("--name=../x",))
config("override_adds_dataset", toml(), ("dataset", "path"),
       overrides=("--data.dataset=ml-100k",))
config("override_unknown_section", toml(), ("optim",), overrides=("--optim.lr=1",))
config("empty_file", config_files(""), (), expect="correct",
       check=lambda cfg, ctx: cfg.data.dataset == "ml-100k" and cfg.name == "cfg")
# the data and model a config describes
config("data_path_missing", toml(data='path = "{tmp}/nothere.csv"'),
       ("nothere.csv", "not found"), stage="data")
config("data_path_directory", toml(data='path = "{tmp}"'), ("directory",),
       stage="data")
config("data_sep_empty", toml(data='path = "{data}"\nsep = ""'), ("sep",),
       stage="data")
config("data_columns_unknown_role",
       toml(data='path = "{data}"\ncolumns = {{user = 0, item = 1, score = 2}}'),
       ("score",), stage="data")
config("data_columns_without_item",
       toml(data='path = "{data}"\ncolumns = {{user = 0}}'), ("columns", "item"),
       stage="data")
config("data_dataset_unknown", toml(data='dataset = "netflix"'), ("netflix",),
       stage="data")
config("data_lightgcn_on_a_file", toml(data='path = "{data}"\nformat = "lightgcn"'),
       ("ratings.csv", "not a folder"), stage="data")
config("data_min_rating_keeps_none", toml(data='path = "{data}"\nmin_rating = 9'),
       ("min_rating", "9"), stage="data")
config("data_single_user", config_files(toml(), data_text=ratings_text(users=1)),
       ("ratings.csv", "every"), stage="data")
config("model_sgl_p_one", toml(model='objective = "sgl"',
                               extra='[model.augment]\nname = "edge_dropout"\np = 1.0'),
       ("p", "1.0"), stage="model")
config("model_dim_zero", toml(encoder='name = "mf"\ndim = 0'), ("dim", "0"),
       stage="model")
config("model_tau_zero", toml(model='objective = "simgcl"\ntau = 0.0',
                              encoder='name = "lightgcn"\ndim = 4'),
       ("tau", "0"), stage="model")
config("model_reg_weight_negative", toml(model='objective = "bpr"\nreg_weight = -1.0'),
       ("reg_weight", "-1"), stage="model")
config("data_weight_column", config_files(toml(data='path = "{data}"'), data_text=(
    ratings_text(header="user,item,count"))), (), stage="data", expect="correct",
    check=lambda parts, ctx: all(p.weight is not None for p in parts))


# ================================================================ command line

OUT = "out"


def cli(name: str, setup: Callable[[Path], Any], argv: Callable[[Any], list[str]],
        mention: tuple[str, ...], expect: str = "clear",
        check: Callable[[Any, Context], bool] | None = None) -> Case:
    """``graphcl-rec <argv>`` with stdout and stderr captured."""
    return add(Case(f"cli/{name}", "graphcl-rec", setup, argv, mention, expect, check,
                    cli=True))


def train_argv(*extra: str) -> Callable[[Path], list[str]]:
    """``train <cfg> --out <tmp>/out --no-progress <extra>`` (``{tmp}`` filled)."""

    def argv(cfg: Path) -> list[str]:
        tmp = cfg.parent
        return ["train", str(cfg), "--out", str(tmp / OUT), "--no-progress",
                *(e.format(tmp=tmp) for e in extra)]

    return argv


def cli_train(name: str, text: str | Callable[[Path], Path],
              mention: tuple[str, ...], extra: tuple[str, ...] = (),
              expect: str = "clear",
              check: Callable[[Any, Context], bool] | None = None) -> Case:
    """``graphcl-rec train cfg.toml`` for a config (``{data}``: the ratings file)."""
    setup = text if callable(text) else config_files(text)
    return cli(name, setup, train_argv(*extra), mention, expect, check)


def nothing_written(ctx: Context) -> bool:
    """No results file was written."""
    return not list((ctx.tmp / OUT).glob("*.json"))


def results(stem: str = "tiny-seed0") -> Callable[[Any, Context], bool]:
    """A check: exit 0 and the results file holds test metrics."""
    return lambda rc, ctx: rc == 0 and "recall@20" in (
        ctx.tmp / OUT / f"{stem}.json").read_text()


_RUNS: dict[str, Path] = {}


def trained_run() -> Path:
    """A finished one-epoch run with checkpoints (trained once, then copied)."""
    if "run" not in _RUNS:
        from graphcl_rec.cli.main import main

        root = Path(tempfile.mkdtemp(prefix="graphcl-corpus-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        cfg = config_files(toml())(root)
        previous = os.environ.get("GRAPHCL_REC_REVISION")
        os.environ["GRAPHCL_REC_REVISION"] = "corpus"
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                rc = main(["train", str(cfg), "--out", str(root / OUT),
                           "--no-progress"])
        finally:
            if previous is None:
                os.environ.pop("GRAPHCL_REC_REVISION", None)
            else:
                os.environ["GRAPHCL_REC_REVISION"] = previous
        if rc != 0:
            raise RuntimeError("the corpus's reference run failed")
        _RUNS["run"] = root
    return _RUNS["run"]


def copy_of_run(change: Callable[[Path], Any] | None = None,
                text: str | None = None) -> Callable[[Path], Path]:
    """A setup copying :func:`trained_run` into ``tmp`` (then ``change(tmp)``);
    ``text`` replaces the config. Returns the config's path."""

    def setup(tmp: Path) -> Path:
        shutil.copytree(trained_run(), tmp, dirs_exist_ok=True)
        if text is not None:
            (tmp / "cfg.toml").write_text(text.format(data=tmp / "ratings.csv",
                                                      tmp=tmp))
        if change is not None:
            change(tmp)
        return tmp / "cfg.toml"

    return setup


RUN_DIR = "{tmp}/" + OUT + "/tiny-seed0"


def damage_last(how: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def change(tmp: Path) -> None:
        path = tmp / OUT / "tiny-seed0" / LAST
        path.write_bytes(how(path.read_bytes()))

    return change


# arguments
cli("unknown_command", lambda tmp: None, lambda _: ["fly"], ("fly",))
cli("no_command", lambda tmp: None, lambda _: [], ("command",))
cli("run_epochs_zero", lambda tmp: None,
    lambda _: ["run", "--epochs", "0", "--no-progress"], ("--epochs", "0"))
cli("run_unknown_flag", lambda tmp: None, lambda _: ["run", "--bogus"], ("--bogus",))
cli("run_unknown_model", lambda tmp: tmp, lambda tmp: [
    "run", "--models", "transformer", "--epochs", "1", "--out", str(tmp / OUT),
    "--no-progress"], ("transformer",))
cli("datasets_extra_argument", lambda tmp: None, lambda _: ["datasets", "--all"],
    ("--all",))
cli("bench_budget_zero", config_files(toml()), lambda cfg: [
    "bench", str(cfg), "--budget-minutes", "0", "--out", str(cfg.parent / OUT)],
    ("--budget-minutes", "0"))
cli("bench_resume_and_overwrite", config_files(toml()), lambda cfg: [
    "bench", str(cfg), "--resume", "--overwrite", "--out", str(cfg.parent / OUT)],
    ("--resume", "--overwrite"))
cli("bench_missing_config", lambda tmp: tmp, lambda tmp: [
    "bench", str(tmp / "nope.toml"), "--out", str(tmp / OUT)], ("nope.toml",))
cli_train("seeds_not_int", toml(), ("--seeds", "'x'"), extra=("--seeds", "x"))
cli_train("resume_and_overwrite", toml(), ("--resume", "--overwrite"),
          extra=("--resume", "{tmp}", "--overwrite"))
cli_train("allow_change_without_resume", toml(), ("--allow-change",),
          extra=("--allow-change", "train.lr"))
cli_train("allow_change_unknown_key", toml(), ("train.epochs",),
          extra=("--resume", "{tmp}", "--allow-change", "train.epochs"))
cli_train("resume_two_seeds", toml(), ("--resume", "seeds"),
          extra=("--resume", "{tmp}", "--seeds", "1", "2"))
cli_train("override_without_value", toml(), ("--train.lr",), extra=("--train.lr",))
cli_train("override_wrong_type", toml(), ("epochs", "abc"),
          extra=("--train.epochs=abc",))
cli_train("override_epochs_zero", toml(), ("epochs", "0"), extra=("--train.epochs=0",))
cli_train("seeds_repeated", toml(), ("--seeds", "[0]"), extra=("--seeds", "0", "0"),
          check=lambda rc, ctx: nothing_written(ctx))
cli_train("seeds_negative", toml(), ("seed", "-1"), extra=("--seeds", "-1"))
cli("bench_seeds_repeated", config_files(toml()), lambda cfg: [
    "bench", str(cfg), "--seeds", "1", "1", "--out", str(cfg.parent / OUT),
    "--no-progress"], ("--seeds", "[1]"))
# configs
cli("config_missing", lambda tmp: tmp,
    lambda tmp: ["train", str(tmp / "nope.toml"), "--no-progress"],
    ("nope.toml", "not found"))
cli("config_directory", directory("cfg.toml"), lambda p: [
    "train", str(p), "--no-progress"], ("cfg.toml", "directory"))
cli_train("config_invalid_toml", "[data\n", ("cfg.toml", "TOML"))
cli_train("config_unknown_key", toml(train="learning_rate = 0.1"), ("learning_rate",))
cli_train("config_name_dotdot", toml(top='name = "../evil"'), ("name", "../evil"),
          check=lambda rc, ctx: not (ctx.tmp / "evil-seed0.json").exists())
cli_train("config_dataset_and_path", toml(data='dataset = "ml-100k"\npath = "{data}"'),
          ("dataset", "path"))
cli_train("config_unknown_objective", toml(model='objective = "sgll"'), ("sgll",))
cli_train("config_unknown_encoder", toml(encoder='name = "gnn"'), ("gnn",))
cli_train("config_unknown_augment", toml(model='objective = "sgl"',
                                         extra='[model.augment]\nname = "crop"'),
          ("crop",))
cli_train("config_dropout_p_one", toml(
    model='objective = "sgl"', encoder='name = "lightgcn"\ndim = 4',
    extra='[model.augment]\nname = "edge_dropout"\np = 1.0'), ("p", "1.0"))
cli_train("config_k_empty", toml(train='k = []\ndevice = "cpu"'), ("k", "[]"))
cli_train("config_dim_zero", toml(encoder='name = "mf"\ndim = 0'), ("dim", "0"))
cli_train("config_device_tpu", toml(train='epochs = 1\ndevice = "tpu"'),
          ("device", "tpu"))
cli_train("config_val_ratio_one", config_files(
    toml(data='path = "{tmp}/lgcn"\nformat = "lightgcn"\nval_ratio = 1.0'),
    more=lightgcn_folder(train=GOOD_TRAIN, test=GOOD_TEST)), ("val_ratio", "1.0"))
# data through the command line
cli_train("data_missing", toml(data='path = "{tmp}/nothere.csv"'), ("nothere.csv",))
cli_train("data_directory", toml(data='path = "{tmp}"'), ("directory",))
cli_train("data_fifo", config_files(toml(data='path = "{tmp}/pipe.csv"'),
                                    more=fifo("pipe.csv")), ("pipe.csv", "named pipe"))
cli_train("data_empty", config_files(toml(), data_text=""), ("ratings.csv", "empty"))
cli_train("data_binary", config_files(toml(), data_text=garbage(seed=5)),
          ("ratings.csv", "binary"))
cli_train("data_header_only", config_files(toml(), data_text="user,item,rating\n"),
          ("ratings.csv", "no data rows"))
cli_train("data_nan_rating", config_files(toml(), data_text=GOOD_CSV + "u1,i9,nan\n"),
          ("ratings.csv:122", "rating", "nan"))
cli_train("data_min_rating_keeps_none", toml(data='path = "{data}"\nmin_rating = 9'),
          ("min_rating", "9"))
cli_train("data_single_user", config_files(toml(), data_text=ratings_text(users=1)),
          ("ratings.csv", "every"))
cli_train("data_one_pair", config_files(toml(), data_text="user,item\nu,i\n"),
          ("val", "empty"))
cli_train("data_single_item", config_files(
    toml(), data_text="user,item\n" + "".join(f"u{k},x\n" for k in range(9))),
    ("val", "empty"))
cli_train("data_zero_validation_ratio",
          toml(data='path = "{data}"\nratios = [0.8, 0.0, 0.2]'), ("ratios",))
cli_train("data_zero_test_ratio",
          toml(data='path = "{data}"\nratios = [0.8, 0.2, 0.0]'), ("test", "ratios"),
          check=lambda rc, ctx: nothing_written(ctx))
cli_train("data_lightgcn_test_without_items", config_files(
    toml(data='path = "{tmp}/lgcn"\nformat = "lightgcn"'),
    more=lightgcn_folder(train=GOOD_TRAIN, test="0\n1\n")),
    ("test.txt", "no (user, item) pair"))
cli_train("data_lightgcn_missing_test", config_files(
    toml(data='path = "{tmp}/lgcn"\nformat = "lightgcn"'),
    more=lightgcn_folder(train=GOOD_TRAIN)), ("lgcn", "test.txt"))
cli_train("data_lightgcn_huge_id", config_files(
    toml(data='path = "{tmp}/lgcn"\nformat = "lightgcn"'),
    more=lightgcn_folder(train=GOOD_TRAIN + "3 1000000000000\n", test=GOOD_TEST)),
    ("train.txt:13", "1000000000000"))
# run folders and checkpoints
cli_train("run_results_exist", config_files(
    toml(), more=lambda tmp: write(f"{OUT}/tiny-seed0.json", "{}")(tmp)),
    ("tiny-seed0", "--overwrite"),
    check=lambda rc, ctx: (ctx.tmp / OUT / "tiny-seed0.json").read_text() == "{}")
cli_train("run_folder_not_empty", config_files(
    toml(), more=lambda tmp: write(f"{OUT}/tiny-seed0/notes.txt", "mine")(tmp)),
    ("tiny-seed0", "--overwrite"))
cli_train("run_second_seed_exists", config_files(
    toml(), more=lambda tmp: write(f"{OUT}/tiny-seed1.json", "{}")(tmp)),
    ("tiny-seed1", "--overwrite"), extra=("--seeds", "0", "1"),
    check=lambda rc, ctx: not (ctx.tmp / OUT / "tiny-seed0.json").exists())
cli_train("run_reused_after_training", copy_of_run(), ("tiny-seed0", "--overwrite"))
cli_train("out_is_a_file", config_files(toml(), more=write(OUT, "not a folder")),
          (OUT, "not a directory"))
cli_train("resume_missing_dir", toml(), ("nothere",),
          extra=("--resume", "{tmp}/nothere"))
cli_train("resume_dir_without_checkpoint", toml(), (LAST,),
          extra=("--resume", "{tmp}"))
cli_train("resume_fifo", config_files(toml(), more=fifo("pipe.pt")),
          ("pipe.pt", "not a regular file"), extra=("--resume", "{tmp}/pipe.pt"))
cli_train("resume_random_bytes", config_files(toml(), more=write("x.pt", garbage())),
          ("x.pt", "not a checkpoint"), extra=("--resume", "{tmp}/x.pt"))
cli_train("resume_planted_pickle", config_files(
    toml(), more=torch_saved({"model": Planted()}, "x.pt")),
    ("x.pt", "unsafe"), extra=("--resume", "{tmp}/x.pt"))
cli_train("resume_truncated",
          copy_of_run(damage_last(lambda raw: raw[: len(raw) // 2])),
          (LAST, "truncated"), extra=("--resume", RUN_DIR))
cli_train("resume_flipped_byte", copy_of_run(damage_last(flip(0.5))),
          (LAST, "corrupt"), extra=("--resume", RUN_DIR))
cli_train("resume_nan_weights", config_files(toml(), more=sealed({
    "config": {"seed": 0}, "epoch": 1, "model": {"w": torch.tensor([math.nan])}},
    name="nan.pt")), ("nan.pt", "non-finite"), extra=("--resume", "{tmp}/nan.pt"))
cli_train("resume_changed_config", copy_of_run(), ("batch_size", "64", "128"),
          extra=("--resume", RUN_DIR, "--train.batch_size=128"))
cli_train("resume_changed_lr_not_allowed", copy_of_run(), ("lr",),
          extra=("--resume", RUN_DIR, "--train.lr=0.0001"))
# valid runs
cli_train("weight_column_trains", config_files(
    toml(), data_text=ratings_text(header="user,item,count")), (), expect="correct",
    check=results())
cli_train("overwrite_replaces", config_files(
    toml(), more=lambda tmp: write(f"{OUT}/tiny-seed0.json", "{}")(tmp)), (),
    extra=("--overwrite",), expect="correct", check=results())
cli_train("resume_finished_run", copy_of_run(), (), extra=("--resume", RUN_DIR),
          expect="correct", check=results())
