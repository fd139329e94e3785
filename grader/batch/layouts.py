"""Finding each student's file in a submissions tree, whatever shape the LMS exported it in.

Layouts (detected by :func:`detect_layout`, or named with ``grade batch --layout``):

``files``
    a folder of ``STUDENT.py`` files;
``folders``
    a folder of ``STUDENT/`` folders, each holding the exercise's student file (``student_file`` of its spec);
``gradescope``
    a Gradescope "Export Submissions" folder: ``submission_metadata.yml`` and one ``submission_<id>/``
    folder per submission; who submitted comes from the metadata (``:submitters:`` with ``:sid:``,
    ``:email:``, ``:name:``), and a group submission gives one entry per submitter;
``classroom``
    a GitHub Classroom clone folder (``gh classroom clone student-repos``): one ``<assignment>-<username>/``
    repository per student, the student being the part after the prefix the folders share.

A ``.zip`` of any of these is extracted first, safely (:func:`extract_zip`): no absolute path or ``..``,
no links, a cap on members and on total size.

Every entry of the tree becomes an :class:`Entry`: a student and the file to grade, or the reason there is
none (no file, two candidate files, a binary, a file over the size limit, an unsafe zip member). Nothing is
skipped silently: an unreadable entry is listed, and stored in the gradebook with its reason.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from grader.errors import GraderError
from grader.sanitize import clean

LAYOUTS: tuple[str, ...] = ("files", "folders", "gradescope", "classroom")
MAX_FILE_BYTES = 1 << 20  # a student's file over 1 MiB is not source code anyone wrote for this course
MAX_ZIP_BYTES = 512 << 20  # total uncompressed size of an archive
MAX_ZIP_MEMBERS = 20_000
GRADESCOPE_METADATA = "submission_metadata.yml"
# Names that are never a student: editor, OS and VCS droppings, and the gradebook itself.
IGNORED = re.compile(r"^(\..*|__MACOSX|__pycache__|Thumbs\.db|desktop\.ini|grades\.db(-wal|-shm|-journal|\.lock)?)$")


@dataclass(frozen=True)
class Entry:
    """One student's entry for one exercise: ``path`` to grade, or ``reason`` why it cannot be."""

    student: str
    path: Path | None
    reason: str = ""
    rel: str = ""  # the entry as it appears in the tree (relative path), for messages and the gradebook

    @property
    def readable(self) -> bool:
        return self.path is not None and not self.reason


def student_id(raw: object) -> str:
    """A student identity from a file name or metadata: printable, one line, at most 200 characters."""
    text = clean(raw, limit=200).split("\n", 1)[0].strip()
    return text or "<unnamed>"


def _listing(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not IGNORED.match(p.name))


def detect_layout(root: Path) -> str:
    """The layout of the (extracted) tree ``root``. Raises :class:`GraderError` when it cannot tell."""
    if (root / GRADESCOPE_METADATA).is_file():
        return "gradescope"
    items = _listing(root)
    dirs = [p for p in items if p.is_dir()]
    files = [p for p in items if p.is_file()]
    if not items:
        raise GraderError(f"{root} is empty: no submissions to grade")
    if dirs and not any(f.suffix == ".py" for f in files):
        return "classroom" if _classroom_prefix(dirs) else "folders"
    if files and not dirs:
        return "files"
    raise GraderError(f"{root} holds both .py files and folders: say which it is with --layout files|folders")


def _classroom_prefix(dirs: list[Path]) -> str:
    """The ``<assignment>-`` prefix shared by GitHub Classroom repositories, or "" when these are not.

    Classroom names each repository ``<assignment>-<username>``; a clone holds git repositories. Two or
    more folders with a common prefix ending in ``-``, at least one of them a repository, make a clone."""
    if len(dirs) < 2 or not any((d / ".git").exists() for d in dirs):
        return ""
    prefix = os.path.commonprefix([d.name for d in dirs])
    cut = prefix.rfind("-")
    return prefix[: cut + 1] if cut > 0 else ""


def check_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Why ``path`` cannot be graded ("" when it can): unreadable, over the size limit, or binary."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file"
        if st.st_size > max_bytes:
            return f"file over the size limit ({st.st_size:,} bytes; at most {max_bytes:,})"
        data = path.read_bytes()
    except OSError as e:
        return f"cannot read the file: {e.strerror}"
    if b"\0" in data:
        return "binary file, not Python source"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    return ""


def _entry(student: str, path: Path | None, root: Path, reason: str = "", max_bytes: int = MAX_FILE_BYTES) -> Entry:
    rel = str(path.relative_to(root)) if path is not None else ""
    if path is not None and not reason:
        reason = check_file(path, max_bytes)
    return Entry(student_id(student), path, reason, rel)


