"""Exercise specs: every shipped spec is valid; malformed ones name the file, the key and what was expected."""

import pytest

from grader.errors import GraderError, SpecError
from grader.exercises import all_exercises, get_exercise
from grader.spec import CheckSpec, HiddenCheckSpec, InstructorSpec, load_instructor_spec, load_spec, merge


def test_every_shipped_exercise_is_consistent():
    exercises = all_exercises()
    assert exercises
    for ex in exercises:
        assert ex.spec.title and ex.spec.checks
        assert list(ex.checks) == [c.id for c in ex.spec.checks]
        assert ex.has_instructor_data and all(c.visibility == "public" for c in ex.public_spec.checks)
        assert (ex.folder / "statement.md").is_file() and (ex.folder / "template.py").is_file()
        for fn in ex.spec.functions:
            assert callable(getattr(ex.reference, fn)), f"{ex.name}: reference lacks {fn}"


def write(tmp_path, text):
    d = tmp_path / "demo"
    d.mkdir()
    p = d / "exercise.yaml"
    p.write_text(text)
    return p


def test_points_must_be_a_positive_number(tmp_path):
    p = write(tmp_path, "title: Demo\nchecks:\n  - id: a\n    title: A\n    points: two\n")
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert str(p) in str(e.value)
    assert "checks[0].points: expected a number, got a string" in str(e.value)
    assert "(got 'two')" in str(e.value)


def test_unknown_and_missing_keys(tmp_path):
    p = write(tmp_path, "title: Demo\ntimout: 3\nchecks:\n  - id: a\n    points: 1\n")
    assert "timout: unknown key" in str(pytest.raises(SpecError, load_spec, p).value)  # the first error is named
    p.write_text("title: Demo\nchecks:\n  - id: a\n    points: 1\n")
    assert "checks[0].title: required key is missing" in str(pytest.raises(SpecError, load_spec, p).value)


def test_bad_visibility_and_duplicate_ids(tmp_path):
    p = write(tmp_path, "title: D\nchecks:\n  - {id: a, title: A, points: 1, visibility: secret}\n"
                        "  - {id: a, title: B, points: 1}\n")
    msg = str(pytest.raises(SpecError, load_spec, p).value)
    assert "checks[0].visibility: invalid enum value 'secret'" in msg and "'hidden' or 'public'" in msg


def test_not_yaml_and_not_a_mapping(tmp_path):
    p = write(tmp_path, "title: [unclosed\n")
    assert "not valid YAML" in str(pytest.raises(SpecError, load_spec, p).value)
    p.write_text("- just\n- a list\n")
    assert "expected a mapping" in str(pytest.raises(SpecError, load_spec, p).value)


def test_unknown_exercise_suggests_the_closest_name():
    name = all_exercises()[0].name
    with pytest.raises(GraderError) as e:
        get_exercise(name[:-1] + "x")
    assert f"Did you mean {name!r}?" in str(e.value)


