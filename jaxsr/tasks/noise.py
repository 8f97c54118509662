"""Noise generation for the `denoise` task: what is added to clean speech, and the room it is heard in.

Every function is numpy, runs inside the input pipeline's workers and draws each random choice from the
`np.random.Generator` it is given (the example's generator), so an example is a function of
`(seed, example index)` whatever the worker count. Signals are float32 `[time]` at `target_rate`, the
rate of the clean speech the noise is added to. The synthetic voices of babble come in from the caller
(`voices`: the data layer renders them, `jaxsr.data.synthetic.voice_bank`), so this module needs numpy
and scipy only.

| function                | makes                                                                          |
|-------------------------|--------------------------------------------------------------------------------|
| `colored_noise`         | stationary Gaussian noise, PSD proportional to 1/f**exponent (white, pink, brown) |
| `varying_noise`         | non-stationary coloured noise: spectral tilt and level drift smoothly over time |
| `babble_noise`          | excerpts of other clips, summed unmodified (never the clean clip itself)       |
| `voices_babble`         | 3-8 talkers unlike the source speaker: other clips and synthetic voices, each   |
|                         | pitch- and formant-shifted (`shift_voice`, `warp_formants`)                    |
| `room_impulse_response` | a direct path followed by an exponentially decaying noise tail of a given RT60  |
| `reverberate`           | speech convolved with such a response, at the dry speech's RMS                 |
| `add_noise`             | speech plus noise scaled to an exact SNR                                       |

Why: a denoiser trained on stationary white/pink/brown noise and babble of its own speaker
gains +5.8 dB SI-SDR on its own test mixes but +0.5 dB on real babble of other people. Real noise
changes colour and level over time, real babble is other voices, and real speech carries some room.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from jaxsr.tasks.options import check_signal, draw_uniform


# ------------------------------------------------------------------------------------------ helpers
def _unit_rms(x: np.ndarray) -> np.ndarray:
    """`x` scaled to unit RMS, as float32 (all-zero input stays zero)."""
    rms = np.sqrt(np.mean(x**2))
    return (x / max(rms, 1e-12)).astype(np.float32)


# --------------------------------------------------------------------------------- stationary noise
def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise `[n]` with power spectral density proportional to 1/f**exponent, unit RMS.

    exponent 0: white, 1: pink, 2: brown. Shaped in the frequency domain (the DC bin is zeroed).
    """
    white = rng.standard_normal(n)
    if exponent == 0:
        out = white
    else:
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n)
        scale = np.zeros_like(f)
        scale[1:] = f[1:] ** (-exponent / 2.0)
        out = np.fft.irfft(spec * scale, n)
    return _unit_rms(out)


# ----------------------------------------------------------------------------- non-stationary noise
def _frame_hop(target_rate: int) -> int:
    """A power-of-two hop near 16 ms: frames of about 32 ms, short against the 0.2-2 s envelopes."""
    return int(2 ** round(math.log2(0.016 * target_rate)))


def _smooth_path(
    rng: np.random.Generator, positions: np.ndarray, step: float, lo: float, hi: float
) -> np.ndarray:
    """Values at sample `positions` (`[k]`, >= 0) of a random path through control points `step` samples
    apart, each uniform in [lo, hi], joined by raised-cosine segments (smooth: no corners a model could
    key on). The first control point lies a random fraction of `step` before sample 0, so the changes do
    not line up with patch starts."""
    n_ctl = int(math.ceil((float(np.max(positions)) + 1.0) / step)) + 2
    values = rng.uniform(lo, hi, n_ctl) if hi > lo else np.full(n_ctl, float(lo))
    pos = positions / step + rng.uniform()  # position in control-point units
    i = np.minimum(pos.astype(np.int64), n_ctl - 2)
    ease = 0.5 - 0.5 * np.cos(np.pi * (pos - i))
    return values[i] + (values[i + 1] - values[i]) * ease


