"""The grader's side of the sandbox.

``Sandbox`` owns a warm zygote process (torch imported once). ``Sandbox.open(path)`` forks a fresh
worker for one submission and returns a ``Session``; ``Session.call`` runs one function with a
wall-clock timeout while watching memory and output. A timeout or crash kills the worker; the next call
starts a fresh one and imports the submission again, so one bad check never sinks the others.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from grader.errors import (
    BadReturn,
    ForbiddenAPI,
    LoadError,
    MissingFunction,
    StudentCrash,
    StudentError,
    StudentException,
    StudentTimeout,
)
from grader.sandbox.frames import MAX_MESSAGE_BYTES, WireError, pack

TOKEN_VAR = "DL_GRADER_SANDBOX"


@dataclass(frozen=True)
class Limits:
    """Limits for the student's process. ``timeout`` is per check (seconds); ``load_timeout`` for the
    import of the submission; ``memory_mb`` is on top of the warm process; ``output_chars`` caps what
    the student's code may print (per worker)."""

    timeout: float = 10.0
    load_timeout: float = 20.0
    memory_mb: int = 2048
    output_chars: int = 1_000_000
    threads: int = 1


class OutputDrain(threading.Thread):
    """Reads the worker's stdout/stderr file descriptor (writes that bypass sys.stdout), keeping a
    bounded prefix and counting the rest."""

    def __init__(self, fd: int, keep: int = 20_000) -> None:
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
        out = self.data.decode("utf-8", "replace")
        self.data = bytearray()
        return out


