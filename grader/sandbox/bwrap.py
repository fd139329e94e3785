"""Isolation backends: which one runs here, and the ``bwrap`` command line for the zygote.

With ``bwrap`` (bubblewrap, the tool Flatpak uses) the warm zygote runs in a sandbox that sees only what a
submission needs: the system libraries, the Python installation with its site-packages (torch, numpy,
sympy) and a private copy of the small sandbox runtime (:data:`RUNTIME_FILES`). The grader's own package,
the reference solutions, the exercises, the instructor's folders and every other submission are not in
it. It has no network, its own PID namespace, size-limited ``/tmp``, ``/dev/shm`` and working area, and an
allow-listed environment. No namespace code of our own: bubblewrap does all of it.

When the grader runs as root, the zygote keeps the few capabilities it needs to give each submission its
own unprivileged user ID (so that ``RLIMIT_NPROC`` applies and it can neither signal nor trace the zygote)
and to clean up after it; the worker drops them before the submission is imported. As an ordinary user,
bubblewrap uses a user namespace and every process in the sandbox shares the grader's user ID.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BACKENDS = ("auto", "bwrap", "none")
WORKDIR = "/student"  # where the sessions' private directories live, inside the sandbox
RUNTIME = "/runtime"  # the copy of the sandbox runtime, inside the sandbox

# What the child imports of this project: the worker and its wire format, the runtime guards, trusted
# functions and the sympy tree codec (engine code; no reference answer, no check). Paths relative to the
# project root; package __init__ files are written empty (the real grader/__init__ and
# grader/sandbox/__init__ import the grader's side).
RUNTIME_FILES = (
    "grader/trusted.py",
    "grader/sandbox/zygote.py",
    "grader/sandbox/worker.py",
    "grader/sandbox/codec.py",
    "grader/sandbox/frames.py",
    "grader/sandbox/guard.py",
    "grader/sandbox/oprecord.py",
    "grader/sandbox/stuck.py",
    "grader/symbolic",
)
HIDDEN_PACKAGES = ("grader", "reference", "exercises")
ROOT_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def probe() -> tuple[bool, str]:
    """Whether ``bwrap`` can start a sandbox here (tried once per process), and if not, why not."""
    exe = bwrap_path()
    if exe is None:
        return False, "bwrap is not installed (Debian/Ubuntu package `bubblewrap`)"
    cmd = [exe, *namespace_args(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"bwrap could not run: {e}"
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"status {done.returncode}"]
        return False, f"bwrap cannot create a sandbox here: {reason[0]}"
    return True, "bwrap works"


def available() -> tuple[bool, str]:
    """``(True, "")`` where ``bwrap`` isolation works here, else ``(False, reason)``."""
    ok, why = probe()
    return ok, "" if ok else why


def choose(isolation: str) -> str:
    """The backend for ``--isolation``: ``auto`` picks ``bwrap`` when it works here."""
    if isolation not in BACKENDS:
        raise ValueError(f"unknown isolation {isolation!r}: use one of {', '.join(BACKENDS)}")
    if isolation == "auto":
        return "bwrap" if probe()[0] else "none"
    return isolation


def privileged() -> bool:
    """Root: no user namespace, and each submission gets its own unprivileged user ID."""
    return os.geteuid() == 0


def namespace_args() -> list[str]:
    args = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session"]
    if privileged():
        args += ["--cap-drop", "ALL"] + [a for cap in ROOT_CAPS for a in ("--cap-add", cap)]
    else:
        args += ["--unshare-user"]
    return args


def build_runtime(dest: str | None = None) -> str:
    """A private copy of :data:`RUNTIME_FILES` (read-only once bound into the sandbox)."""
    root = Path(dest or tempfile.mkdtemp(prefix="dl-grader-runtime-"))
    for rel in RUNTIME_FILES:
        src = PROJECT_ROOT / rel
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, target)
    for pkg in ("grader", "grader/sandbox"):
        (root / pkg / "__init__.py").write_text('"""The sandbox runtime: a copy of the modules the child needs."""\n')
    for dirpath, _, _ in os.walk(root):
        os.chmod(dirpath, 0o755)
    for dirpath, _, files in os.walk(root):
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)
    return str(root)


def _python_dirs() -> list[str]:
    """The Python installation and the virtualenv (with their site-packages)."""
    dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    dirs.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    for p in sys.path:  # site-packages outside the prefixes (a user site, a distro dist-packages)
        if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p):
            dirs.add(os.path.realpath(p))
    keep = sorted(d for d in dirs if not d.startswith(("/usr/", "/lib")) and d not in ("/", "/usr"))
    return [d for d in keep if not any(d != o and d.startswith(o + os.sep) for o in keep)]


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _hidden_dirs(bound: list[str]) -> list[str]:
    """Folders of this project inside a bound tree (a non-editable install in site-packages)."""
    found = set()
    for pkg in HIDDEN_PACKAGES:
        try:
            spec = importlib.util.find_spec(pkg)
        except (ImportError, ValueError):
            continue
        for loc in (spec.submodule_search_locations or []) if spec else []:
            found.add(os.path.realpath(loc))
    found.add(str(PROJECT_ROOT))
    return sorted(d for d in found if any(d == b or d.startswith(b + os.sep) for b in bound))


def command(python: str, runtime: str, fd: int, *, tmp_mb: int, work_mb: int, shm_mb: int,
            cuda: bool) -> list[str]:
    """The command line that starts the zygote (``python -m grader.sandbox.zygote FD``) inside bwrap."""
    exe = bwrap_path()
    assert exe is not None
    args = [exe, *namespace_args(), "--clearenv"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    # The private filesystems first: what is bound after them lies on top. A virtualenv inside a folder
    # under /tmp (a CI clone in /tmp/..., its .venv inside) stays visible above the private /tmp.
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(tmp_mb << 20), "--perms", "1777", "--tmpfs", "/tmp"]
    args += ["--size", str(shm_mb << 20), "--perms", "1777", "--tmpfs", "/dev/shm"]
    args += ["--size", str(work_mb << 20), "--perms", "0755", "--tmpfs", WORKDIR]
    bound = _python_dirs()
    made: set[str] = {"/tmp", "/dev", "/dev/shm", WORKDIR}
    for d in bound:
        for parent in _ancestors(d):  # bwrap would make them 0700: the submission's user must pass
            if parent not in made and not parent.startswith(SYSTEM_DIRS):
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", d, d]
    for d in _hidden_dirs(bound):
        args += ["--tmpfs", d, "--remount-ro", d]
    args += ["--ro-bind", runtime, RUNTIME]
    if cuda:
        for dev in sorted(Path("/dev").glob("nvidia*")):
            args += ["--dev-bind", str(dev), str(dev)]
        args += ["--ro-bind", "/sys", "/sys"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": WORKDIR, "LANG": "C.UTF-8", "PYTHONPATH": RUNTIME,
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYTHONHASHSEED": "0", "TMPDIR": "/tmp",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if cuda and "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    for k, v in env.items():
        args += ["--setenv", k, v]
    args += ["--chdir", WORKDIR, "--", python, "-s", "-m", "grader.sandbox.zygote", str(fd), "--isolated"]
    return args