def varying_noise(
    rng: np.random.Generator,
    n: int,
    target_rate: int,
    exponent: tuple[float, float] = (0.0, 2.0),
    level_db: tuple[float, float] = (3.0, 20.0),
    seconds: tuple[float, float] = (0.2, 2.0),
) -> np.ndarray:
    """Coloured noise `[n]` whose spectral tilt and level change smoothly over time, unit RMS overall.

    Per example: a time scale `T` uniform in `seconds` and a level swing `S` uniform in `level_db`. The
    PSD exponent (0 white, 1 pink, 2 brown) follows a smooth random path through values uniform in
    `exponent`, one every `T`; the level (dB) follows another through values uniform in [-S/2, S/2], so
    it swings by up to `S` dB over times of about `T`. Made as short frames (sine window, 50% overlap:
    the squared windows sum to one, so a constant tilt and level give stationary noise) of white noise,
    each shaped to its frame's exponent at unit expected power; the level is applied per sample.
    Costs about two FFTs of the signal's length.
    """
    hop = _frame_hop(target_rate)
    size = 2 * hop
    t_step = draw_uniform(rng, seconds)
    swing = draw_uniform(rng, level_db)
    step = max(t_step * target_rate, 1.0)
    n_frames = n // hop + 2  # frame k covers output samples (k - 1) * hop ... (k + 1) * hop - 1
    tilt = _smooth_path(
        rng, np.arange(n_frames) * float(hop), step, *exponent
    )  # at each frame's centre
    level = _smooth_path(rng, np.arange(n, dtype=np.float64), step, -swing / 2.0, swing / 2.0)

    f = np.fft.rfftfreq(size)
    logf = np.log(np.maximum(f, f[1]))
    scale = np.exp(-0.5 * tilt[:, None] * logf[None, :])  # [frames, bins]: amplitude f**(-e/2)
    scale[:, 0] = 0.0  # no DC
    # Unit expected power per frame: Parseval over the two-sided spectrum (DC and Nyquist counted once).
    weight = np.full(len(f), 2.0)
    weight[0] = weight[-1] = 1.0
    scale /= np.sqrt((scale**2 @ weight) / size)[:, None]
    frames = np.fft.irfft(
        np.fft.rfft(rng.standard_normal((n_frames, size)), axis=-1) * scale, size, axis=-1
    )
    window = np.sin(np.pi * (np.arange(size) + 0.5) / size)
    frames *= window
    # Overlap-add at hop = size / 2: output block k is frame k's second half plus frame k + 1's first half.
    out = (frames[:-1, hop:] + frames[1:, :hop]).reshape(-1)[:n]
    out = out * 10.0 ** (level / 20.0)
    return _unit_rms(out)


# ------------------------------------------------------------------------------------------- babble
def _other_index(rng: np.random.Generator, size: int, exclude: int | None) -> int:
    """A uniform index into a pool of `size`, redrawn while it is `exclude` (the clean clip itself).

    Redrawing (rather than drawing from size - 1) leaves every draw that is not `exclude` exactly as a
    draw without the exclusion, so the exclusion changes only the examples that would have hit it."""
    j = int(rng.integers(size))
    while j == exclude:
        j = int(rng.integers(size))
    return j


def _has_other(pool: Sequence, exclude: int | None) -> bool:
    return len(pool) > (1 if exclude is not None and 0 <= exclude < len(pool) else 0)


def _excerpt(rng: np.random.Generator, clip: np.ndarray, n: int) -> np.ndarray:
    """A random `[n]` window of `clip` (float64), or `clip` repeated to `n` samples if shorter."""
    clip = np.asarray(clip, np.float64)
    if len(clip) >= n:
        start = rng.integers(len(clip) - n + 1)
        return clip[start : start + n]
    return np.resize(clip, n)


