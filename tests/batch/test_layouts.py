"""Every submissions layout, detected and read, and every unreadable entry listed with its reason."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from grader.batch.layouts import MAX_FILE_BYTES, collect, detect_layout, exercise_roots, open_tree
from grader.errors import GraderError

SOURCE = "def softmax(z):\n    return z\n"


def _by_student(entries):
    return {e.student: e for e in entries}


def test_folder_of_py_files(tmp_path):
    for s in ("alice", "bob"):
        (tmp_path / f"{s}.py").write_text(SOURCE)
    (tmp_path / "carol.py").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "dan.py").write_bytes(b"x = '\xff\xfe'\n")
    (tmp_path / "erin.py").write_text("#" * (MAX_FILE_BYTES + 1))
    (tmp_path / "notes.txt").write_text("not a submission")
    (tmp_path / ".DS_Store").write_text("ignored")
    layout, entries = collect(tmp_path, "softmax_ce.py")
    assert layout == "files"
    e = _by_student(entries)
    assert sorted(e) == ["alice", "bob", "carol", "dan", "erin", "notes.txt"]
    assert e["alice"].readable and e["alice"].path == tmp_path / "alice.py" and e["alice"].rel == "alice.py"
    assert e["carol"].reason == "binary file, not Python source"
    assert e["dan"].reason == "not UTF-8 text"
    assert e["erin"].reason.startswith("file over the size limit (1,048,577 bytes; at most 1,048,576)")
    assert e["notes.txt"].reason == "not a .py file: notes.txt"


def test_folder_of_student_folders(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "softmax_ce.py").write_text(SOURCE)
    (tmp_path / "bob" / "src").mkdir(parents=True)
    (tmp_path / "bob" / "src" / "softmax_ce.py").write_text(SOURCE)  # at any depth
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "softmax_ce.py").write_text(SOURCE)
    (tmp_path / "carol" / "old").mkdir()
    (tmp_path / "carol" / "old" / "softmax_ce.py").write_text(SOURCE)
    (tmp_path / "dan").mkdir()
    (tmp_path / "dan" / "README.md").write_text("no code")
    (tmp_path / "erin").mkdir()
    (tmp_path / "erin" / "my_solution.py").write_text(SOURCE)  # the only .py file: graded
    layout, entries = collect(tmp_path, "softmax_ce.py")
    assert layout == "folders"
    e = _by_student(entries)
    assert e["alice"].readable and e["bob"].readable and e["bob"].rel == "bob/src/softmax_ce.py"
    assert e["carol"].reason == "two candidate files: softmax_ce.py, old/softmax_ce.py"
    assert e["dan"].reason == "no file: softmax_ce.py is not in the folder"
    assert e["erin"].readable and e["erin"].rel == "erin/my_solution.py"


def test_mixed_tree_is_ambiguous_unless_named(tmp_path):
    (tmp_path / "alice.py").write_text(SOURCE)
    (tmp_path / "bob").mkdir()
    with pytest.raises(GraderError, match="both .py files and folders"):
        detect_layout(tmp_path)
    _, entries = collect(tmp_path, "softmax_ce.py", "files")
    assert _by_student(entries)["bob"].reason == "a folder in a folder of .py files: bob/"


def test_gradescope_export(tmp_path):
    (tmp_path / "submission_metadata.yml").write_text(
        "submission_111:\n"
        "  :submitters:\n"
        "  - :name: Alice A\n"
        "    :sid: '1001'\n"
        "    :email: alice@example.edu\n"
        "  :created_at: 2026-11-01 10:00:00.000000000 -07:00\n"
        "  :score: 0.0\n"
        "submission_222:\n"
        "  :submitters:\n"
        "  - :name: Bob B\n"
        "    :sid: '1002'\n"
        "  - :name: Carol C\n"
        "    :email: carol@example.edu\n"
        "submission_333: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "  :submitters:\n"
        "  - :name: Dan D\n"
        "    :sid: '1004'\n")
    (tmp_path / "submission_111").mkdir()
    (tmp_path / "submission_111" / "softmax_ce.py").write_text(SOURCE)
    (tmp_path / "submission_222").mkdir()
    (tmp_path / "submission_222" / "softmax_ce.py").write_text(SOURCE)
    (tmp_path / "submission_444").mkdir()  # not in the metadata
    layout, entries = collect(tmp_path, "softmax_ce.py")
    assert layout == "gradescope"
    e = _by_student(entries)
    assert e["1001"].readable and e["1001"].rel == "submission_111/softmax_ce.py"
    assert e["1002"].path == e["carol@example.edu"].path  # a group submission: one entry per submitter
    assert e["1004"].reason == "no folder submission_333/ for this submission"
    assert e["submission_444"].reason == "submission_444 is not in submission_metadata.yml"


def test_github_classroom_clone(tmp_path):
    for user in ("alice-gh", "bob99"):
        repo = tmp_path / f"hw1-softmax-{user}"
        (repo / ".git").mkdir(parents=True)
        (repo / "softmax_ce.py").write_text(SOURCE)
    (tmp_path / "hw1-softmax-carol" / ".git").mkdir(parents=True)
    layout, entries = collect(tmp_path, "softmax_ce.py")
    assert layout == "classroom"
    e = _by_student(entries)
    assert sorted(e) == ["alice-gh", "bob99", "carol"]
    assert e["alice-gh"].readable
    assert e["carol"].reason == "no file: softmax_ce.py is not in the folder"


def _zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_zip_of_files_extracted_safely(tmp_path):
    archive = _zip(tmp_path / "class.zip", {"class/alice.py": SOURCE.encode(), "class/bob.py": SOURCE.encode(),
                                            "../evil.py": b"escape", "/abs.py": b"absolute"},
                   links={"class/link.py": "/etc/passwd"})
    with open_tree(archive) as (root, refused):
        assert root.name == "class"  # the wrapping folder is descended into
        layout, entries = collect(root, "softmax_ce.py")
        assert layout == "files"
        e = _by_student(entries + refused)
        assert e["alice"].readable and e["alice"].path.read_text() == SOURCE
        assert e["evil"].reason == "unsafe path in the zip (absolute or with ..)"
        assert e["abs"].reason == "unsafe path in the zip (absolute or with ..)"
        assert e["link"].reason == "a link in the zip"
        assert not (tmp_path / "evil.py").exists()
        extracted = root
    assert not extracted.exists()  # removed on exit


def test_zip_of_folders_with_an_oversized_file(tmp_path):
    archive = _zip(tmp_path / "class.zip", {"alice/softmax_ce.py": SOURCE.encode(),
                                            "bob/softmax_ce.py": b"#" * (MAX_FILE_BYTES + 10)})
    with open_tree(archive) as (root, refused):
        layout, entries = collect(root, "softmax_ce.py")
        assert layout == "folders" and not refused
        e = _by_student(entries)
        assert e["alice"].readable
        assert e["bob"].reason.startswith("file over the size limit")


def test_not_a_zip(tmp_path):
    bad = tmp_path / "class.zip"
    bad.write_text("not a zip")
    with pytest.raises(GraderError, match="cannot open"), open_tree(bad):
        pass


def test_one_tree_for_several_exercises(tmp_path):
    (tmp_path / "softmax_ce").mkdir()
    (tmp_path / "softmax_ce" / "alice.py").write_text(SOURCE)
    assert exercise_roots(tmp_path, ["softmax_ce", "pca"]) == {"softmax_ce": tmp_path / "softmax_ce", "pca": None}
    assert exercise_roots(tmp_path, ["pca", "conv"]) == {"pca": tmp_path, "conv": tmp_path}


def test_hostile_student_names_are_printable(tmp_path):
    (tmp_path / "a\x1b[2Jlice.py").write_text(SOURCE)
    _, entries = collect(tmp_path, "softmax_ce.py")
    assert entries[0].student == "alice"


def test_zip_over_the_total_cap_is_refused(tmp_path):
    from grader.batch.layouts import extract_zip

    archive = _zip(tmp_path / "big.zip", {f"s{i}.py": b"#" * 1000 for i in range(5)})
    with pytest.raises(GraderError, match="more than 3,000 bytes uncompressed"):
        extract_zip(archive, tmp_path / "out", max_total=3000)
    with pytest.raises(GraderError, match="has 5 members"):
        extract_zip(archive, tmp_path / "out2", max_members=4)
