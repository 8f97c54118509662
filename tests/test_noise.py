"""The realistic denoise degradations, against independent numpy references.

Short-time level and spectral slope by plain numpy FFTs, f0 by the FFT peak of a harmonic test signal,
RT60 by Schroeder backward integration, SNR from the signals themselves, and "babble never holds the clean
clip" by clips that are unique tones whose energy is looked up in the noise's spectrum.
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxsr.data import records
from jaxsr.data import eval_clips
from jaxsr.config import default_config
from jaxsr.data import pipeline
from jaxsr.data.synthetic import voice_bank
from jaxsr.tasks import degrade as D
from jaxsr.tasks import noise as N

SR = 16000


# ------------------------------------------------------------------------------------ measurements
def frame_level_db(x: np.ndarray, frame: int) -> np.ndarray:
    """RMS level in dB of consecutive `frame`-sample frames, after a 300-4000 Hz FFT band-pass.

    The band-pass keeps the measure honest for brown noise, whose energy sits at frequencies below one
    frame's resolution: its broadband frame RMS wanders with the slow random walk, not with any level
    change."""
    spec = np.fft.rfft(np.asarray(x, np.float64))
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    spec[(f < 300) | (f > 4000)] = 0.0
    band = np.fft.irfft(spec, len(x))
    frames = band[: len(x) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(frames**2, axis=1))


def segment_slopes(x: np.ndarray, segment: int, nfft: int = 512) -> np.ndarray:
    """Per `segment` samples: the log-log slope of the PSD (Hann-windowed periodograms of `nfft`-sample
    frames, averaged) over 100-4000 Hz. White 0, pink -1, brown -2."""
    f = np.fft.rfftfreq(nfft, 1.0 / SR)
    band = (f >= 100) & (f <= 4000)
    window = np.hanning(nfft)
    slopes = []
    for s in range(0, len(x) - segment + 1, segment):
        frames = np.asarray(x[s : s + segment], np.float64).reshape(-1, nfft)
        psd = np.mean(np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2, axis=0)
        slopes.append(np.polyfit(np.log10(f[band]), np.log10(psd[band]), 1)[0])
    return np.array(slopes)


def peak_hz(x: np.ndarray, lo: float = 50.0, hi: float = 2000.0) -> float:
    """Frequency of the largest FFT peak of `x` (Hann window) between `lo` and `hi` Hz."""
    spec = np.abs(np.fft.rfft(np.asarray(x, np.float64) * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(spec[band])])


def harmonic(f0: float, n: int, decay: float = 2.0, phase: float = 0.0) -> np.ndarray:
    """A harmonic series of fundamental `f0` with amplitudes 1/k**decay below 7 kHz: the fundamental is
    the strongest component."""
    t = np.arange(n) / SR
    k = np.arange(1, int(7000 // f0) + 1)
    waves = np.sin(2 * np.pi * f0 * k[:, None] * t + phase * k[:, None]) / k[:, None] ** decay
    return waves.sum(0).astype(np.float32)


def schroeder_rt60(h: np.ndarray) -> float:
    """RT60 from the energy decay curve (Schroeder backward integration), fitted from -5 to -25 dB (T20)."""
    edc = np.cumsum((np.asarray(h, np.float64) ** 2)[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db <= -5) & (edc_db >= -25)
    slope = np.polyfit(np.flatnonzero(fit) / SR, edc_db[fit], 1)[0]  # dB per second
    return -60.0 / slope


# ------------------------------------------------------------------------------------- varying noise
def test_varying_noise_level_changes_over_time_while_stationary_colours_do_not():
    n = 8 * SR
    swinging = N.varying_noise(
        np.random.default_rng(0),
        n,
        SR,
        exponent=(1.0, 1.0),
        level_db=(16.0, 16.0),
        seconds=(0.2, 0.4),
    )
    levels = frame_level_db(swinging, SR // 10)  # 100 ms frames
    spread = np.percentile(levels, 95) - np.percentile(levels, 5)
    assert spread > 8.0, (
        f"the level of varying noise spans only {spread:.1f} dB (5th-95th percentile)"
    )
    assert levels.max() - levels.min() < 16.0 + 3.0, (
        "the level swings by more than the requested 16 dB"
    )
    for exponent in (0.0, 1.0, 2.0):
        steady = frame_level_db(N.colored_noise(np.random.default_rng(1), n, exponent), SR // 10)
        still = np.percentile(steady, 95) - np.percentile(steady, 5)
        assert still < 2.5, f"stationary noise of exponent {exponent} spans {still:.1f} dB"
    assert abs(np.sqrt(np.mean(swinging.astype(np.float64) ** 2)) - 1.0) < 1e-4, "unit RMS overall"


def test_varying_noise_tilt_drifts_between_white_and_brown_while_stationary_colours_do_not():
    n = 8 * SR
    x = N.varying_noise(
        np.random.default_rng(2),
        n,
        SR,
        exponent=(0.0, 2.0),
        level_db=(0.0, 0.0),
        seconds=(0.4, 0.6),
    )
    slopes = segment_slopes(x, 4096)  # 0.256 s segments
    assert slopes.max() - slopes.min() > 1.0, (
        f"slopes only span {slopes.min():.2f}..{slopes.max():.2f}"
    )
    assert slopes.min() > -2.4 and slopes.max() < 0.4, (
        f"slopes {slopes.min():.2f}..{slopes.max():.2f} leave 0..-2"
    )
    for exponent in (0.0, 1.0, 2.0):
        s = segment_slopes(N.colored_noise(np.random.default_rng(3), n, exponent), 4096)
        assert s.max() - s.min() < 0.4, (
            f"stationary exponent {exponent}: slopes span {s.min():.2f}..{s.max():.2f}"
        )
        assert abs(np.mean(s) + exponent) < 0.15


def test_varying_noise_with_a_fixed_tilt_and_level_is_that_colour():
    x = N.varying_noise(
        np.random.default_rng(4), 4 * SR, SR, exponent=(1.0, 1.0), level_db=(0.0, 0.0)
    )
    s = segment_slopes(x, 8192)
    assert abs(np.mean(s) + 1.0) < 0.15 and s.max() - s.min() < 0.4  # pink, steady


# ----------------------------------------------------------------------------------------- babble
def tone(freq: float, n: int) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(n) / SR).astype(np.float32)


def energy_near(x: np.ndarray, freq: float, width: float = 3.0) -> float:
    """Share of the energy of `x` within `width` Hz of `freq` (a whole-second signal has 1 Hz bins)."""
    spec = np.abs(np.fft.rfft(np.asarray(x, np.float64))) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    return float(spec[np.abs(f - freq) <= width].sum() / spec.sum())


@pytest.mark.parametrize("seed", range(4))
def test_babble_never_contains_the_clean_clip(seed):
    # Clip 1 (the clean one) is a 3 kHz tone; the others are tones at 500 and 1000 Hz. Babble drawn with
    # clip 1 excluded has no energy at 3 kHz; with nothing excluded it does (the check can fail).
    pool = [tone(500, 2 * SR), tone(3000, 2 * SR), tone(1000, 2 * SR)]
    rng = np.random.default_rng(seed)
    out = N.babble_noise(rng, SR, pool, talkers=8, exclude=1)
    assert energy_near(out, 3000) < 1e-6
    assert energy_near(out, 500) + energy_near(out, 1000) > 0.999
    with_self = N.babble_noise(np.random.default_rng(seed), SR, pool, talkers=8)
    assert energy_near(with_self, 3000) > 0.01, "the control should have drawn the clean clip"


@pytest.mark.parametrize("seed", range(4))
def test_babble_of_voices_never_contains_the_clean_clip(seed):
    # Shifting by 0.7-1.5x keeps a 3 kHz tone within 2.1-4.5 kHz; the other clip is a 200 Hz tone
    # (shifted: 140-300 Hz). Only the pool is used (no synthetic voices). What reaches 1.8-4.8 kHz without
    # the clean clip is the formant warp's spreading of the 200 Hz tone (below 1e-3 of the energy); with
    # it, a tenth or more.
    pool = [tone(200, 3 * SR), tone(3000, 3 * SR)]
    f = np.fft.rfftfreq(SR, 1.0 / SR)
    band = (f > 1800) & (f < 4800)
    out = N.voices_babble(np.random.default_rng(seed), SR, SR, pool, exclude=1, synthetic_prob=0.0)
    spec = np.abs(np.fft.rfft(out.astype(np.float64))) ** 2
    assert spec[band].sum() / spec.sum() < 1e-3
    control = N.voices_babble(
        np.random.default_rng(seed), SR, SR, pool, exclude=None, synthetic_prob=0.0, talkers=(8, 8)
    )
    spec = np.abs(np.fft.rfft(control.astype(np.float64))) ** 2
    assert spec[band].sum() / spec.sum() > 0.1, "the control should have drawn the clean clip"


def test_babble_with_only_the_clean_clip_is_a_clear_error_and_voices_fall_back_to_synthetic():
    with pytest.raises(ValueError, match="only the clean clip"):
        N.babble_noise(np.random.default_rng(0), 1000, [tone(500, 2000)], exclude=0)
    out = N.voices_babble(
        np.random.default_rng(0),
        4000,
        SR,
        [tone(500, 8000)],
        exclude=0,
        voices=voice_bank(SR),
        synthetic_prob=0.0,
    )
    assert np.all(np.isfinite(out)) and energy_near(np.resize(out, SR), 500, 200) < 0.5


@pytest.mark.parametrize("factor", [0.7, 0.83, 1.0, 1.37, 1.5])
def test_shift_voice_moves_the_fundamental_by_the_factor(factor):
    x = harmonic(180.0, 3 * SR)
    out = N.shift_voice(x, factor, SR)
    assert len(out) == SR
    assert peak_hz(out) == pytest.approx(180.0 * factor, abs=2.0)


def test_warp_formants_moves_the_envelope_and_keeps_the_harmonics():
    # Harmonics of 150 Hz under a broad resonance at 1000 Hz. A warp by 1.3 (0.8) moves the spectral
    # centroid up (down) by most of that factor (the envelope is smoothed over ~400 Hz blocks, so a
    # resonance moves a little less than the factor), while the energy stays on multiples of 150 Hz.
    f0, n = 150.0, 2 * SR
    t = np.arange(n) / SR
    k = np.arange(1, 45)
    amp = 1.0 / (1.0 + ((k * f0 - 1000.0) / 400.0) ** 2)
    x = (amp[:, None] * np.sin(2 * np.pi * f0 * k[:, None] * t)).sum(0)
    out = N.warp_formants(np.stack([x, x, x]), np.array([1.3, 0.8, 1.0]), SR)
    f = np.fft.rfftfreq(n, 1.0 / SR)
    on_harmonics = np.min(np.abs(f[:, None] - f0 * k[None, :]), axis=1) <= 10.0
    band = (f > 50) & (f < 4000)

    def centroid_and_harmonic_share(sig):
        spec = np.abs(np.fft.rfft(sig * np.hanning(n))) ** 2
        return (f[band] * spec[band]).sum() / spec[band].sum(), spec[
            on_harmonics
        ].sum() / spec.sum()

    c0, _ = centroid_and_harmonic_share(x)
    up, share_up = centroid_and_harmonic_share(out[0])
    down, share_down = centroid_and_harmonic_share(out[1])
    assert 1.15 <= up / c0 <= 1.35, f"centroid moved by {up / c0:.3f} for a warp of 1.3"
    assert 0.78 <= down / c0 <= 0.9, f"centroid moved by {down / c0:.3f} for a warp of 0.8"
    assert share_up > 0.99 and share_down > 0.99, "the harmonics (the pitch) moved"
    np.testing.assert_allclose(out[2], x, atol=1e-4)  # ratio 1 reconstructs the input


@pytest.mark.parametrize("seed", range(6))
def test_voices_babble_talker_pitch_is_shifted_by_at_least_min_shift(seed):
    # One talker from a 200 Hz harmonic clip, formant factor 1: its fundamental lies in 200 x [0.7, 1.5]
    # and at least 10% away from 200 Hz.
    pool = [tone(3000, SR), harmonic(200.0, 4 * SR)]
    out = N.voices_babble(
        np.random.default_rng(seed),
        SR,
        SR,
        pool,
        exclude=0,
        talkers=(1, 1),
        formant=(1.0, 1.0),
        synthetic_prob=0.0,
        min_shift=1.1,
    )
    ratio = peak_hz(out) / 200.0
    assert 0.7 - 0.01 <= ratio <= 1.5 + 0.01
    assert ratio >= 1.1 - 0.01 or ratio <= 1 / 1.1 + 0.01, (
        f"pitch ratio {ratio:.3f} is within 10% of 1"
    )


def test_voices_babble_with_a_fixed_factor_moves_the_fundamental_exactly():
    pool = [tone(3000, SR), harmonic(200.0, 4 * SR)]
    out = N.voices_babble(
        np.random.default_rng(0),
        SR,
        SR,
        pool,
        exclude=0,
        talkers=(1, 1),
        pitch=(1.3, 1.3),
        formant=(0.9, 0.9),
        synthetic_prob=0.0,
        min_shift=1.0,
    )
    assert peak_hz(out) == pytest.approx(260.0, abs=2.0)


# -------------------------------------------------------------------------------------------- room
@pytest.mark.parametrize("rt60", [0.15, 0.3, 0.6])
def test_rir_has_the_requested_rt60_and_the_direct_path_first(rt60):
    rir = N.room_impulse_response(np.random.default_rng(5), SR, rt60, drr_db=6.0)
    assert (
        rir[0] == 1.0 and np.argmax(np.abs(rir)) == 0 and rir[1] == 0.0
    )  # direct path, then a gap
    tail = rir[1:]
    measured = schroeder_rt60(tail)
    assert measured == pytest.approx(rt60, rel=0.2), f"RT60 {measured:.3f} s, requested {rt60} s"
    drr = 10 * np.log10(1.0 / np.sum(tail.astype(np.float64) ** 2))
    assert drr == pytest.approx(6.0, abs=0.05)


def test_reverberate_keeps_alignment_and_level():
    y = (np.random.default_rng(8).standard_normal(SR // 2) * np.hanning(SR // 2)).astype(
        np.float32
    )  # no period
    rir = N.room_impulse_response(np.random.default_rng(6), SR, 0.4, drr_db=8.0)
    wet = N.reverberate(y, rir)
    assert wet.shape == y.shape and wet.dtype == np.float32
    assert np.sqrt(np.mean(wet.astype(np.float64) ** 2)) == pytest.approx(
        np.sqrt(np.mean(y.astype(np.float64) ** 2)), rel=1e-5
    )
    xc = np.correlate(wet.astype(np.float64), y.astype(np.float64), "full")
    assert (
        np.argmax(xc) - (len(y) - 1) == 0
    )  # the direct path leads: no delay against the dry speech
    assert not np.allclose(wet, y, atol=1e-3)


# --------------------------------------------------------------------------------- degrade_denoise
def speech(n: int = 8192, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.3 * harmonic(130.0 + 20 * seed, n, phase=1.0) + 0.01 * rng.standard_normal(n)).astype(
        np.float32
    )


@pytest.mark.parametrize("kind", ["varying", "babble", "babble_voices"])
@pytest.mark.parametrize("reverb", [0.0, 1.0])
def test_mixture_hits_the_drawn_snr_against_the_target(kind, reverb):
    y = speech()
    pool = [speech(12000, 1), y, speech(9000, 2)]
    d = D.degrade_denoise(
        y,
        np.random.default_rng(7),
        (-5.0, 20.0),
        (kind,),
        pool,
        target_rate=SR,
        exclude=1,
        voices=voice_bank(SR),
        options={"reverb_prob": reverb},
    )
    target = y if d.y is None else d.y
    assert (d.y is not None) == (reverb == 1.0) and ("reverb" in d.info) == (reverb == 1.0)
    noise = d.x.astype(np.float64) - target
    measured = 10 * np.log10(np.sum(target.astype(np.float64) ** 2) / np.sum(noise**2))
    assert abs(measured - d.info["snr_db"]) < 1e-3 and -5.0 <= d.info["snr_db"] <= 20.0
    if reverb:
        lo, hi = default_config().task.reverb_rt60
        assert lo <= d.info["reverb"]["rt60"] <= hi


def test_new_degradations_are_reproducible_per_seed():
    task = default_config().task
    task.update(
        name="denoise", noise_types=("white", "varying", "babble", "babble_voices"), reverb_prob=0.5
    )
    y = speech()
    pool = [speech(12000, 1), y, speech(9000, 2)]
    runs = [
        [
            D.degrade(
                y,
                task,
                np.random.default_rng([seed, g]),
                SR,
                pool,
                exclude=1,
                voices=voice_bank(SR),
            )
            for g in range(8)
        ]
        for seed in (3, 3, 4)
    ]
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a.x, b.x)
        assert a.info == b.info
    assert {d.info["noise"] for d in runs[0]} >= {
        "varying",
        "babble_voices",
    }  # the new types were exercised
    assert any("reverb" in d.info for d in runs[0]) and any("reverb" not in d.info for d in runs[0])
    assert not any(np.array_equal(a.x, c.x) for a, c in zip(runs[0], runs[2]))


def test_babble_of_voices_takes_its_bank_from_the_data_layer():
    # The tasks package renders no voices: the caller passes the bank, and a missing one is an error (it
    # would change which random numbers the example draws), not a quiet fallback to the pool alone.
    y = speech()
    pool = [speech(12000, 1), y, speech(9000, 2)]
    with pytest.raises(ValueError, match=r"'babble_voices' needs the synthetic voice bank"):
        D.degrade_denoise(y, np.random.default_rng(0), (0.0, 10.0), ("babble_voices",), pool)
    task = dict(default_config().task.to_dict(), name="denoise", noise_types=("babble_voices",))
    assert records.babble_voices(task, SR, "test") is voice_bank(SR, "test")
    assert records.babble_voices(dict(task, noise_types=("white", "babble")), SR, "test") == ()
    assert records.babble_voices(dict(task, name="sr"), SR, "train") == ()
    # Evaluation degrades with the "test" bank (voices training never hears), training with "train".
    task["babble_synthetic_prob"] = 1.0
    got = eval_clips.degrade_clip(y, task, 3, 0, SR, 4096, pool, exclude=1).x
    rng = records.example_rng(0, 3, records.EVAL)
    want = D.degrade(y, task, rng, SR, pool, exclude=1, voices=voice_bank(SR, "test")).x
    np.testing.assert_array_equal(got, want)
    rng = records.example_rng(0, 3, records.EVAL)
    other = D.degrade(y, task, rng, SR, pool, exclude=1, voices=voice_bank(SR, "train")).x
    assert not np.allclose(got, other)


def test_reverb_prob_zero_leaves_the_degradation_unchanged():
    # Existing configs (reverb_prob 0, the default) draw exactly what they drew before reverb existed:
    # the same generator state gives the same input, and no reverb keys appear.
    y = speech()
    a = D.degrade_denoise(y, np.random.default_rng(9), (0.0, 15.0), ("white", "pink", "brown"))
    b = D.degrade_denoise(
        y,
        np.random.default_rng(9),
        (0.0, 15.0),
        ("white", "pink", "brown"),
        options={"reverb_prob": 0.0},
    )
    np.testing.assert_array_equal(a.x, b.x)
    assert a.y is None and "reverb" not in a.info


# ------------------------------------------------------------------------ pipeline
def tone_source(freqs) -> list[dict]:
    return records.records_from_clips([0.3 * tone(f, SR) for f in freqs], SR)


FREQS = (400, 700, 1000, 1300, 1600, 1900)


def own_tone_share(row_clean: np.ndarray, row_noisy: np.ndarray) -> tuple[float, float]:
    """(the clean row's tone frequency, the share of the noise's energy within 20 Hz of it)."""
    freq = min(FREQS, key=lambda f: abs(f - peak_hz(row_clean, 100, 4000)))
    noise = row_noisy.astype(np.float64) - row_clean
    spec = np.abs(np.fft.rfft(noise * np.hanning(len(noise)))) ** 2
    f = np.fft.rfftfreq(len(noise), 1.0 / SR)
    return freq, float(spec[np.abs(f - freq) <= 20].sum() / spec.sum())


@pytest.mark.parametrize("noise", ["babble", "babble_voices"])
def test_training_and_evaluation_babble_never_use_the_clean_clip(noise):
    c = default_config()
    c.task.update(
        name="denoise",
        noise_types=(noise,),
        snr_db=(0.0, 0.0),
        babble_synthetic_prob=0.0,
        babble_pitch=(1.0, 1.0),
        babble_formant=(1.0, 1.0),
        babble_min_shift=1.0,
    )  # unshifted: tones stay
    c.data.update(sample_rate=SR, patch_length=4096)
    c.train.batch_size = 6
    source = tone_source(FREQS)
    with pipeline.train_loader(c, source) as it:
        batches = [next(it) for _ in range(4)]
    for b in batches:
        for clean, noisy in zip(b["y"][:, :, 0], b["x"][:, :, 0]):
            freq, share = own_tone_share(clean, noisy)
            assert share < 1e-3, (
                f"training babble of the {freq} Hz clip holds {share:.3f} of its own tone"
            )
    for ex in eval_clips.eval_examples(c, source):
        freq, share = own_tone_share(ex["y"], ex["x"])
        assert share < 1e-3, (
            f"evaluation babble of the {freq} Hz clip holds {share:.3f} of its own tone"
        )