def babble_noise(
    rng: np.random.Generator,
    n: int,
    pool: Sequence[np.ndarray],
    talkers: int = 4,
    exclude: int | None = None,
) -> np.ndarray:
    """Sum of `talkers` random excerpts of clips from `pool` (other speech), unit RMS, `[n]`.

    `exclude`: the index in `pool` of the clean clip itself, never drawn (ValueError if the pool has no
    other clip).
    """
    if not pool:
        raise ValueError("babble noise needs a pool of other clips (noise_pool); none was given.")
    if not _has_other(pool, exclude):
        raise ValueError(
            "babble noise is made from clips other than the clean one, and the pool (noise_pool) "
            "holds only the clean clip; give at least one other clip."
        )
    out = np.zeros(n, np.float64)
    for _ in range(talkers):
        seg = _excerpt(rng, pool[_other_index(rng, len(pool), exclude)], n)
        out += seg / max(np.sqrt(np.mean(seg**2)), 1e-8)
    return _unit_rms(out)


def shift_voice(x: np.ndarray, factor: float, n: int) -> np.ndarray:
    """`x` played `factor` times faster, band-limited, as `[n]` samples: pitch and formants both move by
    `factor` (and the tempo), the classic tape-speed voice change. `x` needs `ceil(n * factor)` samples
    (fewer are zero-extended).

    Sample i of the output is `x` at time `i * factor`. For factor > 1 `x` is first low-passed to
    1/factor of its Nyquist in the frequency domain (what would fold back is removed, not aliased), then
    read by linear interpolation (its sinc^2 response is the remaining, mild, imaging filter).
    """
    x = np.asarray(x, np.float64)
    m = int(math.ceil(n * factor)) + 1
    if len(x) < m:
        x = np.pad(x, (0, m - len(x)))
    x = x[:m]
    if factor > 1.0:
        import scipy.fft

        size = scipy.fft.next_fast_len(
            m, real=True
        )  # zero-padded: arbitrary lengths make slow FFTs
        spec = scipy.fft.rfft(x, size)
        spec[int(len(spec) / factor) :] = 0.0
        x = scipy.fft.irfft(spec, size)[:m]
    pos = np.arange(n) * factor
    return np.interp(pos, np.arange(m), x)


def _envelope_at(coarse: np.ndarray, block: int, positions: np.ndarray) -> np.ndarray:
    """Piecewise-linear envelope through block means: `coarse` `[frames, blocks]` holds the mean of bins
    `j * block ... (j + 1) * block - 1` at their centre; read at fractional bins `positions` `[bins]`
    (held flat beyond the first and last centre). Returns `[frames, bins]`."""
    u = np.clip((positions - (block - 1) / 2.0) / block, 0.0, coarse.shape[-1] - 1.0)
    lo = (
        np.minimum(u.astype(np.int64), coarse.shape[-1] - 2)
        if coarse.shape[-1] > 1
        else np.zeros(len(u), np.int64)
    )
    frac = (u - lo).astype(np.float32)
    hi = np.minimum(lo + 1, coarse.shape[-1] - 1)
    return coarse[:, lo] * (1.0 - frac) + coarse[:, hi] * frac


