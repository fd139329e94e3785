"""Recorded fixtures (grader.kit): the format, damaged files, calls that were not recorded, in-place edits,
the student's own function standing in for the reference, and a kit exercise graded end to end."""

from __future__ import annotations

import inspect
import io
import json
import math
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from replay_helpers import KitExercise, kit_exercise, submissions, verdicts  # noqa: F401 (a fixture)

from grader.api import GradeOptions, emit, grade
from grader.errors import GraderError
from grader.exercises import get_exercise
from grader.kit.fixtures import (
    Decoder,
    FixtureError,
    NotRecorded,
    TensorTable,
    call_key,
    encode_value,
    read_folder,
    shape_key,
    write_folder,
)
from grader.kit.record import Recording, RecordingAPI
from grader.kit.replay import open_fixtures
from grader.trusted import TrustedFunction


# -- the format ------------------------------------------------------------------------------------------
def test_values_round_trip_exactly(tmp_path):
    value = {
        "f64": torch.randn(3, 2, dtype=torch.float64), "f32": torch.randn(4), "i": torch.arange(5),
        "b": torch.tensor([True, False]), "bf16": torch.randn(3).to(torch.bfloat16), "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3), 7: (math.inf, -0.0, math.nan, 10**30, "text", None, [1, 2.5]),
        "trusted": TrustedFunction("grader.checks", "to_float64", {"x": torch.ones(2)}),
    }
    table = TensorTable()
    write_folder(tmp_path, {"value": encode_value(value, table)}, table)
    index, tensors = read_folder(tmp_path)
    back = Decoder(tensors, "test")(index["value"])
    for k in ("f64", "f32", "i", "b", "bf16", "scalar", "empty"):
        assert back[k].dtype == value[k].dtype and torch.equal(back[k], value[k])
    inf, zero, nan, big, text, none, lst = back[7]
    assert inf == math.inf and math.copysign(1, zero) == -1 and math.isnan(nan) and big == 10**30
    assert (text, none, lst) == ("text", None, [1, 2.5])
    assert back["trusted"].name == "to_float64" and torch.equal(back["trusted"].kwargs["x"], torch.ones(2))


def test_keys_are_canonical():
    x = torch.randn(3, dtype=torch.float64)
    assert call_key("fn:f", "reference", (x, 2), {"a": 1, "b": x}) == \
        call_key("fn:f", "reference", (x.clone(), 2), {"b": x.clone(), "a": 1})
    assert call_key("fn:f", "reference", (x,), {}) != call_key("fn:f", "reference", (x.float(),), {})
    assert call_key("fn:f", "reference", (x,), {}) != call_key("fn:f", "m1", (x,), {})
    y = x.clone()
    y[0] = y[0] + 1e-15 * abs(float(y[0]))  # one bit
    assert call_key("fn:f", "reference", (x,), {}) != call_key("fn:f", "reference", (y,), {})
    assert shape_key("fn:f", (x,), {}) == shape_key("fn:f", (y,), {})
    # a trusted function of an exercise loaded by path is keyed by its role, not by the folder's hash
    a = TrustedFunction("_dlx_ex_0123456789.checks", "g", {"A": x})
    b = TrustedFunction("_dlx_ex_abcdefabcd.checks", "g", {"A": x.clone()})
    assert call_key("fn:f", "reference", (a,), {}) == call_key("fn:f", "reference", (b,), {})


@pytest.fixture(scope="module")
def least_squares_fixtures(kit_exercise):  # noqa: F811 (the fixture)
    return kit_exercise("least_squares").folder / "fixtures"


