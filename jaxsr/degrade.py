"""The three restoration tasks: how a clean signal is degraded, and the classical baseline for each.

All functions work on float32 numpy arrays of shape `[time]` on the host (they run inside the input
pipeline's workers) and are deterministic given a `np.random.Generator`.

| task      | degradation                                              | model input = baseline            |
|-----------|----------------------------------------------------------|-----------------------------------|
| `sr`      | zero-phase order-8 Chebyshev I lowpass at 0.8 x new      | cubic spline through the low-rate |
|           | Nyquist, keep every r-th sample (as `scipy.signal.decimate`) | samples, back to full length  |
| `denoise` | add white/pink/brown/babble/recorded noise at a random SNR | the noisy signal                |
| `inpaint` | zero out gaps of random length and position              | linear interpolation across gaps  |

In every task the model input is the baseline itself, so the network learns a residual on top of the
classical method (`y = x + f(x)`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import numpy as np
import scipy.interpolate
import scipy.signal

from jaxsr.config import NOISE_TYPES, SR_RATIOS, TASKS


@dataclasses.dataclass(frozen=True)
class Degraded:
    """A degraded example. `x` and `baseline` are `[time]` at the target rate, `mask` is True where
    samples were removed (inpaint) and None otherwise, `info` describes what was done."""

    x: np.ndarray
    baseline: np.ndarray
    mask: np.ndarray | None = None
    info: dict | None = None


def _check_signal(y: np.ndarray, name: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D signal [time]; got shape {y.shape}. Degrade each channel separately.")
    if y.size == 0:
        raise ValueError(f"{name} is empty; pass at least one sample.")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} has NaN or infinite samples; clean or drop them first.")
    return y.astype(np.float32, copy=False)


def check_ratio(ratio: int) -> int:
    if int(ratio) != ratio or int(ratio) not in SR_RATIOS:
        raise ValueError(f"ratio must be one of {SR_RATIOS}; got {ratio!r}.")
    return int(ratio)


# ---------------------------------------------------------------------------------------------- sr
@functools.lru_cache(maxsize=None)
def _antialias_sos(ratio: int) -> np.ndarray:
    # The same filter as scipy.signal.decimate's default IIR (cheby1, order 8, 0.05 dB ripple, cutoff
    # 0.8 of the new Nyquist), in second-order sections: the transfer-function form is numerically
    # fragile at r=8.
    return scipy.signal.cheby1(8, 0.05, 0.8 / ratio, output="sos")


def _lowpass_rows(y: np.ndarray, ratio: int) -> np.ndarray:
    """`[..., time] -> [..., time]`: the zero-phase anti-aliasing filter along the last axis."""
    sos = _antialias_sos(ratio)
    padlen = min(3 * (2 * len(sos) + 1), y.shape[-1] - 1)
    return scipy.signal.sosfiltfilt(sos, y, axis=-1, padlen=max(padlen, 0)).astype(np.float32)


def _spline_rows(x_lr: np.ndarray, ratio: int, length: int) -> np.ndarray:
    """`[..., time_lr] -> [..., length]`: not-a-knot cubic spline through samples at 0, r, 2r, ..."""
    knots = np.arange(x_lr.shape[-1]) * ratio
    if len(knots) < 4:
        # Too few points for a not-a-knot cubic; fall back to linear so short inputs still work.
        return np.apply_along_axis(lambda row: np.interp(np.arange(length), knots, row), -1, x_lr).astype(np.float32)
    spline = scipy.interpolate.CubicSpline(knots, x_lr.astype(np.float64), axis=-1, bc_type="not-a-knot")
    return spline(np.arange(length)).astype(np.float32)


def lowpass(y: np.ndarray, ratio: int) -> np.ndarray:
    """Zero-phase anti-aliasing lowpass for decimation by `ratio`. `[time] -> [time]`."""
    return _lowpass_rows(_check_signal(y), check_ratio(ratio))


def decimate(y: np.ndarray, ratio: int) -> np.ndarray:
    """Anti-aliased decimation: `[time] -> [ceil(time / ratio)]` (samples 0, r, 2r, ... after lowpass)."""
    return lowpass(y, ratio)[:: check_ratio(ratio)]


def spline_upsample(x_lr: np.ndarray, ratio: int, length: int | None = None) -> np.ndarray:
    """Cubic-spline interpolation of low-rate samples back to the high rate.

    Sample `i` of `x_lr` sits at high-rate position `i * ratio`; the result has `length` samples
    (default `len(x_lr) * ratio`); positions past the last low-rate sample are extrapolated by the
    spline's last piece. `[time_lr] -> [length]`.
    """
    x_lr = _check_signal(x_lr, "x_lr")
    ratio = check_ratio(ratio)
    return _spline_rows(x_lr, ratio, len(x_lr) * ratio if length is None else int(length))


def sr_baseline_batch(y: np.ndarray, ratio: int) -> np.ndarray:
    """`degrade_sr(...).x` for every row of `y` at once: `[batch, time] -> [batch, time]`.

    The same numbers as the per-row function (scipy filters and splines each row independently);
    one call per batch keeps scipy's set-up cost off every example in the input pipeline.
    """
    y = np.asarray(y, np.float32)
    if y.ndim != 2 or y.shape[-1] == 0:
        raise ValueError(f"y must be a batch of signals [batch, time]; got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y has NaN or infinite samples; clean or drop them first.")
    ratio = check_ratio(ratio)
    return _spline_rows(_lowpass_rows(y, ratio)[..., ::ratio], ratio, y.shape[-1])


def degrade_sr(y: np.ndarray, ratio: int) -> Degraded:
    x = sr_baseline_batch(_check_signal(y)[None], ratio)[0]
    return Degraded(x=x, baseline=x, info={"task": "sr", "ratio": int(ratio)})


# ----------------------------------------------------------------------------------------- denoise
def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectral density proportional to 1/f**exponent, unit RMS.

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
    rms = np.sqrt(np.mean(out**2))
    return (out / max(rms, 1e-12)).astype(np.float32)


def babble_noise(rng: np.random.Generator, n: int, pool: Sequence[np.ndarray], talkers: int = 4) -> np.ndarray:
    """Sum of `talkers` random excerpts of clips from `pool` (other speech), unit RMS."""
    if not pool:
        raise ValueError("babble noise needs a pool of other clips (noise_pool); none was given.")
    out = np.zeros(n, np.float64)
    for _ in range(talkers):
        clip = np.asarray(pool[rng.integers(len(pool))], np.float64)
        if len(clip) >= n:
            start = rng.integers(len(clip) - n + 1)
            seg = clip[start:start + n]
        else:
            seg = np.resize(clip, n)  # repeat short clips
        out += seg / max(np.sqrt(np.mean(seg**2)), 1e-8)
    rms = np.sqrt(np.mean(out**2))
    return (out / max(rms, 1e-12)).astype(np.float32)


def add_noise(y: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`y + g * noise` with `g` chosen so that 10 log10(|y|^2 / |g noise|^2) = snr_db exactly."""
    y = _check_signal(y)
    p_sig = float(np.mean(y.astype(np.float64) ** 2))
    p_noise = float(np.mean(noise.astype(np.float64) ** 2))
    if p_noise == 0.0:
        raise ValueError("noise is all zeros; cannot scale it to an SNR.")
    g = np.sqrt(p_sig / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (y + g * noise).astype(np.float32)


def degrade_denoise(
    y: np.ndarray,
    rng: np.random.Generator,
    snr_db: float | tuple[float, float] = (0.0, 15.0),
    noise_types: Sequence[str] = ("white", "pink", "brown"),
    noise_pool: Sequence[np.ndarray] = (),
    noise_files: Sequence[np.ndarray] = (),
) -> Degraded:
    """Add noise of a random type from `noise_types` at an SNR drawn uniformly from `snr_db`.

    `noise_pool`: clean clips used to make babble. `noise_files`: recorded noise signals for "folder".
    """
    y = _check_signal(y)
    for t in noise_types:
        if t not in NOISE_TYPES:
            raise ValueError(f"noise type {t!r} is not one of {NOISE_TYPES}.")
    if not len(noise_types):
        raise ValueError(f"noise_types is empty; give at least one of {NOISE_TYPES}.")
    kind = noise_types[rng.integers(len(noise_types))]
    lo, hi = (snr_db, snr_db) if np.isscalar(snr_db) else snr_db
    snr = float(rng.uniform(lo, hi)) if hi > lo else float(lo)
    n = len(y)
    if kind in ("white", "pink", "brown"):
        noise = colored_noise(rng, n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    elif kind == "babble":
        noise = babble_noise(rng, n, noise_pool)
    else:
        if not len(noise_files):
            raise ValueError("noise type 'folder' needs recorded noise (task.noise_dir); none was loaded.")
        noise = babble_noise(rng, n, noise_files, talkers=1)
    x = add_noise(y, noise, snr)
    return Degraded(x=x, baseline=x, info={"task": "denoise", "noise": kind, "snr_db": snr})


# ----------------------------------------------------------------------------------------- inpaint
def gap_mask(
    rng: np.random.Generator, length: int, sample_rate: int, num_gaps: int, gap_ms: tuple[float, float]
) -> np.ndarray:
    """Boolean `[length]` mask, True inside `num_gaps` gaps of uniform random length in `gap_ms`.

    Gaps never touch the first or last sample, so linear interpolation always has both neighbours.
    Gaps are kept apart by at least one known sample (a start that would overlap or touch an earlier gap
    is redrawn), so the mask has `num_gaps` separate gaps, each within `gap_ms`, unless they cannot fit.
    """
    if length < 3:
        raise ValueError(f"inpainting needs a signal of at least 3 samples (a gap between two known ones); got {length}.")
    mask = np.zeros(length, bool)
    lo, hi = gap_ms
    for _ in range(int(num_gaps)):
        g = int(round(rng.uniform(lo, hi) * sample_rate / 1000.0))
        g = max(1, min(g, length - 2))
        for _attempt in range(100):  # rejection sampling; only redraws when gaps would merge
            start = int(rng.integers(1, length - g))  # in [1, length - g - 1]
            if not mask[start - 1:start + g + 1].any():
                break
        mask[start:start + g] = True
    return mask


def linear_fill(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Replace samples where `mask` is True by linear interpolation between the known neighbours."""
    x = np.asarray(x, np.float32)
    if mask.shape != x.shape:
        raise ValueError(f"mask shape {mask.shape} does not match signal shape {x.shape}")
    if not mask.any():
        return x.copy()
    known = np.flatnonzero(~mask)
    if known.size == 0:
        return np.zeros_like(x)
    out = x.copy()
    holes = np.flatnonzero(mask)
    out[holes] = np.interp(holes, known, x[known])
    return out


def degrade_inpaint(
    y: np.ndarray, rng: np.random.Generator, sample_rate: int, num_gaps: int = 2,
    gap_ms: tuple[float, float] = (10.0, 50.0),
) -> Degraded:
    y = _check_signal(y)
    mask = gap_mask(rng, len(y), sample_rate, num_gaps, gap_ms)
    zeroed = np.where(mask, 0.0, y).astype(np.float32)
    x = linear_fill(zeroed, mask)
    return Degraded(x=x, baseline=x, mask=mask, info={"task": "inpaint", "gap_samples": int(mask.sum())})


# -------------------------------------------------------------------------------------------- task
def degrade(
    y: np.ndarray,
    task,
    rng: np.random.Generator,
    sample_rate: int,
    noise_pool: Sequence[np.ndarray] = (),
    noise_files: Sequence[np.ndarray] = (),
) -> Degraded:
    """Degrade `y` (`[time]`) as `task` (a `config.task` ConfigDict or mapping) says."""
    name = task["name"] if isinstance(task, dict) else task.name
    get = (lambda k: task[k]) if isinstance(task, dict) else (lambda k: getattr(task, k))
    if name == "sr":
        return degrade_sr(y, get("ratio"))
    if name == "denoise":
        return degrade_denoise(y, rng, tuple(get("snr_db")), tuple(get("noise_types")), noise_pool, noise_files)
    if name == "inpaint":
        return degrade_inpaint(y, rng, sample_rate, get("num_gaps"), tuple(get("gap_ms")))
    raise ValueError(f"task name must be one of {TASKS}; got {name!r}.")
