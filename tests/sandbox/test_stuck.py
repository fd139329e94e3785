"""Where a timed-out submission was: faulthandler's dump, cut down to the student's frames."""

from __future__ import annotations

from grader.sandbox.stuck import HEADER, stuck_traceback

SOURCE = ("import torch\n\ndef helper(n):\n    while n:\n        n += 1\n\n"
          "def ls_loss(W, theta, y):\n    return helper(1)\n")
DUMP = """Timeout (0:00:09.700000)!
Thread 0x00007f0000000001 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 320 in wait
Current thread 0x00007f0000000002 (most recent call first):
  File "/work/s3/least_squares.py", line 5 in helper
  File "/work/s3/least_squares.py", line 8 in ls_loss
  File "/runtime/grader/sandbox/oprecord.py", line 99 in run
  File "/runtime/grader/sandbox/worker.py", line 120 in call
"""


def test_the_students_frames_innermost_last_with_the_graders_copy_of_each_line():
    assert stuck_traceback(DUMP, "/work/s3/least_squares.py", SOURCE, "least_squares.py") == (
        f"{HEADER}\n"
        '  File "least_squares.py", line 8, in ls_loss\n    return helper(1)\n'
        '  File "least_squares.py", line 5, in helper\n    n += 1\n')


def test_nothing_when_the_dump_has_no_frame_of_the_students_file():
    assert stuck_traceback(DUMP, "/work/s4/least_squares.py", SOURCE, "least_squares.py") == ""
    assert stuck_traceback("", "/work/s3/least_squares.py", SOURCE, "least_squares.py") == ""
    assert stuck_traceback(DUMP[:60], "/work/s3/least_squares.py", SOURCE, "least_squares.py") == ""


def test_a_forged_dump_shows_only_line_numbers_and_the_graders_lines():
    forged = ("Thread 0xdead (most recent call first):\n"
              '  File "/work/s3/least_squares.py", line 999 in [rich]markup[/rich]\n'
              '  File "/work/s3/least_squares.py", line 4 in ls_loss\x1b[31m\n'
              '  File "/work/s3/least_squares.py", line 99999999 in x\n'
              '  File "/work/s3/least_squares.py", line 3 in helper\n')
    out = stuck_traceback(forged, "/work/s3/least_squares.py", SOURCE, "least_squares.py")
    assert out == f'{HEADER}\n  File "least_squares.py", line 3, in helper\n    def helper(n):\n'