def test_open_fixtures(least_squares_fixtures):
    fx = open_fixtures(least_squares_fixtures)
    assert fx.seeds == (0,) and fx.dtypes == ("float64", "float32")
    assert fx.parameters["ls_loss"] == ["W", "theta", "y"]
    assert {m.id for m in fx.mistakes} >= {"ls_grad_without_two", "ls_solve_inverse"}
    m = fx.mistakes["ls_grad_without_two"]
    assert m.functions == ("ls_grad",) and m.diagnosis.id == "ls_grad_without_two"
    # no code in the fixtures: the index holds no source, and nothing is pickled
    text = (least_squares_fixtures / "index.json").read_text(encoding="utf-8")
    ex = get_exercise("least_squares")
    source = inspect.getsource(ex.reference) + "".join(inspect.getsource(f) for m in ex.mistakes
                                                       for f in m.overrides.values())
    code = [line.strip() for line in source.splitlines()
            if line.strip().startswith(("def ", "return ")) and len(line.strip()) > 12]
    assert code and not [line for line in code if line in text]
    with np.load(least_squares_fixtures / "tensors.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype == np.uint8 for k in npz.files)


def test_a_call_that_was_not_recorded_raises(least_squares_fixtures):
    fx = open_fixtures(least_squares_fixtures)
    W, theta, y = torch.randn(5, 2, dtype=torch.float64), torch.randn(2, dtype=torch.float64), torch.randn(5)
    with pytest.raises(NotRecorded, match="no recorded answer of the reference for ls_loss"):
        fx.reference.ls_loss(W, theta, y.double())
    with pytest.raises(NotRecorded, match="the variant ls_grad_without_two"):
        fx.mistakes.variant("ls_grad_without_two").ls_grad(W, theta, y.double())
    with pytest.raises(AttributeError):
        fx.reference.not_an_api_function  # noqa: B018
    assert fx.reference_work("ls_loss", ((W,), {})) == 0  # no cost rule: nothing recorded, no claim


def test_recorded_answers_and_in_place_edits_are_replayed(tmp_path):
    """A variant that changes its input in place is replayed with the same edit (the inputs check names it
    from that, grader.checks.CheckContext._mistakes_modifying)."""
    recording = Recording()

    def shift(x):
        x.sub_(1.0)
        return 2 * x

    api = RecordingAPI(SimpleNamespace(shift=shift), "shift_in_place", recording)
    api.shift(torch.arange(3.0, dtype=torch.float64))
    index = {"exercise": "toy", "seeds": [0], "dtypes": ["float64"], "checks": [], "parameters": {"shift": ["x"]},
             "mistakes": [{"id": "shift_in_place", "name": "n", "hint": "h", "nonfinite": False,
                           "functions": ["shift"]}], "work": {}, "calls": recording.calls}
    write_folder(tmp_path, index, recording.table)
    fx = open_fixtures(tmp_path)
    x = torch.arange(3.0, dtype=torch.float64)
    out = fx.mistakes.variant("shift_in_place").shift(x)
    assert torch.equal(out, torch.tensor([-2.0, 0.0, 2.0], dtype=torch.float64))
    assert torch.equal(x, torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    assert fx.mistakes["shift_in_place"].overrides["shift"](torch.arange(3.0, dtype=torch.float64)) is not None
    with pytest.raises(NotRecorded):
        fx.reference.shift(torch.arange(3.0, dtype=torch.float64))


# -- damaged fixtures: a clear error, never a crash, nothing unpickled -------------------------------------
def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "fixtures"
    shutil.copytree(src, dst)
    return dst


def _edit_index(folder: Path, change) -> None:
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    change(index)
    (folder / "index.json").write_text(json.dumps(index), encoding="utf-8")


def _pickled_npz(folder: Path) -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(folder / "tensors.npz") as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["t0.npy"] = buf.getvalue()
    with zipfile.ZipFile(folder / "tensors.npz", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


DAMAGES = {
    "missing archive": (lambda f: (f / "tensors.npz").unlink(), "is missing"),
    "not JSON": (lambda f: (f / "index.json").write_text("{", encoding="utf-8"), "not valid JSON"),
    "other format": (lambda f: _edit_index(f, lambda i: i.update(format=99)), "unknown fixture format"),
    "bytes do not fit": (lambda f: _edit_index(f, lambda i: i["tensors"][0].update(shape=[10**6])), "do not fit"),
    "bad dtype": (lambda f: _edit_index(f, lambda i: i["tensors"][0].update(dtype="object")), "unknown dtype"),
    "pickle inside": (_pickled_npz, "cannot be read"),
    "not a zip": (lambda f: (f / "tensors.npz").write_bytes(b"PK-not-a-zip"), "not a fixture archive"),
    "bad mistakes": (lambda f: _edit_index(f, lambda i: i.update(mistakes=[{"id": 3}])), "mistakes is malformed"),
    "bad seeds": (lambda f: _edit_index(f, lambda i: i.update(seeds=["0"])), "seeds is malformed"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_fixtures_are_a_clear_error(damage, least_squares_fixtures, tmp_path):
    folder = _copy(least_squares_fixtures, tmp_path)
    spoil, message = DAMAGES[damage]
    spoil(folder)
    with pytest.raises(FixtureError, match=message):
        open_fixtures(folder)


def test_a_damaged_value_is_a_clear_error(least_squares_fixtures, tmp_path):
    folder = _copy(least_squares_fixtures, tmp_path)

    def spoil(index):
        for e in index["calls"].values():
            e["out"] = {"tensor": 10**9}

    _edit_index(folder, spoil)
    fx = open_fixtures(folder)
    key, entry = next(iter(fx.calls.items()))
    args, kwargs = fx._args(key)
    with pytest.raises(FixtureError, match="cannot be decoded"):
        getattr(fx.reference, entry["fn"].removeprefix("fn:"))(*args, **kwargs) if entry["fn"].startswith("fn:") \
            else fx.play(entry, args, kwargs, torch.device("cpu"))


# -- grading a kit exercise ------------------------------------------------------------------------------
def _reference_file(tmp_path: Path, name: str) -> Path:
    p = tmp_path / f"{name}.py"
    p.write_text(f"from reference.{name} import *\n", encoding="utf-8")
    return p


def test_the_kit_grades_the_reference_end_to_end(kit_exercise, tmp_path, sandbox):  # noqa: F811 (the fixture)
    kit = kit_exercise("least_squares")
    result = grade(kit, _reference_file(tmp_path, "least_squares"), GradeOptions(seed=0), sandbox=sandbox)
    assert all(c.passed for c in result.checks), [(c.id, c.message) for c in result.checks if not c.passed]
    assert result.full_marks and result.complete


def test_a_seed_without_fixtures_is_a_usage_error(kit_exercise, tmp_path):  # noqa: F811 (the fixture)
    with pytest.raises(GraderError, match="this kit has fixtures for seeds 0 only"):
        grade(kit_exercise("least_squares"), _reference_file(tmp_path, "least_squares"), GradeOptions(seed=3))
    with pytest.raises(GraderError, match="float64 and float32 together"):
        grade(kit_exercise("least_squares"), _reference_file(tmp_path, "least_squares"),
              GradeOptions(seed=0, dtypes=(torch.float32,)))


def test_a_check_that_cannot_be_replayed_is_skipped(least_squares_fixtures, tmp_path, sandbox):
    kit_folder = tmp_path / "least_squares"
    shutil.copytree(least_squares_fixtures.parent, kit_folder)
    _edit_index(kit_folder / "fixtures", lambda i: i.update(
        calls={k: e for k, e in i["calls"].items() if "ridge_solve" not in e["fn"]}))
    kit = KitExercise("least_squares", kit_folder, "kit")
    result = grade(kit, _reference_file(tmp_path, "least_squares"), GradeOptions(seed=0), sandbox=sandbox)
    skipped = [c for c in result.checks if c.status == "skipped"]
    assert [c.id for c in skipped] == ["ridge_solve_random"]
    assert skipped[0].message.startswith("runs only in official grading (the kit has no recorded answer of the "
                                         "reference for ridge_solve")
    points = skipped[0].max_score
    assert result.complete and result.full_marks and result.score == result.graded_max_score
    assert result.graded_max_score == result.max_score - points
    out = io.StringIO()
    emit("json", result, out)
    doc = json.loads(out.getvalue())
    assert doc["complete"] and [c["status"] for c in doc["checks"]].count("skipped") == 1
    out = io.StringIO()
    emit("text", result, out)
    assert "1 check(s) run only in official grading" in out.getvalue()


def test_the_students_forward_stands_in_for_the_reference_once_verified(kit_exercise):  # noqa: F811
    """mlp_backprop's gradient check evaluates the reference's loss where no recorded run went (finite
    differences at points that depend on the claimed gradients): the kit uses the student's own forward and
    loss there, once they agree with the recorded reference, and says so."""
    kit = kit_exercise("mlp_backprop")
    api = dict(submissions("mlp_backprop"))["buggy sigma_prime_of_preactivation.py"]
    result = verdicts(kit, api)["backward_gradcheck"]
    assert result.status == "failed"
    assert any("your own forward was used there" in n for n in result.notes)
    # a forward that does not agree with the record never stands in for the reference
    def broken_forward(params, X):
        out, cache = api["forward"](params, X)
        return out * 1.5, cache

    broken = {**api, "forward": broken_forward}
    result = verdicts(kit, broken)["backward_gradcheck"]
    assert result.status in ("failed", "skipped")
    assert not any("your own forward was used there" in n for n in result.notes)


def test_reference_work_is_recorded_by_shapes(kit_exercise):  # noqa: F811 (the fixture)
    fx = kit_exercise("mlp_backprop").fixtures
    assert fx.work and all(v > 0 for v in fx.work.values())


def test_a_failure_no_mistake_shares_is_still_a_failure_in_the_kit(kit_exercise):  # noqa: F811 (the fixture)
    """The failure paths of every expectation are recorded (a student wrong at each call in turn): a bug of
    its own, wrong on the last case of the grid only, fails in the kit as in official grading."""
    api = dict(submissions("conv"))["reference"]
    right = api["conv_output_size"]

    def conv_output_size(n, k, stride=1, padding=0, dilation=1):
        return right(n, k, stride, padding, dilation) + (dilation == 3)

    wrong = {**api, "conv_output_size": conv_output_size}
    theirs = verdicts(get_exercise("conv"), wrong)["conv_output_size_grid"]
    ours = verdicts(kit_exercise("conv"), wrong)["conv_output_size_grid"]
    assert ours.status == theirs.status == "failed"
    assert (ours.message, ours.details, ours.mistake) == (theirs.message, theirs.details, theirs.mistake)


def test_pipelines_are_named_by_what_they_compute():
    """A check's pipeline is keyed by its qualified name and the values it closes over (the kit runs the same
    checks.py): the same code with other captured values is another pipeline."""
    import functools

    from grader.kit.fixtures import pipeline_name

    def make(dtype, keys):
        def pipeline(api, x):
            return {k: api.f(x.to(dtype)) for k in keys}
        return pipeline

    assert pipeline_name(make(torch.float32, ("a",))) == pipeline_name(make(torch.float32, ("a",)))
    assert pipeline_name(make(torch.float32, ("a",))) != pipeline_name(make(torch.float64, ("a",)))
    assert pipeline_name(make(torch.float32, ("a",))) != pipeline_name(make(torch.float32, ("b",)))

    def g(api, x, part):
        return x

    assert pipeline_name(functools.partial(g, part=0)) != pipeline_name(functools.partial(g, part=1))


def test_an_expected_value_is_found_near_its_inputs(least_squares_fixtures):
    """An expected value (a pipeline of expect_close on the reference) is found for inputs within a relative
    1e-6 of recorded ones (an input that is the student's own correct answer differs in its last bits); a
    direct call of the reference only within a few units of rounding."""
    from grader.checks import _as_pipeline, call_api

    fx = open_fixtures(least_squares_fixtures)
    key = next(k for k, e in fx.calls.items() if e["fn"] == "fn:ls_grad" and e["api"] == "reference"
               and fx._args(k) is not None)
    (W, theta, y), _ = fx._args(key)
    expected = fx.play(fx.calls[key], (), {}, torch.device("cpu"))
    nudged = theta * (1 + 1e-9)
    assert torch.equal(call_api(_as_pipeline("ls_grad"), fx.reference, (W, nudged, y), {}), expected)
    with pytest.raises(NotRecorded):
        fx.reference.ls_grad(W, nudged, y)
    with pytest.raises(NotRecorded):
        call_api(_as_pipeline("ls_grad"), fx.reference, (W, theta * (1 + 1e-4), y), {})
    assert torch.equal(fx.reference.ls_grad(W, theta.clone(), y), expected)
