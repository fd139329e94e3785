"""Framing of wire messages (an 8-byte length, then the frame). No torch here: the grader imports this
before torch, so that the sandbox starts importing torch in parallel."""

from __future__ import annotations

import struct

MAX_MESSAGE_BYTES = 1 << 30  # refuse anything bigger before reading it


class WireError(ValueError):
    """A message that does not follow the format: treated as a broken student process."""


def pack(frame: bytes) -> bytes:
    return struct.pack("!Q", len(frame)) + frame
