"""A large reply costs the grader about its own size once, not many copies of it (issue 8: one 120 MB
reply cost 2.6 GB in the grader)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sandbox_helpers import ROOT

SCRIPT = r'''
import json, resource, sys
import torch
from grader.sandbox.client import Limits, Sandbox

with Sandbox(Limits(memory_mb=1024), isolation="none") as sb:
    s = sb.open(sys.argv[1])
    s.call("small", (), {}, timeout=60)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    value = s.call("big", (), {}, timeout=60, max_elements=30_000_000)["value"]
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"grown_mb": (after - before) / 1024, "numel": value.numel()}))
    s.close()
'''


def test_a_100_mb_reply_costs_the_parent_about_100_mb(tmp_path):
    sub = tmp_path / "big.py"
    sub.write_text("import torch\ndef small():\n    return 1\ndef big():\n    return torch.ones(25_000_000)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(sub)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["numel"] == 25_000_000
    assert out["grown_mb"] < 250, out  # 100 MB of data, once