def _walk(folder: Path) -> Iterator[Path]:
    """Files under ``folder``, not following links, skipping ignored names (``.git``, ``__MACOSX``, ...)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not IGNORED.match(d))
        for f in sorted(filenames):
            if not IGNORED.match(f):
                yield Path(dirpath) / f


def find_student_file(folder: Path, student_file: str, others: Collection[str] = ()) -> tuple[Path | None, str]:
    """The file to grade in one student's folder: the one named ``student_file`` (at any depth), else
    the folder's only ``.py`` file that is not another exercise's file (``others``). Returns (path, "") or
    (None, reason)."""
    files = list(_walk(folder))
    named = [f for f in files if f.name == student_file]
    if len(named) == 1:
        return named[0], ""
    if len(named) > 1:
        return None, "two candidate files: " + ", ".join(str(f.relative_to(folder)) for f in named)
    py = [f for f in files if f.suffix == ".py" and f.name not in others]
    if len(py) == 1:
        return py[0], ""
    if len(py) > 1:
        return None, (f"no {student_file}, and several .py files: "
                      + ", ".join(str(f.relative_to(folder)) for f in py[:5]) + ("…" if len(py) > 5 else ""))
    return None, f"no file: {student_file} is not in the folder"


def _files_layout(root: Path, max_bytes: int) -> list[Entry]:
    entries = []
    for p in _listing(root):
        if p.is_dir():
            entries.append(_entry(p.name, None, root, f"a folder in a folder of .py files: {p.name}/"))
        elif p.suffix != ".py":
            entries.append(_entry(p.name, None, root, f"not a .py file: {p.name}"))
        else:
            entries.append(_entry(p.stem, p, root, max_bytes=max_bytes))
    return entries


def _folders_layout(root: Path, student_file: str, max_bytes: int, others: Collection[str],
                    prefix: str = "") -> list[Entry]:
    entries = []
    for p in _listing(root):
        name = p.name[len(prefix):] if prefix and p.name.startswith(prefix) else p.name
        if not p.is_dir():
            entries.append(_entry(name, None, root, f"not a folder: {p.name}"))
            continue
        path, reason = find_student_file(p, student_file, others)
        entries.append(_entry(name, path, root, reason, max_bytes))
    return entries


def _load_metadata(path: Path) -> dict[str, Any]:
    """The metadata, read with the safe loader. Gradescope writes it from Ruby: a tag such as
    ``!ruby/object`` is read as the plain mapping, list or string it tags, so it cannot stop the read."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", untagged)
    try:
        data = yaml.load(path.read_text(encoding="utf-8", errors="replace"), Loader=Loader)  # noqa: S506 - SafeLoader
    except (OSError, yaml.YAMLError) as e:
        raise GraderError(f"cannot read the Gradescope metadata {path}: {e}") from None
    if not isinstance(data, dict):
        raise GraderError(f"the Gradescope metadata {path} is not a mapping of submissions")
    return data


def _key(d: Any, name: str) -> Any:
    """``d[":name"]`` (Ruby symbols, as Gradescope writes them) or ``d["name"]``."""
    if not isinstance(d, dict):
        return None
    return d.get(":" + name, d.get(name))


def _submitter_ids(record: Any) -> list[str]:
    ids = []
    for s in _key(record, "submitters") or []:
        ident = _key(s, "sid") or _key(s, "email") or _key(s, "name")
        if ident not in (None, ""):
            ids.append(str(ident))
    return ids


def _gradescope_layout(root: Path, student_file: str, max_bytes: int, others: Collection[str]) -> list[Entry]:
    meta = _load_metadata(root / GRADESCOPE_METADATA)
    entries, seen = [], set()
    for key, record in meta.items():
        folder = root / str(key)
        seen.add(str(key))
        students = _submitter_ids(record) or [str(key)]
        if not folder.is_dir() or folder.parent != root:
            for s in students:
                entries.append(Entry(student_id(s), None, f"no folder {key}/ for this submission", str(key)))
            continue
        path, reason = find_student_file(folder, student_file, others)
        for s in students:
            entries.append(_entry(s, path, root, reason, max_bytes))
    for p in _listing(root):
        if p.name != GRADESCOPE_METADATA and p.name not in seen:
            entries.append(_entry(p.name, None, root, f"{p.name} is not in {GRADESCOPE_METADATA}"))
    return entries


def collect(root: Path, student_file: str, layout: str | None = None, *, max_bytes: int = MAX_FILE_BYTES,
            others: Collection[str] = ()) -> tuple[str, list[Entry]]:
    """Every entry of the extracted tree ``root`` for an exercise whose file is ``student_file``:
    (the layout used, the entries sorted by student). ``others`` are the files of other exercises, never
    taken for this one's."""
    layout = layout or detect_layout(root)
    if layout == "files":
        entries = _files_layout(root, max_bytes)
    elif layout == "folders":
        entries = _folders_layout(root, student_file, max_bytes, others)
    elif layout == "classroom":
        dirs = [p for p in _listing(root) if p.is_dir()]
        entries = _folders_layout(root, student_file, max_bytes, others, _classroom_prefix(dirs))
    elif layout == "gradescope":
        entries = _gradescope_layout(root, student_file, max_bytes, others)
    else:
        raise GraderError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    return layout, _unique(sorted(entries, key=lambda e: (e.student, e.rel)))