def test_every_documented_key_is_a_spec_field():
    """docs/AUTHORING.md documents exactly the keys the spec has (and each is read by the grader)."""
    import re
    from pathlib import Path

    from grader.spec import CheckSpec, CostRule, ExerciseSpec, ForbiddenEntry, spec_keys

    guide = (Path(__file__).resolve().parents[2] / "docs" / "AUTHORING.md").read_text(encoding="utf-8")
    block = guide.split("## `exercise.yaml`", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    top = set(re.findall(r"^([a-z_]+):", block, re.M))
    nested = set(re.findall(r"^ {2}(?:- )?\s*([a-z_]+):", block, re.M))
    assert top == set(spec_keys(ExerciseSpec)) - {"name"}
    assert nested == set(spec_keys(CheckSpec)) | set(spec_keys(ForbiddenEntry)) | set(spec_keys(CostRule))
    block = guide.split("## `instructor/exercise.yaml`", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    assert set(re.findall(r"^([a-z_]+):", block, re.M)) == set(spec_keys(InstructorSpec))
    assert set(re.findall(r"^ {2}(?:- )?\s*([a-z_]+):", block, re.M)) == set(spec_keys(HiddenCheckSpec))


def test_functions_must_be_names(tmp_path):
    p = write(tmp_path, "title: D\nfunctions: [f, f]\nchecks:\n  - {id: a, title: A, points: 1}\n")
    assert "functions: a function is listed twice" in str(pytest.raises(SpecError, load_spec, p).value)


def test_the_public_spec_names_no_reference_and_no_hidden_check(tmp_path):
    p = write(tmp_path, "title: D\nreference: ../ref.py\nchecks:\n  - {id: a, title: A, points: 1}\n")
    msg = str(pytest.raises(SpecError, load_spec, p).value)
    assert msg.startswith(f"{p}: reference: unknown key") and "instructor/exercise.yaml" in msg
    p.write_text("title: D\nchecks:\n  - {id: a, title: A, points: 1}\n  - {id: b, title: B, points: 1, "
                 "visibility: hidden}\n")
    msg = str(pytest.raises(SpecError, load_spec, p).value)
    assert msg.startswith(f"{p}: checks ['b'] are hidden") and "instructor/exercise.yaml" in msg


def test_the_instructor_spec_defaults_and_errors(tmp_path):
    p = tmp_path / "exercise.yaml"
    p.write_text("")
    assert load_instructor_spec(p) == InstructorSpec(reference="instructor/reference.py", checks=[])
    p.write_text("reference: ''\n")
    assert "reference: expected a string of length >= 1 (got '')" in str(
        pytest.raises(SpecError, load_instructor_spec, p).value)
    p.write_text("checks:\n  - {id: a, title: A, points: 1, visibility: public}\n")
    assert "checks[0].visibility: invalid enum value 'public'; use 'hidden'" in str(
        pytest.raises(SpecError, load_instructor_spec, p).value)


def test_hidden_checks_are_merged_after_the_check_they_name(tmp_path):
    public = load_spec(write(tmp_path, "title: D\nchecks:\n" + "".join(
        f"  - {{id: {c}, title: {c}, points: 1}}\n" for c in "abc")))
    instructor = tmp_path / "instructor.yaml"
    instructor.write_text("checks:\n  - {id: h1, title: H1, points: 2, after: a}\n"
                          "  - {id: h2, title: H2, points: 1, after: h1, timeout: 5}\n"
                          "  - {id: h3, title: H3, points: 1}\n")
    merged = merge(public, load_instructor_spec(instructor), instructor)
    assert [c.id for c in merged.checks] == ["a", "h1", "h2", "b", "c", "h3"]
    assert [c.visibility for c in merged.checks] == ["public", "hidden", "hidden", "public", "public", "hidden"]
    assert merged.checks[2] == CheckSpec(id="h2", title="H2", points=1, visibility="hidden", timeout=5)
    assert merged.max_score == 7 and public.max_score == 3
    instructor.write_text("checks:\n  - {id: h1, title: H1, points: 2, after: h2}\n")
    msg = str(pytest.raises(SpecError, merge, public, load_instructor_spec(instructor), instructor).value)
    assert msg == f"{instructor}: checks: h1: after: 'h2' is no check listed before it (choose from a, b, c)"
    instructor.write_text("checks:\n  - {id: b, title: B, points: 2}\n")
    msg = str(pytest.raises(SpecError, merge, public, load_instructor_spec(instructor), instructor).value)
    assert "check 'b' is listed in both" in msg


def test_the_reference_defaults_to_instructor_reference_py(tmp_path):
    p = write(tmp_path, "title: D\nchecks:\n  - {id: a, title: A, points: 1}\n")
    assert InstructorSpec().reference == "instructor/reference.py"
    assert load_spec(p).student_file == "demo.py"


def test_numbers_may_be_quoted_but_a_fraction_is_not_an_integer(tmp_path):
    p = write(tmp_path, "title: D\nmemory_mb: '512'\ntimeout: 3\nchecks:\n  - {id: a, title: A, points: '2'}\n")
    spec = load_spec(p)
    assert (spec.memory_mb, spec.timeout, spec.checks[0].points) == (512, 3.0, 2.0)
    p.write_text("title: D\nmemory_mb: 1.5\nchecks:\n  - {id: a, title: A, points: 1}\n")
    assert "memory_mb: expected an integer, got a number (got 1.5)" in str(pytest.raises(SpecError, load_spec, p).value)


def test_the_import_limit_defaults_to_a_checks_and_can_be_set(tmp_path):
    p = write(tmp_path, "title: D\nchecks:\n  - {id: a, title: A, points: 1}\n")
    assert load_spec(p).load_timeout == 10.0 == load_spec(p).timeout
    p.write_text("title: D\nload_timeout: 30\nchecks:\n  - {id: a, title: A, points: 1}\n")
    assert load_spec(p).load_timeout == 30.0
    p.write_text("title: D\nload_timeout: 0\nchecks:\n  - {id: a, title: A, points: 1}\n")
    assert "load_timeout" in str(pytest.raises(SpecError, load_spec, p).value)


def test_a_spec_is_frozen():
    spec = all_exercises()[0].spec
    with pytest.raises(AttributeError):
        spec.title = "changed"  # type: ignore[misc]
