"""A warm process that imports torch once and forks one fresh worker per submission.

Started by :class:`grader.sandbox.client.Sandbox` as ``python -m grader.sandbox.zygote FD``. It talks
to the grader over the control socket FD (JSON lines; the worker's sockets arrive as passed file
descriptors). It is a child subreaper: processes that a submission leaves behind become its children,
and it kills them when the submission's session closes and when it exits. It dies with the grader.

With ``--isolated`` it runs inside bubblewrap (see :mod:`grader.sandbox.bwrap`): each session then gets a
private directory under ``/student`` holding a copy of the submission, and, when the zygote holds the
capabilities to do so (the grader runs as root), its own unprivileged user ID. Closing the session kills
every process of that user ID and removes every file it left in ``/student``, ``/tmp`` and ``/dev/shm``.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
SHARED_DIRS = ("/tmp", "/dev/shm")
MAX_SOURCE_BYTES = 8 << 20


def prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: fall back to process groups only
        pass


class Zygote:
    def __init__(self, ctrl: socket.socket, isolated: bool = False) -> None:
        self.ctrl = ctrl
        self.isolated = isolated
        self.sessions: dict[int, dict[str, Any]] = {}  # worker pid -> its private dir and user ID
        self.workers: set[int] = set()
        self.statuses: dict[int, int] = {}
        self.buffer = b""

    def run(self) -> None:
        self.reply({"ready": True, "pid": os.getpid(), "uid": os.getuid()})
        while True:
            readable, _, _ = select.select([self.ctrl], [], [], 0.05)
            self.reap()
            if not readable:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(self.ctrl, 65536, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                break  # the grader is gone
            self.buffer += data
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    self.handle(json.loads(line), fds)
                except Exception as e:  # noqa: BLE001 - answer, so that the grader does not wait for nothing
                    for fd in fds:
                        _close(fd)
                    self.reply({"error": f"{type(e).__name__}: {e}"})
                fds = []
        self.kill_all()
        os._exit(0)

    def reply(self, msg: dict[str, Any]) -> None:
        self.ctrl.sendall(json.dumps(msg).encode() + b"\n")

    def handle(self, req: dict[str, Any], fds: list[int]) -> None:
        op = req["op"]
        if op == "spawn":
            pid = self.spawn(req, fds)
            self.reply({"pid": pid})
        elif op == "status":
            self.reap()
            pid = req["pid"]
            self.reply({"status": self.statuses.get(pid), "alive": pid in self.workers})
        elif op == "kill":
            self.kill_session(req["pid"])
            self.reply({"killed": req["pid"]})
        elif op == "exit":
            self.kill_all()
            self.reply({"bye": True})
            os._exit(0)  # skip interpreter teardown (a third of a second with torch loaded)

    def spawn(self, req: dict[str, Any], fds: list[int]) -> int:
        sock_fd, out_fd = fds
        session = self.prepare(req) if self.isolated else {}
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                self.ctrl.close()
                become_worker(sock_fd, out_fd, req, session.get("uid"))
            finally:
                os._exit(0)
        os.close(sock_fd)
        os.close(out_fd)
        self.workers.add(pid)
        self.sessions[pid] = session
        return pid

    def prepare(self, req: dict[str, Any]) -> dict[str, Any]:
        """The session's private directory with its copy of the submission, owned by its user ID."""
        workdir = str(req["workdir"])
        if not workdir.startswith("/student/") or "/.." in workdir:
            raise ValueError(f"bad working directory {workdir!r}")
        uid = req.get("uid") if os.getuid() == 0 else None
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir, mode=0o700)
        for name, data in req.get("files", {}).items():
            raw = base64.b64decode(data)
            if "/" in name or name.startswith(".") or len(raw) > MAX_SOURCE_BYTES:
                raise ValueError(f"bad file {name!r}")
            with open(os.path.join(workdir, name), "wb") as f:
                f.write(raw)
            if uid is not None:
                os.chown(os.path.join(workdir, name), uid, uid)
        if uid is not None:
            os.chown(workdir, uid, uid)
        return {"dir": workdir, "uid": uid}

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.workers:
                self.workers.discard(pid)
                self.statuses[pid] = status

    def kill_session(self, pid: int) -> None:
        """Kill a worker, everything in its process group, and every orphan it left behind."""
        kill_hard(pid)
        self.wait_for_exit(pid)  # only once it is gone have its children been handed to us
        session = self.sessions.pop(pid, {})
        if session.get("uid") is not None:
            kill_user(session["uid"], self.reap_all_quietly)
        self.kill_orphans()
        if session:
            self.clean_files(session)

    def clean_files(self, session: dict[str, Any]) -> None:
        """Remove the session's directory, and what it left in the shared scratch folders: the files of
        its user ID, or everything once no other session runs (without a user ID of its own)."""
        shutil.rmtree(session["dir"], ignore_errors=True)
        uid = session.get("uid")
        if uid is None and self.workers:
            return
        for d in SHARED_DIRS:
            try:
                entries = os.listdir(d)
            except OSError:
                continue
            for name in entries:
                path = os.path.join(d, name)
                try:
                    if uid is not None and os.lstat(path).st_uid != uid:
                        continue
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
                except OSError:
                    pass

    def wait_for_exit(self, pid: int, timeout: float = 5.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while pid in self.workers and time.monotonic() < deadline:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done == pid:
                self.workers.discard(pid)
                self.statuses[pid] = status
                return
            time.sleep(0.002)

    def kill_orphans(self) -> None:
        """Children that are not live workers were left behind by a submission: kill them (and their
        children, which then become ours), until none is left."""
        for _ in range(50):
            orphans = [p for p in children_of(os.getpid()) if p not in self.workers]
            if not orphans:
                return
            for p in orphans:
                kill_hard(p)
            self.reap_all_quietly()

    def reap_all_quietly(self) -> None:
        import time

        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            self.reap()
            if all(p in self.workers for p in children_of(os.getpid())):
                return
            time.sleep(0.01)

    def kill_all(self) -> None:
        for pid in list(self.workers):
            kill_hard(pid)
        for pid in list(self.workers):
            self.wait_for_exit(pid, timeout=2.0)
        self.workers.clear()
        for session in self.sessions.values():
            if session.get("uid") is not None:
                kill_user(session["uid"], self.reap_all_quietly)
        self.kill_orphans()
        for session in list(self.sessions.values()):
            if session:
                self.clean_files(session)
        self.sessions.clear()


def kill_hard(pid: int) -> None:
    """SIGKILL a process's group (a worker and what it started) and the process itself."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_user(uid: int, reap: Any = None) -> None:
    """SIGKILL every process of ``uid`` (a submission's own user ID): a helper process takes that user
    ID and sends SIGKILL to all it may signal, which is exactly them. Repeated until none is left, so that
    a process forked meanwhile dies too."""
    import time

    for _ in range(50):
        if not any(_alive_as(p, uid) for p in _pids()):
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        time.sleep(0.005)
        if reap is not None:
            reap()


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _alive_as(pid: int, uid: int) -> bool:
    """Whether ``pid`` runs as ``uid`` and is not a zombie."""
    try:
        if os.stat(f"/proc/{pid}").st_uid != uid:
            return False
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return found


def become_worker(sock_fd: int, out_fd: int, req: dict[str, Any], uid: int | None = None) -> None:
    os.setsid()  # own process group: the grader kills it and its children together
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_DUMPABLE, 0)  # no core file, and /proc/PID/mem of this process stays closed
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    os.close(devnull)
    os.environ.update(req.get("env", {}))
    set_limits(req.get("limits", {}), uid is not None)
    workdir = req.get("workdir")
    if workdir:
        os.chdir(workdir)
        os.environ["HOME"] = workdir
    if uid is not None:  # drop root: every capability goes with it
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    from grader.sandbox.worker import Worker

    sock = socket.socket(fileno=sock_fd)
    Worker(sock, req["config"]).serve()


def set_limits(limits: dict[str, Any], own_uid: bool = False) -> None:
    memory = limits.get("address_space_extra_bytes")
    if memory:  # on top of what the warm process already maps (torch alone maps ~0.6 GB)
        total = _vm_size() + memory
        resource.setrlimit(resource.RLIMIT_AS, (total, total))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    fsize = limits.get("file_size_bytes")
    if fsize:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with an error instead of killing
    nproc = limits.get("processes")
    if nproc and own_uid:  # counted per user ID: only meaningful when the session has its own
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    # Warm up: what every worker needs, imported once.
    import numpy  # noqa: F401
    import torch  # noqa: F401

    import grader.sandbox.worker  # noqa: F401

    Zygote(ctrl, isolated="--isolated" in sys.argv[2:]).run()


if __name__ == "__main__":
    main()
