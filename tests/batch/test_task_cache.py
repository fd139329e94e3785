"""A batch worker loads each exercise once, and loads it again when one of its files changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from grader.batch.task import cached_exercise
from grader.exercises import ENV_VAR

ROOT = Path(__file__).resolve().parents[2]


def copy_exercise(tmp_path: Path) -> Path:
    folder = tmp_path / "course" / "softmax_ce"
    shutil.copytree(ROOT / "exercises" / "softmax_ce", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "reference").mkdir()
    shutil.copy(ROOT / "reference" / "softmax_ce.py", tmp_path / "reference" / "softmax_ce.py")
    return folder


def test_an_unchanged_exercise_is_loaded_once_and_a_changed_one_again(tmp_path, monkeypatch):
    folder = copy_exercise(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "course"))
    first = cached_exercise("softmax_ce")
    assert first.folder == folder
    assert cached_exercise("softmax_ce") is first
    spec = folder / "exercise.yaml"
    spec.write_text(spec.read_text().replace("title:", "title: Changed -", 1))
    os.utime(spec, ns=(spec.stat().st_atime_ns, spec.stat().st_mtime_ns + 10**9))
    second = cached_exercise("softmax_ce")
    assert second is not first and second.spec.title.startswith("Changed -")
    reference = tmp_path / "reference" / "softmax_ce.py"
    os.utime(reference, ns=(reference.stat().st_atime_ns, reference.stat().st_mtime_ns + 10**9))
    assert cached_exercise("softmax_ce") is not second  # the reference is part of the exercise


def test_another_folder_of_the_same_name_is_another_exercise(tmp_path, monkeypatch):
    builtin = cached_exercise("softmax_ce")
    copy_exercise(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "course"))
    assert cached_exercise("softmax_ce").folder != builtin.folder
