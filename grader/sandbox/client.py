"""The grader's side of the sandbox.

``Sandbox`` owns a warm zygote process (torch imported once), started inside bubblewrap where it works
(``isolation="auto"``; see :mod:`grader.sandbox.bwrap`). ``Sandbox.open(path, limits=..., device=...)``
forks a fresh worker for one submission, with that session's own limits and device, and returns a
``Session``; ``Session.call`` runs one function under one deadline while watching memory and output. A
timeout or crash kills the worker; the next call starts a fresh one and imports the submission again, so
one bad check never sinks the others. A zygote that dies is replaced; what the grader cannot attribute
to the submission raises :class:`~grader.errors.GraderFault`, never a student error.

Every reply is size-checked before it is read, decoded without copies under caps on JSON nodes and
tensor elements, and every string in it goes through :func:`grader.sanitize.clean`.
"""

from __future__ import annotations

import base64
import os
import random
import signal
import socket
import struct
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from grader.errors import (
    BadReturn,
    ForbiddenAPI,
    GraderError,
    GraderFault,
    LoadError,
    MissingFunction,
    StudentCrash,
    StudentError,
    StudentException,
    StudentTimeout,
)
from grader.sandbox import bwrap
from grader.sandbox.frames import WireError, pack
from grader.sandbox.launcher import Drain, ZygoteProcess
from grader.sandbox.stuck import STACKS_SIGNAL, stuck_traceback
from grader.sandbox.zygote import MAX_SOURCE_BYTES
from grader.sanitize import clean

TOKEN_VAR = "DL_GRADER_SANDBOX"
ISOLATION_VAR = "DL_GRADER_ISOLATION"
START_TIMEOUT = 120.0  # importing torch in a cold container can take a while
CONTROL_TIMEOUT = 10.0  # a spawn, status or kill request to a live zygote
MIN_REPLY_ELEMENTS = 1 << 22  # a reply may always hold this many tensor elements ...
REPLY_ELEMENTS_FACTOR = 64  # ... or this many times what the call sent
VALUE_CHARS = 1_000_000  # longest string kept in a reply's values (shown text is capped shorter)
WATCH_EVERY = 0.1  # seconds between two looks at a worker's memory
STACKS_WAIT = 0.3  # seconds a timed-out worker has to write its stacks before it is killed
UID_BASE = 200_000  # first user ID given to sessions (grader running as root, inside bwrap)

OutputDrain = Drain  # the worker's stdout/stderr file descriptor (writes that bypass sys.stdout)


IMPORT_TIMEOUT_HINT = ("Code at the top level of your file runs when the grader imports it: an endless loop or "
                       "a long experiment there stops the import. Put experiments under "
                       "`if __name__ == \"__main__\":`.")


@dataclass(frozen=True)
class Limits:
    """Limits for one submission. ``timeout`` is per check (seconds); ``load_timeout`` for the import of
    the submission; ``memory_mb`` is on top of the warm process and holds for all of the submission's
    processes together (and on the GPU, for a CUDA session); ``output_chars`` caps what the student's code
    may print (per worker); ``processes`` caps its processes and threads (where it has its own user ID);
    ``file_mb`` caps one file it writes; ``reply_mb`` caps one reply. ``disk_mb`` sizes the sandbox's
    ``/tmp`` and working area (and a quarter of it ``/dev/shm``): it is read when the sandbox starts."""

    timeout: float = 10.0
    load_timeout: float = 10.0
    memory_mb: int = 2048
    output_chars: int = 1_000_000
    threads: int = 1
    processes: int = 64
    file_mb: int = 64
    reply_mb: int = 512
    disk_mb: int = 512


def isolation_available() -> tuple[bool, str]:
    """Whether the ``bwrap`` backend works on this machine, and if not, why not."""
    return bwrap.available()


