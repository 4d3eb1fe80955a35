"""A corpus of bad inputs (files, configs, checkpoints, arguments) and their outcomes.

Every case writes one malformed or unusual input into a temporary folder, feeds it
to one entry point (a library call or the ``graphcl-rec`` command line) and has its
outcome classified automatically (:mod:`tests.corpus.runner`):

- **clear**: one error of an expected type whose message names the offending file,
  key or value (the case's ``mention`` substrings); on the command line, exit code 2
  and one ``graphcl-rec: error:`` line;
- **vague**: such an error whose message does not name them;
- **traceback**: an unexpected exception type (``IndexError``, ``MemoryError``, a
  torch ``RuntimeError``...), also when the command line prints it on one line;
- **silent**: no error where one was expected, or a wrong result or side effect;
- **hang**: the case ran past its time limit;
- **correct**: unusual but valid input, accepted with the right result (checked);
- **refused**: valid input refused with an error.

``tests/corpus/test_corpus.py`` runs every case under ``make test`` and requires
every outcome to be the expected *clear* or *correct*; ``python -m
tests.corpus.report`` (from the repository root) prints the counts table.
"""
