"""The grader's handle on one zygote process: starting it (inside bwrap or not), its control channel, its
stderr, and telling whether it is still alive.

Every wait here has a deadline given by the caller; a zygote that does not answer in time is killed and
reported as a :class:`GraderFault` (the sandbox then starts a new one). Nothing here waits for the
student's code.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

from grader.errors import GraderFault
from grader.sandbox import bwrap

_SPAWNER: ThreadPoolExecutor | None = None
_SPAWNER_LOCK = threading.Lock()


def spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a zygote from one long-lived thread of this process.

    The zygote asks to be killed when its parent dies (``PR_SET_PDEATHSIG``), and Linux means the parent
    *thread*: a zygote started from a short-lived thread (a batch slot, a Dask task) would be killed when
    that thread ends, and left as a zombie. This thread lives as long as the process.
    """
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            _SPAWNER = ThreadPoolExecutor(1, thread_name_prefix="dl-grader-zygote-spawner")
    return _SPAWNER.submit(lambda: subprocess.Popen(cmd, **kwargs)).result()

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STDERR_KEEP = 20_000
MAX_CONTROL_LINE = 1 << 20


class Drain(threading.Thread):
    """Reads a file descriptor until EOF, keeping the first ``keep`` bytes and counting the rest, so that
    the writer never blocks on a full pipe and the grader never holds more than ``keep`` bytes."""

    def __init__(self, fd: int, keep: int = STDERR_KEEP) -> None:
        super().__init__(daemon=True)
        self.fd, self.keep = fd, keep
        self.data = bytearray()
        self.total = 0

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    break
                self.total += len(chunk)
                if len(self.data) < self.keep:
                    self.data += chunk[: self.keep - len(self.data)]
        except OSError:
            pass
        finally:
            try:
                os.close(self.fd)
            except OSError:
                pass

    def take(self) -> str:
        from grader.sanitize import clean

        out = clean(self.data.decode("utf-8", "replace"))
        self.data = bytearray()
        return out


class ZygoteProcess:
    """One started zygote. ``isolation`` is ``"bwrap"`` or ``"none"``."""

    def __init__(self, isolation: str, *, token: str, tmp_mb: int, work_mb: int, shm_mb: int, cuda: bool) -> None:
        self.isolation = isolation
        self.runtime: str | None = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        err_r, err_w = os.pipe()
        try:
            if isolation == "bwrap":
                self.runtime = bwrap.build_runtime()
                cmd = bwrap.command(sys.executable, self.runtime, theirs.fileno(), tmp_mb=tmp_mb, work_mb=work_mb,
                                    shm_mb=shm_mb, cuda=cuda)
                env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            else:
                cmd = [sys.executable, "-m", "grader.sandbox.zygote", str(theirs.fileno())]
                env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
                env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT)] + ([env["PYTHONPATH"]]
                                                                          if env.get("PYTHONPATH") else []))
            env["DL_GRADER_SANDBOX"] = token
            self.proc = spawn(cmd, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err_w, start_new_session=True, env=env)
        except OSError as e:
            ours.close()
            os.close(err_r)
            self._remove_runtime()
            raise GraderFault(f"the sandbox could not start: {e}") from None
        finally:
            theirs.close()
            os.close(err_w)
        self.stderr = Drain(err_r)
        self.stderr.start()
        self.ctrl = ours
        self.buffer = b""
        self.ready = False
        self.pid_inside: int | None = None
        self.dead = False

    # -- control channel -------------------------------------------------------------------------------
    def request(self, msg: dict[str, Any], fds: list[int] | None, deadline: float) -> dict[str, Any]:
        """Send one request and wait for its answer until ``deadline`` (``time.monotonic()``)."""
        if not self.ready:
            hello = self._read_line(deadline, "starting")
            if not hello.get("ready"):
                self.fail("the sandbox failed to start")
            self.ready, self.pid_inside = True, hello.get("pid")
        data = json.dumps(msg).encode() + b"\n"
        try:
            self.ctrl.settimeout(max(0.01, deadline - time.monotonic()))
            if fds:
                socket.send_fds(self.ctrl, [data], fds)
            else:
                self.ctrl.sendall(data)
        except OSError as e:
            self.fail(f"the sandbox process stopped answering ({e})")
        reply = self._read_line(deadline, str(msg.get("op")))
        if "error" in reply:  # the zygote is fine; the request was not
            from grader.sanitize import clean

            raise GraderFault(f"the sandbox refused a request: {clean(reply['error'], 500)}")
        return reply

    def _read_line(self, deadline: float, what: str) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail(f"the sandbox did not answer in time ({what})")
            self.ctrl.settimeout(min(remaining, 0.5))
            try:
                chunk = self.ctrl.recv(65536)
            except TimeoutError:
                if self.proc.poll() is not None:
                    chunk = b""
                else:
                    continue
            except OSError:
                chunk = b""
            if not chunk:
                self.fail("the sandbox process stopped answering")
            self.buffer += chunk
            if len(self.buffer) > MAX_CONTROL_LINE:
                self.fail("the sandbox sent a malformed answer")
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            self.fail("the sandbox sent a malformed answer")
        if not isinstance(reply, dict):
            self.fail("the sandbox sent a malformed answer")
        return reply

    def fail(self, why: str) -> NoReturn:
        """Kill this zygote (it will be replaced) and raise the grader's fault, with what it printed."""
        self.kill()
        self.stderr.join(timeout=1)
        err = self.stderr.take().strip()
        raise GraderFault(why + (f". It printed: {err[-2000:]}" if err else ""))

    # -- processes -------------------------------------------------------------------------------------
    def alive(self) -> bool:
        return not self.dead and self.proc.poll() is None

    def host_pid(self, pid_inside: int) -> int | None:
        """The grader's view of a process id given by the zygote (they differ inside bwrap's PID
        namespace); None when it cannot be found."""
        if self.isolation == "none":
            return pid_inside
        import psutil

        try:
            procs = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return None
        for p in procs:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            if int(line.split()[-1]) == pid_inside:
                                return p.pid
                            break
            except (OSError, ValueError):
                continue
        return None

    def kill(self) -> None:
        """SIGKILL the zygote and everything in its session (inside bwrap: the whole PID namespace)."""
        self.dead = True
        for kill in (os.killpg, os.kill):
            try:
                kill(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.close_channel()

    def close(self, deadline: float) -> None:
        """Ask the zygote to exit (it kills its workers first); kill it if it does not in time."""
        if self.alive():
            try:
                self.request({"op": "exit"}, None, deadline)
            except GraderFault:
                pass
            try:
                self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self.stderr.join(timeout=1)
        self._remove_runtime()

    def close_channel(self) -> None:
        try:
            self.ctrl.close()
        except OSError:
            pass

    def _remove_runtime(self) -> None:
        if self.runtime:
            shutil.rmtree(self.runtime, ignore_errors=True)
            self.runtime = None
