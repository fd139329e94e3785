"""The operation record of one student call, read from the child's reply (grader.sandbox.oprecord).

The record comes from the student's process, so it is data to check, not to trust: its shape, its
size and every name are verified before anything is decided from it. A record that is missing, malformed
or marked as broken (the recorder was removed from the dispatch stack during the call) says the grader
cannot know what the call ran: :class:`RecordUnreadable`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_NAMES = 4096  # aten has fewer operator names than this; other namespaces are capped in the child
MAX_COUNT = 1 << 62
_NAME = re.compile(r"[A-Za-z0-9_.:]{1,120}")
_WHERE = re.compile(r"([\w<>]{1,48}:[0-9]{1,9})?")  # a function's name (any identifier, <lambda>) and a line


class RecordUnreadable(ValueError):
    """The call's record is missing or malformed: what it ran cannot be known."""


@dataclass(frozen=True)
class OpRecord:
    counts: dict[str, int] = field(default_factory=dict)  # "aten::mm" → calls
    where: dict[str, str] = field(default_factory=dict)  # "aten::mm" → "function:line" of its first call
    work: int = 0  # elements produced, multiply-adds of products
    intact: bool = True


def read_record(raw: Any) -> OpRecord:
    """Check and convert ``reply["ops"]``; raises :class:`RecordUnreadable`."""
    if not isinstance(raw, dict) or not {"counts", "where", "work", "intact"} <= set(raw):
        raise RecordUnreadable("the record of what your function ran is missing")
    counts, where, work, intact = raw["counts"], raw["where"], raw["work"], raw["intact"]
    if not isinstance(counts, dict) or not isinstance(where, dict) or len(counts) > MAX_NAMES \
            or len(where) > MAX_NAMES:
        raise RecordUnreadable("the record of what your function ran has the wrong shape")
    for name, n in counts.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or type(n) is not int or not 0 <= n <= MAX_COUNT:
            raise RecordUnreadable("the record of what your function ran holds a malformed entry")
    for name, w in where.items():
        if not isinstance(name, str) or not isinstance(w, str) or not _WHERE.fullmatch(w):
            raise RecordUnreadable("the record of what your function ran holds a malformed location")
    if type(work) is not int or not 0 <= work <= MAX_COUNT or type(intact) is not bool:
        raise RecordUnreadable("the record of what your function ran has the wrong shape")
    if not intact:
        raise RecordUnreadable("your function removed the grader's operation recorder while it ran")
    return OpRecord(dict(counts), dict(where), work, intact)
