"""The kit gives the same answers as the instructor's grader (issue 12's key proof).

For every exercise, at the kit's seed, the public checks run on the instructor's side (the reference, the
mistakes, the hidden checks there) and on the kit's side (the same checks.py, the reference and the mistakes
answered from recorded fixtures, grader.kit.replay), for: the reference, every mistake variant, and every
hand-written buggy file of tests/buggy/<exercise>/. Status, score, message, details and named mistake must be
equal, check by check.

Both sides run through the same runner (grader.grading.run_check) with the same in-process transport for the
student's functions (an in-process stand-in for the sandbox's session, to keep this file fast): the
transport is the same code on both sides and is not what is compared. tests/kit/test_replay.py grades a
kit exercise end to end through the sandbox.

Intended differences (docs/KIT-FIXTURES.md); only the first shows in the compared fields at the kit's seed:
* derivatives: the counterexample point in a wrong answer's details (see POINT_IN_DETAILS);
* a check whose reference calls were not recorded is ``skipped`` in the kit (none here: the failure paths of
  every mistake are recorded);
* a gradient check that evaluates the reference's loss at points no recorded run reached uses the student's
  own forward and loss there, once they agree with the recorded reference (a note says so; the verdicts are
  equal below).
"""

from __future__ import annotations

from typing import Any

import pytest
from replay_helpers import kit_exercise, submissions, symbolic_fixtures, verdicts  # noqa: F401 (a fixture)

from grader.exercises import get_exercise

EXERCISES = ("conv", "gmm_em", "jacobians", "least_squares", "mlp_backprop", "pca", "softmax_ce", "derivatives")


# The symbolic exercise's kit knows an expected derivative by its values at a fixed design of points
# (grader.symbolic.sampled): a wrong answer is shown wrong at one of those points, not at the instructor's
# random probe, so its details (the counterexample) differ; the verdict, message and mistake do not.
POINT_IN_DETAILS = {"derivatives"}


def compared(r: Any, exercise: str = "") -> tuple:
    return r.status, r.score, r.message, None if exercise in POINT_IN_DETAILS else r.details, r.mistake


@pytest.mark.parametrize("name", EXERCISES)
def test_kit_gives_the_instructors_verdicts(name, kit_exercise):  # noqa: F811 (the fixture)
    if name == "derivatives" and not symbolic_fixtures():
        pytest.skip("the derivatives exercise's fixtures need grader.symbolic.sampled (kit-symbolic's part)")
    instructor, kit = get_exercise(name), kit_exercise(name)
    differences, fallbacks, statuses = [], [], set()
    for label, api in submissions(name):
        theirs, ours = verdicts(instructor, api), verdicts(kit, api)
        assert set(theirs) == set(ours)
        for cid, r in theirs.items():
            k = ours[cid]
            statuses.add(k.status)
            if compared(k, name) != compared(r, name):
                differences.append(f"{label} / {cid}:\n  instructor {compared(r)}\n  kit        {compared(k)}")
            if any(n.startswith("In the kit") for n in k.notes):
                fallbacks.append(f"{label} / {cid}")
    assert not differences, "\n".join(differences)
    assert "skipped" not in statuses  # every mistake's failure path is recorded at the kit's seed
    assert "grader_error" not in statuses