def default_isolation() -> str:
    """``$DL_GRADER_ISOLATION`` (an instructor's setting, read once per sandbox), else ``"auto"``."""
    return os.environ.get(ISOLATION_VAR) or "auto"


class Sandbox:
    """A warm zygote and the workers it forks. Use as a context manager; ``close`` kills everything.

    ``limits`` and ``device`` are the defaults for :meth:`open`. ``isolation`` (default
    :func:`default_isolation`) is ``"auto"`` (``bwrap``
    where it works here, else ``"none"``), ``"bwrap"`` (an error where it does not work) or ``"none"`` (the
    submission runs with the grader's user, files and network: for a student's own machine). The backend
    chosen is :attr:`isolation`.
    """

    def __init__(self, limits: Limits | None = None, device: str = "cpu", *, isolation: str | None = None) -> None:
        self.limits = limits or Limits()
        self.device = device
        isolation = isolation or default_isolation()
        if isolation == "bwrap":
            ok, why = bwrap.available()
            if not ok:
                raise GraderError(f"--isolation bwrap was asked for, but {why}")
        self.isolation = bwrap.choose(isolation)
        self.token = uuid.uuid4().hex
        self._lock = threading.RLock()
        self.sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        self._next_session = 0
        self._uid_base = UID_BASE + random.randrange(1000) * 1000
        self.zygote: ZygoteProcess | None = None
        self.generation = 0
        self.replaced = 0  # zygotes replaced after they died
        self._start()
        # Everything the grader needs to read replies, imported now, before any submission runs.
        from grader.sandbox import codec  # noqa: F401
        from grader.symbolic import tree  # noqa: F401

    def _start(self) -> None:
        mb = self.limits.disk_mb
        # GPU devices are bound whenever the machine has them: a session's device is chosen per session.
        self.zygote = ZygoteProcess(self.isolation, token=self.token, tmp_mb=mb, work_mb=mb, shm_mb=max(16, mb // 4),
                                    cuda=any(Path("/dev").glob("nvidia*")))
        self._start_deadline = time.monotonic() + START_TIMEOUT
        self.generation += 1

    def _live_zygote(self) -> ZygoteProcess:
        """The zygote, replaced first if it died (killed from outside, or by a submission)."""
        if self.zygote is None or not self.zygote.alive():
            if self.zygote is not None:
                self.zygote.close(time.monotonic() + 1)
                self.replaced += 1
            self._start()
        assert self.zygote is not None
        return self.zygote

    # -- control channel ----------------------------------------------------------------------------
    def _request(self, msg: dict[str, Any], fds: list[int] | None = None, *, deadline: float) -> dict:
        with self._lock:
            zygote = self._live_zygote()
            if not zygote.ready:
                deadline = max(deadline, self._start_deadline)
            return zygote.request(msg, fds, deadline)

    def spawn(self, session: Session) -> tuple[int, int | None, socket.socket, Drain]:
        """A fresh worker for ``session``: (pid in the zygote's view, pid in ours, socket, output)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        limits = session.limits
        wire: dict[str, Any] = {"file_size_bytes": limits.file_mb << 20, "processes": limits.processes}
        if session.device == "cpu":  # CUDA maps huge address ranges: rely on the memory watch there
            wire["address_space_extra_bytes"] = limits.memory_mb << 20
        request: dict[str, Any] = {"op": "spawn", "config": session.config(), "limits": wire,
                                   "workdir": session.workdir,
                                   "env": {"CUDA_VISIBLE_DEVICES": ""} if session.device == "cpu" else {}}
        if self.isolation == "bwrap":
            request["files"] = {session.path.name: base64.b64encode(session.source).decode()}
            request["uid"] = session.uid
        try:
            with self._lock:
                reply = self._request(request, [theirs.fileno(), out_w],
                                      deadline=time.monotonic() + CONTROL_TIMEOUT)
                assert self.zygote is not None
                host = self.zygote.host_pid(int(reply["pid"]))
        except BaseException:
            ours.close()
            os.close(out_r)
            raise
        finally:
            theirs.close()
            os.close(out_w)
        drain = Drain(out_r)
        drain.start()
        return int(reply["pid"]), host, ours, drain

    def status(self, pid: int, deadline: float) -> dict:
        return self._request({"op": "status", "pid": pid}, deadline=deadline)

    def kill(self, pid: int, host_pid: int | None, generation: int) -> None:
        """Kill a worker and all it left behind; by its pid if the zygote does not answer."""
        with self._lock:
            if generation != self.generation or self.zygote is None or not self.zygote.alive():
                return  # that zygote is gone, and its workers with it
            try:
                self.zygote.request({"op": "kill", "pid": pid}, None, time.monotonic() + CONTROL_TIMEOUT)
            except GraderFault:
                if host_pid is not None:
                    from grader.sandbox.zygote import kill_hard

                    kill_hard(host_pid)

    def session_memory(self, session: Session) -> int:
        """Bytes that the session's processes use beyond what they share with the warm zygote."""
        zygote = self.zygote
        if zygote is None or session.host_pid is None:
            return 0
        procs: list[psutil.Process] = []
        try:
            if session.uid is not None and self.isolation == "bwrap":
                procs = [p for p in psutil.Process(zygote.proc.pid).children(recursive=True)
                         if p.uids().real == session.uid]
            else:
                worker = psutil.Process(session.host_pid)
                procs = [worker, *worker.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            try:
                m = p.memory_info()
            except psutil.Error:
                continue
            total += max(0, m.rss - m.shared - session.baseline)
        return total

    # -- public ---------------------------------------------------------------------------------------
    def open(self, path: str | Path, *, limits: Limits | None = None, device: str | None = None,
             forbidden: list[str] | None = None) -> Session:
        """A session for one submission with its own limits and device (the sandbox's by default)."""
        with self._lock:
            self._next_session += 1
            sid = self._next_session
        session = Session(self, Path(path).resolve(), forbidden or [], limits or self.limits,
                          device or self.device, sid)
        self.sessions.add(session)
        return session

    def close(self) -> None:
        for s in list(self.sessions):
            s.close()
        with self._lock:
            if self.zygote is not None:
                self.zygote.close(time.monotonic() + 5)
        sweep(self.token)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sweep(token: str) -> int:
    """Kill any process still carrying this sandbox's token (a last line of defence for ``none``)."""
    killed = 0
    for p in psutil.process_iter(["pid"]):
        try:
            if p.pid != os.getpid() and p.environ().get(TOKEN_VAR) == token:
                p.kill()
                killed += 1
        except (psutil.Error, OSError):
            continue
    return killed


def _read_source(path: Path) -> bytes | None:
    """The submission's bytes, or None when it is larger than :data:`MAX_SOURCE_BYTES` (then not read)."""
    return path.read_bytes() if path.stat().st_size <= MAX_SOURCE_BYTES else None


class Session:
    """One submission in one worker process. Restarted transparently after a timeout or crash."""

    def __init__(self, sandbox: Sandbox, path: Path, forbidden: list[str], limits: Limits, device: str,
                 sid: int) -> None:
        self.sandbox = sandbox
        self.path = path
        self.forbidden = forbidden
        self.limits = limits
        self.device = device
        self.sid = sid
        self.pid: int | None = None  # in the zygote's PID namespace
        self.host_pid: int | None = None  # in ours
        self.generation = 0  # of the zygote that forked the worker
        self.sock: socket.socket | None = None
        self.drain: Drain | None = None
        self.functions: list[str] = []
        self.parameters: dict[str, list[str]] = {}  # the student's own parameter names, by function
        self.load_error: StudentError | None = None
        self.import_output = ""
        self.baseline = 0
        self.peak_memory = 0
        self._last_watch = 0.0
        self.isolated = sandbox.isolation == "bwrap"
        self.too_large = False
        self.uid: int | None = (sandbox._uid_base + sid % 1000) if self.isolated and bwrap.privileged() else None
        if self.isolated:
            self.workdir = f"{bwrap.WORKDIR}/s{sid}"
            self.worker_path = f"{self.workdir}/{path.name}"
            # Read only what may be sent: a huge file is refused without being read.
            source = _read_source(path)
            self.source, self.too_large = source or b"", source is None
        else:
            self.workdir, self.worker_path, self.source = str(path.parent), str(path), b""

    def config(self) -> dict[str, Any]:
        return {"path": self.worker_path, "forbidden": self.forbidden, "output_chars": self.limits.output_chars,
                "threads": self.limits.threads, "device": self.device, "gpu_memory_mb": self.limits.memory_mb}

    # -- lifecycle ----------------------------------------------------------------------------------
    def ensure_started(self) -> None:
        if self.pid is not None and self.generation != self.sandbox.generation:
            self._forget()  # its zygote died: the worker died with it
        if self.pid is not None or self.load_error is not None:
            return
        if self.too_large:
            self.load_error = LoadError(f"your file is larger than {MAX_SOURCE_BYTES >> 20} MB",
                                        hint="Submit the source code only, without data.")
            return
        self.pid, self.host_pid, self.sock, self.drain = self.sandbox.spawn(self)
        self.generation = self.sandbox.generation
        self.baseline = self._baseline()
        try:
            reply = self._roundtrip({"op": "load"}, self.limits.load_timeout, during="import")
        except StudentTimeout as e:
            self.load_error = LoadError(f"importing your file did not finish within {self.limits.load_timeout:g} s",
                                        traceback=e.traceback, hint=IMPORT_TIMEOUT_HINT, output=e.output)
            return
        except StudentError as e:
            self.load_error = LoadError(f"importing your file failed: {e.message}", traceback=e.traceback,
                                        hint=e.hint, output=e.output)
            return
        if not reply.get("ok"):
            if reply["error"].get("kind") == "grader":
                self._kill()
                raise GraderFault(str(reply["error"].get("message")), retryable=False)
            self.load_error = self._load_error(reply["error"], reply.get("output", ""))
            self._kill()
            return
        self.functions = list(reply.get("functions", []))
        self.parameters = _checked_parameters(reply.get("parameters"))
        self.import_output = str(reply.get("output", ""))

    def _baseline(self) -> int:
        """What a fresh worker holds that it shares with the zygote (torch imported)."""
        try:
            m = psutil.Process(self.host_pid).memory_info() if self.host_pid else None
        except psutil.Error:
            m = None
        return max(0, m.rss - m.shared) if m else 0

    def close(self) -> None:
        self._kill()
        self.sandbox.sessions.discard(self)

    def _kill(self) -> None:
        if self.pid is not None:
            self.sandbox.kill(self.pid, self.host_pid, self.generation)
        self._forget()

    def _forget(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.drain is not None:
            self.drain.join(timeout=1)
        self.pid, self.host_pid, self.sock, self.drain = None, None, None, None

    # -- calls --------------------------------------------------------------------------------------
    def call(self, fn: str, args: tuple, kwargs: dict, *, timeout: float,
             max_elements: int | None = None) -> dict[str, Any]:
        """Run ``fn(*args, **kwargs)``; returns the decoded reply (``value``, ``args_after``, ...).

        Raises a :class:`StudentError` for anything that kept the function from returning a value, and a
        :class:`GraderFault` for what cannot be the submission's doing. The reply may hold at most
        ``max_elements`` tensor elements (by default, a generous multiple of what was sent).
        """
        self.ensure_started()
        if self.load_error is not None:
            raise self.load_error
        if max_elements is None:
            max_elements = max(MIN_REPLY_ELEMENTS, REPLY_ELEMENTS_FACTOR * _elements((args, kwargs)))
        reply = self._roundtrip({"op": "call", "fn": fn, "args": list(args), "kwargs": kwargs}, timeout,
                                during=fn, max_elements=max_elements)
        if not reply.get("ok"):
            raise self._call_error(fn, reply["error"], str(reply.get("output", "")))
        return reply

    def _roundtrip(self, request: dict, timeout: float, *, during: str, max_elements: int | None = None) -> dict:
        assert self.sock is not None and self.pid is not None
        from grader.sandbox.codec import decode, encode

        deadline = time.monotonic() + timeout
        try:
            self.sock.settimeout(max(0.01, timeout))
            self.sock.sendall(pack(encode(request)))
            frame = self._receive(deadline, timeout, during)
            reply = decode(frame, max_elements=max_elements, text=_clean_value)
        except WireError as e:
            self._kill()
            raise BadReturn(f"{during} sent back data the grader cannot read ({clean(e, 500)})") from None
        except (BrokenPipeError, ConnectionResetError):
            raise self._died(during) from None
        except TimeoutError:  # the worker does not even read its requests (stopped)
            raise self._timed_out(during, timeout) from None
        if not isinstance(reply, dict):
            self._kill()
            raise BadReturn(f"{during} sent back a malformed reply")
        # What is shown as text (messages, tracebacks, printed output) is shorter than values may be.
        if isinstance(reply.get("error"), dict):
            reply["error"] = {k: clean(v) if isinstance(v, str) else v for k, v in reply["error"].items()}
        if isinstance(reply.get("output"), str):
            reply["output"] = clean(reply["output"])
        return reply

    def _receive(self, deadline: float, timeout: float, during: str) -> bytearray:
        """Wait for one frame until ``deadline`` while watching the memory and output of the worker. The
        frame's length is checked before anything is read; the frame is read into one buffer."""
        assert self.sock is not None and self.pid is not None
        head = bytearray(8)
        self._fill(head, deadline, timeout, during)
        (n,) = struct.unpack("!Q", head)
        cap = self.limits.reply_mb << 20
        if n > cap:
            self._kill()
            raise BadReturn(f"{during} returned more than {self.limits.reply_mb} MB of data",
                            hint="Return only what the function is asked to return.")
        frame = bytearray(n)
        self._fill(frame, deadline, timeout, during)
        return frame

    def _fill(self, buf: bytearray, deadline: float, timeout: float, during: str) -> None:
        assert self.sock is not None
        view = memoryview(buf)
        got = 0
        while got < len(buf):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(during, timeout)
            self.sock.settimeout(min(0.05, remaining))
            try:
                n = self.sock.recv_into(view[got:], min(1 << 22, len(buf) - got))
            except TimeoutError:
                n = -1
            except OSError:
                n = 0
            if n == 0:
                raise self._died(during)
            if n > 0:
                got += n
            self._watch(during)

    def _timed_out(self, during: str, timeout: float) -> StudentTimeout:
        """Stop the worker at its time limit; say where in the student's file it was (see grader.sandbox.stuck)."""
        dump = self._stacks()
        self._kill()
        try:
            source = self.source or _read_source(self.path) or b""
        except OSError:
            source = b""
        # the student's file is the child's text too: its lines go through the one sanitiser
        where = clean(stuck_traceback(dump, self.worker_path, source.decode("utf-8", "replace"), self.path.name))
        return StudentTimeout(f"{during} did not finish within {timeout:g} s", traceback=where,
                              hint="Look for an infinite loop, or work that grows too fast with the input size.")

    def _stacks(self) -> str:
        """Ask the worker for its stacks (:data:`STACKS_SIGNAL`) and read what it writes to fd 2 within
        :data:`STACKS_WAIT` seconds (until the output stops growing)."""
        drain, pid = self.drain, self.host_pid
        if drain is None or pid is None:
            return ""
        before = len(drain.data)
        try:
            os.kill(pid, STACKS_SIGNAL)
        except OSError:
            return ""
        end = time.monotonic() + STACKS_WAIT
        seen, still_since = before, time.monotonic()
        while (now := time.monotonic()) < end:
            n = len(drain.data)
            if n != seen:
                seen, still_since = n, now
            elif n > before and now - still_since >= 0.03:
                break
            time.sleep(0.005)
        return bytes(drain.data[before:]).decode("utf-8", "replace")

    def _watch(self, during: str) -> None:
        limit = self.limits
        if self.drain is not None and self.drain.total > limit.output_chars:
            self._kill()
            raise StudentCrash(f"{during} printed more than {limit.output_chars:,} bytes: output limit exceeded",
                               hint="Remove the prints inside loops.")
        now = time.monotonic()
        if now - self._last_watch < WATCH_EVERY:
            return
        self._last_watch = now
        used = self.sandbox.session_memory(self)
        self.peak_memory = max(self.peak_memory, used)
        slack = (1 << 30) if self.device == "cuda" else (64 << 20)  # a CUDA context holds host memory
        if used > (limit.memory_mb << 20) + slack:
            self._kill()
            raise StudentCrash(f"{during} used more than {limit.memory_mb} MB of memory: memory limit exceeded",
                               hint="Avoid building huge intermediate tensors.")

    def _died(self, during: str) -> StudentError:
        """The worker's connection closed: say why, or raise a GraderFault when it is not the student's."""
        pid, status = self.pid, None
        zygote_alive = self.generation == self.sandbox.generation and self.sandbox.zygote is not None \
            and self.sandbox.zygote.alive()
        if pid is not None and zygote_alive:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                try:
                    info = self.sandbox.status(pid, deadline)
                except GraderFault:
                    zygote_alive = False
                    break
                status = info.get("status")
                if status is not None or not info.get("alive"):
                    break
                time.sleep(0.02)
        output = self.drain.take() if self.drain else ""
        self._kill()
        if not zygote_alive or (self.sandbox.zygote is not None and not self.sandbox.zygote.alive()):
            raise GraderFault(f"the sandbox process stopped while running {during}; it will be restarted")
        if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            if self.peak_memory < 0.8 * (self.limits.memory_mb << 20):
                raise GraderFault(f"the process running {during} was killed from outside (SIGKILL) while using "
                                  f"{self.peak_memory >> 20} MB, well under its {self.limits.memory_mb} MB limit")
            return StudentCrash(f"the process running your code ran out of memory during {during} (limit "
                                f"{self.limits.memory_mb} MB)", hint="Avoid building huge intermediate tensors.",
                                output=output)
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
            return StudentCrash(f"{fn} ran out of memory (limit {self.limits.memory_mb} MB)",
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


def _clean_value(text: str) -> str:
    """Strings returned as values (a symbolic answer) may be long: the grader reports their length."""
    return clean(text, VALUE_CHARS)


def _elements(tree: Any) -> int:
    """Tensor and array elements in the arguments of a call."""
    import numpy as np
    import torch

    if isinstance(tree, torch.Tensor | np.ndarray):
        return int(tree.numel() if isinstance(tree, torch.Tensor) else tree.size)
    if isinstance(tree, list | tuple):
        return sum(_elements(v) for v in tree)
    if isinstance(tree, dict):
        return sum(_elements(v) for v in tree.values())
    kwargs = getattr(tree, "kwargs", None)  # a TrustedFunction's bound tensors
    return _elements(kwargs) if isinstance(kwargs, dict) else 0


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


def _checked_parameters(value: Any) -> dict[str, list[str]]:
    """The child's parameter names, kept only where they are plain identifiers (it sent them)."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, list[str]] = {}
    for fn, names in list(value.items())[:200]:
        if (isinstance(fn, str) and fn.isidentifier() and isinstance(names, list) and len(names) <= 32
                and all(isinstance(n, str) and n.isidentifier() and len(n) <= 64 for n in names)):
            out[fn] = list(names)
    return out
