"""The one sanitiser for text that comes from student code.

Everything a submission can make the grader display (exception messages, type names, tracebacks, printed
output, names of returned objects) passes through :func:`clean` once, where it enters the grader. What
comes out is safe to print to a terminal, to encode as UTF-8 and to store in a report: no escape sequence
can clear the screen, set a window title, hide text or draw a fake score; no lone surrogate can make an
encoder raise; and its length is bounded.
"""

from __future__ import annotations

import re

DEFAULT_LIMIT = 20_000

# Escape sequences are removed whole, not just their ESC: otherwise "[2J" or "]0;title" would remain.
# CSI (ESC [ or the C1 byte 0x9b) ... final byte; OSC/DCS/SOS/PM/APC (ESC ] P X ^ _ or their C1 bytes)
# ... up to BEL or ST (ESC \ or 0x9c), or to the end of the text when unterminated; two-byte ESC x.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# C0 except tab and newline, DEL, C1; plus line/paragraph separators and bidi overrides that reorder text.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` as a printable string: control characters and escape sequences stripped (newlines and
    tabs kept), lone surrogates replaced by U+FFFD, at most ``limit`` characters plus a marker saying how
    many were cut. Never raises, whatever ``text`` is."""
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # noqa: BLE001 - a hostile __str__
            return "<unprintable>"
    # Cut first (bounded work on a huge text), with room for sequences that the next steps remove.
    total = len(text)
    if total > 4 * limit + 1024:
        text = text[: 4 * limit + 1024]
    text = _SURROGATES.sub("\ufffd", text)
    text = _SEQUENCES.sub("", text)
    text = _CONTROLS.sub("", text)
    if len(text) > limit or total > 4 * limit + 1024:
        kept = text[:limit]
        return kept + f"\n… [{total - len(kept):,} more characters cut]"
    return text
