"""The student kit: what a course hands to students instead of the grader's instructor side.

:mod:`grader.kit.record` runs an exercise's public checks on the reference (and on every mistake variant)
and stores what the reference and the variants answered; :mod:`grader.kit.replay` answers the same calls
from that record, so the public checks run in the kit without any reference or mistake code;
:mod:`grader.kit.fixtures` is the on-disk format (a JSON index and a ``.npz`` of raw tensor bytes, no
pickle). See docs/KIT-FIXTURES.md.
"""