def _unique(entries: list[Entry]) -> list[Entry]:
    """Two entries for one student (``alice.py`` and ``alice/``, or two Gradescope submissions): both
    become unreadable, since grading either could be the wrong one."""
    by: dict[str, list[Entry]] = {}
    for e in entries:
        by.setdefault(e.student, []).append(e)
    out = []
    for student, group in by.items():
        if len(group) == 1:
            out.append(group[0])
        else:
            where = ", ".join(e.rel or "?" for e in group)
            out.append(Entry(student, None, f"two entries for this student: {where}", group[0].rel))
    return out


# -- zip archives ------------------------------------------------------------------------------------------
def _unsafe(info: zipfile.ZipInfo) -> str:
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        return "unsafe path in the zip (absolute or with ..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a link in the zip"
    return ""


def extract_zip(archive: Path, dest: Path, *, max_total: int = MAX_ZIP_BYTES,
                max_members: int = MAX_ZIP_MEMBERS, max_bytes: int = MAX_FILE_BYTES) -> list[Entry]:
    """Extract ``archive`` into ``dest`` safely. Returns the members that were not extracted, as unreadable
    entries (an unsafe path or a link; a file over ``max_bytes``, written empty so that it is listed with
    the right reason). Raises :class:`GraderError` for an archive that is not a zip, or over the caps."""
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as e:
        raise GraderError(f"cannot open {archive}: {e}") from None
    refused: list[Entry] = []
    with zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise GraderError(f"{archive} has {len(infos):,} members (at most {max_members:,})")
        total = 0
        for info in infos:
            reason = _unsafe(info)
            if reason:
                refused.append(Entry(student_id(PurePosixPath(info.filename.replace("\\", "/")).stem or info.filename),
                                     None, reason, student_id(info.filename)))
                continue
            target = dest.joinpath(*PurePosixPath(info.filename).parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if info.file_size > max_bytes:
                # Keep a placeholder of the declared size class: check_file reports it over the limit.
                with open(target, "wb") as f:
                    f.truncate(max_bytes + 1)
                continue
            if total + info.file_size > max_total:
                raise GraderError(f"{archive} holds more than {max_total:,} bytes uncompressed")
            with zf.open(info) as src, open(target, "wb") as out:
                copied = _copy_capped(src, out, max_bytes + 1)
            total += copied  # what was written, whatever the header said
            if copied > max_bytes:  # the header lied about the size
                with open(target, "wb") as f:
                    f.truncate(max_bytes + 1)
    return refused


def _copy_capped(src: Any, out: Any, cap: int) -> int:
    n = 0
    while n < cap:
        block = src.read(min(1 << 16, cap - n))
        if not block:
            break
        out.write(block)
        n += len(block)
    return n


def _descend(root: Path) -> Path:
    """An archive that wraps everything in one folder (``assignment_123_export/``) is that folder."""
    while True:
        items = _listing(root)
        if len(items) == 1 and items[0].is_dir() and not (root / GRADESCOPE_METADATA).exists():
            inner = items[0]
            if (inner / ".git").exists():  # one classroom repository is a student, not a wrapper
                return root
            root = inner
        else:
            return root


@contextmanager
def open_tree(source: Path) -> Iterator[tuple[Path, list[Entry]]]:
    """The submissions tree at ``source`` (a folder, or a zip extracted into a temporary folder removed on
    exit), with the zip members that were refused as unreadable entries."""
    if not source.exists():
        raise GraderError(f"{source} does not exist")
    if source.is_dir():
        yield source, []
        return
    if source.suffix.lower() != ".zip":
        raise GraderError(f"{source} is neither a folder nor a .zip")
    tmp = Path(tempfile.mkdtemp(prefix="dl-grader-submissions-"))
    try:
        refused = extract_zip(source, tmp)
        yield _descend(tmp), refused
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def exercise_roots(root: Path, exercises: Sequence[str]) -> dict[str, Path | None]:
    """Where each exercise's submissions are in a tree graded for several exercises.

    A tree organised per exercise has a folder named after each (``root/EXERCISE/``, in any layout); an
    exercise without one then has no submissions (None). Otherwise every exercise reads ``root`` itself:
    each student's folder holds one file per exercise."""
    def sub(name: str) -> Path:
        return root / name

    per_exercise = any(sub(n).is_dir() and not (sub(n) / ".git").exists() for n in exercises)
    if not per_exercise:
        return dict.fromkeys(exercises, root)
    return {n: sub(n) if sub(n).is_dir() else None for n in exercises}