class Sandbox:
    """A warm zygote and the workers it forks. Use as a context manager; ``close`` kills everything."""

    def __init__(self, limits: Limits | None = None, device: str = "cpu") -> None:
        self.limits = limits or Limits()
        self.device = device
        self.token = uuid.uuid4().hex
        self._lock = threading.Lock()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **{TOKEN_VAR: self.token})
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2])] +
                                            ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True, env=env,
        )
        theirs.close()
        self.ctrl = ours
        self._buffer = b""
        self._ready = False
        self.sessions: set[Session] = set()  # the open ones: a session leaves when it closes

    # -- control channel ----------------------------------------------------------------------------
    def _request(self, msg: dict[str, Any], fds: list[int] | None = None, timeout: float = 60.0) -> dict:
        with self._lock:
            self._wait_ready(timeout)
            data = json.dumps(msg).encode() + b"\n"
            if fds:
                socket.send_fds(self.ctrl, [data], fds)
            else:
                self.ctrl.sendall(data)
            return self._read_line(timeout)

    def _wait_ready(self, timeout: float) -> None:
        if not self._ready:
            msg = self._read_line(timeout)
            if not msg.get("ready"):
                raise RuntimeError("sandbox failed to start")
            self._ready = True

    def _read_line(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            self.ctrl.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.ctrl.recv(65536)
            except TimeoutError:
                chunk = None
            if not chunk:
                stopped = self.proc.poll() is not None and self.proc.stderr is not None
                err = self.proc.stderr.read().decode(errors="replace") if stopped and self.proc.stderr else ""
                raise RuntimeError(f"the sandbox process stopped answering. {err[-2000:]}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def spawn(self, config: dict[str, Any], workdir: str | None) -> tuple[int, socket.socket, OutputDrain]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        limits: dict[str, Any] = {"file_size_bytes": 64 << 20}
        if self.device == "cpu":  # CUDA maps huge address ranges: rely on the RSS watch there
            limits["address_space_extra_bytes"] = self.limits.memory_mb << 20
        try:
            reply = self._request({"op": "spawn", "config": config, "limits": limits, "workdir": workdir,
                                   "env": {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")}
                                   if self.device == "cpu" else {}},
                                  [theirs.fileno(), out_w])
        finally:
            theirs.close()
            os.close(out_w)
        drain = OutputDrain(out_r)
        drain.start()
        return int(reply["pid"]), ours, drain

    def status(self, pid: int) -> dict:
        return self._request({"op": "status", "pid": pid})

    def kill(self, pid: int) -> None:
        try:
            self._request({"op": "kill", "pid": pid}, timeout=10)
        except (RuntimeError, OSError):
            from grader.sandbox.zygote import kill_hard

            kill_hard(pid)

    # -- public ---------------------------------------------------------------------------------------
    def open(self, path: str | Path, *, forbidden: list[str] | None = None) -> Session:
        session = Session(self, Path(path).resolve(), forbidden or [])
        self.sessions.add(session)
        return session

    def close(self) -> None:
        for s in list(self.sessions):
            s.close()
        try:
            self._request({"op": "exit"}, timeout=5)
        except (RuntimeError, OSError, ValueError):
            pass
        try:
            self.ctrl.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        sweep(self.token)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sweep(token: str) -> int:
    """Kill any process still carrying this sandbox's token (a last line of defence)."""
    killed = 0
    for p in psutil.process_iter(["pid"]):
        try:
            if p.pid != os.getpid() and p.environ().get(TOKEN_VAR) == token:
                p.kill()
                killed += 1
        except (psutil.Error, OSError):
            continue
    return killed


class Session:
    """One submission in one worker process. Restarted transparently after a timeout or crash."""

    def __init__(self, sandbox: Sandbox, path: Path, forbidden: list[str]) -> None:
        self.sandbox = sandbox
        self.path = path
        self.forbidden = forbidden
        self.pid: int | None = None
        self.sock: socket.socket | None = None
        self.drain: OutputDrain | None = None
        self.functions: list[str] = []
        self.load_error: StudentError | None = None
        self.import_output = ""

    # -- lifecycle ----------------------------------------------------------------------------------
    def ensure_started(self) -> None:
        if self.pid is not None or self.load_error is not None:
            return
        config = {"path": str(self.path), "forbidden": self.forbidden,
                  "output_chars": self.sandbox.limits.output_chars, "threads": self.sandbox.limits.threads}
        self.pid, self.sock, self.drain = self.sandbox.spawn(config, str(self.path.parent))
        try:
            reply = self._roundtrip({"op": "load"}, self.sandbox.limits.load_timeout, during="import")
        except StudentError as e:
            self.load_error = LoadError(f"importing your file failed: {e.message}", traceback=e.traceback,
                                        hint=e.hint, output=e.output)
            return
        if not reply.get("ok"):
            self.load_error = self._load_error(reply["error"], reply.get("output", ""))
            self._kill()
            return
        self.functions = list(reply.get("functions", []))
        self.import_output = str(reply.get("output", ""))

    def close(self) -> None:
        self._kill()
        self.sandbox.sessions.discard(self)

    def _kill(self) -> None:
        if self.pid is not None:
            self.sandbox.kill(self.pid)
        if self.sock is not None:
            self.sock.close()
        if self.drain is not None:
            self.drain.join(timeout=1)
        self.pid, self.sock, self.drain = None, None, None

    # -- calls --------------------------------------------------------------------------------------
    def call(self, fn: str, args: tuple, kwargs: dict, *, timeout: float) -> dict[str, Any]:
        """Run ``fn(*args, **kwargs)``; returns the decoded reply (``value``, ``args_after``, ...).

        Raises a :class:`StudentError` for anything that kept the function from returning a value.
        """
        self.ensure_started()
        if self.load_error is not None:
            raise self.load_error
        reply = self._roundtrip({"op": "call", "fn": fn, "args": list(args), "kwargs": kwargs}, timeout,
                                during=fn)
        if not reply.get("ok"):
            raise self._call_error(fn, reply["error"], str(reply.get("output", "")))
        return reply

    def _roundtrip(self, request: dict, timeout: float, *, during: str) -> dict:
        assert self.sock is not None and self.pid is not None
        from grader.sandbox.codec import decode, encode  # imports torch: not before the zygote starts

        try:
            self.sock.sendall(pack(encode(request)))
            frame = self._receive(timeout, during)
            return decode(frame)
        except WireError as e:
            self._kill()
            raise BadReturn(f"{during} sent back data the grader cannot read ({e})") from None
        except (BrokenPipeError, ConnectionResetError):
            raise self._died(during) from None

    def _receive(self, timeout: float, during: str) -> bytes:
        """Wait for one frame while watching the clock, the memory and the output of the worker."""
        assert self.sock is not None and self.pid is not None
        deadline = time.monotonic() + timeout
        proc = _process(self.pid)
        buf = bytearray()
        need = 8
        have_len = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise StudentTimeout(f"{during} did not finish within {timeout:g} s",
                                     hint="Look for an infinite loop, or work that grows too fast with the "
                                          "input size.")
            self.sock.settimeout(min(0.05, remaining))
            try:
                chunk = self.sock.recv(min(1 << 20, need - len(buf)))
            except TimeoutError:
                chunk = None
            except OSError:
                chunk = b""
            if chunk == b"":
                raise self._died(during)
            if chunk:
                buf += chunk
                if len(buf) == need:
                    if have_len:
                        return bytes(buf[8:])
                    (n,) = struct.unpack("!Q", buf)
                    if n > MAX_MESSAGE_BYTES:
                        self._kill()
                        raise BadReturn(f"{during} returned more than {MAX_MESSAGE_BYTES >> 20} MB of data")
                    need, have_len = 8 + n, True
                continue
            self._watch(proc, during)

    def _watch(self, proc: psutil.Process | None, during: str) -> None:
        limit = self.sandbox.limits
        if self.drain is not None and self.drain.total > limit.output_chars:
            self._kill()
            raise StudentCrash(f"{during} printed more than {limit.output_chars:,} bytes: output limit exceeded",
                               hint="Remove the prints inside loops.")
        if proc is not None:
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                return
            if rss > (limit.memory_mb << 20) + (1 << 30):
                self._kill()
                raise StudentCrash(f"{during} used more than {limit.memory_mb} MB of memory: memory limit exceeded",
                                   hint="Avoid building huge intermediate tensors.")

    def _died(self, during: str) -> StudentError:
        pid = self.pid
        status = None
        if pid is not None:
            for _ in range(50):
                info = self.sandbox.status(pid)
                status = info.get("status")
                if status is not None or not info.get("alive"):
                    break
                time.sleep(0.02)
        output = self.drain.take() if self.drain else ""
        self._kill()
        return StudentCrash(f"the process running your code ended during {during}: {describe_status(status)}",
                            hint=_crash_hint(status), output=output)

    # -- error translation ----------------------------------------------------------------------------
    def _load_error(self, err: dict, output: str) -> StudentError:
        kind = err.get("kind")
        if kind == "syntax":
            return LoadError(f"your file has a syntax error at line {err.get('line')}: {err.get('message')}",
                             traceback=err.get("traceback", ""), output=output)
        if kind == "exit":
            return LoadError(f"your file called sys.exit({err.get('code', '')}) while being imported",
                             hint="Do not call sys.exit() or exit(): the grader imports your file and calls "
                                  "your functions. Put test code under `if __name__ == \"__main__\":`.",
                             output=output)
        return LoadError(f"importing your file raised {err.get('type')}: {err.get('message')}",
                         traceback=err.get("traceback", ""),
                         hint="Code at the top level of your file runs when it is imported; put experiments "
                              "under `if __name__ == \"__main__\":`.", output=output)

    def _call_error(self, fn: str, err: dict, output: str) -> StudentError:
        kind = err.get("kind")
        tb = err.get("traceback", "")
        if kind == "missing":
            return MissingFunction(f"your file does not define {fn}", hint=f"Define `def {fn}(...)` as in the "
                                   "template (`grade init` writes one).")
        if kind == "forbidden":
            return ForbiddenAPI(f"{fn} used a forbidden API: {err.get('message')}", traceback=tb, output=output)
        if kind == "memory":
            return StudentCrash(f"{fn} ran out of memory (limit {self.sandbox.limits.memory_mb} MB)",
                                traceback=tb, hint="Avoid building huge intermediate tensors.", output=output)
        if kind == "output":
            return StudentCrash(f"{fn} printed too much: {err.get('message')}", hint="Remove the prints inside "
                                "loops.", output=output)
        if kind == "exit":
            return StudentCrash(f"{fn} called sys.exit({err.get('code', '')})",
                                hint="Return a value instead of exiting.", output=output)
        if kind == "badreturn":
            return BadReturn(f"{fn} returned a value the grader cannot accept: {err.get('message')}")
        hint = ""
        if err.get("type") == "EOFError" and "input()" in str(err.get("message")):
            hint = "Remove the input() call: your functions get their data as arguments."
        return StudentException(f"{fn} raised {err.get('type')}: {err.get('message')}", traceback=tb,
                                hint=hint, output=output)


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def describe_status(status: int | None) -> str:
    if status is None:
        return "it stopped answering"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return f"killed by signal {name}"
    if os.WIFEXITED(status):
        return f"it exited with status {os.WEXITSTATUS(status)}"
    return f"status {status}"


def _crash_hint(status: int | None) -> str:
    if status is not None and os.WIFEXITED(status):
        return "Something called os._exit() or exit(): return a value instead."
    if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return "The process was killed, most often for using too much memory."
    if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV:
        return "A segmentation fault: often an out-of-bounds index in native code."
    return ""
