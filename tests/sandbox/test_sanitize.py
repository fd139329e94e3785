"""The one sanitiser: what a submission prints or raises cannot drive the instructor's terminal, break an
encoder, or grow a report without bound."""

from __future__ import annotations

import pytest

from grader.sanitize import clean


@pytest.mark.parametrize("attack, shown", [
    ("a\x1b[2Jb", "ab"),  # clear screen
    ("x\x1b]0;window title\x07y", "xy"),  # window title, BEL-terminated
    ("\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),  # hyperlink, ST-terminated
    ("c\x1b[8mhidden", "chidden"),  # conceal
    ("Score: \x1b[32m16 / 16\x1b[0m", "Score: 16 / 16"),  # a fake green score loses its colour
    ("\x9b31mred", "red"),  # C1 CSI
    ("\x9d0;title\x9cafter", "after"),  # C1 OSC ... ST
    ("a\rb\x00c\x7fd\x08e", "abcde"),  # carriage return, NUL, DEL, backspace
    ("keep\ttabs\nand newlines", "keep\ttabs\nand newlines"),
    ("\u202eevil\u202c", "evil"),  # bidi override
])
def test_control_characters_and_escape_sequences_are_removed(attack, shown):
    assert clean(attack) == shown


def test_lone_surrogates_are_replaced_so_that_utf8_encoding_works():
    out = clean("a\ud800b\udcffc")
    assert out == "a\ufffdb\ufffdc"
    out.encode("utf-8")


def test_length_is_capped_with_a_marker_saying_how_much_was_cut():
    out = clean("x" * 1_000_000, limit=100)
    assert out.startswith("x" * 100)
    assert "999,900 more characters cut" in out
    assert len(out) < 200


def test_anything_becomes_a_string_and_a_hostile_str_does_not_raise():
    class Hostile:
        def __str__(self):
            raise RuntimeError("no")

    assert clean(42) == "42"
    assert clean(Hostile()) == "<unprintable>"
