"""Degradations and their classical baselines, against scipy / numpy references and hand-made signals."""

from __future__ import annotations

import ml_collections
import numpy as np
import pytest
import scipy.interpolate
import scipy.signal

from jaxsr import degrade as D
from jaxsr.config import SR_RATIOS

SR = 16000


def _noise(n: int, seed: int = 0, scale: float = 0.3) -> np.ndarray:
    return (scale * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _speechlike(n: int = 8192, seed: int = 0) -> np.ndarray:
    """A few harmonics plus a little noise: non-trivial content at every frequency."""
    t = np.arange(n) / SR
    y = sum(0.2 / k * np.sin(2 * np.pi * 180 * k * t + k) for k in range(1, 12))
    return (y + 0.01 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a boolean [time] mask."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


# ---------------------------------------------------------------------------------------------- sr
@pytest.mark.parametrize("ratio", [2, 3, 4, 6, 8])
def test_decimate_matches_scipy(ratio):
    x = _noise(3001)  # not a multiple of any ratio: output length is ceil(3001 / r)
    got = D.decimate(x, ratio)
    # scipy filters in the input's dtype; give it float64 (the same values) to match our float64 filtering.
    want = scipy.signal.decimate(x.astype(np.float64), ratio, ftype="iir", zero_phase=True)
    assert got.shape == want.shape == (-(-3001 // ratio),)
    # Edges included: both use sosfiltfilt with the same odd-extension pad of 3 * (2 * 4 sections + 1) = 27
    # samples, so there is no edge difference to exclude. The tolerance is float32 rounding of our output.
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-7)


@pytest.mark.parametrize("ratio", [2, 3, 4, 6, 8])
def test_lowpass_removes_energy_above_new_nyquist(ratio):
    y = D.lowpass(_noise(2**15, seed=1), ratio).astype(np.float64)
    # A Hann window: with a rectangular one the leakage of the wrap-around discontinuity, not the filter,
    # dominates the stopband (about -35 dB at r=8); windowed, we see the filter's own ~-60..-85 dB.
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    f = np.fft.rfftfreq(len(y))  # cycles per sample; the new Nyquist is 0.5 / ratio
    above_db = 10 * np.log10(spec[f > 0.5 / ratio].sum() / spec.sum())
    assert above_db < -40.0, f"{above_db:.1f} dB of the energy is above the new Nyquist"


@pytest.mark.parametrize("ratio", [2, 4, 8])
def test_spline_upsample_matches_reference_splrep(ratio):
    x_lr = D.decimate(_speechlike(4096), ratio)
    got = D.spline_upsample(x_lr, ratio)
    # The reference code's `upsample`: an interpolating (s=0) cubic B-spline through the low-rate samples.
    n = len(x_lr) * ratio
    tck = scipy.interpolate.splrep(np.arange(0, n, ratio), x_lr.astype(np.float64), s=0)
    want = scipy.interpolate.splev(np.arange(n), tck)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_spline_upsample_to_explicit_length_matches_reference():
    x_lr = D.decimate(_speechlike(4099), 4)  # 1025 low-rate samples; target length 4099 < 1025 * 4
    got = D.spline_upsample(x_lr, 4, 4099)
    tck = scipy.interpolate.splrep(np.arange(len(x_lr)) * 4, x_lr.astype(np.float64), s=0)
    np.testing.assert_allclose(got, scipy.interpolate.splev(np.arange(4099), tck), rtol=0, atol=1e-6)


@pytest.mark.parametrize("ratio", SR_RATIOS)
def test_spline_upsample_is_exact_at_sample_positions(ratio):
    x_lr = _noise(300, seed=2)
    up = D.spline_upsample(x_lr, ratio)
    np.testing.assert_allclose(up[::ratio], x_lr, rtol=0, atol=1e-7)


def test_spline_upsample_short_input_is_linear():
    up = D.spline_upsample(np.array([0.0, 1.0, 0.0], np.float32), 2, 5)
    np.testing.assert_allclose(up, [0.0, 0.5, 1.0, 0.5, 0.0])


def test_degrade_sr_input_is_the_spline_baseline():
    y = _speechlike(4096)
    d = D.degrade_sr(y, 4)
    assert d.x is d.baseline or np.array_equal(d.x, d.baseline)
    assert d.x.shape == y.shape and d.x.dtype == np.float32
    np.testing.assert_array_equal(d.x, D.spline_upsample(D.decimate(y, 4), 4, len(y)))
    assert d.info == {"task": "sr", "ratio": 4} and d.mask is None


def test_sr_on_real_speech_matches_scipy(speech44k_clip):
    audio, _ = speech44k_clip
    y = audio[20000:28192]
    x_lr = D.decimate(y, 2)
    np.testing.assert_allclose(x_lr, scipy.signal.decimate(y.astype(np.float64), 2, ftype="iir"), rtol=0, atol=2e-7)
    tck = scipy.interpolate.splrep(np.arange(len(x_lr)) * 2, x_lr.astype(np.float64), s=0)
    np.testing.assert_allclose(D.spline_upsample(x_lr, 2), scipy.interpolate.splev(np.arange(len(y)), tck),
                               rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------------------- denoise
@pytest.mark.parametrize("kind", ["white", "pink", "brown", "babble"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_denoise_mixture_has_the_drawn_snr(kind, seed):
    y = _speechlike(8192, seed)
    d = D.degrade_denoise(y, np.random.default_rng(seed), (0.0, 15.0), (kind,), noise_pool=[_noise(10000, 9)])
    assert d.info["noise"] == kind and 0.0 <= d.info["snr_db"] <= 15.0
    y64, noise = y.astype(np.float64), d.x.astype(np.float64) - y
    measured = 10 * np.log10(np.sum(y64**2) / np.sum(noise**2))
    assert abs(measured - d.info["snr_db"]) < 1e-3, f"measured {measured:.5f} dB, drawn {d.info['snr_db']:.5f} dB"
    assert d.x is d.baseline or np.array_equal(d.x, d.baseline)


def test_denoise_fixed_snr():
    d = D.degrade_denoise(_speechlike(), np.random.default_rng(0), 7.5, ("white",))
    assert d.info["snr_db"] == 7.5


@pytest.mark.parametrize("kind,exponent", [("white", 0.0), ("pink", 1.0), ("brown", 2.0)])
def test_colored_noise_psd_slope(kind, exponent):
    n = D.colored_noise(np.random.default_rng(3), 2**16, exponent)
    assert abs(np.sqrt(np.mean(n.astype(np.float64) ** 2)) - 1.0) < 1e-4, "noise should have unit RMS"
    f, psd = scipy.signal.welch(n, nperseg=4096)
    band = (f > 2e-3) & (f < 0.4)  # away from DC (zeroed) and Nyquist
    slope = np.polyfit(np.log10(f[band]), np.log10(psd[band]), 1)[0]
    assert abs(slope + exponent) < 0.1, f"{kind} noise PSD slope {slope:.3f}, expected {-exponent}"


def test_babble_noise_is_made_from_the_pool():
    # Pool clips are pure tones at 500 and 1500 Hz over whole periods: every excerpt of a whole second has
    # its energy in exactly those two FFT bins, so the babble added to a 3 kHz tone must too.
    t = np.arange(24000) / SR
    pool = [np.sin(2 * np.pi * 500 * t).astype(np.float32), np.sin(2 * np.pi * 1500 * t).astype(np.float32)]
    y = (0.3 * np.sin(2 * np.pi * 3000 * np.arange(SR) / SR)).astype(np.float32)
    d = D.degrade_denoise(y, np.random.default_rng(0), 0.0, ("babble",), noise_pool=pool)
    spec = np.abs(np.fft.rfft(d.x.astype(np.float64) - y)) ** 2  # 1 Hz bins
    in_pool = (spec[500] + spec[1500]) / spec.sum()
    assert in_pool > 0.999, f"only {in_pool:.4f} of the babble energy is at the pool's frequencies"


def test_babble_without_pool_is_a_clear_error():
    with pytest.raises(ValueError, match="noise_pool"):
        D.degrade_denoise(_speechlike(), np.random.default_rng(0), 5.0, ("babble",))


def test_denoise_is_deterministic_under_a_seed():
    y = _speechlike()
    task = {"name": "denoise", "snr_db": (0.0, 15.0), "noise_types": ("white", "pink", "brown", "babble")}
    pool = [_noise(9000, 5)]
    a = D.degrade(y, task, np.random.default_rng(11), SR, noise_pool=pool)
    b = D.degrade(y, task, np.random.default_rng(11), SR, noise_pool=pool)
    c = D.degrade(y, task, np.random.default_rng(12), SR, noise_pool=pool)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.info == b.info
    assert not np.array_equal(a.x, c.x), "a different seed gave the same noise"


# ----------------------------------------------------------------------------------------- inpaint
@pytest.mark.parametrize("seed", range(40))
def test_gap_mask_has_configured_gaps_with_lengths_in_range(seed):
    # 8192 samples at 16 kHz with 3 gaps of 10-50 ms: gaps of 160-800 samples that often would overlap
    # if placed independently; each must stay a separate gap.
    mask = D.gap_mask(np.random.default_rng(seed), 8192, SR, 3, (10.0, 50.0))
    runs = _runs(mask)
    assert len(runs) == 3, f"expected 3 gaps, got runs {runs}"
    for start, stop in runs:
        assert 160 <= stop - start <= 800, f"gap of {stop - start} samples is outside 10-50 ms at 16 kHz"
        assert start >= 1 and stop <= 8191, "a gap touches the edge: no neighbour to interpolate from"


def test_inpaint_keeps_known_samples_and_discards_gap_content():
    y = _speechlike(8192)
    d = D.degrade_inpaint(y, np.random.default_rng(4), SR, num_gaps=2, gap_ms=(10.0, 50.0))
    assert d.mask is not None and d.mask.shape == y.shape
    assert d.info["gap_samples"] == int(d.mask.sum()) > 0
    np.testing.assert_array_equal(d.x[~d.mask], y[~d.mask])
    # The gap is zeroed before filling: the original samples in it cannot influence the result.
    y_junk = y.copy()
    y_junk[d.mask] = 0.9
    d_junk = D.degrade_inpaint(y_junk, np.random.default_rng(4), SR, num_gaps=2, gap_ms=(10.0, 50.0))
    np.testing.assert_array_equal(d_junk.mask, d.mask)
    np.testing.assert_array_equal(d_junk.x, d.x)


def _linear_fill_reference(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Straight line from the last known sample before each gap to the first known sample after it."""
    out = x.astype(np.float64).copy()
    for start, stop in _runs(mask):
        left, right = start - 1, stop
        for i in range(start, stop):
            out[i] = x[left] + (x[right] - x[left]) * (i - left) / (right - left)
    return out


def test_linear_fill_matches_reference():
    x = _noise(2000, 6)
    mask = np.zeros(2000, bool)
    mask[10:55] = mask[300:301] = mask[1200:1500] = True
    np.testing.assert_allclose(D.linear_fill(x, mask), _linear_fill_reference(x, mask), rtol=0, atol=1e-6)


def test_linear_fill_is_exact_on_a_ramp():
    ramp = np.linspace(-0.5, 0.7, 1000).astype(np.float32)
    mask = D.gap_mask(np.random.default_rng(0), 1000, SR, 2, (5.0, 20.0))
    holed = np.where(mask, 0.0, ramp).astype(np.float32)
    np.testing.assert_allclose(D.linear_fill(holed, mask), ramp, rtol=0, atol=1e-6)


def test_inpaint_too_short_signal_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 samples"):
        D.degrade_inpaint(np.zeros(2, np.float32), np.random.default_rng(0), SR)


def test_linear_fill_rejects_mismatched_mask():
    with pytest.raises(ValueError, match="mask shape"):
        D.linear_fill(np.zeros(10, np.float32), np.zeros(9, bool))


# -------------------------------------------------------------------------------------------- task
def test_degrade_dispatches_on_config_task():
    task = ml_collections.ConfigDict({"name": "inpaint", "num_gaps": 2, "gap_ms": (10.0, 20.0)})
    d = D.degrade(_speechlike(), task, np.random.default_rng(0), SR)
    assert d.info["task"] == "inpaint" and d.mask is not None
    d = D.degrade(_speechlike(), {"name": "sr", "ratio": 2}, np.random.default_rng(0), SR)
    assert d.info == {"task": "sr", "ratio": 2}


def test_unknown_task_name_lists_the_tasks():
    with pytest.raises(ValueError, match=r"task name must be one of \('sr', 'denoise', 'inpaint'\); got 'superres'"):
        D.degrade(_speechlike(), {"name": "superres"}, np.random.default_rng(0), SR)


@pytest.mark.parametrize("ratio", [5, 0, 3.5, -2, 16])
@pytest.mark.parametrize("fn", [D.decimate, D.degrade_sr, D.spline_upsample, D.lowpass])
def test_bad_ratio_names_argument_and_accepted_values(fn, ratio):
    with pytest.raises(ValueError, match=r"ratio must be one of \(2, 3, 4, 6, 8\)"):
        fn(_noise(256), ratio)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad):
    y = _noise(256)
    y[100] = bad
    for fn in (lambda: D.degrade_sr(y, 2), lambda: D.degrade_denoise(y, np.random.default_rng(0)),
               lambda: D.degrade_inpaint(y, np.random.default_rng(0), SR)):
        with pytest.raises(ValueError, match="y has NaN or infinite samples"):
            fn()


def test_2d_input_is_rejected():
    with pytest.raises(ValueError, match=r"y must be a 1-D signal \[time\]; got shape \(2, 256\)"):
        D.degrade_sr(np.zeros((2, 256), np.float32), 2)


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="y is empty"):
        D.degrade_sr(np.zeros(0, np.float32), 2)


def test_unknown_noise_type_lists_the_types():
    with pytest.raises(ValueError, match=r"noise type 'purple' is not one of \('white', 'pink'"):
        D.degrade_denoise(_speechlike(), np.random.default_rng(0), 5.0, ("purple",))
