"""The student's side of the sandbox: imports the submission and answers calls.

Runs in a process forked from the zygote, with limits already set. Requests and replies use the codec;
whatever the student's code does, the parent only ever reads data.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import os
import socket
import struct
import sys
import traceback
from typing import Any

import torch

from grader.sandbox import guard, oprecord
from grader.sandbox.codec import Opaque, WireError, decode, encode, pack
from grader.sandbox.stuck import STACKS_SIGNAL
from grader.trusted import TrustedFunction

MODULE_NAME = "submission"


class Worker:
    def __init__(self, sock: socket.socket, config: dict[str, Any]) -> None:
        self.sock = sock
        self.config = config
        self.path: str = config["path"]
        self.module: Any = None
        self.refs: dict[int, Any] = {}
        self.stdout = guard.CappedStream(int(config.get("output_chars", 1_000_000)))
        forbidden = config.get("forbidden", [])
        self.recorder = oprecord.Recorder(self.path, any(str(f).startswith("sympy") for f in forbidden))

    # -- transport ------------------------------------------------------------------------------
    def recv(self) -> Any:
        head = self._recv_exact(8)
        if head is None:
            return None
        (n,) = struct.unpack("!Q", head)
        frame = self._recv_exact(n)
        return decode(frame, allow_functions=True, device=self.config.get("device")) if frame is not None else None

    def _recv_exact(self, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def send(self, value: Any) -> None:
        try:
            frame = encode(value, keep=self._keep)
        except (WireError, ValueError, TypeError, RecursionError) as e:
            frame = encode({"ok": False, "error": {"kind": "badreturn", "type": type(e).__name__,
                                                   "message": f"the result could not be sent back: {e}"}})
        self.sock.sendall(pack(frame))

    def _keep(self, obj: Any) -> Opaque:
        ref = len(self.refs) + 1
        self.refs[ref] = obj
        return Opaque(ref, type(obj).__name__)

    # -- requests ---------------------------------------------------------------------------------
    def serve(self) -> None:
        # At a time limit the parent sends SIGUSR1 before it kills this process: faulthandler then writes
        # the stacks to fd 2, where the parent reads which line of the student's file was running.
        faulthandler.register(STACKS_SIGNAL, file=2, all_threads=True)
        while True:
            req = self.recv()
            if req is None:
                return
            op = req.get("op")
            if op == "load":
                self.send(self.load())
            elif op == "call":
                self.send(self.call(req["fn"], req["args"], req["kwargs"]))
            elif op == "ping":
                self.send({"ok": True})
            else:
                self.send({"ok": False, "error": {"kind": "protocol", "message": f"unknown op {op!r}"}})

    def load(self) -> dict[str, Any]:
        torch.set_num_threads(int(self.config.get("threads", 1)))
        if self.config.get("device") == "cuda" and not torch.cuda.is_available():
            return {"ok": False, "error": {"kind": "grader", "message": "the sandbox has no usable CUDA device, "
                                           "although this session asked for one"}}
        limit_gpu_memory(self.config)
        guard.install(self.path, self.config.get("forbidden", []))
        sys.stdout = sys.stderr = self.stdout
        sys.path.insert(0, os.path.dirname(self.path))
        try:
            spec = importlib.util.spec_from_file_location(MODULE_NAME, self.path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[MODULE_NAME] = module
            spec.loader.exec_module(module)
        except BaseException as e:  # noqa: BLE001 - the student's import may raise anything
            return self.error(e, during="import")
        self.module = module
        functions = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        return {"ok": True, "functions": functions, "parameters": _parameters(module, functions),
                "output": self.stdout.take()}

    def call(self, name: str, args: Any, kwargs: Any) -> dict[str, Any]:
        fn = getattr(self.module, name, None) if self.module is not None else None
        if not callable(fn):
            return {"ok": False, "error": {"kind": "missing", "message": f"your file defines no function {name}"}}
        args, kwargs = self.resolve(args), self.resolve(kwargs)
        try:
            value = self.recorder.run(fn, args, kwargs)
        except BaseException as e:  # noqa: BLE001
            return self.error(e, during=name)
        return {"ok": True, "value": value, "args_after": [a if isinstance(a, torch.Tensor) else None
                                                           for a in args],
                "kwargs_after": {k: v for k, v in kwargs.items() if isinstance(v, torch.Tensor)},
                "output": self.stdout.take(), "ops": self.recorder.take()}

    def resolve(self, tree: Any) -> Any:
        if isinstance(tree, Opaque):
            return self.refs.get(tree.ref)
        if isinstance(tree, TrustedFunction):
            return tree.resolve_bound()
        if isinstance(tree, list | tuple):
            return type(tree)(self.resolve(v) for v in tree)
        if isinstance(tree, dict):
            return {k: self.resolve(v) for k, v in tree.items()}
        return tree

    def error(self, e: BaseException, during: str) -> dict[str, Any]:
        kind = "exception"
        if isinstance(e, SystemExit):
            kind = "exit"
        elif isinstance(e, guard.ForbiddenCall):
            kind = "forbidden"
        elif isinstance(e, guard.OutputLimit):
            kind = "output"
        elif isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and _is_oom(str(e))):
            kind = "memory"
        elif isinstance(e, SyntaxError) and during == "import":
            kind = "syntax"
        detail: dict[str, Any] = {
            "kind": kind,
            "type": type(e).__name__,
            "message": _safe_str(e),
            "traceback": student_traceback(e, self.path),
            "during": during,
        }
        if isinstance(e, SystemExit):
            detail["code"] = _safe_str(e.code)
        if isinstance(e, SyntaxError):
            detail.update(line=e.lineno, column=e.offset, text=(e.text or "").rstrip("\n"))
        return {"ok": False, "error": detail, "output": self.stdout.take()}


def limit_gpu_memory(config: dict[str, Any]) -> None:
    """On a CUDA session, cap what torch's allocator may take on the GPU at the session's memory limit."""
    if config.get("device") != "cuda" or not torch.cuda.is_available():
        return
    total = torch.cuda.get_device_properties(0).total_memory
    fraction = min(1.0, (int(config.get("gpu_memory_mb", 0)) << 20) / total) if config.get("gpu_memory_mb") else 1.0
    torch.cuda.set_per_process_memory_fraction(max(fraction, 0.01), 0)


def _is_oom(msg: str) -> bool:
    return "can't allocate memory" in msg or "not enough memory" in msg or "out of memory" in msg.lower()


def _safe_str(x: Any) -> str:
    try:
        return str(x)[:2000]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        return "<unprintable>"


def student_traceback(e: BaseException, path: str) -> str:
    """The traceback cut down to frames in the student's file, plus the exception line."""
    try:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
        name = os.path.basename(path)
        lines = [f'  File "{name}", line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}\n'
                 for f in frames]
        tail = traceback.format_exception_only(type(e), e)[-1]
        return ("Traceback (your code, most recent call last):\n" + "".join(lines) if lines else "") + tail
    except BaseException:  # noqa: BLE001
        return f"{type(e).__name__}: {_safe_str(e)}"


def _parameters(module: Any, functions: list[str]) -> dict[str, list[str]]:
    """The parameter names of each public function (a string answer's names are the student's own)."""
    import inspect

    out: dict[str, list[str]] = {}
    for name in functions[:MAX_SIGNATURES]:
        try:
            out[name] = [str(p) for p in inspect.signature(getattr(module, name)).parameters][:MAX_PARAMETERS]
        except (TypeError, ValueError):
            continue
    return out


MAX_SIGNATURES, MAX_PARAMETERS = 200, 32
