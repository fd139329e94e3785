"""`grade gradcheck FILE:NAME`: the file's code runs in the sandbox, the verdict is computed here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.gradient_command import check_file_in_sandbox

LAYER = '''
import torch

def make_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"W": torch.randn(4, 3, generator=g, dtype=torch.float64),
            "b": torch.randn(4, generator=g, dtype=torch.float64),
            "x": torch.randn(3, generator=g, dtype=torch.float64)}

def layer(p):
    return torch.sigmoid(p["W"] @ p["x"] + p["b"]).sum()

def layer_grad(p):
    s = torch.sigmoid(p["W"] @ p["x"] + p["b"])
    d = s * (1 - s)
    return {"W": BODY, "b": d, "x": p["W"].T @ d}
'''


def write(tmp_path: Path, body: str, extra: str = "") -> Path:
    p = tmp_path / "layer.py"
    p.write_text(LAYER.replace("BODY", body) + extra)
    return p


def test_correct_gradient_passes(tmp_path, sandbox):
    path = write(tmp_path, 'torch.outer(d, p["x"])')
    r = check_file_in_sandbox(f"{path}:layer", sandbox=sandbox)
    assert r.passed, r.message


def test_reshape_instead_of_transpose_is_named(tmp_path, sandbox):
    path = write(tmp_path, 'torch.outer(p["x"], d).reshape(4, 3)')
    r = check_file_in_sandbox(f"{path}:layer", sandbox=sandbox)
    assert not r.passed
    assert r.message == "wrong gradient: dW"
    assert r.tensor("W").diagnosis.id == "reshaped_not_transposed"


def test_hostile_loss_times_out_cleanly(tmp_path, sandbox):
    path = write(tmp_path, 'torch.outer(d, p["x"])', "\ndef layer(p):\n    while True:\n        pass\n")
    r = check_file_in_sandbox(f"{path}:layer", sandbox=sandbox, timeout=2)
    assert r.status == "error" and "did not finish" in r.message


def test_bad_specs_are_usage_errors(tmp_path, sandbox):
    path = write(tmp_path, 'torch.outer(d, p["x"])')
    with pytest.raises(GraderError, match="defines no function 'nope'"):
        check_file_in_sandbox(f"{path}:nope", sandbox=sandbox)
    with pytest.raises(GraderError, match="expected FILE.py:FUNCTION"):
        check_file_in_sandbox(str(path), sandbox=sandbox)


def test_cli_reports_and_exits_1_on_a_wrong_gradient(tmp_path):
    path = write(tmp_path, '2 * torch.outer(d, p["x"])')
    cmd = [shutil.which("grade") or sys.executable, *([] if shutil.which("grade") else ["cli.py"])]
    r = subprocess.run([*cmd, "gradcheck", f"{path}:layer", "--format", "json"], capture_output=True, text=True,
                       env=dict(os.environ, NO_COLOR="1"), timeout=120)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    check = doc["checks"][0]
    assert check["status"] == "failed" and check["mistake"] == "scaled"
    assert "factor of 2" in check["diagnosis"], check["diagnosis"]
    assert check["attachments"][0]["kind"] == "gradient"
    assert check["attachments"][0]["verdict"]["tensors"][0]["name"] == "W"
