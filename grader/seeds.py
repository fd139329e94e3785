"""Seeds: the public ones a student kit is recorded at, and the secret ones official grading uses.

Official grading derives each student's seed from an instructor secret and the student's identity
(HMAC-SHA256), so that every student gets fresh data that nobody could have recorded, and a regrade
with the same secret and identity reproduces it bit for bit. Official seeds lie in
``[OFFICIAL_LOW, OFFICIAL_HIGH)``, far above any public seed a kit is recorded at (``0 … PUBLIC_LIMIT-1``),
so the two can never coincide. The upper bound keeps ``seed * 1_000_003 + crc32`` (the per-check
generator seed of :class:`grader.checks.CheckContext`, and of the gradient checker's directions) below
2⁶³, and every official seed is exact in a JSON number read as a double (below 2⁵³).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from pathlib import Path
from typing import Literal

from grader.errors import GraderError

SECRET_ENV = "DL_GRADER_SECRET"
SECRET_FILE_ENV = "DL_GRADER_SECRET_FILE"
PUBLIC_LIMIT = 1 << 20  # a kit's seeds, and any --seed a student may pass, are below this
OFFICIAL_LOW, OFFICIAL_HIGH = 1 << 32, 1 << 42
MIN_SECRET_BYTES = 16
MAX_STUDENT_CHARS = 256

SeedSource = Literal["public", "official"]


def load_secret(path: str | Path | None = None) -> bytes | None:
    """The instructor secret: from ``path``, else ``$DL_GRADER_SECRET_FILE``, else ``$DL_GRADER_SECRET``;
    None when none is given. Surrounding white space is dropped (the newline an editor or ``echo`` adds
    must not change every seed). A secret shorter than 16 bytes is refused (it could be guessed)."""
    raw: bytes | None = None
    file = path or os.environ.get(SECRET_FILE_ENV)
    if file:
        try:
            raw = Path(file).read_bytes().strip()
        except OSError as e:
            raise GraderError(f"cannot read the instructor secret {file}: {e.strerror}") from None
    elif os.environ.get(SECRET_ENV):
        raw = os.environ[SECRET_ENV].strip().encode()
    if raw is None:
        return None
    if len(raw) < MIN_SECRET_BYTES:
        raise GraderError(f"the instructor secret is too short ({len(raw)} bytes; at least {MIN_SECRET_BYTES}): "
                          "make one with `python -c 'import secrets; print(secrets.token_hex(32))'`")
    return raw


def secret_origin(path: str | Path | None = None) -> str:
    """Where :func:`load_secret` takes the secret from, in words (for messages); "" when nowhere."""
    if path:
        return f"--secret-file {path}"
    if os.environ.get(SECRET_FILE_ENV):
        return f"${SECRET_FILE_ENV}"
    if os.environ.get(SECRET_ENV):
        return f"${SECRET_ENV}"
    return ""


def normalize_student(student: str) -> str:
    """A student's identity as the seed is derived from it: Unicode NFC, without surrounding white space,
    so that the same name typed or exported twice gives the same seed. Case is kept (identities may be
    case-sensitive). Refused when empty, too long, or holding control characters."""
    s = unicodedata.normalize("NFC", student).strip()
    if not s or len(s) > MAX_STUDENT_CHARS or not s.isprintable():
        shown = repr(s[:40]) + ("…" if len(s) > 40 else "")
        raise GraderError(f"the student identity must be 1 to {MAX_STUDENT_CHARS} printable characters "
                          f"(the identity of the gradebook), got {shown}")
    return s


def official_seed(secret: bytes, exercise: str, student: str) -> int:
    """The seed of ``student``'s official grading of ``exercise``: HMAC-SHA256(secret, exercise, student)
    mapped into ``[OFFICIAL_LOW, OFFICIAL_HIGH)``. Deterministic, and unguessable without the secret.
    ``student`` is normalised first (:func:`normalize_student`)."""
    message = b"dl-grader/official-seed/v1\0" + exercise.encode() + b"\0" + normalize_student(student).encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return OFFICIAL_LOW + int.from_bytes(digest[:8], "big") % (OFFICIAL_HIGH - OFFICIAL_LOW)


def is_official(seed: int) -> bool:
    return OFFICIAL_LOW <= seed < OFFICIAL_HIGH


def seed_source(seed: int) -> SeedSource:
    """"official" for a seed in the official range, else "public" (stored with every result)."""
    return "official" if is_official(seed) else "public"
