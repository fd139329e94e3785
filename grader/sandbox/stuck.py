"""Where the student's code was when a time limit stopped it.

The worker registers :mod:`faulthandler` on :data:`STACKS_SIGNAL`. At a time limit the parent sends that
signal before it kills the worker; faulthandler's handler (C code, run even while a C loop holds the GIL)
writes every thread's stack to the worker's file descriptor 2, which the parent drains (a submission's
``print`` goes elsewhere, to a capped in-memory stream). The parent keeps the frames in the student's file
only, and shows them like a Python traceback, each with the line of the file the grader itself holds. The
dump is the child's text, so it proves nothing: at worst a submission forges where it says it stopped, in
its own report. A submission that blocks or takes over the signal, or fills fd 2 first, gets no traceback.
Nothing runs for this on the way of a call: it costs only at a timeout. The file's lines are the student's
text as well: the caller passes the result through the one sanitiser (grader.sanitize.clean).
"""

from __future__ import annotations

import re
import signal

STACKS_SIGNAL = signal.SIGUSR1

_THREAD = re.compile(r"^(?:Current thread|Thread) 0x[0-9a-fA-F]+ \(most recent call first\):\s*$", re.M)
_FRAME = re.compile(r'^\s*File "(?P<file>[^"\n]+)", line (?P<line>\d{1,7}) in (?P<name>[A-Za-z_<>][\w<>.]{0,80})\s*$')
MAX_FRAMES = 8
HEADER = "Where your code was when the time limit stopped it (most recent call last):"


def stuck_traceback(dump: str, student_path: str, source: str, shown_name: str) -> str:
    """The student's frames of the first thread in ``dump`` that is inside ``student_path``, innermost last,
    each with its line from ``source``; "" when there is none (the dump was late, lost or cut)."""
    for block in _THREAD.split(dump)[1:]:
        frames = [m for m in (_FRAME.match(line) for line in block.splitlines()) if m and m["file"] == student_path]
        if not frames:
            continue
        lines = source.splitlines()
        out = [HEADER]
        for m in reversed(frames[:MAX_FRAMES]):  # faulthandler lists the innermost frame first
            n = int(m["line"])
            out.append(f'  File "{shown_name}", line {n}, in {m["name"]}')
            code = lines[n - 1].strip() if 0 < n <= len(lines) else ""
            if code:
                out.append(f"    {code[:200]}")
        return "\n".join(out) + "\n"
    return ""
