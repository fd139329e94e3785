"""Rows of entries each just above the guarantee: are they located exactly, and is a confirmation ever wrong?

A tanh layer (``(tanh(A W)²).sum()``, W of 48 × 64), a row of 64 entries each off by the same multiple of its
tolerance (all the same way for even row seeds, random signs for odd ones), float32 and float64 claims, six rows and
three engine seeds per size. For each size it counts the rows located exactly (every entry off by more than 2τ found,
none within τ, the search complete), the searches left incomplete (said so in the result), the rows whose located
entries the result could not account for (said so: no pattern named), and the rows "confirmed" with entries still
unlocated: the result then says "right except for these entries" with more entries wrong. See docs/GRADCHECK.md,
"Do the located entries account for the whole error?" and Limits; BENCHMARKS.md §7, "Eighth session".

A second table does the same on the six model families of ``gradcheck_suite`` (one 2-D tensor per family, dtype
and point: 32 rows, random signs), at 3τ and 20τ.

    python benchmarks/bench_row_localisation.py            # both tables (about 35 s)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grader.gradcheck import check_gradients  # noqa: E402
from grader.gradcheck.engine import engine_tolerance  # noqa: E402

D = torch.float64


def layer() -> tuple[object, dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(32, 48, generator=g, dtype=D)
    w = torch.randn(48, 64, generator=g, dtype=D) * 0.2

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return (torch.tanh(a @ p["W"]) ** 2).sum()

    q = w.clone().requires_grad_(True)
    f({"W": q}).backward()
    assert q.grad is not None
    return f, {"W": w}, q.grad.detach()


def outcome(size: float, dtype: torch.dtype, row_seed: int, seed: int) -> str:
    f, p, true = layer()
    tol = engine_tolerance(true.to(dtype))
    tau = tol.atol + tol.rtol * true.abs()
    g = torch.Generator().manual_seed(100 + row_seed)
    signs = (torch.where(torch.rand(64, generator=g) < 0.5, -1.0, 1.0).to(D) if row_seed % 2
             else torch.ones(64, dtype=D))
    row = int(torch.randint(0, 48, (1,), generator=g))
    claim = true.clone()
    claim[row] = true[row] + signs * size * tau[row]
    claim = claim.to(dtype)
    err = (claim.to(D) - true).abs()
    want, loose = int((err > 2 * tau).sum()), int((err > tau).sum())
    t = check_gradients(f, p, {"W": claim}, seed=seed).tensor("W")  # type: ignore[arg-type]
    return verdict(t, want, loose)


KINDS = ("exact", "incomplete", "unaccounted", "confirmed with entries unlocated")


def verdict(t: object, want: int, loose: int) -> str:
    """How the result of a row ``want`` entries of which are off by more than 2τ (``loose`` by more than τ) reads."""
    loc = t.localisation  # type: ignore[attr-defined]
    if t.status != "failed" or loc is None or not loc.complete:  # type: ignore[attr-defined]
        return "incomplete"
    if any("account" in n for n in t.notes):  # type: ignore[attr-defined]
        return "unaccounted"
    return "exact" if want <= loc.mismatched <= loose else "confirmed with entries unlocated"


def family_outcome(fam: str, dtype: torch.dtype, seed: int, size: float) -> str | None:
    """None for a family without a 2-D tensor (``scaled``)."""
    from gradcheck_suite import make

    pr = make(fam, 200 + seed, dtype)
    names = [k for k, v in pr.grads.items() if v.dim() == 2 and min(v.shape) >= 2]
    if not names:
        return None
    name = names[seed % len(names)]
    true = pr.grads[name].to(D)
    tol = engine_tolerance(pr.grads[name])
    g = torch.Generator().manual_seed(seed)
    row = int(torch.randint(0, true.shape[0], (1,), generator=g))
    signs = torch.where(torch.rand(true.shape[1], generator=g) < 0.5, -1.0, 1.0).to(D)
    wrong = true.clone()
    wrong[row] = true[row] + signs * size * (tol.atol + tol.rtol * true[row].abs())
    claim = dict(pr.grads)
    claim[name] = wrong.to(dtype)
    err = (claim[name].to(D) - true).abs()
    tau = tol.atol + tol.rtol * claim[name].to(D).abs()
    t = check_gradients(pr.f, pr.params, claim, seed=seed).tensor(name)
    return verdict(t, int((err > 2 * tau).sum()), int((err > tau).sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[20.0, 5.0, 3.0, 2.5, 2.2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    from gradcheck_suite import FAMILIES

    print("A tanh layer, rows of 64 entries\n")
    print("| error (× τ) | rows | " + " | ".join(KINDS) + " |")
    print("|---:|---:|" + "---:|" * len(KINDS))
    for size in args.sizes:
        counts = dict.fromkeys(KINDS, 0)
        for dtype in (torch.float32, torch.float64):
            for row_seed in range(6):
                for seed in range(3):
                    counts[outcome(size, dtype, row_seed, seed)] += 1
        print(f"| {size:g} | {sum(counts.values())} | " + " | ".join(str(counts[k]) for k in KINDS) + " |")
    print("\nThe six families of gradcheck_suite, one row of a 2-D tensor\n")
    print("| error (× τ) | rows | " + " | ".join(KINDS) + " |")
    print("|---:|---:|" + "---:|" * len(KINDS))
    for size in (3.0, 20.0):
        counts = dict.fromkeys(KINDS, 0)
        for fam in FAMILIES:
            for dtype in (torch.float32, torch.float64):
                for seed in range(4):
                    got = family_outcome(fam, dtype, seed, size)
                    if got is not None:
                        counts[got] += 1
        print(f"| {size:g} | {sum(counts.values())} | " + " | ".join(str(counts[k]) for k in KINDS) + " |")


if __name__ == "__main__":
    main()
