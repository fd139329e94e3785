"""Attacks on the bwrap sandbox (issue 8), each contained: a clear message and zero marks for a cheat,
nothing read or written outside the submission's own folder, no process left behind, and the next
submission graded normally in the same sandbox."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
from sandbox_helpers import HONEST, ROOT, SECRET, needs_bwrap

from grader.errors import GraderFault, StudentCrash, StudentTimeout
from grader.exercises import get_exercise
from grader.grading import GradeOptions, grade
from grader.results import redact

pytestmark = needs_bwrap
EX = "least_squares"


def run(jail, path):
    return grade(EX, path, GradeOptions(timeout=5), sandbox=jail)


def probe(jail, submit, source, fn="probe", *args, timeout=10.0):
    """The value ``fn(*args)`` returns in a session of ``source``."""
    session = jail.open(submit(source, "probe.py"))
    try:
        return session.call(fn, args, {}, timeout=timeout)["value"]
    finally:
        session.close()


def assert_honest_still_full_marks(jail, submit):
    result = run(jail, submit(HONEST, "least_squares.py"))
    assert result.full_marks, [(c.id, c.message) for c in result.checks if not c.passed]


def all_text(result) -> str:
    return json.dumps(redact(result, "instructor").to_dict(), ensure_ascii=False)


# -- full marks with no work ----------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "from reference.least_squares import *\n",
    "import importlib\nglobals().update(vars(importlib.import_module('reference.least_squares')))\n",
    f"exec(open({str(ROOT / 'reference' / 'least_squares.py')!r}).read())\n",
    "import grader.grading\n",
])
def test_the_reference_and_the_grader_cannot_be_read(jail, submit, source):
    result = run(jail, submit(source))
    assert result.score == 0
    assert all(c.status == "error" for c in result.checks)
    assert "importing your file raised" in result.checks[0].message
    assert_honest_still_full_marks(jail, submit)


def test_nothing_of_the_grader_is_visible(jail, submit):
    src = ("import os, sys\n"
           "def probe():\n"
           "    return {'root': sorted(os.listdir('/')), 'home': os.path.exists(os.path.expanduser('~/.ssh')),\n"
           f"            'project': [p for p in ('grader', 'reference', 'exercises', 'tests', 'cli.py')\n"
           f"                        if os.path.exists(os.path.join({str(ROOT)!r}, p))],\n"
           "            'sibling': sorted(os.listdir('.'))}\n")
    seen = probe(jail, submit, src)
    # The project folder may exist as the parent of a virtualenv bound into the sandbox (.venv inside the
    # clone), but nothing of the project is in it.
    assert seen["project"] == [] and not seen["home"]
    assert seen["sibling"] == ["probe.py"]
    assert "home" not in seen["root"] and "runtime" in seen["root"]


def test_writes_into_the_grader_install_fail_and_leave_no_trace(jail, submit):
    import grader

    pkg = Path(grader.__file__).parent
    site = Path(psutil.__file__).parent.parent
    targets = [pkg / "report" / "evil.py", pkg / "__pycache__" / "grading.cpython-311.pyc",
               site / "evil.pth", ROOT / "reference" / "evil.py", Path("/runtime/grader/sandbox/evil.py")]
    src = ("import os\n"
           "def probe(paths):\n"
           "    ok = []\n"
           "    for p in paths:\n"
           "        try:\n"
           "            os.makedirs(os.path.dirname(p), exist_ok=True)\n"
           "            open(p, 'w').write('import os')\n"
           "            ok.append(p)\n"
           "        except OSError:\n"
           "            pass\n"
           "    return ok\n")
    written = probe(jail, submit, src, "probe", [str(t) for t in targets])
    assert written == []
    assert not any(t.exists() for t in targets[:4])
    assert_honest_still_full_marks(jail, submit)


def test_neighbours_files_are_invisible_and_own_folder_untouched(jail, submit, tmp_path):
    neighbour = tmp_path / "other_student" / "least_squares.py"
    neighbour.parent.mkdir()
    neighbour.write_text("SECRET_ANSWER = 42\n")
    src = ("import os\n"
           "def probe(path):\n"
           "    open('scratch.txt', 'w').write('x')\n"
           "    try:\n        return open(path).read()\n    except OSError as e:\n        return type(e).__name__\n")
    assert probe(jail, submit, src, "probe", str(neighbour)) in ("FileNotFoundError", "PermissionError")
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == ["probe.py"]


# -- the grader hurt or stopped ---------------------------------------------------------------------------
def test_killing_or_stopping_the_zygote_is_refused(jail, submit):
    src = ("import os, signal\n"
           "def probe():\n"
           "    out = []\n"
           "    for sig in (signal.SIGKILL, signal.SIGSTOP):\n"
           "        for pid in (os.getppid(), 1):\n"
           "            try:\n                os.kill(pid, sig)\n                out.append((pid, int(sig)))\n"
           "            except OSError:\n                pass\n"
           "    return out\n")
    assert probe(jail, submit, src) == []
    assert jail.zygote is not None and jail.zygote.alive()
    assert_honest_still_full_marks(jail, submit)


def test_a_zygote_killed_from_outside_is_replaced(jail, submit):
    assert jail.zygote is not None
    os.killpg(jail.zygote.proc.pid, signal.SIGKILL)
    jail.zygote.proc.wait()
    assert_honest_still_full_marks(jail, submit)


def test_a_zygote_killed_during_a_call_is_a_grader_fault(jail, submit):
    session = jail.open(submit("import time\ndef probe():\n    time.sleep(30)\n", "probe.py"))
    session.ensure_started()
    assert jail.zygote is not None
    zygote = jail.zygote
    threading.Timer(0.5, lambda: os.killpg(zygote.proc.pid, signal.SIGKILL)).start()
    with pytest.raises(GraderFault):
        session.call("probe", (), {}, timeout=20)
    session.close()
    assert_honest_still_full_marks(jail, submit)


def test_a_worker_killed_from_outside_is_a_grader_fault(jail, submit):
    session = jail.open(submit("import time\ndef probe():\n    time.sleep(30)\n", "probe.py"))
    session.ensure_started()
    assert session.host_pid is not None
    pid = session.host_pid
    threading.Timer(0.5, lambda: os.kill(pid, signal.SIGKILL)).start()
    with pytest.raises(GraderFault, match="killed from outside"):
        session.call("probe", (), {}, timeout=20)
    session.close()


def test_a_worker_that_stops_itself_times_out(jail, submit):
    session = jail.open(submit("import os, signal\ndef probe():\n    os.kill(os.getpid(), signal.SIGSTOP)\n",
                               "probe.py"))
    with pytest.raises(StudentTimeout):
        session.call("probe", (), {}, timeout=1.5)
    session.close()
    assert_honest_still_full_marks(jail, submit)


def test_the_control_socket_and_the_zygote_memory_are_out_of_reach(jail, submit):
    src = ("import os, ctypes\n"
           "def probe():\n"
           "    out = {}\n"
           "    ppid = os.getppid()\n"
           "    try:\n        open(f'/proc/{ppid}/mem', 'rb').read(1)\n        out['mem'] = True\n"
           "    except OSError as e:\n        out['mem'] = type(e).__name__\n"
           "    libc = ctypes.CDLL(None, use_errno=True)\n"
           "    pidfd = libc.syscall(434, ppid, 0)\n"  # pidfd_open
           "    out['getfd'] = libc.syscall(438, pidfd, 3, 0) if pidfd >= 0 else -1\n"  # pidfd_getfd
           "    out['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
           "    return out\n")
    seen = probe(jail, submit, src)
    assert seen["mem"] != True and seen["getfd"] < 0  # noqa: E712
    assert len(seen["pids"]) <= 4  # its own PID namespace: bwrap's init, the zygote, itself


# -- data read or leaked ----------------------------------------------------------------------------------
def test_the_graders_environment_does_not_leak(jail, submit):
    env = probe(jail, submit, "import os\ndef probe():\n    return dict(os.environ)\n")
    assert SECRET not in json.dumps(env)
    assert set(env) <= {"PATH", "HOME", "LANG", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE",
                        "PYTHONHASHSEED", "TMPDIR", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PWD",
                        "CUDA_VISIBLE_DEVICES"}


def test_no_network_not_even_localhost(jail, submit):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    src = ("import socket\n"
           "def probe(port):\n"
           "    try:\n        socket.create_connection(('127.0.0.1', port), timeout=2)\n        return 'connected'\n"
           "    except OSError as e:\n        return type(e).__name__\n")
    assert probe(jail, submit, src, "probe", port) != "connected"
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()


def test_forged_report_on_stdout_does_not_reach_the_graders_stdout(tmp_path):
    forged = json.dumps({"exercise": EX, "score": 16, "max_score": 16})
    sub = tmp_path / "least_squares.py"
    sub.write_text(HONEST + "import os, sys\n"
                   f"os.write(1, b{forged!r}.encode() if False else {forged!r}.encode() + b'\\n')\n"
                   f"print({forged!r})\nsys.__stdout__.write({forged!r})\n"
                   "for p in ('/dev/tty', '/proc/1/fd/1'):\n"
                   "    try:\n        open(p, 'w').write('FORGED')\n    except OSError:\n        pass\n")
    code = ("import json, sys\nfrom grader.grading import grade, GradeOptions\n"
            f"r = grade({EX!r}, {str(sub)!r}, GradeOptions(timeout=10))\n"
            "print(json.dumps({'score': r.score}))\n")
    import subprocess

    env = dict(os.environ, DL_GRADER_ISOLATION="bwrap", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    full = get_exercise(EX).spec.max_score
    assert done.stdout.strip().splitlines() == [json.dumps({"score": float(full)})]


# -- the parent exhausted ---------------------------------------------------------------------------------
def test_a_reply_with_too_many_elements_is_refused_before_decoding(jail, submit):
    src = "import torch\ndef probe():\n    return torch.zeros(6_000_000, dtype=torch.uint8)\n"
    session = jail.open(submit(src, "probe.py"))
    from grader.errors import BadReturn

    with pytest.raises(BadReturn, match="tensor elements"):
        session.call("probe", (), {}, timeout=10)
    session.close()


def test_a_reply_over_the_byte_limit_is_refused_unread(jail, submit):
    from dataclasses import replace

    from grader.errors import BadReturn

    src = "import torch\ndef probe():\n    return torch.zeros(3_000_000)\n"  # 12 MB
    session = jail.open(submit(src, "probe.py"), limits=replace(jail.limits, reply_mb=4))
    with pytest.raises(BadReturn, match="more than 4 MB"):
        session.call("probe", (), {}, timeout=10)
    session.close()


def test_lone_surrogates_huge_messages_and_escape_sequences_are_cleaned(jail, submit):
    src = HONEST + (
        "import torch\n"
        "print('\\ud800 \\x1b[2J\\x1b]0;owned\\x07 \\x1b]8;;http://x\\x1b\\\\link\\x1b]8;;\\x1b\\\\ \\x1b[8mhidden')\n"
        "Evil = type('\\x1b[32mScore: 16 / 16\\x1b[0m', (), {})\n"
        "def ls_loss(W, theta, y):\n    raise ValueError('\\udcff\\x1b[2J' + 'x' * 5_000_000)\n"
        "def ls_grad(W, theta, y):\n    return Evil()\n"
        "def ls_solve(W, y):\n    return {'\\x1b[31mname\\ud800': torch.zeros(2)}\n")
    result = run(jail, submit(src))
    text = all_text(result)
    text.encode("utf-8")  # no lone surrogate survives
    assert not any(ch in text for ch in ("\x1b", "\x07", "\x9b", "\x9d"))
    assert len(text) < 1_000_000
    assert result.score < result.max_score


def test_a_deeply_nested_source_is_a_clear_load_error(jail, submit):
    result = run(jail, submit("x = " + "[" * 200_000 + "]" * 200_000 + "\n"))
    assert result.score == 0
    assert "your file" in result.checks[0].message


# -- limits bypassed --------------------------------------------------------------------------------------
FILL = ("import os\n"
        "def probe(folder):\n"
        "    os.makedirs(folder, exist_ok=True)\n"
        "    written = 0\n"
        "    try:\n"
        "        for i in range(2000):\n"
        "            with open(os.path.join(folder, f'f{i}'), 'wb') as f:\n"
        "                f.write(b'x' * (1 << 20))\n"
        "            written += 1\n"
        "    except OSError:\n"
        "        pass\n"
        "    return written\n")


@pytest.mark.parametrize("folder", [".", "/tmp/many", "/dev/shm/many"])
def test_writing_many_files_stops_at_the_disk_limit(jail, submit, folder):
    assert probe(jail, submit, FILL, "probe", folder, timeout=30) <= jail.limits.disk_mb
    # and the next session starts with empty scratch folders
    left = probe(jail, submit, "import os\ndef probe():\n    return os.listdir('/tmp') + os.listdir('/dev/shm')\n")
    # what the next submission finds is empty, but for the read-only path to a virtualenv under /tmp
    venv_parts = Path(os.path.realpath(sys.prefix)).parts
    assert [x for x in left if not (venv_parts[:2] == ("/", "tmp") and venv_parts[2] == x)] == []


def test_memory_across_child_processes_is_limited(jail, submit):
    src = ("import os, time\n"
           "def probe():\n"
           "    for _ in range(4):\n"
           "        if os.fork() == 0:\n"
           "            block = bytearray(150 << 20)\n"
           "            time.sleep(60)\n"
           "            os._exit(0)\n"
           "    time.sleep(60)\n")
    session = jail.open(submit(src, "probe.py"))
    with pytest.raises(StudentCrash, match="memory limit exceeded"):
        session.call("probe", (), {}, timeout=30)
    session.close()


def test_a_daemon_with_an_empty_environment_does_not_outlive_its_session(jail, submit):
    tag = f"dl-grader-daemon-{uuid.uuid4().hex[:8]}"
    src = ("import os, sys\n"
           "def probe():\n"
           "    if os.fork() == 0:\n"
           "        os.setsid()\n"
           "        if os.fork() == 0:\n"
           "            os.execve(sys.executable,\n"
           f"                      [sys.executable, '-c', 'import time; time.sleep(300)', {tag!r}], {{}})\n"
           "        os._exit(0)\n"
           "    return os.getuid()\n")
    uid = probe(jail, submit, src)
    time.sleep(0.3)
    alive = [p for p in psutil.process_iter(["cmdline", "uids"]) if tag in " ".join(p.info["cmdline"] or [])]
    assert alive == []
    assert uid != os.getuid() or os.getuid() != 0


def test_a_hostile_submission_then_an_honest_one(jail, submit):
    hostile = HONEST + ("import os, signal\n"
                        "for p in (os.getppid(), 1):\n"
                        "    try:\n        os.kill(p, signal.SIGKILL)\n    except OSError:\n        pass\n"
                        "open('/tmp/poison.py', 'w').write('x')\n"
                        "if os.fork() == 0:\n    import time\n    time.sleep(300)\n"
                        "def ls_grad(W, theta, y):\n    raise SystemExit(0)\n")
    result = run(jail, submit(hostile))
    assert not result.full_marks
    assert_honest_still_full_marks(jail, submit)


def test_a_huge_source_file_is_a_clear_load_error(jail, submit):
    result = run(jail, submit(HONEST + "#" + "x" * (9 << 20) + "\n"))
    assert result.score == 0
    assert "larger than 8 MB" in result.checks[0].message
