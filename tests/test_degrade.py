"""Degradations and their classical baselines, against scipy / numpy references and hand-made signals."""

from __future__ import annotations

import ml_collections
import numpy as np
import pytest
import scipy.interpolate
import scipy.signal
import soxr

from jaxsr.tasks import degrade as D
from jaxsr.tasks import gaps, resampling, upsampling
from jaxsr.tasks import noise as noise_lib
from jaxsr.tasks.options import IIR_FAMILIES, SR_RATIOS

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
    got = resampling.decimate(x, ratio)
    # scipy filters in the input's dtype; give it float64 (the same values) to match our float64 filtering.
    want = scipy.signal.decimate(x.astype(np.float64), ratio, ftype="iir", zero_phase=True)
    assert got.shape == want.shape == (-(-3001 // ratio),)
    # Edges included: both use sosfiltfilt with the same odd-extension pad of 3 * (2 * 4 sections + 1) = 27
    # samples, so there is no edge difference to exclude. The tolerance is float32 rounding of our output.
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-7)


@pytest.mark.parametrize("ratio", [2, 3, 4, 6, 8])
def test_lowpass_removes_energy_above_new_nyquist(ratio):
    y = resampling.lowpass(_noise(2**15, seed=1), ratio).astype(np.float64)
    # A Hann window: with a rectangular one the leakage of the wrap-around discontinuity, not the filter,
    # dominates the stopband (about -35 dB at r=8); windowed, we see the filter's own ~-60..-85 dB.
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    f = np.fft.rfftfreq(len(y))  # cycles per sample; the new Nyquist is 0.5 / ratio
    above_db = 10 * np.log10(spec[f > 0.5 / ratio].sum() / spec.sum())
    assert above_db < -40.0, f"{above_db:.1f} dB of the energy is above the new Nyquist"


@pytest.mark.parametrize("ratio", [2, 4, 8])
def test_spline_upsample_matches_reference_splrep(ratio):
    x_lr = resampling.decimate(_speechlike(4096), ratio)
    got = upsampling.spline_upsample(x_lr, ratio)
    # The reference code's `upsample`: an interpolating (s=0) cubic B-spline through the low-rate samples.
    n = len(x_lr) * ratio
    tck = scipy.interpolate.splrep(np.arange(0, n, ratio), x_lr.astype(np.float64), s=0)
    want = scipy.interpolate.splev(np.arange(n), tck)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_spline_upsample_to_explicit_length_matches_reference():
    x_lr = resampling.decimate(
        _speechlike(4099), 4
    )  # 1025 low-rate samples; target length 4099 < 1025 * 4
    got = upsampling.spline_upsample(x_lr, 4, 4099)
    tck = scipy.interpolate.splrep(np.arange(len(x_lr)) * 4, x_lr.astype(np.float64), s=0)
    np.testing.assert_allclose(
        got, scipy.interpolate.splev(np.arange(4099), tck), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("ratio", SR_RATIOS)
def test_spline_upsample_is_exact_at_sample_positions(ratio):
    x_lr = _noise(300, seed=2)
    up = upsampling.spline_upsample(x_lr, ratio)
    np.testing.assert_allclose(up[::ratio], x_lr, rtol=0, atol=1e-7)


def test_spline_upsample_short_input_is_linear():
    up = upsampling.spline_upsample(np.array([0.0, 1.0, 0.0], np.float32), 2, 5)
    np.testing.assert_allclose(up, [0.0, 0.5, 1.0, 0.5, 0.0])


def test_degrade_sr_input_is_the_spline_baseline():
    y = _speechlike(4096)
    d = D.degrade_sr(y, 4)
    # The reference, from scipy alone: the paper's decimation, then the interpolating cubic spline.
    low = scipy.signal.decimate(y.astype(np.float64), 4, ftype="iir", zero_phase=True)
    want = scipy.interpolate.splev(
        np.arange(len(y)), scipy.interpolate.splrep(np.arange(len(low)) * 4, low, s=0)
    )
    assert d.x.shape == d.baseline.shape == y.shape and d.x.dtype == d.baseline.dtype == np.float32
    np.testing.assert_allclose(d.baseline, want, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(
        d.x, d.baseline
    )  # the model's input is the baseline it is scored against
    assert np.abs(d.x - y).max() > 0.01  # and it is degraded: the top band is gone
    assert d.info == {"task": "sr", "ratio": 4} and d.mask is None


def test_sr_on_real_speech_matches_scipy(speech44k_clip):
    audio, _ = speech44k_clip
    y = audio[20000:28192]
    x_lr = resampling.decimate(y, 2)
    np.testing.assert_allclose(
        x_lr, scipy.signal.decimate(y.astype(np.float64), 2, ftype="iir"), rtol=0, atol=2e-7
    )
    tck = scipy.interpolate.splrep(np.arange(len(x_lr)) * 2, x_lr.astype(np.float64), s=0)
    np.testing.assert_allclose(
        upsampling.spline_upsample(x_lr, 2),
        scipy.interpolate.splev(np.arange(len(y)), tck),
        rtol=0,
        atol=1e-6,
    )


# ----------------------------------------------------------------------------------------- denoise
@pytest.mark.parametrize("kind", ["white", "pink", "brown", "babble"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_denoise_mixture_has_the_drawn_snr(kind, seed):
    y = _speechlike(8192, seed)
    d = D.degrade_denoise(
        y, np.random.default_rng(seed), (0.0, 15.0), (kind,), noise_pool=[_noise(10000, 9)]
    )
    assert d.info["noise"] == kind and 0.0 <= d.info["snr_db"] <= 15.0
    y64, noise = y.astype(np.float64), d.x.astype(np.float64) - y
    measured = 10 * np.log10(np.sum(y64**2) / np.sum(noise**2))
    assert abs(measured - d.info["snr_db"]) < 1e-3, (
        f"measured {measured:.5f} dB, drawn {d.info['snr_db']:.5f} dB"
    )
    assert d.x is d.baseline or np.array_equal(d.x, d.baseline)


def test_denoise_fixed_snr():
    d = D.degrade_denoise(_speechlike(), np.random.default_rng(0), 7.5, ("white",))
    assert d.info["snr_db"] == 7.5


@pytest.mark.parametrize("kind,exponent", [("white", 0.0), ("pink", 1.0), ("brown", 2.0)])
def test_colored_noise_psd_slope(kind, exponent):
    n = noise_lib.colored_noise(np.random.default_rng(3), 2**16, exponent)
    assert abs(np.sqrt(np.mean(n.astype(np.float64) ** 2)) - 1.0) < 1e-4, (
        "noise should have unit RMS"
    )
    f, psd = scipy.signal.welch(n, nperseg=4096)
    band = (f > 2e-3) & (f < 0.4)  # away from DC (zeroed) and Nyquist
    slope = np.polyfit(np.log10(f[band]), np.log10(psd[band]), 1)[0]
    assert abs(slope + exponent) < 0.1, f"{kind} noise PSD slope {slope:.3f}, expected {-exponent}"


def test_babble_noise_is_made_from_the_pool():
    # Pool clips are pure tones at 500 and 1500 Hz over whole periods: every excerpt of a whole second has
    # its energy in exactly those two FFT bins, so the babble added to a 3 kHz tone must too.
    t = np.arange(24000) / SR
    pool = [
        np.sin(2 * np.pi * 500 * t).astype(np.float32),
        np.sin(2 * np.pi * 1500 * t).astype(np.float32),
    ]
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
    task = {
        "name": "denoise",
        "snr_db": (0.0, 15.0),
        "noise_types": ("white", "pink", "brown", "babble"),
    }
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
    mask = gaps.gap_mask(np.random.default_rng(seed), 8192, SR, 3, (10.0, 50.0))
    runs = _runs(mask)
    assert len(runs) == 3, f"expected 3 gaps, got runs {runs}"
    for start, stop in runs:
        assert 160 <= stop - start <= 800, (
            f"gap of {stop - start} samples is outside 10-50 ms at 16 kHz"
        )
        assert start >= 1 and stop <= 8191, (
            "a gap touches the edge: no neighbour to interpolate from"
        )


def test_inpaint_keeps_known_samples_and_discards_gap_content():
    y = _speechlike(8192)
    d = D.degrade_inpaint(y, np.random.default_rng(4), SR, num_gaps=2, gap_ms=(10.0, 50.0))
    assert d.mask is not None and d.mask.shape == y.shape
    assert d.info["gap_samples"] == int(d.mask.sum()) > 0
    np.testing.assert_array_equal(d.x[~d.mask], y[~d.mask])
    # The gap is zeroed before filling: the original samples in it cannot influence the result.
    y_junk = y.copy()
    y_junk[d.mask] = 0.9
    d_junk = D.degrade_inpaint(
        y_junk, np.random.default_rng(4), SR, num_gaps=2, gap_ms=(10.0, 50.0)
    )
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
    np.testing.assert_allclose(
        gaps.linear_fill(x, mask), _linear_fill_reference(x, mask), rtol=0, atol=1e-6
    )


def test_linear_fill_is_exact_on_a_ramp():
    ramp = np.linspace(-0.5, 0.7, 1000).astype(np.float32)
    mask = gaps.gap_mask(np.random.default_rng(0), 1000, SR, 2, (5.0, 20.0))
    holed = np.where(mask, 0.0, ramp).astype(np.float32)
    np.testing.assert_allclose(gaps.linear_fill(holed, mask), ramp, rtol=0, atol=1e-6)


def test_inpaint_too_short_signal_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 samples"):
        D.degrade_inpaint(np.zeros(2, np.float32), np.random.default_rng(0), SR)


def test_linear_fill_rejects_mismatched_mask():
    with pytest.raises(ValueError, match="mask shape"):
        gaps.linear_fill(np.zeros(10, np.float32), np.zeros(9, bool))


# -------------------------------------------------------------------------------------------- task
def test_degrade_dispatches_on_config_task():
    task = ml_collections.ConfigDict({"name": "inpaint", "num_gaps": 2, "gap_ms": (10.0, 20.0)})
    d = D.degrade(_speechlike(), task, np.random.default_rng(0), SR)
    assert d.info["task"] == "inpaint" and d.mask is not None
    d = D.degrade(_speechlike(), {"name": "sr", "ratio": 2}, np.random.default_rng(0), SR)
    assert d.info == {"task": "sr", "ratio": 2}


def test_unknown_task_name_lists_the_tasks():
    with pytest.raises(
        ValueError, match=r"task name must be one of \('sr', 'denoise', 'inpaint'\); got 'superres'"
    ):
        D.degrade(_speechlike(), {"name": "superres"}, np.random.default_rng(0), SR)


@pytest.mark.parametrize("ratio", [5, 0, 3.5, -2, 16])
@pytest.mark.parametrize(
    "fn", [resampling.decimate, D.degrade_sr, upsampling.spline_upsample, resampling.lowpass]
)
def test_bad_ratio_names_argument_and_accepted_values(fn, ratio):
    with pytest.raises(ValueError, match=r"ratio must be one of \(2, 3, 4, 6, 8\)"):
        fn(_noise(256), ratio)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad):
    y = _noise(256)
    y[100] = bad
    for fn in (
        lambda: D.degrade_sr(y, 2),
        lambda: D.degrade_denoise(y, np.random.default_rng(0)),
        lambda: D.degrade_inpaint(y, np.random.default_rng(0), SR),
    ):
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


# ------------------------------------------------------------------ sr: named and random resamplers
# Each named resampler against a direct call of the library it stands for, written out here from the
# libraries' own documented calls (not from jaxsr's code), at a length divisible by every ratio.
def _causal_reference(y: np.ndarray, ratio: int) -> np.ndarray:
    """butter4_causal by hand: lfilter in transfer-function form, steady-state start, advanced by the
    impulse-response peak (found with lfilter too), every r-th sample."""
    b, a = scipy.signal.butter(4, 1.0 / ratio)
    impulse = np.zeros(4096)
    impulse[0] = 1.0
    d = int(np.argmax(scipy.signal.lfilter(b, a, impulse)))
    padded = np.concatenate([y, np.full(d, y[-1])])
    out = scipy.signal.lfilter(b, a, padded, zi=scipy.signal.lfilter_zi(b, a) * y[0])[0]
    return out[d:][::ratio]


def _kaiser_fir(ratio: int, cutoff: float) -> np.ndarray:
    return scipy.signal.firwin(2 * 10 * ratio + 1, cutoff / ratio, window=("kaiser", 5.0))


_NAMED_REFERENCES = {
    "paper": lambda y, r: scipy.signal.decimate(y, r, ftype="iir", zero_phase=True),
    "soxr_hq": lambda y, r: soxr.resample(y, 48000, 48000 // r, quality="HQ"),
    "soxr_vhq": lambda y, r: soxr.resample(y, 48000, 48000 // r, quality="VHQ"),
    "soxr_lq": lambda y, r: soxr.resample(y, 48000, 48000 // r, quality="LQ"),
    "resample_poly": lambda y, r: scipy.signal.resample_poly(
        y, 1, r
    ),  # scipy's default Kaiser(5.0) filter
    "fir_lowcut": lambda y, r: scipy.signal.resample_poly(y, 1, r, window=_kaiser_fir(r, 0.6)),
    "butter4": lambda y, r: scipy.signal.sosfiltfilt(
        scipy.signal.butter(4, 1 / r, output="sos"), y
    )[::r],
    "cheby2": lambda y, r: scipy.signal.sosfiltfilt(
        scipy.signal.cheby2(8, 60, 1 / r, output="sos"), y
    )[::r],
    "ellip": lambda y, r: scipy.signal.sosfiltfilt(
        scipy.signal.ellip(6, 0.1, 80, 0.95 / r, output="sos"), y
    )[::r],
    "bessel6": lambda y, r: scipy.signal.sosfiltfilt(
        scipy.signal.bessel(6, 0.9 / r, norm="mag", output="sos"), y
    )[::r],
    "butter4_causal": _causal_reference,
    "decimate_nofilter": lambda y, r: y[::r],
}


def test_every_named_resampler_has_a_reference():
    assert set(_NAMED_REFERENCES) == set(resampling.RESAMPLERS)


@pytest.mark.parametrize("ratio", SR_RATIOS)
@pytest.mark.parametrize("name", list(_NAMED_REFERENCES))
def test_named_resampler_matches_the_library_call(name, ratio):
    y = _speechlike(
        4800, seed=ratio
    )  # 4800 = 2 * 3 * 4 * 6 * 8 * 25 / 24: divisible by every ratio
    want = _NAMED_REFERENCES[name](y.astype(np.float64), ratio)
    got = resampling.sr_lowrate(y, ratio, name)
    assert got.shape == want.shape == (4800 // ratio,) and got.dtype == np.float32
    # float32 output of float64 filtering; the causal reference uses the (b, a) form, a few ulps apart.
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    d = D.named_degradation(name, y, ratio)
    # The model input is the cubic spline through the low-rate samples, whichever resampler made them.
    tck = scipy.interpolate.splrep(np.arange(len(got)) * ratio, got.astype(np.float64), s=0)
    np.testing.assert_allclose(
        d.x, scipy.interpolate.splev(np.arange(4800), tck), rtol=0, atol=2e-6
    )
    assert d.y is None  # named resamplers have no gain: the target is the clean input


def test_named_paper_is_the_default_sr_degradation():
    y = _speechlike(4096)
    np.testing.assert_array_equal(D.named_degradation("paper", y, 4).x, D.degrade_sr(y, 4).x)
    d = D.degrade(
        y, {"name": "sr", "ratio": 4, "sr_degradation": "soxr_hq"}, np.random.default_rng(0), SR
    )
    np.testing.assert_array_equal(d.x, D.named_degradation("soxr_hq", y, 4).x)


def test_soxr_on_a_length_not_divisible_by_the_ratio():
    y = _speechlike(4099, seed=3)
    got = resampling.sr_lowrate(y, 4, "soxr_hq")
    assert got.shape == (1025,)  # ceil(4099 / 4), one more than soxr's own round(4099 / 4)
    want = soxr.resample(y.astype(np.float64), 4, 1, quality="HQ")
    # The continuation past the end only changes the last samples (soxr's filter reach).
    np.testing.assert_allclose(got[:900], want[:900], rtol=0, atol=1e-6)


def test_soxr_upsample_matches_soxr():
    x_lr = resampling.sr_lowrate(_speechlike(4096), 4, "resample_poly")
    up = upsampling.soxr_upsample(x_lr, 4, 4096)
    np.testing.assert_allclose(
        up, soxr.resample(x_lr.astype(np.float64), 1, 4, quality="HQ"), rtol=0, atol=1e-6
    )


def test_unknown_resampler_lists_the_names():
    with pytest.raises(
        ValueError, match=r"unknown resampler 'soxr_max'; use one of: paper, soxr_hq, .*nofilter"
    ):
        D.named_degradation("soxr_max", _speechlike(), 4)


def _lowrate_tone_levels(chain: dict, ratio: int = 4) -> tuple[float, float]:
    """dB of a pass-band tone (0.2 x new Nyquist) and of the alias of a tone at 2.6 x the new Nyquist, both
    on FFT bins, in the low-rate output of `chain` (input tones of equal amplitude: 0 dB = unchanged)."""
    n, n_low = 16384, 16384 // ratio
    k_lo, k_hi = (
        410 * 4 // ratio,
        5325 * 4 // ratio,
    )  # full-rate bins; low-rate bins k_lo and the fold of k_hi
    t = np.arange(n)
    y = (0.25 * np.sin(2 * np.pi * k_lo * t / n) + 0.25 * np.sin(2 * np.pi * k_hi * t / n)).astype(
        np.float32
    )
    spec = np.abs(np.fft.rfft(resampling.sr_lowrate(y, ratio, chain).astype(np.float64))) / (
        n_low / 2
    )
    alias = k_hi % n_low if k_hi % n_low <= n_low // 2 else n_low - k_hi % n_low
    return 20 * np.log10(spec[k_lo] / 0.25), 20 * np.log10(spec[alias] / 0.25 + 1e-12)


def _iir_task(**fields) -> dict:
    return {
        "name": "sr",
        "ratio": 4,
        "sr_degradation": "random",
        "sr_gain_db": (0.0, 0.0),
        "sr_chain_weights": {"iir": 1.0},
        **fields,
    }


def _xcorr_peak_lag(a: np.ndarray, b: np.ndarray) -> int:
    """Lag (samples) at which `a` best matches `b` (positive: `a` is late)."""
    c = scipy.signal.correlate(
        a.astype(np.float64), b.astype(np.float64), mode="full", method="fft"
    )
    return int(np.argmax(c)) - (len(b) - 1)


def test_random_iir_chains_are_zero_phase_lowpass_filters():
    rng = np.random.default_rng(7)
    broadband = _noise(8192, seed=8)
    seen = set()
    for _ in range(40):
        chain = resampling.draw_sr_chain(rng, _iir_task())
        seen.add(chain["family"])
        assert (
            chain["kind"] == "iir" and 2 <= chain["order"] <= 12 and 0.7 <= chain["cutoff"] <= 1.0
        )
        # Zero-phase: the spline-upsampled input lines up with the clean signal (a causal filter would
        # put the peak at its delay, several samples late).
        x = D.degrade_sr(broadband, 4, chain).x
        assert _xcorr_peak_lag(x, broadband) == 0, chain
        passband, alias = _lowrate_tone_levels(chain)
        assert passband > -3.0, (chain, passband)  # at most ~2 dB: twice a 1 dB ripple, zero-phase
        assert alias < -30.0, (
            chain,
            alias,
        )  # a tone above the new Nyquist is filtered out, not folded in
    assert seen == set(IIR_FAMILIES)


def test_plain_decimation_folds_a_tone_above_nyquist():
    passband, alias = _lowrate_tone_levels({"kind": "nofilter"})
    assert (
        abs(passband) < 0.1 and abs(alias) < 0.1
    )  # the 2.6 x Nyquist tone appears, folded, at full level
    _, soxr_qq = _lowrate_tone_levels({"kind": "soxr", "quality": "QQ"})
    _, soxr_hq = _lowrate_tone_levels({"kind": "soxr", "quality": "HQ"})
    # soxr's QQ has no anti-aliasing filter; HQ removes the tone (down to the edges' transients, about -80 dB).
    assert soxr_qq > -1.0 and soxr_hq < -60.0


def test_causal_chains_are_delay_compensated():
    broadband = _noise(8192, seed=9)
    rng = np.random.default_rng(3)
    lags = []
    for _ in range(20):
        chain = resampling.draw_sr_chain(rng, _iir_task(sr_chain_weights={"causal": 1.0}))
        assert chain["kind"] == "causal"
        lags.append(_xcorr_peak_lag(D.degrade_sr(broadband, 4, chain).x, broadband))
    assert max(abs(v) for v in lags) <= 2, lags  # what is left is the filter's phase distortion
    # Without the compensation the same filter is late by its impulse-response peak.
    sos = scipy.signal.butter(4, 0.25, output="sos")
    raw = scipy.signal.sosfilt(sos, broadband.astype(np.float64))
    assert _xcorr_peak_lag(raw, broadband) >= 4
    assert (
        abs(_xcorr_peak_lag(D.named_degradation("butter4_causal", broadband, 4).x, broadband)) <= 1
    )


def test_random_chain_is_reproducible_and_seed_dependent():
    y = _speechlike(8192)
    task = {"name": "sr", "ratio": 4, "sr_degradation": "random"}
    a = D.degrade(y, task, np.random.default_rng(5), SR)
    b = D.degrade(y, task, np.random.default_rng(5), SR)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.info == b.info and a.info["chain"]["kind"] in (
        "iir",
        "fir",
        "soxr",
        "causal",
        "nofilter",
    )
    outputs = [D.degrade(y, task, np.random.default_rng(s), SR) for s in range(6)]
    assert len({repr(d.info["chain"]) for d in outputs}) == 6, "different seeds drew the same chain"
    assert not np.array_equal(outputs[0].x, outputs[1].x)


def test_random_gain_scales_input_and_target_alike():
    y = _speechlike(4096)
    d = D.degrade_sr(
        y, 4, {"kind": "fir", "zeros": 10, "beta": 5.0, "cutoff": 1.0, "gain_db": -6.0}
    )
    g = 10 ** (-6.0 / 20)
    np.testing.assert_allclose(d.y, g * y, rtol=1e-6, atol=0)
    np.testing.assert_allclose(
        d.x, g * D.named_degradation("resample_poly", y, 4).x, rtol=0, atol=1e-6
    )
    gains = [resampling.draw_sr_chain(np.random.default_rng(s))["gain_db"] for s in range(200)]
    assert (
        -12.0 <= min(gains) < -10.0 and -2.0 < max(gains) <= 0.0
    )  # the default task.sr_gain_db (-12, 0)


def test_chain_kinds_and_parameters_follow_the_config():
    task = {
        "sr_chain_weights": {"iir": 0.5, "fir": 0.3, "soxr": 0.2, "causal": 0.0, "nofilter": 0.0},
        "sr_iir_families": ("butter", "cheby2"),
        "sr_iir_order": (3, 8),
        "sr_cutoff": (0.8, 0.9),
        "sr_fir_zeros": (4, 5),
        "sr_fir_beta": (6.0, 7.0),
        "sr_soxr_qualities": ("HQ", "VHQ"),
        "sr_gain_db": (-3.0, -1.0),
    }
    rng = np.random.default_rng(0)
    chains = [resampling.draw_sr_chain(rng, task) for _ in range(4000)]
    kinds = [c["kind"] for c in chains]
    for kind, weight in task["sr_chain_weights"].items():
        # 4000 draws: the binomial standard deviation is at most 0.008; 0.03 is about four of them.
        assert abs(kinds.count(kind) / len(kinds) - weight) < 0.03, (kind, kinds.count(kind))
    iir = [c for c in chains if c["kind"] == "iir"]
    assert {c["family"] for c in iir} == {"butter", "cheby2"}
    assert abs(sum(c["family"] == "butter" for c in iir) / len(iir) - 0.5) < 0.05
    assert {c["order"] for c in iir if c["family"] == "butter"} == {3, 4, 5, 6, 7, 8}
    assert {c["order"] for c in iir if c["family"] == "cheby2"} == {
        6,
        7,
        8,
    }  # a Chebyshev II needs order >= 6
    cutoffs = [c["cutoff"] for c in chains if "cutoff" in c]
    assert 0.8 <= min(cutoffs) and max(cutoffs) <= 0.9
    assert all(
        abs(c * 100 - round(c * 100)) < 1e-9 for c in cutoffs
    )  # quantised: cached filter designs
    fir = [c for c in chains if c["kind"] == "fir"]
    assert {c["zeros"] for c in fir} == {4, 5} and all(6.0 <= c["beta"] <= 7.0 for c in fir)
    assert {c["quality"] for c in chains if c["kind"] == "soxr"} == {"HQ", "VHQ"}
    assert all(-3.0 <= c["gain_db"] <= -1.0 for c in chains)


def test_sr_batch_equals_row_by_row():
    y = np.stack([_speechlike(4096, seed=s) for s in range(6)])
    chains = [resampling.draw_sr_chain(np.random.default_rng([1, s])) for s in range(6)]
    chains[0], chains[1] = "soxr_hq", {"kind": "nofilter", "gain_db": -2.0}
    x, target = D.sr_batch(y, 4, chains)
    for i in range(6):
        d = D.degrade_sr(y[i], 4, chains[i])
        np.testing.assert_array_equal(
            x[i], d.x
        )  # the batched spline is the per-row one, bit for bit
        np.testing.assert_array_equal(target[i], y[i] if d.y is None else d.y)
