"""A warm process that imports torch once and forks one fresh worker per submission.

Started by :class:`grader.sandbox.client.Sandbox` as ``python -m grader.sandbox.zygote FD``. It talks
to the grader over the control socket FD (JSON lines; the worker's sockets arrive as passed file
descriptors). It is a child subreaper: processes that a submission leaves behind become its children,
and it kills them when the submission's session closes and when it exits. It dies with the grader.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import socket
import sys
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: fall back to process groups only
        pass


class Zygote:
    def __init__(self, ctrl: socket.socket) -> None:
        self.ctrl = ctrl
        self.workers: set[int] = set()
        self.statuses: dict[int, int] = {}
        self.buffer = b""

    def run(self) -> None:
        self.reply({"ready": True, "pid": os.getpid()})
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
                self.handle(json.loads(line), fds)
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
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                self.ctrl.close()
                become_worker(sock_fd, out_fd, req)
            finally:
                os._exit(0)
        os.close(sock_fd)
        os.close(out_fd)
        self.workers.add(pid)
        return pid

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
        self.kill_orphans()

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
        self.kill_orphans()


def kill_hard(pid: int) -> None:
    """SIGKILL a process's group (a worker and what it started) and the process itself."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
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


def become_worker(sock_fd: int, out_fd: int, req: dict[str, Any]) -> None:
    os.setsid()  # own process group: the grader kills it and its children together
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    os.close(devnull)
    os.environ.update(req.get("env", {}))
    set_limits(req.get("limits", {}))
    workdir = req.get("workdir")
    if workdir:
        os.chdir(workdir)
    from grader.sandbox.worker import Worker

    sock = socket.socket(fileno=sock_fd)
    Worker(sock, req["config"]).serve()


def set_limits(limits: dict[str, Any]) -> None:
    memory = limits.get("address_space_extra_bytes")
    if memory:  # on top of what the warm process already maps (torch alone maps ~0.6 GB)
        total = _vm_size() + memory
        resource.setrlimit(resource.RLIMIT_AS, (total, total))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    fsize = limits.get("file_size_bytes")
    if fsize:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with an error instead of killing


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

    Zygote(ctrl).run()


if __name__ == "__main__":
    main()
