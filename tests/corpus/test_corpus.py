"""The bad-input corpus (issue 17): every case ends clear or correct.

``python -m tests.corpus.report`` prints the same outcomes as a counts table.
"""

import pytest

from tests.corpus.cases import CASES
from tests.corpus.runner import Outcome, counts, run_case

MIN_CASES = 150
OUTCOMES: dict[str, Outcome] = {}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case, tmp_path):
    outcome = run_case(case, tmp_path)
    OUTCOMES[case.name] = outcome
    assert outcome.ok, (f"{case.name} [{case.entry}]: {outcome.outcome}, expected "
                        f"{case.expect}: {outcome.detail}")


def test_counts(tmp_path_factory):
    """At least 150 cases; none vague, traceback, silent, hang or refused."""
    assert len(CASES) >= MIN_CASES
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.expect for c in CASES} <= {"clear", "correct"}
    ran = [OUTCOMES[c.name] if c.name in OUTCOMES  # run alone (-k): run them here
           else run_case(c, tmp_path_factory.mktemp("case")) for c in CASES]
    total = counts(ran)
    for outcome in ("vague", "traceback", "silent", "hang", "refused"):
        assert total[outcome] == 0, (outcome, [o.case.name for o in ran
                                               if o.outcome == outcome])
