"""Which seed a grading run uses: a public one, or the official one of a student.

Official grading (``grade EXERCISE FILE --student ID`` with an instructor secret) derives the seed from
the secret and the student's identity (:func:`grader.seeds.official_seed`); nobody types an official
seed, and a regrade gives the same secret and identity again. Everything else runs at a public seed
(``--seed``, below :data:`grader.seeds.PUBLIC_LIMIT`), which a student kit may have recorded: public
results are for practice, never for marks. Both official grading and ``--show-hidden`` need the
instructor side of the exercise (its ``instructor/`` folder); a student kit has none.

The rules live here rather than in the CLI so that every front end (the CLI, class grading) refuses
the same things with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.exercises import Exercise
from grader.seeds import (
    PUBLIC_LIMIT,
    SECRET_ENV,
    SECRET_FILE_ENV,
    SeedSource,
    load_secret,
    normalize_student,
    official_seed,
    secret_origin,
)

SECRET_SOURCES = f"--secret-file PATH, ${SECRET_FILE_ENV} or ${SECRET_ENV}"


@dataclass(frozen=True)
class SeedChoice:
    """The seed of one grading run, where it came from, and whose it is (None for a public seed)."""

    seed: int
    source: SeedSource
    student: str | None = None


def choose_seed(exercise: Exercise, *, seed: int | None = None, student: str | None = None,
                secret_file: str | Path | None = None) -> SeedChoice:
    """The seed to grade ``exercise`` at. With an instructor secret (``secret_file``, else the environment)
    and ``student``: the student's official seed. Without a secret: ``seed`` (default 0), which must be
    public. Raises :class:`GraderError` with the reason for every combination that is refused."""
    if seed is not None and not 0 <= seed < PUBLIC_LIMIT:
        raise GraderError(f"--seed must be a public seed, from 0 to {PUBLIC_LIMIT - 1}: official seeds are never "
                          f"typed by hand, they come from the instructor secret and --student")
    secret = load_secret(secret_file)
    if secret is not None and seed is not None:
        raise GraderError(f"--seed cannot be used with an instructor secret ({secret_origin(secret_file)}): "
                          "official grading derives the seed from the secret and --student, and a regrade "
                          "gives the same secret and --student again")
    if student is not None:
        if secret is None:
            raise GraderError(f"--student needs the instructor secret ({SECRET_SOURCES}): official grading "
                              "derives the student's seed from it")
        require_instructor_side(exercise, "official grading")
        identity = normalize_student(student)
        return SeedChoice(official_seed(secret, exercise.name, identity), "official", identity)
    if secret is not None:
        raise GraderError(f"an instructor secret is given ({secret_origin(secret_file)}) but no --student: "
                          "official grading needs the student's identity. To grade at a public seed, leave "
                          "the secret out")
    return SeedChoice(seed or 0, "public")


def require_instructor_side(exercise: Exercise, what: str) -> None:
    """Refuse ``what`` (official grading, ``--show-hidden``) on an exercise without instructor data."""
    if not exercise.has_instructor_data:
        raise GraderError(f"{what} needs the instructor side: exercise {exercise.name!r} has no instructor data "
                          f"(no instructor/ folder in {exercise.folder}; a student kit never has one)")
