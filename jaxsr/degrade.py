"""The three restoration tasks: how a clean signal is degraded, and the classical baseline for each.

All functions work on float32 numpy arrays of shape `[time]` on the host (they run inside the input
pipeline's workers) and are deterministic given a `np.random.Generator`.

| task      | degradation                                              | model input = baseline            |
|-----------|----------------------------------------------------------|-----------------------------------|
| `sr`      | zero-phase order-8 Chebyshev I lowpass at 0.8 x new      | cubic spline through the low-rate |
|           | Nyquist, keep every r-th sample (as `scipy.signal.decimate`) | samples, back to full length  |
|           | ("paper"), or a randomly drawn real-world resampling chain  |                                 |
|           | ("random"), or a named resampler (`RESAMPLERS`)          |                                   |
| `denoise` | add stationary or time-varying coloured noise, babble of | the noisy signal                |
|           | other clips or of shifted/synthetic voices, or recorded  |                                   |
|           | noise at a random SNR, optionally after a generated room |                                   |
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

from jaxsr.config import IIR_FAMILIES, NOISE_TYPES, SR_CHAIN_KINDS, SR_RATIOS, TASKS
from jaxsr.noise import (babble_noise, colored_noise, reverberate, room_impulse_response,  # noqa: F401
                         synthetic_voices, varying_noise, voices_babble)


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


def soxr_upsample(x_lr: np.ndarray, ratio: int, length: int | None = None, quality: str = "HQ") -> np.ndarray:
    """Another classical baseline: soxr (default HQ) from the low rate back to the high rate.

    Sample `i` of `x_lr` sits at high-rate position `i * ratio`, as for `spline_upsample` (soxr compensates
    its filter delay); the result is cut (or edge-padded) to `length` samples (default `len(x_lr) * ratio`).
    `[time_lr] -> [length]`.
    """
    import soxr

    x_lr = _check_signal(x_lr, "x_lr")
    ratio = check_ratio(ratio)
    length = len(x_lr) * ratio if length is None else int(length)
    up = soxr.resample(x_lr.astype(np.float64), 1, ratio, quality=quality)
    if len(up) < length:
        up = np.pad(up, (0, length - len(up)), mode="edge")
    return np.asarray(up[:length], np.float32)


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


def degrade_sr(y: np.ndarray, ratio: int, chain: str | dict | None = None) -> Degraded:
    """Low-rate version of `y` (`[time]`) made by `chain`, spline-upsampled back: `x == baseline`, `[time]`.

    `chain`: None or "paper" (the paper's decimator, `decimate`), a name of `RESAMPLERS`, or a chain dict
    from `draw_sr_chain`. A chain's `gain_db` scales input and target alike (the scaled target is `.y`).
    """
    y = _check_signal(y)
    ratio = check_ratio(ratio)
    if chain is None or chain == "paper":  # unchanged from before chains existed: the paper's setup, bit for bit
        x = sr_baseline_batch(y[None], ratio)[0]
        return Degraded(x=x, baseline=x, info={"task": "sr", "ratio": ratio})
    chain = resampler_chain(chain) if isinstance(chain, str) else chain
    target, x_lr = _gain_and_lowrate(y, ratio, chain)
    x = _spline_rows(x_lr, ratio, len(y))
    return Degraded(x=x, baseline=x, info={"task": "sr", "ratio": ratio, "chain": dict(chain)},
                    y=None if target is y else target)


# ------------------------------------------------------------------- sr: real-world resampling chains
# Why: a model trained on one decimator (the paper's, which empties the band just below the new Nyquist)
# collapses on audio brought to the low rate by other resamplers, which keep that band (issue 13). So
# training can draw, per example, a chain like the ones people use, and evaluation can name one.
#
# A chain is a small JSON-able dict, `{"kind": ...}` plus its parameters; `sr_lowrate` applies it:
#   paper     the paper's decimator (`decimate`)
#   iir       `family` low-pass of `order` at `cutoff` x the new Nyquist, zero-phase (sosfiltfilt, as the
#             linear-phase resamplers people use: a phase shift of the input against the target is
#             something no model can undo), then every r-th sample. `rp` / `rs`: pass-band ripple /
#             stop-band attenuation in dB (cheby1, ellip / cheby2, ellip). `cutoff` is the -3 dB point
#             (butter, bessel with norm="mag"), the pass-band edge (cheby1, ellip) or the stop-band edge
#             (cheby2), as scipy's `Wn` means for each family.
#   causal    the same IIR applied once, forwards (sosfilt), then advanced by the peak of its impulse
#             response, in whole samples: what remains is the filter's phase distortion (at most about 2
#             samples of shift), which is why these chains are rare by default.
#   fir       polyphase FIR decimation (`scipy.signal.resample_poly`) with a Kaiser-windowed sinc of
#             2 * zeros * r + 1 taps, Kaiser `beta`, cutoff `cutoff` x the new Nyquist. zeros=10, beta=5,
#             cutoff=1 is exactly scipy's default filter.
#   soxr      `soxr.resample` at `quality` (QQ, LQ, MQ, HQ, VHQ; QQ has no anti-aliasing filter).
#   nofilter  every r-th sample, no filter: aliasing, as a careless resampler does.
# Every chain may carry `gain_db` (random chains: drawn from task.sr_gain_db), applied to input and target.
# The low-rate signal always has ceil(time / r) samples, sample i at time i * r of the input, so the same
# cubic spline brings every chain back to the target length.

# Drawn cutoffs are rounded to this step (fraction of the new Nyquist) and Kaiser betas to _BETA_STEP, so
# the designed filters can be cached: designing per example (a 12th-order Bessel takes about 1 ms) would
# cost more than filtering. 0.01 x Nyquist is far finer than anything a model could learn to tell apart.
_CUTOFF_STEP = 0.01
_BETA_STEP = 0.5
# Discrete ripple / attenuation choices for the random chains (dB): typical design values, few of them
# so that the number of distinct designs (about 7,000 per ratio) stays cacheable.
_RIPPLE_DB = (0.05, 0.1, 0.5, 1.0)
_STOPBAND_DB = (40.0, 60.0, 80.0)
# A Chebyshev II's cutoff is its stop-band edge, so at low orders its pass band is narrow: at order 4,
# 80 dB and cutoff 0.7 it is 37 dB down (zero-phase) at 0.2 x the new Nyquist, no anti-aliasing filter
# anyone uses. From order 6 it stays within 0.3 dB there for every drawn attenuation and cutoff.
_MIN_ORDER = {"cheby2": 6}

# Named resamplers for evaluation (`launch/evaluate.py --degradation NAME`, benchmarks/robustness.py)
# and for training on a single one (`task.sr_degradation = NAME`). None has a gain.
RESAMPLERS: dict[str, dict] = {
    "paper": {"kind": "paper"},
    "soxr_hq": {"kind": "soxr", "quality": "HQ"},
    "soxr_vhq": {"kind": "soxr", "quality": "VHQ"},
    "soxr_lq": {"kind": "soxr", "quality": "LQ"},
    "resample_poly": {"kind": "fir", "zeros": 10, "beta": 5.0, "cutoff": 1.0},  # scipy's default filter
    "fir_lowcut": {"kind": "fir", "zeros": 10, "beta": 5.0, "cutoff": 0.6},
    "butter4": {"kind": "iir", "family": "butter", "order": 4, "cutoff": 1.0},
    "cheby2": {"kind": "iir", "family": "cheby2", "order": 8, "cutoff": 1.0, "rs": 60.0},
    "ellip": {"kind": "iir", "family": "ellip", "order": 6, "cutoff": 0.95, "rp": 0.1, "rs": 80.0},
    "bessel6": {"kind": "iir", "family": "bessel", "order": 6, "cutoff": 0.9},
    "butter4_causal": {"kind": "causal", "family": "butter", "order": 4, "cutoff": 1.0},
    "decimate_nofilter": {"kind": "nofilter"},
}


def resampler_chain(name: str) -> dict:
    """The chain dict of a named resampler; a ValueError listing the names for an unknown one."""
    if name not in RESAMPLERS:
        raise ValueError(f"unknown resampler {name!r}; use one of: {', '.join(RESAMPLERS)}")
    return dict(RESAMPLERS[name])


def describe_chain(chain: str | dict) -> str:
    """One line of text for a chain (or a resampler name), for tables and logs."""
    c = resampler_chain(chain) if isinstance(chain, str) else chain
    kind = c["kind"]
    if kind == "paper":
        text = "Chebyshev I order 8, 0.05 dB, cutoff 0.8 x new Nyquist, zero-phase, decimate (paper)"
    elif kind in ("iir", "causal"):
        extra = "".join(f", {k} {c[k]:g} dB" for k in ("rp", "rs") if k in c)
        how = "zero-phase" if kind == "iir" else "causal, delay-compensated"
        text = f"{c['family']} order {c['order']}{extra}, cutoff {c['cutoff']:.2f} x new Nyquist, {how}, decimate"
    elif kind == "fir":
        text = (f"resample_poly, Kaiser beta {c['beta']:g}, {c['zeros']} zero crossings, "
                f"cutoff {c['cutoff']:.2f} x new Nyquist")
    elif kind == "soxr":
        text = f"soxr {c['quality']}"
    elif kind == "nofilter":
        text = "every r-th sample, no filter (aliasing)"
    else:
        raise ValueError(f"unknown chain kind {kind!r}; use one of {('paper',) + SR_CHAIN_KINDS}")
    return text + (f", gain {c['gain_db']:+.1f} dB" if c.get("gain_db") else "")


@functools.lru_cache(maxsize=1)
def _task_defaults() -> dict:
    """The config's task fields as a plain dict (jaxsr.config is the single source of the defaults)."""
    from jaxsr.config import default_config

    return default_config().task.to_dict()


def _task_get(task, key: str):
    """`task[key]` for a `config.task` ConfigDict or a plain dict; the config default when `task` is None
    or lacks the field (plain dicts in callers and tests, config.json files older than the sr_* and denoise
    option fields), so that such tasks degrade exactly as they did before those fields existed."""
    if task is not None:
        try:
            value = task[key]
        except (KeyError, AttributeError):
            pass
        else:
            return value.to_dict() if hasattr(value, "to_dict") else value
    return _task_defaults()[key]


def _uniform(rng: np.random.Generator, lo_hi) -> float:
    lo, hi = (float(v) for v in lo_hi)
    return float(rng.uniform(lo, hi)) if hi > lo else lo


def draw_sr_chain(rng: np.random.Generator, task=None) -> dict:
    """A random resampling chain (a dict, see above) drawn with `rng` from the `sr_*` fields of `task`
    (a `config.task` ConfigDict or dict; missing fields take the config defaults)."""
    def get(key: str):
        return _task_get(task, key)

    weights = dict(get("sr_chain_weights"))
    kinds = [k for k in SR_CHAIN_KINDS if weights.get(k, 0) > 0]
    if not kinds:
        raise ValueError(f"task.sr_chain_weights={weights}: at least one of {SR_CHAIN_KINDS} needs a positive weight")
    p = np.array([weights[k] for k in kinds], np.float64)
    kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
    chain: dict = {"kind": kind}
    if kind in ("iir", "causal"):
        families = tuple(get("sr_iir_families"))
        family = families[int(rng.integers(len(families)))]
        lo, hi = (int(v) for v in get("sr_iir_order"))
        lo = max(lo, _MIN_ORDER.get(family, 1))
        chain.update(family=family, order=int(rng.integers(lo, max(lo, hi) + 1)),
                     cutoff=_quantise(_uniform(rng, get("sr_cutoff")), _CUTOFF_STEP))
        if family in ("cheby1", "ellip"):
            chain["rp"] = _RIPPLE_DB[int(rng.integers(len(_RIPPLE_DB)))]
        if family in ("cheby2", "ellip"):
            chain["rs"] = _STOPBAND_DB[int(rng.integers(len(_STOPBAND_DB)))]
    elif kind == "fir":
        lo, hi = (int(v) for v in get("sr_fir_zeros"))
        chain.update(zeros=int(rng.integers(lo, hi + 1)), beta=_quantise(_uniform(rng, get("sr_fir_beta")), _BETA_STEP),
                     cutoff=_quantise(_uniform(rng, get("sr_cutoff")), _CUTOFF_STEP))
    elif kind == "soxr":
        qualities = tuple(get("sr_soxr_qualities"))
        chain["quality"] = qualities[int(rng.integers(len(qualities)))]
    chain["gain_db"] = round(_uniform(rng, get("sr_gain_db")), 3)
    return chain


def _quantise(v: float, step: float) -> float:
    return round(round(v / step) * step, 6)


@functools.lru_cache(maxsize=16384)
def _iir_sos(family: str, order: int, cutoff: float, ratio: int, rp: float, rs: float) -> np.ndarray:
    """Second-order sections of a digital low-pass at `cutoff` x the new Nyquist (cached: see _CUTOFF_STEP)."""
    wn = cutoff / ratio  # scipy's Wn is relative to the input's Nyquist
    if family == "butter":
        return scipy.signal.butter(order, wn, output="sos")
    if family == "cheby1":
        return scipy.signal.cheby1(order, rp, wn, output="sos")
    if family == "cheby2":
        return scipy.signal.cheby2(order, rs, wn, output="sos")
    if family == "ellip":
        return scipy.signal.ellip(order, rp, rs, wn, output="sos")
    if family == "bessel":
        return scipy.signal.bessel(order, wn, norm="mag", output="sos")
    raise ValueError(f"unknown IIR family {family!r}; use one of {IIR_FAMILIES}")


def _iir_design(chain: dict, ratio: int) -> tuple:
    """The arguments of `_iir_sos` / `_causal_delay` (their cache key) for an iir or causal chain."""
    return (chain["family"], int(chain["order"]), float(chain["cutoff"]), ratio,
            float(chain.get("rp", 0.1)), float(chain.get("rs", 60.0)))


def _chain_sos(chain: dict, ratio: int) -> np.ndarray:
    return _iir_sos(*_iir_design(chain, ratio))


@functools.lru_cache(maxsize=16384)
def _causal_delay(family: str, order: int, cutoff: float, ratio: int, rp: float, rs: float) -> int:
    """The delay, in whole samples, that re-aligns the causal filter's output: its impulse-response peak.

    That is where the cross-correlation of a white input with its filtered version peaks; on white and
    pink noise it leaves at most 2 samples of shift over the random-chain families, orders 2-12, cutoffs
    0.7-1 and r = 2-8 (the pass-band group delay, by contrast, leaves up to 4 for ripple filters).
    """
    sos = _iir_sos(family, order, cutoff, ratio, rp, rs)
    impulse = np.zeros(64 * ratio * max(order, 4))  # longer than any of these filters takes to peak
    impulse[0] = 1.0
    return int(np.argmax(scipy.signal.sosfilt(sos, impulse)))


@functools.lru_cache(maxsize=16384)
def _fir_taps(ratio: int, zeros: int, beta: float, cutoff: float) -> np.ndarray:
    """Kaiser-windowed sinc of 2 * zeros * ratio + 1 taps at `cutoff` x the new Nyquist (scipy's design)."""
    taps = scipy.signal.firwin(2 * zeros * ratio + 1, cutoff / ratio, window=("kaiser", beta))
    taps.setflags(write=False)  # shared through the cache
    return taps


def _sosfiltfilt(sos: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy's zero-phase filter with its default padding, shortened for signals shorter than that pad."""
    n_zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    padlen = 3 * (2 * len(sos) + 1 - n_zeros)  # scipy.signal.sosfiltfilt's default
    return scipy.signal.sosfiltfilt(sos, y, padlen=max(min(padlen, len(y) - 1), 0))


def sr_lowrate(y: np.ndarray, ratio: int, chain: str | dict = "paper") -> np.ndarray:
    """The low-rate signal `[ceil(time / ratio)]` that `chain` (a name of `RESAMPLERS` or a chain dict,
    without applying its gain) makes from `y` `[time]`; low-rate sample i sits at input sample i * ratio."""
    y = _check_signal(y)
    ratio = check_ratio(ratio)
    return _lowrate(y, ratio, resampler_chain(chain) if isinstance(chain, str) else chain)


def _lowrate(y: np.ndarray, ratio: int, chain: dict) -> np.ndarray:
    kind, n = chain["kind"], len(y)
    n_low = -(-n // ratio)
    if kind == "paper":
        return _lowpass_rows(y, ratio)[::ratio]
    y64 = y.astype(np.float64)
    if kind == "iir":
        out = _sosfiltfilt(_chain_sos(chain, ratio), y64)[::ratio]
    elif kind == "causal":
        sos = _chain_sos(chain, ratio)
        delay = _causal_delay(*_iir_design(chain, ratio))
        # Start in the steady state of the first sample (no switch-on transient), run `delay` samples past
        # the end, and drop the first `delay` outputs: the output is aligned with the input again.
        z = scipy.signal.sosfilt(sos, np.concatenate([y64, np.full(delay, y64[-1])]),
                                 zi=scipy.signal.sosfilt_zi(sos) * y64[0])[0]
        out = z[delay:][::ratio]
    elif kind == "fir":
        taps = _fir_taps(ratio, int(chain["zeros"]), float(chain["beta"]), float(chain["cutoff"]))
        out = scipy.signal.resample_poly(y64, 1, ratio, window=taps)
    elif kind == "soxr":
        import soxr  # a dependency of jaxsr.audio_io already; imported here to keep this module light

        # soxr returns about n / r samples, rounded; we need ceil(n / r). When r does not divide n, continue
        # the signal by `ratio` samples of its odd reflection (a smooth continuation) and cut the output.
        src = y64 if n % ratio == 0 else np.concatenate([y64, _odd_extension(y64, ratio)])
        out = soxr.resample(src, ratio, 1, quality=chain["quality"])
    elif kind == "nofilter":
        out = y64[::ratio]
    else:
        raise ValueError(f"unknown chain kind {kind!r}; use one of {('paper',) + SR_CHAIN_KINDS}")
    assert len(out) >= n_low, (kind, len(out), n_low)
    return np.asarray(out[:n_low], np.float32)


def _odd_extension(y: np.ndarray, k: int) -> np.ndarray:
    """`k` samples continuing `y` past its end by odd reflection about the last sample (edge value if short)."""
    if len(y) <= k:
        return np.full(k, y[-1])
    return 2 * y[-1] - y[-2:-k - 2:-1]


def _gain_and_lowrate(y: np.ndarray, ratio: int, chain: dict) -> tuple[np.ndarray, np.ndarray]:
    """(target `[time]`: `y` times the chain's gain, or `y` itself at 0 dB; its low-rate signal)."""
    g = float(chain.get("gain_db", 0.0) or 0.0)
    target = y if g == 0.0 else (y * np.float32(10.0 ** (g / 20.0))).astype(np.float32)
    return target, _lowrate(target, ratio, chain)


def named_degradation(name: str, y: np.ndarray, ratio: int) -> Degraded:
    """`y` (`[time]`) brought to the low rate by the named resampler (`RESAMPLERS`) and spline-upsampled."""
    return degrade_sr(y, ratio, resampler_chain(name))


def sr_batch(y: np.ndarray, ratio: int, chains: Sequence[str | dict]) -> tuple[np.ndarray, np.ndarray]:
    """Row i of `y` degraded by `chains[i]`: `[batch, time] -> (x [batch, time], target y [batch, time])`.

    The same numbers as `degrade_sr` row by row; the spline runs once for the whole batch.
    """
    y = np.asarray(y, np.float32)
    if y.ndim != 2 or y.shape[-1] == 0 or len(chains) != len(y):
        raise ValueError(f"y must be [batch, time] with one chain per row; got shape {y.shape} and "
                         f"{len(chains)} chains")
    if not np.all(np.isfinite(y)):
        raise ValueError("y has NaN or infinite samples; clean or drop them first.")
    ratio = check_ratio(ratio)
    targets = np.empty_like(y)
    low = np.empty((len(y), -(-y.shape[1] // ratio)), np.float32)
    for i, (row, chain) in enumerate(zip(y, chains)):
        targets[i], low[i] = _gain_and_lowrate(row, ratio, resampler_chain(chain) if isinstance(chain, str) else chain)
    return _spline_rows(low, ratio, y.shape[1]), targets


# ----------------------------------------------------------------------------------------- denoise
# The noise generators live in jaxsr.noise (one job: making noise); `colored_noise` and `babble_noise`
# stay importable from here, where they were first defined.
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
    *,
    sample_rate: int = 16000,
    exclude: int | None = None,
    voices: str = "train",
    options=None,
) -> Degraded:
    """Add noise of a random type from `noise_types` at an SNR drawn uniformly from `snr_db`; `y` is `[time]`.

    `noise_pool`: clean clips for babble (`exclude`: the index in it of `y`'s own clip, never used).
    `noise_files`: recorded noise signals for "folder". `voices`: the synthetic voice bank of babble_voices
    ("train" for training, "test" for evaluation: `jaxsr.noise.synthetic_voices`). `options`: the task's
    denoise fields (`babble_*`, `varying_*`, `reverb_*`; missing ones take the config defaults).
    With probability `reverb_prob` the speech is reverberated first; the noisy input is then the
    reverberant speech plus noise at the drawn SNR, and `.y` is the reverberant speech (the target).
    With `reverb_prob` 0 no extra random numbers are drawn: existing configs degrade exactly as before.
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
    info: dict = {"task": "denoise", "noise": kind, "snr_db": snr}
    target = y
    reverb_prob = float(_task_get(options, "reverb_prob"))
    if reverb_prob > 0 and rng.random() < reverb_prob:
        rt60 = _uniform(rng, _task_get(options, "reverb_rt60"))
        drr = _uniform(rng, _task_get(options, "reverb_drr_db"))
        target = reverberate(y, room_impulse_response(rng, sample_rate, rt60, drr))
        info["reverb"] = {"rt60": rt60, "drr_db": drr}
    if kind in ("white", "pink", "brown"):
        noise = colored_noise(rng, n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    elif kind == "varying":
        noise = varying_noise(rng, n, sample_rate, tuple(_task_get(options, "varying_exponent")),
                              tuple(_task_get(options, "varying_level_db")), tuple(_task_get(options, "varying_seconds")))
    elif kind == "babble":
        noise = babble_noise(rng, n, noise_pool, exclude=exclude)
    elif kind == "babble_voices":
        noise = voices_babble(rng, n, sample_rate, noise_pool, exclude, synthetic_voices(int(sample_rate), voices),
                              talkers=tuple(_task_get(options, "babble_talkers")),
                              pitch=tuple(_task_get(options, "babble_pitch")),
                              formant=tuple(_task_get(options, "babble_formant")),
                              min_shift=float(_task_get(options, "babble_min_shift")),
                              synthetic_prob=float(_task_get(options, "babble_synthetic_prob")))
    else:
        if not len(noise_files):
            raise ValueError("noise type 'folder' needs recorded noise (task.noise_dir); none was loaded.")
        noise = babble_noise(rng, n, noise_files, talkers=1)
    x = add_noise(target, noise, snr)
    return Degraded(x=x, baseline=x, info=info, y=None if target is y else target)


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
        mode = _task_get(task, "sr_degradation")
        if mode == "random":
            return degrade_sr(y, get("ratio"), draw_sr_chain(rng, task))
        return degrade_sr(y, get("ratio"), mode)  # "paper" or a named resampler
    if name == "denoise":
        return degrade_denoise(y, rng, tuple(get("snr_db")), tuple(get("noise_types")), noise_pool, noise_files,
                               sample_rate=sample_rate, exclude=exclude, voices=voices, options=task)
    if name == "inpaint":
        return degrade_inpaint(y, rng, sample_rate, get("num_gaps"), tuple(get("gap_ms")))
    raise ValueError(f"task name must be one of {TASKS}; got {name!r}.")
