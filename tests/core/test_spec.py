"""Exercise specs: every shipped spec is valid; malformed ones name the file, the key and what was expected."""

import pytest

from grader.errors import GraderError, SpecError
from grader.exercises import all_exercises, get_exercise
from grader.spec import load_spec


def test_every_shipped_exercise_is_consistent():
    exercises = all_exercises()
    assert exercises
    for ex in exercises:
        assert ex.spec.title and ex.spec.checks
        assert set(ex.checks) == {c.id for c in ex.spec.checks}
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
    assert "checks[0].points: Input should be a valid number" in str(e.value)
    assert "(got 'two')" in str(e.value)


def test_unknown_and_missing_keys(tmp_path):
    p = write(tmp_path, "title: Demo\ntimout: 3\nchecks:\n  - id: a\n    points: 1\n")
    msg = str(pytest.raises(SpecError, load_spec, p).value)
    assert "timout: unknown key" in msg
    assert "checks[0].title: required key is missing" in msg


def test_bad_visibility_and_duplicate_ids(tmp_path):
    p = write(tmp_path, "title: D\nchecks:\n  - {id: a, title: A, points: 1, visibility: secret}\n"
                        "  - {id: a, title: B, points: 1}\n")
    msg = str(pytest.raises(SpecError, load_spec, p).value)
    assert "checks[0].visibility" in msg and "'public' or 'hidden'" in msg


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

    from grader.spec import CheckSpec, ExerciseSpec

    guide = (Path(__file__).resolve().parents[2] / "docs" / "AUTHORING.md").read_text(encoding="utf-8")
    block = guide.split("## `exercise.yaml`", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    top = set(re.findall(r"^([a-z_]+):", block, re.M))
    nested = set(re.findall(r"^ {2}(?:- )?\s*([a-z_]+):", block, re.M))
    assert top == set(ExerciseSpec.model_fields) - {"name"}
    assert nested == set(CheckSpec.model_fields) | {"name", "reason"}


def test_functions_must_be_names_and_reference_a_path(tmp_path):
    p = write(tmp_path, "title: D\nfunctions: [f, f]\nreference: ''\nchecks:\n  - {id: a, title: A, points: 1}\n")
    msg = str(pytest.raises(SpecError, load_spec, p).value)
    assert msg.startswith(str(p)) and "functions: Value error, a function is listed twice" in msg
    assert "reference: String should have at least 1 character" in msg


def test_the_reference_defaults_to_reference_py_in_the_folder(tmp_path):
    p = write(tmp_path, "title: D\nchecks:\n  - {id: a, title: A, points: 1}\n")
    assert load_spec(p).reference == "reference.py"
    assert load_spec(p).student_file == "demo.py"


def test_numbers_are_read_as_pydantic_reads_them_but_a_boolean_is_not_one(tmp_path):
    p = write(tmp_path, "title: D\nmemory_mb: '512'\ntimeout: 3\nchecks:\n  - {id: a, title: A, points: '2'}\n")
    spec = load_spec(p)
    assert (spec.memory_mb, spec.timeout, spec.checks[0].points) == (512, 3.0, 2.0)
    p.write_text("title: D\nmemory_mb: 1.5\nchecks:\n  - {id: a, title: A, points: true}\n")
    msg = str(pytest.raises(SpecError, load_spec, p).value)
    assert "memory_mb: Input should be a valid integer, got a number with a fractional part (got 1.5)" in msg
    assert "checks[0].points: Input should be a valid number (got True)" in msg


def test_a_spec_is_frozen():
    spec = all_exercises()[0].spec
    with pytest.raises(TypeError):
        spec.title = "changed"
