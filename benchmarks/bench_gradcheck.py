"""Gradient checkers side by side on the mlp_backprop workload.

Workload: 4-layer sigmoid MLP 256-128-64-32-10 (44,458 parameters, plus X: 8,192 entries), batch 32,
float64, loss mean over the batch of ‖out − Y‖² (CONVENTIONS.md, mlp_backprop). The true gradients come
from autograd; the claimed gradients are either correct or carry one planted bug.

Methods:

* ``ours``: ``grader.gradcheck.check_gradients`` with finite differences only (no true gradients),
  full report (localisation and diagnosis); ``ours-verdict`` is the same with ``locate_mode="off"``
  (the verdict per tensor, no localisation, no diagnosis beyond a zero claim);
* ``gradcheck-fast`` / ``gradcheck-slow``: ``torch.autograd.gradcheck`` on a custom autograd.Function
  whose backward returns the claimed gradients, default tolerances; the slow mode builds the whole
  Jacobian (2 evaluations per entry) and is measured on a smaller MLP, then extrapolated (said below);
* ``cs231n-full``: central differences on every entry (h = 1e-5), an entry is wrong when its relative
  error ``|a − n| / max(|a| + |n|, 1e-8)`` exceeds 1e-5; the numerical gradient does not depend on the
  claim, so it is computed once and its time counted for each case;
* ``cs231n-sparse``: the same on 10 random entries per tensor (``grad_check_sparse``).

Run: ``python benchmarks/bench_gradcheck.py`` (about 2-4 minutes on 2 cores; ``--quick`` for a smoke
run). Everything runs on one torch thread: the workload is thousands of tiny forward passes, where
thread hand-offs only add noise. Times of the fast methods are the best of 7 runs (3 for
cs231n-sparse); the slow ones run once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.autograd.gradcheck import GradcheckError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
GRADCHECK_MODULE = sys.modules["torch.autograd.gradcheck"]
SHIPPED_SLOW_MESSAGE = GRADCHECK_MODULE._run_slow_mode_and_get_error

from grader.gradcheck import check_gradients  # noqa: E402

Params = dict[str, torch.Tensor]
SIZES = (256, 128, 64, 32, 10)
SMALL_SIZES = (64, 32, 16, 8, 10)  # for gradcheck's slow mode, extrapolated
BATCH = 32
CS231N_H = 1e-5
CS231N_THRESHOLD = 1e-5
SPARSE_CHECKS = 10
TIGHT_ATOL, TIGHT_RTOL = 1e-9, 1e-7  # gradcheck-fast-tight: float64's tolerance from grader/tolerances.py


# --------------------------------------------------------------------------------------------------
# workload
# --------------------------------------------------------------------------------------------------
def make_problem(seed: int, sizes: tuple[int, ...] = SIZES, batch: int = BATCH, dtype: torch.dtype = torch.float64):
    """(f on float64 dicts, params in ``dtype``, autograd gradients in ``dtype``)."""
    g = torch.Generator().manual_seed(seed)
    p: Params = {}
    for i in range(1, len(sizes)):
        p[f"W{i}"] = torch.randn(sizes[i], sizes[i - 1], generator=g, dtype=torch.float64) / sizes[i - 1] ** 0.5
        p[f"b{i}"] = 0.1 * torch.randn(sizes[i], generator=g, dtype=torch.float64)
    p["X"] = torch.randn(batch, sizes[0], generator=g, dtype=torch.float64)
    y = torch.rand(batch, sizes[-1], generator=g, dtype=torch.float64)
    p = {k: v.to(dtype) for k, v in p.items()}
    layers = len(sizes) - 1

    def f(q: Params) -> torch.Tensor:
        a = q["X"]
        for i in range(1, layers + 1):
            a = torch.sigmoid(a @ q[f"W{i}"].T + q[f"b{i}"])
        return ((a - y.to(a.dtype)) ** 2).sum(1).mean()

    q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    f(q).backward()
    return f, p, {k: v.grad.detach() for k, v in q.items()}


@dataclass
class Case:
    name: str
    claimed: Params
    wrong: dict[str, torch.Tensor] = field(default_factory=dict)  # tensor -> bool mask of wrong entries


def make_cases(grads: Params, seed: int = 0) -> list[Case]:
    g = torch.Generator().manual_seed(1000 + seed)

    def with_(name: str, new: torch.Tensor, label: str) -> Case:
        claimed = dict(grads)
        claimed[name] = new
        mask = ~torch.isclose(new, grads[name], rtol=1e-7, atol=1e-9) if new.shape == grads[name].shape else None
        return Case(label, claimed, {name: mask if mask is not None else torch.ones_like(grads[name], dtype=bool)})

    b2 = grads["b2"].clone()
    i = int(torch.randint(0, b2.numel(), (1,), generator=g))
    b2[i] += 0.01
    w1 = grads["W1"].clone()
    sparse = torch.rand(w1.shape, generator=g) < 0.01
    w1[sparse] *= 1.5
    w3 = grads["W3"]
    return [
        Case("correct", dict(grads)),
        with_("b2", b2, "one wrong entry in b2"),
        with_("W2", 2 * grads["W2"], "W2 scaled by 2"),
        with_("W4", -grads["W4"], "W4 sign flipped"),
        with_("W1", w1, "1% of W1 perturbed"),
        with_("W3", w3.T.reshape(w3.shape), "W3 transposed (reshaped)"),
        with_("X", torch.zeros_like(grads["X"]), "dX zeroed"),
    ]


# --------------------------------------------------------------------------------------------------
# methods: each returns a Run
# --------------------------------------------------------------------------------------------------
@dataclass
class Run:
    seconds: float
    evals: int
    flagged: list[str]  # tensors reported wrong
    located: dict[str, list[tuple[int, ...]]] | None = None  # entries reported wrong, None: no location
    note: str = ""
    extrapolated: bool = False
    counts: dict[str, tuple[int, bool, str]] = field(default_factory=dict)  # ours: (count, exact, method)


class Counted:
    """Counts calls of f."""

    def __init__(self, f: Callable[[Params], torch.Tensor]) -> None:
        self.f, self.n = f, 0

    def __call__(self, q: Params) -> torch.Tensor:
        self.n += 1
        return self.f(q)


def run_ours(f, params: Params, claimed: Params, seed: int = 0, locate: bool = True) -> Run:  # noqa: ANN001
    t0 = time.perf_counter()
    r = check_gradients(f, params, claimed, seed=seed, locate_mode="auto" if locate else "off", factors={"T": BATCH})
    dt = time.perf_counter() - t0
    located, counts = {}, {}
    for t in r.failed_tensors:
        if t.localisation is not None:
            located[t.name] = [tuple(e.index) for e in t.localisation.entries]
            counts[t.name] = (t.localisation.mismatched, t.localisation.complete, t.localisation.method)
    notes = []
    for t in r.failed_tensors:
        loc = t.localisation
        bits = [t.diagnosis.id if t.diagnosis else "?"]
        if loc is not None:
            bits.append(f"{'' if loc.complete else '~'}{loc.mismatched}/{loc.total} wrong ({loc.method})")
        notes.append(f"{t.name}: " + ", ".join(bits))
    note = "; ".join(notes) if locate else ""
    return Run(dt, r.evaluations, [t.name for t in r.failed_tensors], located, note, counts=counts)


def _claimed_function(f, names: list[str], claimed: Params, counter: list[int]):  # noqa: ANN001, ANN202
    class Claimed(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *tensors):  # noqa: ANN001, ANN205
            counter[0] += 1
            return f(dict(zip(names, tensors, strict=True)))

        @staticmethod
        def backward(ctx, go):  # noqa: ANN001, ANN205
            return tuple(go * claimed[n].to(torch.float64) for n in names)

    return Claimed.apply


def run_gradcheck(  # noqa: ANN201
    f,
    params: Params,
    claimed: Params,
    fast: bool,
    seed: int = 0,
    shipped: bool = False,
    tight: bool = False,  # noqa: ANN001
) -> Run:
    """On a failure, fast mode as shipped recomputes the whole Jacobian in slow mode for its message
    (2 evaluations per entry of every input); ``shipped=False`` skips that, to time the verdict."""
    GRADCHECK_MODULE._run_slow_mode_and_get_error = SHIPPED_SLOW_MESSAGE if shipped else (lambda *a, **k: "")
    names = list(params)
    counter = [0]
    fn = _claimed_function(f, names, claimed, counter)
    inputs = tuple(params[n].to(torch.float64).clone().requires_grad_(True) for n in names)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    flagged: list[str] = []
    try:
        tol = {"atol": TIGHT_ATOL, "rtol": TIGHT_RTOL} if tight else {}
        torch.autograd.gradcheck(fn, inputs, fast_mode=fast, raise_exception=True, **tol)
    except GradcheckError as e:
        m = re.search(r"with respect to input (\d+)", str(e))
        flagged = [names[int(m.group(1))]] if m else ["?"]
    return Run(time.perf_counter() - t0, counter[0], flagged, None)


def cs231n_numerical(f, params: Params, h: float = CS231N_H) -> tuple[Params, float, int]:  # noqa: ANN001
    """eval_numerical_gradient: central differences, one entry at a time, in place."""
    x = {k: v.to(torch.float64).clone() for k, v in params.items()}
    num: Params = {}
    n = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for name, t in x.items():
            flat, out = t.view(-1), torch.empty(t.numel(), dtype=torch.float64)
            for i in range(t.numel()):
                old = float(flat[i])
                flat[i] = old + h
                fp = float(f(x))
                flat[i] = old - h
                fm = float(f(x))
                flat[i] = old
                out[i] = (fp - fm) / (2 * h)
                n += 2
            num[name] = out.reshape(t.shape)
    return num, time.perf_counter() - t0, n


def _rel(a: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    return (a - n).abs() / torch.clamp(a.abs() + n.abs(), min=1e-8)


def run_cs231n_full(numerical: Params, seconds: float, evals: int, claimed: Params) -> Run:
    flagged, located = [], {}
    for name, n in numerical.items():
        bad = _rel(claimed[name].to(torch.float64), n) > CS231N_THRESHOLD
        if bool(bad.any()):
            flagged.append(name)
            located[name] = [tuple(i) for i in bad.nonzero().tolist()]
    return Run(seconds, evals, flagged, located)


def run_cs231n_sparse(f, params: Params, claimed: Params, seed: int = 0) -> Run:  # noqa: ANN001
    """grad_check_sparse: SPARSE_CHECKS random entries per tensor."""
    g = torch.Generator().manual_seed(seed)
    x = {k: v.to(torch.float64).clone() for k, v in params.items()}
    flagged, located, n = [], {}, 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for name, t in x.items():
            flat = t.view(-1)
            for i in torch.randperm(t.numel(), generator=g)[:SPARSE_CHECKS].tolist():
                old = float(flat[i])
                flat[i] = old + CS231N_H
                fp = float(f(x))
                flat[i] = old - CS231N_H
                fm = float(f(x))
                flat[i] = old
                n += 2
                num = torch.tensor((fp - fm) / (2 * CS231N_H), dtype=torch.float64)
                a = claimed[name].reshape(-1)[i].to(torch.float64)
                if float(_rel(a, num)) > CS231N_THRESHOLD:
                    located.setdefault(name, []).append(tuple(torch.unravel_index(torch.tensor(i), t.shape)))
            if name in located:
                flagged.append(name)
    return Run(
        time.perf_counter() - t0, n, flagged, {k: [tuple(int(j) for j in v) for v in vs] for k, vs in located.items()}
    )


# --------------------------------------------------------------------------------------------------
# experiments
# --------------------------------------------------------------------------------------------------
def forward_seconds(f, params: Params, reps: int = 100, batches: int = 7) -> float:  # noqa: ANN001
    """Best of ``batches`` batches: other processes on the machine only ever slow a batch down."""
    x = {k: v.to(torch.float64) for k, v in params.items()}
    best = math.inf
    with torch.no_grad():
        f(x)
        for _ in range(batches):
            t0 = time.perf_counter()
            for _ in range(reps):
                f(x)
            best = min(best, (time.perf_counter() - t0) / reps)
    return best


def best_run(fn: Callable[[], Run], repeats: int = 7) -> Run:
    """The fastest of ``repeats`` identical runs (all else is deterministic), after one untimed warm-up run: on
    a shared machine other processes only ever slow a run down, so the minimum is the most repeatable figure.
    The warm-up matters for checks of a millisecond or less on new inputs: the first run after a new problem is
    built takes 1.2–1.5× the steady time (and the next one or two still more than it), on every part of the
    check, not just ``f``. Full per-entry FD is timed as a long loop (best of 3), which is steady throughout."""
    fn()
    return min((fn() for _ in range(repeats)), key=lambda r: r.seconds)


def localisation_words(case: Case, run: Run) -> str:
    """What the method says about which entries are wrong, against the planted truth."""
    if not case.wrong:
        return ""
    if run.located is None:
        return "none"
    ((name, mask),) = case.wrong.items()
    got = run.located.get(name)
    if name in run.counts and not got:
        count, exact, _ = run.counts[name]
        return f"count {count} ({'exact' if exact else 'estimated'}; true {int(mask.sum())}), none listed"
    if not got:
        return "none"
    true_set = {tuple(i) for i in mask.nonzero().tolist()}
    hits = sum(1 for i in got if tuple(i) in true_set)
    false = len(got) - hits
    total = len(true_set)
    if name in run.counts:  # ours: a count (exact or estimated) and the worst entries
        count, exact, method = run.counts[name]
        if exact and count == total and false == 0:
            return f"exact ({total}/{total})" if total <= 10 else f"count exact ({total}), {hits} worst listed"
        how = "exact" if exact else "estimated"
        return f"count {count} ({how}; true {total}), {hits} listed, {false} false"
    if hits == total and false == 0:
        return f"all {total}"
    words = f"{hits} of {total}"
    return words + (f", {false} false" if false else ", 0 false")


def bug_table(quick: bool) -> tuple[list[dict], dict]:
    f, params, grads = make_problem(0)
    n_entries = sum(v.numel() for v in params.values())
    cases = make_cases(grads)
    rows: list[dict] = []
    # cs231n full: the numerical gradient does not depend on the claim; compute once
    if quick:
        numerical, num_s, num_n = None, math.nan, 2 * n_entries
    else:
        numerical, num_s, num_n = cs231n_numerical(f, params)
    # gradcheck slow: on a smaller MLP, extrapolated (same evaluations per entry, each costing gradcheck's
    # own overhead per evaluation, measured on the small MLP, plus one forward pass of the full MLP)
    sf, sp, sg = make_problem(0, SMALL_SIZES, batch=8)
    small_cases = make_cases(sg)
    n_small = sum(v.numel() for v in sp.values())
    fwd, fwd_small = forward_seconds(f, params), forward_seconds(sf, sp)
    extra = {"entries": n_entries, "small_entries": n_small, "forward_s": fwd, "forward_small_s": fwd_small}
    for case in cases:  # warm-up: first calls allocate and dispatch
        run_ours(f, params, case.claimed)
        run_gradcheck(f, params, case.claimed, fast=True)
    for case, small in zip(cases, small_cases, strict=True):
        runs = {
            "ours": best_run(lambda c=case: run_ours(f, params, c.claimed)),
            "ours-verdict": best_run(lambda c=case: run_ours(f, params, c.claimed, locate=False)),
            "gradcheck-fast": best_run(lambda c=case: run_gradcheck(f, params, c.claimed, fast=True)),
        }
        if case.name == "one wrong entry in b2" and not quick:
            runs["gradcheck-fast (as shipped)"] = run_gradcheck(f, params, case.claimed, fast=True, shipped=True)
        slow = run_gradcheck(sf, sp, small.claimed, fast=False)
        evals = round(slow.evals * n_entries / n_small)
        seconds = evals * (slow.seconds / slow.evals - fwd_small + fwd)
        runs["gradcheck-slow"] = Run(seconds, evals, slow.flagged, None, extrapolated=True)
        if numerical is not None:
            runs["cs231n-full"] = run_cs231n_full(numerical, num_s, num_n, case.claimed)
        runs["cs231n-sparse"] = best_run(lambda c=case: run_cs231n_sparse(f, params, c.claimed), 3)
        for method, run in runs.items():
            expected = sorted(case.wrong)
            note = run.note or ("flagged: " + (", ".join(run.flagged) or "nothing"))
            rows.append(
                {
                    "case": case.name,
                    "method": method,
                    "seconds": run.seconds,
                    "evals": run.evals,
                    "flagged": run.flagged,
                    "tensor_ok": sorted(run.flagged) == expected,
                    "localisation": localisation_words(case, run),
                    "note": note,
                    "extrapolated": run.extrapolated,
                }
            )
    return rows, extra


RANDOMISED = ("ours", "gradcheck-fast", "gradcheck-fast-tight", "cs231n-sparse")


def randomised_runs(f, params: Params, claimed: Params, seed: int, locate: bool) -> list[tuple[str, Run]]:  # noqa: ANN001
    return [
        ("ours", run_ours(f, params, claimed, seed=seed, locate=locate)),
        ("gradcheck-fast", run_gradcheck(f, params, claimed, True, seed=seed)),
        ("gradcheck-fast-tight", run_gradcheck(f, params, claimed, True, seed=seed, tight=True)),
        ("cs231n-sparse", run_cs231n_sparse(f, params, claimed, seed=seed)),
    ]


def detection_rates(seeds: int) -> list[dict]:
    """Randomised methods over seeds: how often the right tensor (only) is flagged."""
    f, params, grads = make_problem(0)
    out = []
    for case in make_cases(grads)[1:]:
        hits = dict.fromkeys(RANDOMISED, 0)
        for s in range(seeds):
            for method, run in randomised_runs(f, params, case.claimed, s, locate=False):
                hits[method] += sorted(run.flagged) == sorted(case.wrong)
        out.append({"case": case.name, **{k: v / seeds for k, v in hits.items()}})
    return out


def false_alarms(n: int) -> list[dict]:
    """Correct gradients of ``n`` random problems per dtype: how many are flagged."""
    out = []
    for dtype in (torch.float32, torch.float64):
        alarms = dict.fromkeys(RANDOMISED, 0)
        evals = dict.fromkeys(RANDOMISED, 0)
        for s in range(n):
            f, params, grads = make_problem(10_000 + s, dtype=dtype)
            for method, run in randomised_runs(f, params, grads, s, locate=True):
                alarms[method] += bool(run.flagged)
                evals[method] += run.evals
        out.append(
            {
                "dtype": str(dtype).replace("torch.", ""),
                "cases": n,
                **{f"{k}": v for k, v in alarms.items()},
                **{f"{k}_evals": evals[k] / n for k in evals},
            }
        )
    return out


# --------------------------------------------------------------------------------------------------
# the suite: six model families, float32 and float64, correct gradients and planted bugs
# --------------------------------------------------------------------------------------------------
def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] if s else math.nan


FULL_FD_SAMPLE = 256  # entries timed for the full per-entry FD of a suite model; the rest is extrapolated


def full_fd_seconds(f, params: Params, sample: int = FULL_FD_SAMPLE) -> tuple[float, int]:  # noqa: ANN001
    """Time of central differences on every entry (2 evaluations each), best of 3: timed on at most
    ``sample`` random entries and extrapolated by the entry count (each entry costs the same two
    evaluations). Returns (seconds, evaluations of the full check)."""
    x = {k: v.to(torch.float64).clone() for k, v in params.items()}
    n = sum(v.numel() for v in x.values())
    where = [(k, i) for k, v in x.items() for i in range(v.numel())]
    pick = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:sample].tolist()
    best = math.inf
    with torch.no_grad():
        for _ in range(3):
            t0 = time.perf_counter()
            for j in pick:
                k, i = where[j]
                flat = x[k].view(-1)
                old = float(flat[i])
                flat[i] = old + CS231N_H
                float(f(x))
                flat[i] = old - CS231N_H
                float(f(x))
                flat[i] = old
            best = min(best, time.perf_counter() - t0)
    return best * n / len(pick), 2 * n


def suite(correct_seeds: int, bug_seeds: int) -> dict:
    """False alarms, detection, exact localisation, misdiagnoses and speed on ``gradcheck_suite``."""
    from gradcheck_suite import FAMILIES, make

    dtypes = (torch.float32, torch.float64)
    out: dict = {"correct": 0, "false_alarms": 0, "inconclusive": 0, "alarm_cases": [], "families": {}}
    ratios_fast: list[float] = []
    ratios_full: list[float] = []
    speed_rows = []
    slow_by_family: dict[str, Run] = {}
    for fam in FAMILIES:
        for dt in dtypes:
            pr0 = make(fam, 0, dt)
            full_s, full_n = full_fd_seconds(pr0.f, pr0.params)
            if fam not in slow_by_family:  # f runs in float64 either way: one run per family
                slow_by_family[fam] = run_gradcheck(pr0.f, pr0.params, pr0.grads, fast=False)
            slow = slow_by_family[fam]
            ours_t, fast_t, sparse_t, evals = [], [], [], []
            alarms = unsure = 0
            for seed in range(correct_seeds):
                pr = make(fam, seed, dt)
                r = best_run(lambda pr=pr, seed=seed: run_ours(pr.f, pr.params, pr.grads, seed=seed), 3)
                st = check_gradients(pr.f, pr.params, pr.grads, seed=seed).status
                gf = best_run(lambda pr=pr, seed=seed: run_gradcheck(pr.f, pr.params, pr.grads, True, seed=seed), 3)
                sp = best_run(lambda pr=pr, seed=seed: run_cs231n_sparse(pr.f, pr.params, pr.grads, seed=seed), 3)
                out["correct"] += 1
                alarms += st == "failed"
                unsure += st == "inconclusive"
                if st != "passed":
                    out["alarm_cases" if st == "failed" else "inconclusive_cases"] = (
                        out.get("alarm_cases" if st == "failed" else "inconclusive_cases", [])
                        + [f"{fam}/{str(dt)[6:]}/{seed}"])
                ours_t.append(r.seconds)
                fast_t.append(gf.seconds)
                sparse_t.append(sp.seconds)
                evals.append(r.evals)
                ratios_fast.append(r.seconds / gf.seconds)
                ratios_full.append(full_s / r.seconds)
            out["false_alarms"] += alarms
            out["inconclusive"] += unsure
            speed_rows.append({
                "family": fam, "dtype": str(dt)[6:], "entries": sum(v.numel() for v in pr0.params.values()),
                "ours_ms": _pct(ours_t, 0.5) * 1e3, "ours_evals": _pct([float(e) for e in evals], 0.5),
                "fast_ms": _pct(fast_t, 0.5) * 1e3, "slow_ms": slow.seconds * 1e3,
                "sparse_ms": _pct(sparse_t, 0.5) * 1e3,
                "full_ms": full_s * 1e3, "full_evals": full_n, "alarms": alarms, "inconclusive": unsure,
                "ratio_fast": _pct([a / b for a, b in zip(ours_t, fast_t, strict=True)], 0.5),
                "speedup_full": _pct([full_s / a for a in ours_t], 0.5),
                "cases": correct_seeds,
            })
    out["speed"] = speed_rows
    out["ratio_fast_median"] = _pct(ratios_fast, 0.5)
    out["ratio_fast_p90"] = _pct(ratios_fast, 0.9)
    out["speedup_full_median"] = _pct(ratios_full, 0.5)
    bugs, mis, missed = bug_suite(bug_seeds, large=False)
    out["load"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    out["bugs"] = bugs
    out["misdiagnoses"] = mis
    out["missed"] = missed
    return out


def bug_suite(
    bug_seeds: int, large: bool, kinds: tuple[str, ...] = (), first_point: int = 100, families: tuple[str, ...] = ()
) -> tuple[dict[str, dict[str, int]], list[str], list[str]]:
    """Plant every bug kind (or those of ``kinds``) in every family and dtype (``bug_seeds`` seeds, points
    ``first_point``, +1, ...): detection, exact localisation, named diagnoses, misdiagnoses and alarms on other
    tensors, per kind."""
    from gradcheck_suite import ACCEPTABLE, BUG_KINDS, FAMILIES, make, plant

    kinds = kinds or BUG_KINDS
    bugs: dict[str, dict[str, int]] = {k: {"cases": 0, "detected": 0, "exact": 0, "located_cases": 0, "misdiagnosed": 0,
                                          "named": 0, "other_alarms": 0} for k in kinds}
    mis: list[str] = []
    missed: list[str] = []
    for fam in families or FAMILIES:
        if large and fam == "ties":
            continue  # one size
        for dt in (torch.float32, torch.float64):
            for seed in range(bug_seeds):
                pr = make(fam, first_point + seed, dt, large=large)
                for kind in kinds:
                    bug = plant(pr, kind, seed)
                    if bug is None:
                        continue
                    b = bugs[kind]
                    b["cases"] += 1
                    r = check_gradients(pr.f, pr.params, bug.claimed, seed=seed)
                    t = r.tensor(bug.name)
                    b["detected"] += t.status in ("failed", "wrong_shape")
                    b["other_alarms"] += sum(1 for o in r.failed_tensors if o.name != bug.name)
                    if t.diagnosis is not None:
                        b["named"] += 1
                        if t.diagnosis.id not in ACCEPTABLE[kind]:
                            b["misdiagnosed"] += 1
                            mis.append(f"{fam}/{str(dt)[6:]}/{kind}: {t.diagnosis.id}: {t.diagnosis.hint[:90]}")
                    if kind in ("entry_edge", "entry_big", "row", "near_kink"):
                        b["located_cases"] += 1
                        loc = t.localisation
                        # exact: every entry off by > 2τ found, nothing found that is within τ
                        want = {tuple(i) for i in bug.mask.nonzero().tolist()}
                        some = {tuple(i) for i in bug.loose.nonzero().tolist()}
                        if loc is not None and loc.complete and len(want) <= loc.mismatched <= len(some):
                            got = {tuple(e.index) for e in loc.entries}
                            b["exact"] += got <= some and (want <= got or len(got) == 10)
                    if t.status not in ("failed", "wrong_shape"):
                        missed.append(f"{fam}/{str(dt)[6:]}/{kind}/{seed}: {t.status}")
    return bugs, mis, missed


def large_suite(seeds: int) -> tuple[list[dict], dict]:
    """Correct gradients of the families at realistic sizes (``make(..., large=True)``): verdicts,
    evaluations and time, side by side with gradcheck fast (best of 3) and full per-entry FD (sampled).
    Returns the rows and, over all its cases, the median of full FD / ours and the 90th percentile of
    ours / gradcheck fast."""
    from gradcheck_suite import FAMILIES, make

    rows = []
    ratios_fast: list[float] = []
    ratios_full: list[float] = []
    for fam in FAMILIES:
        if fam == "ties":
            continue  # one size
        for dt in (torch.float32, torch.float64):
            pr0 = make(fam, 0, dt, large=True)
            full_s, full_n = full_fd_seconds(pr0.f, pr0.params)
            statuses: dict[str, int] = {}
            ours_t, fast_t, evals = [], [], []
            for seed in range(seeds):
                pr = make(fam, seed, dt, large=True)
                r = best_run(lambda pr=pr, seed=seed: run_ours(pr.f, pr.params, pr.grads, seed=seed, locate=False), 3)
                st = check_gradients(pr.f, pr.params, pr.grads, seed=seed).status
                statuses[st] = statuses.get(st, 0) + 1
                gf = best_run(lambda pr=pr, seed=seed: run_gradcheck(pr.f, pr.params, pr.grads, True, seed=seed), 3)
                ours_t.append(r.seconds)
                fast_t.append(gf.seconds)
                evals.append(float(r.evals))
                ratios_fast.append(r.seconds / gf.seconds)
                ratios_full.append(full_s / r.seconds)
            rows.append({
                "family": fam, "dtype": str(dt)[6:], "entries": sum(v.numel() for v in pr0.params.values()),
                "statuses": statuses, "ours_ms": _pct(ours_t, 0.5) * 1e3, "ours_evals": _pct(evals, 0.5),
                "max_evals": max(evals), "fast_ms": _pct(fast_t, 0.5) * 1e3, "full_ms": full_s * 1e3,
                "full_evals": full_n,
            })
    summary = {"cases": len(ratios_fast), "ratio_fast_median": _pct(ratios_fast, 0.5),
               "ratio_fast_p90": _pct(ratios_fast, 0.9), "speedup_full_median": _pct(ratios_full, 0.5)}
    return rows, summary


def print_bug_table(bugs: dict[str, dict[str, int]], mis: list[str], missed: list[str]) -> None:
    print("\n| bug kind | cases | detected | exact localisation | named | misdiagnoses | alarms on other tensors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k, b in bugs.items():
        exact = f"{b['exact']}/{b['located_cases']}" if b["located_cases"] else "–"
        print(f"| {k} | {b['cases']} | {b['detected']} | {exact} | {b['named']} | {b['misdiagnosed']} "
              f"| {b['other_alarms']} |")
    for m in mis:
        print("  misdiagnosis: " + m)
    for m in missed:
        print("  missed: " + m)


def print_large(rows: list[dict], seeds: int, summary: dict | None = None) -> None:
    print(f"\n## Realistic sizes: correct gradients, {seeds} seeds per family and dtype (best of 3; full "
          f"per-entry FD timed on {FULL_FD_SAMPLE} random entries and extrapolated)\n")
    print("| family | dtype | entries | verdicts | ours (ms) | ours f evals (median / max) | gradcheck fast (ms) "
          "| full per-entry FD (ms) | ours / fast | full FD / ours |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        verdicts = ", ".join(f"{v} {k}" for k, v in sorted(r["statuses"].items()))
        print(f"| {r['family']} | {r['dtype']} | {r['entries']} | {verdicts} | {r['ours_ms']:.1f} "
              f"| {r['ours_evals']:.0f} / {r['max_evals']:.0f} | {r['fast_ms']:.1f} | {r['full_ms']:.0f} "
              f"| {r['ours_ms'] / r['fast_ms']:.1f}× | {r['full_ms'] / r['ours_ms']:.0f}× |")
    if summary:
        print(f"\nOver its {summary['cases']} cases: ours / gradcheck-fast median {summary['ratio_fast_median']:.2f}×, "
              f"90th percentile {summary['ratio_fast_p90']:.1f}×; full per-entry FD / ours: median "
              f"{summary['speedup_full_median']:.0f}×")


def print_suite(s: dict, correct_seeds: int, bug_seeds: int) -> None:
    print(f"\n## Suite: 6 families × float32/float64; {correct_seeds} correct cases and {bug_seeds} seeds of "
          "each bug kind per family and dtype\n")
    print(f"load average at the end: {s.get('load', '?')}; times are best of 3; full per-entry FD timed on "
          f"{FULL_FD_SAMPLE} random entries and extrapolated; gradcheck slow: one run per family\n")
    print(f"Correct cases: {s['correct']}; false alarms: {s['false_alarms']}; inconclusive (unresolved, not a "
          f"pass): {s['inconclusive']}")
    if s.get("alarm_cases"):
        print("  false alarms: " + ", ".join(s["alarm_cases"]))
    if s.get("inconclusive_cases"):
        print("  inconclusive: " + ", ".join(s["inconclusive_cases"][:20]))
    print_bug_table(s["bugs"], s["misdiagnoses"], s["missed"])
    print("\nSpeed on correct gradients (medians per family and dtype; ms):\n")
    print("| family | dtype | entries | ours | ours f evals | gradcheck fast | gradcheck slow | cs231n sparse "
          "| full per-entry FD (evals) | ours / fast | full FD / ours |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in s["speed"]:
        print(f"| {r['family']} | {r['dtype']} | {r['entries']} | {r['ours_ms']:.2f} | {r['ours_evals']:.0f} "
              f"| {r['fast_ms']:.2f} | {r['slow_ms']:.1f} | {r['sparse_ms']:.2f} | {r['full_ms']:.1f} "
              f"({r['full_evals']}) | {r['ratio_fast']:.2f}× | {r['speedup_full']:.0f}× |")
    print(f"\nours / gradcheck-fast time: median {s['ratio_fast_median']:.2f}×, 90th percentile "
          f"{s['ratio_fast_p90']:.2f}×; full per-entry FD / ours: median {s['speedup_full_median']:.0f}×")


# --------------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} (1 thread), Python {platform.python_version()}"


def print_tables(rows: list[dict], extra: dict, rates: list[dict], alarms: list[dict]) -> None:
    print(f"Machine: {machine()}")
    print(
        f"Workload: MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float64, {extra['entries']} entries "
        f"(params + X); one forward pass {extra['forward_s'] * 1e3:.3f} ms\n"
    )
    print("| case | method | time to verdict | f evals | right tensor flagged | entries located | diagnosis |")
    print("|---|---|---:|---:|:---:|---|---|")
    for r in rows:
        t = f"{r['seconds'] * 1e3:.1f} ms" if r["seconds"] < 10 else f"{r['seconds']:.1f} s"
        if r["extrapolated"]:
            t = "≈" + t + " *"
        print(
            f"| {r['case']} | {r['method']} | {t} | {r['evals']} | {'yes' if r['tensor_ok'] else 'NO'} "
            f"| {r['localisation']} | {r['note']} |"
        )
    print(
        f"\n\\* gradcheck slow mode measured on MLP {'-'.join(map(str, SMALL_SIZES))} (batch 8, "
        f"{extra['small_entries']} entries) and extrapolated: evaluations × entries ratio, each costing its "
        f"overhead per evaluation on the small MLP plus one full forward pass ({extra['forward_s'] * 1e3:.3f} ms "
        f"vs {extra['forward_small_s'] * 1e3:.3f} ms); its verdicts are those of the small MLP.\n"
    )
    print("Tensor-level detection rate over seeds (random directions / samples):\n")
    print("| case | " + " | ".join(RANDOMISED) + " |")
    print("|---|" + "---:|" * len(RANDOMISED))
    for r in rates:
        print(f"| {r['case']} | " + " | ".join(f"{r[m]:.0%}" for m in RANDOMISED) + " |")
    print(
        "\nFalse alarms on correct gradients (new random problem per case; float32 = params and autograd "
        "gradients in float32):\n"
    )
    print("| dtype | cases | " + " | ".join(RANDOMISED) + " | f evals per case (same order) |")
    print("|---|---:|" + "---:|" * len(RANDOMISED) + "---|")
    for a in alarms:
        evals = " / ".join(f"{a[m + '_evals']:.0f}" for m in RANDOMISED)
        print(f"| {a['dtype']} | {a['cases']} | " + " | ".join(str(a[m]) for m in RANDOMISED) + f" | {evals} |")
    correct = {r["method"]: r for r in rows if r["case"] == "correct"}
    if "cs231n-full" in correct:
        ours, full, fast = (correct[k]["seconds"] for k in ("ours", "cs231n-full", "gradcheck-fast"))
        print(
            f"\nCorrect case: ours {ours * 1e3:.1f} ms vs cs231n-full {full:.1f} s: {full / ours:.0f}× faster; "
            f"vs gradcheck-fast {fast * 1e3:.1f} ms: {ours / fast:.2f}× its time."
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip the full per-entry check, few seeds")
    ap.add_argument("--seeds", type=int, default=20, help="seeds for detection rates")
    ap.add_argument("--correct", type=int, default=200, help="correct cases per dtype for false alarms")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--suite-correct", type=int, default=34, help="correct cases per family and dtype")
    ap.add_argument("--suite-bugs", type=int, default=3, help="seeds per bug kind, family and dtype")
    ap.add_argument("--suite-only", action="store_true", help="only the six-family suite")
    ap.add_argument("--large", type=int, default=4, help="seeds per family and dtype at realistic sizes (0: skip)")
    ap.add_argument("--large-bugs", type=int, default=1,
                    help="seeds per bug kind, family and dtype at realistic sizes (0: skip)")
    ap.add_argument("--near-kink", type=int, default=16,
                    help="seeds per family and dtype for wrong entries next to a kink, at realistic sizes (0: skip)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds, correct = (3, 10) if args.quick else (args.seeds, args.correct)
    sc, sb = (2, 1) if args.quick else (args.suite_correct, args.suite_bugs)
    t0 = time.perf_counter()
    rows, extra, rates, alarms = [], {}, [], []
    if not args.suite_only:
        rows, extra = bug_table(args.quick)
        rates = detection_rates(seeds)
        alarms = false_alarms(correct)
        print_tables(rows, extra, rates, alarms)
    figures = suite(sc, sb)
    print_suite(figures, sc, sb)
    large_seeds = 1 if args.quick and args.large else args.large
    if large_seeds:
        figures["large"], figures["large_summary"] = large_suite(large_seeds)
        print_large(figures["large"], large_seeds, figures["large_summary"])
    if args.large_bugs:
        bugs, mis, missed = bug_suite(args.large_bugs, large=True)
        figures["large_bugs"] = {"bugs": bugs, "misdiagnoses": mis, "missed": missed}
        print(f"\n## Realistic sizes: planted bugs, {args.large_bugs} seed(s) per bug kind, family and dtype")
        print_bug_table(bugs, mis, missed)
    if args.near_kink:
        # the families whose f has kinks at realistic sizes (ties has one size): the others have no such entry
        bugs, mis, missed = bug_suite(args.near_kink, large=True, kinds=("near_kink",), first_point=0,
                                      families=("conv",))
        figures["near_kink"] = {"bugs": bugs, "misdiagnoses": mis, "missed": missed}
        print(f"\n## Realistic sizes: a wrong entry next to a kink, not on it, points 0-{args.near_kink - 1} per "
              "family and dtype (only where such an entry exists)")
        print_bug_table(bugs, mis, missed)
    print(f"\nbenchmark wall time {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"rows": rows, "extra": extra, "rates": rates, "alarms": alarms, "suite": figures,
                 "machine": machine()},
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