def warp_formants(x: np.ndarray, ratios: np.ndarray, target_rate: int) -> np.ndarray:
    """Move the spectral envelope of each row of `x` (`[talkers, time]`) up by `ratios[k]` (`[talkers]`)
    while keeping its harmonics (pitch) where they are. Returns float32 `[talkers, time]`.

    Per 32 ms frame (sine window, 50% overlap, which reconstructs exactly when nothing is changed) the
    envelope is the log of the mean power over blocks of about 400 Hz (wider than the harmonic spacing
    of voices up to 400 Hz of pitch) joined linearly: a smooth envelope through the harmonic peaks, as
    cepstral liftering gives, at a fraction of the cost. Each frame is divided by the envelope and
    multiplied by the envelope read at f / ratio, so formants move by `ratio` and the harmonics stay.
    The envelope is smooth, so a narrow resonance moves by somewhat less than `ratio`.
    """
    import scipy.fft

    x = np.asarray(x, np.float32)
    k, n = x.shape
    hop = _frame_hop(target_rate)
    size = 2 * hop
    n_frames = n // hop + 2
    padded = np.zeros((k, (n_frames + 1) * hop), np.float32)
    padded[:, hop : hop + n] = x
    idx = np.arange(size)[None, :] + hop * np.arange(n_frames)[:, None]
    window = np.sin(np.pi * (np.arange(size) + 0.5) / size).astype(np.float32)
    spec = scipy.fft.rfft(padded[:, idx] * window, axis=-1)  # [talkers, frames, bins], complex64
    bins = spec.shape[-1]
    block = max(1, int(round(400.0 * size / target_rate)))
    n_blocks = -(-bins // block)
    power = spec.real**2 + spec.imag**2
    power = np.concatenate([power, np.repeat(power[..., -1:], n_blocks * block - bins, -1)], -1)
    # Log of the block's mean power (not the mean of log magnitudes, which the deep valleys between
    # harmonics would drag down): half of it is the log-magnitude envelope through the harmonic peaks.
    coarse = 0.5 * np.log(
        power.reshape(k, n_frames, n_blocks, block).mean(-1) + 1e-12
    )  # [talkers, frames, blocks]
    here = np.arange(bins, dtype=np.float64)
    gain = np.empty(spec.shape, np.float32)
    for t in range(k):
        gain[t] = np.exp(
            _envelope_at(coarse[t], block, here / float(ratios[t]))
            - _envelope_at(coarse[t], block, here)
        )
    frames = scipy.fft.irfft(spec * gain, size, axis=-1) * window
    out = frames[:, :-1, hop:] + frames[:, 1:, :hop]  # overlap-add, as in varying_noise
    return out.reshape(k, -1)[:, :n]


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, min_shift: float = 1.0) -> float:
    """A factor log-uniform in [lo, hi] outside (1/min_shift, min_shift) where that leaves any room."""
    a, b = math.log(lo), math.log(hi)
    m = math.log(max(min_shift, 1.0))
    below, above = (
        max(0.0, min(b, -m) - a),
        max(0.0, b - max(a, m)),
    )  # lengths of the allowed pieces
    if m == 0.0 or below + above == 0.0:
        return float(math.exp(rng.uniform(a, b))) if b > a else float(lo)
    v = rng.uniform(0.0, below + above)
    return float(math.exp(a + v if v < below else max(a, m) + (v - below)))


def voices_babble(
    rng: np.random.Generator,
    n: int,
    target_rate: int,
    pool: Sequence[np.ndarray] = (),
    exclude: int | None = None,
    voices: Sequence[np.ndarray] = (),
    talkers: tuple[int, int] = (3, 8),
    pitch: tuple[float, float] = (0.7, 1.5),
    formant: tuple[float, float] = (0.85, 1.2),
    min_shift: float = 1.1,
    synthetic_prob: float = 0.5,
    level_db: float = 6.0,
) -> np.ndarray:
    """Babble `[n]` of several talkers that sound unlike the source speaker, unit RMS.

    The number of talkers is uniform in `talkers` (inclusive). Each is, with probability
    `synthetic_prob` (always when `pool` has no clip but the clean one), an excerpt of a synthetic voice
    from `voices` (`[time]` clips at `target_rate`), else of a clip of `pool` other than `exclude` (the clean clip's index: never used).
    Each talker gets a pitch factor p, log-uniform in `pitch` but at least `min_shift` away from 1 (so
    no talker is a clip's speaker unmodified), and a formant factor q, log-uniform in `formant`: the
    excerpt is played p times faster (`shift_voice`: pitch and formants x p), then its envelope is
    moved by q / p (`warp_formants`), leaving pitch x p and formants x q, as between real speakers
    (formants differ less than pitch). Talkers are normalised to unit RMS and mixed at levels uniform in
    [-level_db, 0] dB.
    """
    use_pool = _has_other(pool, exclude)
    if not use_pool and not len(voices):
        raise ValueError(
            "babble of voices needs other clips (noise_pool) or synthetic voices; got neither."
        )
    lo, hi = (int(v) for v in talkers)
    count = int(rng.integers(lo, hi + 1))
    rows = np.empty((count, n), np.float32)
    ratios = np.empty(count)
    for t in range(count):
        synthetic = not use_pool or (len(voices) > 0 and rng.random() < synthetic_prob)
        p = _log_uniform(rng, *pitch, min_shift=min_shift)
        q = _log_uniform(rng, *formant)
        source = (
            voices[int(rng.integers(len(voices)))]
            if synthetic
            else pool[_other_index(rng, len(pool), exclude)]
        )
        need = int(math.ceil(n * p)) + 1
        rows[t] = shift_voice(_excerpt(rng, source, need), p, n)
        ratios[t] = q / p
    rows = warp_formants(rows, ratios, target_rate).astype(np.float64)
    gains = 10.0 ** (rng.uniform(-level_db, 0.0, count) / 20.0) if level_db > 0 else np.ones(count)
    rms = np.sqrt(np.mean(rows**2, axis=1))
    out = (gains / np.maximum(rms, 1e-8)) @ rows
    return _unit_rms(out)


