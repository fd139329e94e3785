"""The step scale of each entry (magnitude bands, the RMS floor, the weight κ), computed in numpy for speed:
checked here against a plain per-band computation written independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.gradcheck.engine import _MAX_WEIGHT, _weighted_scale
from grader.gradcheck.fd import entry_scale
from grader.gradcheck.locate import magnitude_bands, magnitude_blocks


def _plain_scale(a: np.ndarray) -> np.ndarray:
    """One band: |x_i| floored at a tenth of the RMS of the finite entries; a non-finite entry gets the RMS."""
    fin = [v for v in a.tolist() if math.isfinite(v)]
    rms = math.sqrt(sum(v * v for v in fin) / len(fin)) if fin else 0.0
    rms = rms if rms > 0 else 1.0
    return np.array([max(v, 0.1 * rms) if math.isfinite(v) else rms for v in a.tolist()])


def _mixed(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.abs(rng.standard_normal(64)) * np.where(rng.random(64) < 0.5, 1e-4, 1e4)
    a[rng.integers(0, 64, 3)] = 0.0
    return a


def test_an_ordinary_tensor_is_one_band() -> None:
    a = np.abs(np.random.default_rng(0).standard_normal(100))
    assert magnitude_bands(a) is None
    assert [b.tolist() for b in magnitude_blocks(None, 5)] == [[0, 1, 2, 3, 4]]


def test_bands_are_decades_apart_and_zeros_and_non_finite_entries_join_the_largest() -> None:
    a = np.array([1e4, 2e4, 0.0, 1e-4, 3e-4, np.inf, 2e-4, 5e3, np.nan, 1.5e-4])
    bands = magnitude_bands(a)
    assert bands is not None
    assert [b.tolist() for b in magnitude_blocks(bands, a.size)] == [[0, 1, 2, 5, 7, 8], [3, 4, 6, 9]]


def test_a_band_of_too_few_entries_joins_the_larger_one_above_it() -> None:
    a = np.concatenate([np.full(30, 1e4), np.full(30, 1e-4), [1.0]])  # 1.0: one entry, a band of its own
    bands = magnitude_bands(a)
    assert bands is not None and bands.max() == 1
    assert bands[-1] == 0  # with the 1e4 entries, not with the 1e-4 ones


@pytest.mark.parametrize("seed", range(5))
def test_entry_scale_per_band_equals_the_scale_of_each_band_alone(seed: int) -> None:
    a = _mixed(seed)
    a[seed] = np.inf if seed % 2 else a[seed]
    bands = magnitude_bands(a)
    assert bands is not None
    got = entry_scale(a, bands)
    for idx in magnitude_blocks(bands, a.size):
        i = idx.numpy()
        np.testing.assert_allclose(got[i], _plain_scale(a[i]), rtol=1e-15)
    np.testing.assert_allclose(entry_scale(a[:8]), _plain_scale(a[:8]), rtol=1e-15)  # one band


@pytest.mark.parametrize("seed", range(5))
def test_the_weight_evens_out_each_entrys_room_within_its_band(seed: int) -> None:
    a = _mixed(seed)
    rng = np.random.default_rng(100 + seed)
    tau = 1e-7 + 1e-5 * np.abs(rng.standard_normal(a.size)) * 10.0 ** rng.integers(-3, 4, a.size)
    bands = magnitude_bands(a)
    assert bands is not None
    scale = _weighted_scale(a, tau, bands)
    base = entry_scale(a, bands)
    for idx in magnitude_blocks(bands, a.size):
        i = idx.numpy()
        kappa = scale[i] / base[i]
        assert kappa.min() >= 1.0 - 1e-15 and kappa.max() <= _MAX_WEIGHT * (1 + 1e-15)
        room = tau[i] * scale[i]
        top = (tau[i] * base[i]).max()
        # every entry's room reaches the band's largest, unless its weight is capped
        assert np.all((np.abs(room / top - 1) < 1e-12) | (np.abs(kappa - _MAX_WEIGHT) < 1e-9))
