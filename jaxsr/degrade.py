"""The three restoration tasks: how a clean signal is degraded, and the classical baseline for each.

All functions work on float32 numpy arrays of shape `[time]` on the host (they run inside the input
pipeline's workers) and are deterministic given a `np.random.Generator`.

| task      | degradation                                              | model input = baseline            |
|-----------|----------------------------------------------------------|-----------------------------------|
| `sr`      | zero-phase order-8 Chebyshev I lowpass at 0.8 x new      | cubic spline through the low-rate |
|           | Nyquist, keep every r-th sample (as `scipy.signal.decimate`) | samples, back to full length  |
|           | ("paper"), or a randomly drawn real-world resampling chain  |                                 |
|           | ("random"), or a named resampler (`RESAMPLERS`); then,   |                                   |
|           | optionally, a codec on the low-rate signal (`sr_codec`)   |                                   |
| `denoise` | add stationary or time-varying coloured noise, babble of | the noisy signal                |
|           | other clips or of shifted/synthetic voices, or recorded  |                                   |
|           | noise at a random SNR, optionally after a generated room |                                   |
| `inpaint` | zero out gaps of random length and position              | linear interpolation across gaps  |

In every task the model input is the baseline itself, so the network learns a residual on top of the
classical method (`y = x + f(x)`). The sr resamplers (the paper's decimator, `RESAMPLERS`, random chains)
and codecs (`apply_codec`, `draw_sr_codec`) are `jaxsr.resamplers`, the denoise noises `jaxsr.noise`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import numpy as np
import scipy.interpolate

from jaxsr.config import NOISE_TYPES, TASKS, task_option
from jaxsr.noise import (
    draw_uniform,
    babble_noise,
    colored_noise,
    reverberate,
    room_impulse_response,
    synthetic_voices,
    varying_noise,
    voices_babble,
)
from jaxsr.resamplers import (
    TaskOptions,
    check_signal,
    gain_and_lowrate,
    lowpass_rows,
    apply_codec,
    check_codec,
    check_ratio,
    draw_sr_chain,
    draw_sr_codec,
    resampler_chain,
)


@dataclasses.dataclass(frozen=True)
class Degraded:
    """A degraded example. `x` and `baseline` are `[time]` at the target rate, `mask` is True where
    samples were removed (inpaint) and None otherwise, `info` describes what was done. `y` is the clean
    target `[time]` when the degradation changed it (sr "random" applies its gain to the target too) and
    None when the target is the clean input unchanged."""

    x: np.ndarray
    baseline: np.ndarray
    mask: np.ndarray | None = None
    info: dict | None = None
    y: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------- sr
def _spline_rows(x_lr: np.ndarray, ratio: int, length: int) -> np.ndarray:
    """`[..., time_lr] -> [..., length]`: not-a-knot cubic spline through samples at 0, r, 2r, ..."""
    knots = np.arange(x_lr.shape[-1]) * ratio
    if len(knots) < 4:
        # Too few points for a not-a-knot cubic; fall back to linear so short inputs still work.
        return np.apply_along_axis(
            lambda row: np.interp(np.arange(length), knots, row), -1, x_lr
        ).astype(np.float32)
    spline = scipy.interpolate.CubicSpline(
        knots, x_lr.astype(np.float64), axis=-1, bc_type="not-a-knot"
    )
    return spline(np.arange(length)).astype(np.float32)


# The windowed-sinc interpolator of the "sinc" front end: each output sample reads SINC_ZEROS low-rate
# samples on either side through a Kaiser-windowed sinc (beta 8.6: about 86 dB of stop band), flat to about
# 0.91 of the low Nyquist and closed by 1.09 of it. A plain FIR, so streaming it is exact with SINC_ZEROS
# samples of look-ahead (`jaxsr.inference.streaming`).
SINC_ZEROS = 32
SINC_BETA = 8.6


@functools.lru_cache(maxsize=16)
def sinc_taps(ratio: int) -> np.ndarray:
    """`[2 * SINC_ZEROS * ratio + 1]` float64: the interpolation filter of `sinc_upsample` (gain `ratio`)."""
    import scipy.signal

    return ratio * scipy.signal.firwin(
        2 * SINC_ZEROS * ratio + 1, 1.0 / ratio, window=("kaiser", SINC_BETA)
    )


def sinc_rows(x_lr: np.ndarray, ratio: int, length: int) -> np.ndarray:
    """`[..., time_lr] -> [..., length]`: windowed-sinc interpolation, sample i at position i * ratio."""
    import scipy.signal

    up = scipy.signal.upfirdn(sinc_taps(ratio), x_lr.astype(np.float64), up=ratio, axis=-1)
    delay = SINC_ZEROS * ratio  # the filter's centre: output p of the zero-phase interpolation
    up = up[..., delay : delay + length]
    if (
        up.shape[-1] < length
    ):  # past the last sample the interpolation decays to zero, as zero padding does
        up = np.concatenate([up, np.zeros(up.shape[:-1] + (length - up.shape[-1],))], axis=-1)
    return up.astype(np.float32)


def sinc_upsample(x_lr: np.ndarray, ratio: int, length: int | None = None) -> np.ndarray:
    """Band-limited (windowed-sinc) interpolation of low-rate samples back to the high rate: below about
    0.9 of the low rate's Nyquist the result is the input's own band, with no images above it.

    Sample `i` of `x_lr` sits at high-rate position `i * ratio`; the signal is taken as zero outside
    the given samples. `[time_lr] -> [length]` (default `len(x_lr) * ratio`).
    """
    x_lr = check_signal(x_lr, "x_lr")
    ratio = check_ratio(ratio)
    return sinc_rows(x_lr, ratio, len(x_lr) * ratio if length is None else int(length))


def upsample_rows(
    x_lr: np.ndarray, ratio: int, length: int, frontend: str = "spline"
) -> np.ndarray:
    """`[..., time_lr] -> [..., length]` float32 by the sr front end `frontend` ("spline": the paper's
    cubic spline; "sinc": `sinc_upsample`).

    Both work in float64, and the spline holds several copies of the output at once (its coefficients, the
    positions, the values), so a long signal (a file, not a training patch) is upsampled a piece of about
    2**18 output samples at a time, straight into the float32 output. Each piece is computed from its
    low-rate samples plus 64 on either side: past 64 samples a sample's weight in the not-a-knot spline has
    decayed by (2 - sqrt(3))**64 ~ 1e-37, far below float64 rounding, and the sinc reads only SINC_ZEROS =
    32. A piece that holds the last low-rate sample ends the way the whole signal does, extrapolation
    included, so the pieces give the whole signal's result to float rounding.
    """
    if frontend not in ("spline", "sinc"):
        raise ValueError(f"sr front end must be 'spline' or 'sinc'; got {frontend!r}")
    rows = sinc_rows if frontend == "sinc" else _spline_rows
    n_lr, context = x_lr.shape[-1], 64
    piece = max(4 * context, (1 << 18) // ratio)  # low-rate samples per piece
    if n_lr <= 2 * piece:
        return rows(x_lr, ratio, length)
    out = np.empty(x_lr.shape[:-1] + (length,), np.float32)
    for start in range(0, length, piece * ratio):  # output samples [start, stop)
        stop = min(start + piece * ratio, length)
        lo = max(0, min(start // ratio, n_lr - 1) - context)
        hi = min(n_lr, -(-stop // ratio) + context)
        out[..., start:stop] = rows(x_lr[..., lo:hi], ratio, stop - lo * ratio)[
            ..., start - lo * ratio :
        ]
    return out


def spline_upsample(x_lr: np.ndarray, ratio: int, length: int | None = None) -> np.ndarray:
    """Cubic-spline interpolation of low-rate samples back to the high rate.

    Sample `i` of `x_lr` sits at high-rate position `i * ratio`; the result has `length` samples
    (default `len(x_lr) * ratio`); positions past the last low-rate sample are extrapolated by the
    spline's last piece. `[time_lr] -> [length]`.
    """
    x_lr = check_signal(x_lr, "x_lr")
    ratio = check_ratio(ratio)
    return _spline_rows(x_lr, ratio, len(x_lr) * ratio if length is None else int(length))


def soxr_upsample(
    x_lr: np.ndarray, ratio: int, length: int | None = None, quality: str = "HQ"
) -> np.ndarray:
    """Another classical baseline: soxr (default HQ) from the low rate back to the high rate.

    Sample `i` of `x_lr` sits at high-rate position `i * ratio`, as for `spline_upsample` (soxr compensates
    its filter delay); the result is cut (or edge-padded) to `length` samples (default `len(x_lr) * ratio`).
    `[time_lr] -> [length]`.
    """
    import soxr

    x_lr = check_signal(x_lr, "x_lr")
    ratio = check_ratio(ratio)
    length = len(x_lr) * ratio if length is None else int(length)
    up = soxr.resample(x_lr.astype(np.float64), 1, ratio, quality=quality)
    if len(up) < length:
        up = np.pad(up, (0, length - len(up)), mode="edge")
    return np.asarray(up[:length], np.float32)


def sr_baseline_batch(y: np.ndarray, ratio: int, frontend: str = "spline") -> np.ndarray:
    """`degrade_sr(..., frontend=frontend).x` for every row of `y` at once: `[batch, time] -> [batch, time]`.

    The same numbers as the per-row function (scipy filters and splines each row independently);
    one call per batch keeps scipy's set-up cost off every example in the input pipeline.
    """
    y = np.asarray(y, np.float32)
    if y.ndim != 2 or y.shape[-1] == 0:
        raise ValueError(f"y must be a batch of signals [batch, time]; got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y has NaN or infinite samples; clean or drop them first.")
    ratio = check_ratio(ratio)
    return upsample_rows(lowpass_rows(y, ratio)[..., ::ratio], ratio, y.shape[-1], frontend)


def _low_rate(sample_rate: float | None, ratio: int, codec: str) -> float:
    if sample_rate is None:
        raise ValueError(f"codec {codec!r} needs the sample rate of the signal (sample_rate=...)")
    low = sample_rate / ratio
    check_codec(codec, low)
    return low


def degrade_sr(
    y: np.ndarray,
    ratio: int,
    chain: str | dict | None = None,
    *,
    codec: str = "",
    sample_rate: float | None = None,
    frontend: str = "spline",
) -> Degraded:
    """Low-rate version of `y` (`[time]`) made by `chain`, brought back by the front end (`frontend`: the
    cubic spline, or "sinc": `sinc_upsample`): `x == baseline`, `[time]`.

    `chain`: None or "paper" (the paper's decimator, `decimate`), a name of `RESAMPLERS`, or a chain dict
    from `draw_sr_chain`. A chain's `gain_db` scales input and target alike (the scaled target is `.y`).
    `codec` (a name of `SR_CODECS`, "" for none): the low-rate signal is encoded and decoded with it
    (`apply_codec`) before the spline; it needs `sample_rate`, the rate of `y`.
    """
    y = check_signal(y)
    ratio = check_ratio(ratio)
    if (chain is None or chain == "paper") and not codec:  # the paper's setup, bit for bit
        x = sr_baseline_batch(y[None], ratio, frontend)[0]
        return Degraded(x=x, baseline=x, info={"task": "sr", "ratio": ratio})
    chain = chain if isinstance(chain, dict) else resampler_chain(chain or "paper")
    target, x_lr = gain_and_lowrate(y, ratio, chain)
    info = {"task": "sr", "ratio": ratio, "chain": dict(chain)}
    if codec:
        x_lr = apply_codec(x_lr, _low_rate(sample_rate, ratio, codec), codec)
        info["codec"] = codec
    x = upsample_rows(x_lr, ratio, len(y), frontend)
    return Degraded(x=x, baseline=x, info=info, y=None if target is y else target)


def named_degradation(name: str, y: np.ndarray, ratio: int) -> Degraded:
    """`y` (`[time]`) brought to the low rate by the named resampler (`RESAMPLERS`) and spline-upsampled."""
    return degrade_sr(y, ratio, resampler_chain(name))


def sr_batch(
    y: np.ndarray,
    ratio: int,
    chains: Sequence[str | dict],
    *,
    codec: str | Sequence[str] = "",
    sample_rate: float | None = None,
    frontend: str = "spline",
) -> tuple[np.ndarray, np.ndarray]:
    """Row i of `y` degraded by `chains[i]` (then `codec`, or `codec[i]` given one per row; see `degrade_sr`):
    `[batch, time] -> (x [batch, time], target y [batch, time])`.

    The same numbers as `degrade_sr` row by row; the spline runs once for the whole batch.
    """
    y = np.asarray(y, np.float32)
    if y.ndim != 2 or y.shape[-1] == 0 or len(chains) != len(y):
        raise ValueError(
            f"y must be [batch, time] with one chain per row; got shape {y.shape} and "
            f"{len(chains)} chains"
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("y has NaN or infinite samples; clean or drop them first.")
    ratio = check_ratio(ratio)
    codecs = [codec] * len(y) if isinstance(codec, str) else list(codec)
    if len(codecs) != len(y):
        raise ValueError(f"codec: one per row or one for all; got {len(codecs)} for {len(y)} rows")
    targets = np.empty_like(y)
    low = np.empty((len(y), -(-y.shape[1] // ratio)), np.float32)
    for i, (row, chain, c) in enumerate(zip(y, chains, codecs)):
        targets[i], low[i] = gain_and_lowrate(
            row, ratio, resampler_chain(chain) if isinstance(chain, str) else chain
        )
        if c:
            low[i] = apply_codec(low[i], _low_rate(sample_rate, ratio, c), c)
    return upsample_rows(low, ratio, y.shape[1], frontend), targets


# ----------------------------------------------------------------------------------------- denoise
# The noise generators live in jaxsr.noise (one job: making noise).
#
# Noise types (task.noise_types, drawn uniformly per example): white / pink / brown (stationary colours),
# varying (colour and level drifting over time), babble (other clips of the source, unmodified),
# babble_voices (3-8 talkers unlike the source speaker: other clips and synthetic voices, pitch- and
# formant-shifted), folder (recorded noise, task.noise_dir). With probability task.reverb_prob the clean
# speech first goes through a generated room (RT60 in task.reverb_rt60) and the *reverberant* speech is
# the target: the model removes noise, not the room. Dereverberation is another task; folding it in
# would ask a 0.9 M-parameter denoiser to invert responses longer than its receptive field, and would
# teach it that a room's tail is noise to be removed, which it then strips from ordinary recordings.


def add_noise(y: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`y + g * noise` with `g` chosen so that 10 log10(|y|^2 / |g noise|^2) = snr_db exactly."""
    y = check_signal(y)
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
    *,
    sample_rate: int = 16000,
    exclude: int | None = None,
    voices: str = "train",
    options: TaskOptions | None = None,
) -> Degraded:
    """Add noise of a random type from `noise_types` at an SNR drawn uniformly from `snr_db`; `y` is `[time]`.

    `noise_pool`: clean clips for babble (`exclude`: the index in it of `y`'s own clip, never used).
    `noise_files`: recorded noise signals for "folder". `voices`: the synthetic voice bank of babble_voices
    ("train" for training, "test" for evaluation: `jaxsr.noise.synthetic_voices`). `options`: the task's
    denoise fields (`babble_*`, `varying_*`, `reverb_*`; missing ones take the config defaults).
    With probability `reverb_prob` the speech is reverberated first; the noisy input is then the
    reverberant speech plus noise at the drawn SNR, and `.y` is the reverberant speech (the target).
    With `reverb_prob` 0 no extra random numbers are drawn: configs without the field degrade exactly as with it at 0.
    With probability `clean_prob` (an option; 0 draws nothing) the example is left clean: `x` is `y`.
    """
    y = check_signal(y)
    for t in noise_types:
        if t not in NOISE_TYPES:
            raise ValueError(f"noise type {t!r} is not one of {NOISE_TYPES}.")
    if not len(noise_types):
        raise ValueError(f"noise_types is empty; give at least one of {NOISE_TYPES}.")
    clean_prob = float(task_option(options, "clean_prob"))
    if (
        clean_prob > 0 and rng.random() < clean_prob
    ):  # a clean example: the model must leave it alone
        return Degraded(
            x=y.copy(),
            baseline=y.copy(),
            info={"task": "denoise", "noise": "none", "snr_db": float("inf")},
        )
    kind = noise_types[rng.integers(len(noise_types))]
    snr = draw_uniform(rng, (snr_db, snr_db) if np.isscalar(snr_db) else snr_db)
    n = len(y)
    info: dict = {"task": "denoise", "noise": kind, "snr_db": snr}
    target = y
    reverb_prob = float(task_option(options, "reverb_prob"))
    if reverb_prob > 0 and rng.random() < reverb_prob:
        rt60 = draw_uniform(rng, task_option(options, "reverb_rt60"))
        drr = draw_uniform(rng, task_option(options, "reverb_drr_db"))
        target = reverberate(y, room_impulse_response(rng, sample_rate, rt60, drr))
        info["reverb"] = {"rt60": rt60, "drr_db": drr}
    if kind in ("white", "pink", "brown"):
        noise = colored_noise(rng, n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    elif kind == "varying":
        noise = varying_noise(
            rng,
            n,
            sample_rate,
            tuple(task_option(options, "varying_exponent")),
            tuple(task_option(options, "varying_level_db")),
            tuple(task_option(options, "varying_seconds")),
        )
    elif kind == "babble":
        noise = babble_noise(rng, n, noise_pool, exclude=exclude)
    elif kind == "babble_voices":
        noise = voices_babble(
            rng,
            n,
            sample_rate,
            noise_pool,
            exclude,
            synthetic_voices(int(sample_rate), voices),
            talkers=tuple(task_option(options, "babble_talkers")),
            pitch=tuple(task_option(options, "babble_pitch")),
            formant=tuple(task_option(options, "babble_formant")),
            min_shift=float(task_option(options, "babble_min_shift")),
            synthetic_prob=float(task_option(options, "babble_synthetic_prob")),
        )
    else:
        if not len(noise_files):
            raise ValueError(
                "noise type 'folder' needs recorded noise (task.noise_dir); none was loaded."
            )
        noise = babble_noise(rng, n, noise_files, talkers=1)
    x = add_noise(target, noise, snr)
    return Degraded(x=x, baseline=x, info=info, y=None if target is y else target)


# ----------------------------------------------------------------------------------------- inpaint
def gap_mask(
    rng: np.random.Generator,
    length: int,
    sample_rate: int,
    num_gaps: int,
    gap_ms: tuple[float, float],
) -> np.ndarray:
    """Boolean `[length]` mask, True inside `num_gaps` gaps of uniform random length in `gap_ms`.

    Gaps never touch the first or last sample, so linear interpolation always has both neighbours.
    Gaps are kept apart by at least one known sample (a start that would overlap or touch an earlier gap
    is redrawn), so the mask has `num_gaps` separate gaps, each within `gap_ms`, unless they cannot fit.
    """
    if length < 3:
        raise ValueError(
            f"inpainting needs a signal of at least 3 samples (a gap between two known ones); got {length}."
        )
    mask = np.zeros(length, bool)
    lo, hi = gap_ms
    for _ in range(int(num_gaps)):
        g = int(round(rng.uniform(lo, hi) * sample_rate / 1000.0))
        g = max(1, min(g, length - 2))
        for _attempt in range(100):  # rejection sampling; only redraws when gaps would merge
            start = int(rng.integers(1, length - g))  # in [1, length - g - 1]
            if not mask[start - 1 : start + g + 1].any():
                break
        mask[start : start + g] = True
    return mask


def linear_fill(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Replace samples where `mask` is True by linear interpolation between the known neighbours.
    `x`, `mask`: `[time]` -> `[time]` float32 (all zeros when nothing is known)."""
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
    y: np.ndarray,
    rng: np.random.Generator,
    sample_rate: int,
    num_gaps: int = 2,
    gap_ms: tuple[float, float] = (10.0, 50.0),
) -> Degraded:
    """Zero `num_gaps` random gaps of `gap_ms` (`gap_mask`) in `y` (`[time]`) and fill them linearly:
    `x == baseline` `[time]`, `.mask` `[time]` True in the gaps."""
    y = check_signal(y)
    mask = gap_mask(rng, len(y), sample_rate, num_gaps, gap_ms)
    zeroed = np.where(mask, 0.0, y).astype(np.float32)
    x = linear_fill(zeroed, mask)
    return Degraded(
        x=x, baseline=x, mask=mask, info={"task": "inpaint", "gap_samples": int(mask.sum())}
    )


# -------------------------------------------------------------------------------------------- task
def degrade(
    y: np.ndarray,
    task: TaskOptions,
    rng: np.random.Generator,
    sample_rate: int,
    noise_pool: Sequence[np.ndarray] = (),
    noise_files: Sequence[np.ndarray] = (),
    *,
    exclude: int | None = None,
    voices: str = "train",
) -> Degraded:
    """Degrade `y` (`[time]`) as `task` (a `config.task` ConfigDict or mapping) says.

    denoise: `noise_pool` is the babble pool and `exclude` the index in it of `y`'s own clip (None when
    the pool does not hold it); `voices` the synthetic voice bank ("train" or "test")."""
    name = task["name"] if isinstance(task, dict) else task.name
    get = (lambda k: task[k]) if isinstance(task, dict) else (lambda k: getattr(task, k))
    if name == "sr":
        mode = task_option(task, "sr_degradation")
        chain = (
            draw_sr_chain(rng, task) if mode == "random" else mode
        )  # "paper" or a named resampler
        codec = draw_sr_codec(
            rng, task, sample_rate / get("ratio")
        )  # after the chain: older runs draw the same
        return degrade_sr(
            y,
            get("ratio"),
            chain,
            codec=codec,
            sample_rate=sample_rate,
            frontend=task_option(task, "sr_frontend"),
        )
    if name == "denoise":
        return degrade_denoise(
            y,
            rng,
            tuple(get("snr_db")),
            tuple(get("noise_types")),
            noise_pool,
            noise_files,
            sample_rate=sample_rate,
            exclude=exclude,
            voices=voices,
            options=task,
        )
    if name == "inpaint":
        return degrade_inpaint(y, rng, sample_rate, get("num_gaps"), tuple(get("gap_ms")))
    raise ValueError(f"task name must be one of {TASKS}; got {name!r}.")