# ---------------------------------------------------------------------------------------- the room
def room_impulse_response(
    rng: np.random.Generator, target_rate: int, rt60: float, drr_db: float = 8.0
) -> np.ndarray:
    """A room impulse response `[round(rt60 * target_rate)]`: the direct path (1.0 at sample 0) then,
    after a 1-5 ms gap, Gaussian noise whose energy decays by 60 dB in `rt60` seconds (amplitude
    10**(-3 t / rt60)), scaled so the direct path holds `drr_db` dB more energy than the tail.

    The statistical model of late reverberation (Polack): enough for a denoiser to learn that a room's
    tail is part of the speech, not of the noise. The direct path comes first and is the largest sample.
    """
    if not rt60 > 0:
        raise ValueError(f"rt60 must be positive seconds; got {rt60!r}")
    m = max(int(round(rt60 * target_rate)), 2)
    t = np.arange(m) / target_rate
    tail = rng.standard_normal(m) * 10.0 ** (-3.0 * t / rt60)
    gap = 1 + int(rng.uniform(0.001, 0.005) * target_rate)  # before the first reflection arrives
    tail[:gap] = 0.0
    energy = float(np.sum(tail**2))
    if energy > 0:
        tail *= math.sqrt(10.0 ** (-drr_db / 10.0) / energy)
    rir = tail
    rir[0] = 1.0
    peak = np.max(np.abs(rir[1:])) if m > 1 else 0.0
    if (
        peak >= 1.0
    ):  # a tail sample above the direct path (only for a tiny rt60 at a low DRR): cap it
        rir[1:] *= 0.99 / peak
    return rir.astype(np.float32)


def reverberate(y: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """`y` (`[time]`) heard through `rir` (`[taps]`), causal, cut to `len(y)` and scaled to `y`'s RMS.

    The direct path is at lag 0, so the reverberant speech stays aligned with the dry speech. The tail
    of speech before the excerpt's start is missing (only the excerpt is at hand); at 0.5 s patches and
    RT60 <= 0.6 s that is a few tens of ms of weak tail at the start."""
    import scipy.signal

    y64 = np.asarray(y, np.float64)
    wet = scipy.signal.fftconvolve(y64, np.asarray(rir, np.float64))[: len(y64)]
    dry_rms, wet_rms = np.sqrt(np.mean(y64**2)), np.sqrt(np.mean(wet**2))
    if wet_rms > 0:
        wet *= dry_rms / wet_rms
    return wet.astype(np.float32)


# ------------------------------------------------------------------------------------------ mixing
def add_noise(y: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`y + g * noise` with `g` chosen so that 10 log10(|y|^2 / |g noise|^2) = snr_db exactly.
    `y`, `noise`: `[time]` -> `[time]` float32."""
    y = check_signal(y)
    p_sig = float(np.mean(y.astype(np.float64) ** 2))
    p_noise = float(np.mean(noise.astype(np.float64) ** 2))
    if p_noise == 0.0:
        raise ValueError("noise is all zeros; cannot scale it to an SNR.")
    g = np.sqrt(p_sig / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (y + g * noise).astype(np.float32)
