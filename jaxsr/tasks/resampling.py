"""The `sr` task's resamplers: how audio reaches the low rate (numpy / scipy / soxr, host side).

Why: a model trained on one decimator (the paper's, which empties the band just below the new Nyquist)
collapses on audio brought to the low rate by other resamplers, which keep that band. So
training can draw, per example, a chain like the ones people use (`draw_sr_chain`), and evaluation can
name one (`RESAMPLERS`). `jaxsr.tasks.degrade` turns the low-rate signal into the task's example;
`jaxsr.tasks.codecs` may first pass it through a codec.

A chain is a small JSON-able dict, `{"kind": ...}` plus its parameters; `sr_lowrate` applies it:
  paper     the paper's decimator (`decimate`)
  iir       `family` low-pass of `order` at `cutoff` x the new Nyquist, zero-phase (sosfiltfilt, as the
            linear-phase resamplers people use: a phase shift of the input against the target is
            something no model can undo), then every r-th sample. `rp` / `rs`: pass-band ripple /
            stop-band attenuation in dB (cheby1, ellip / cheby2, ellip). `cutoff` is the -3 dB point
            (butter, bessel with norm="mag"), the pass-band edge (cheby1, ellip) or the stop-band edge
            (cheby2), as scipy's `Wn` means for each family.
  causal    the same IIR applied once, forwards (sosfilt), then advanced by the peak of its impulse
            response, in whole samples: what remains is the filter's phase distortion (at most about 2
            samples of shift), which is why these chains are rare by default.
  fir       polyphase FIR decimation (`scipy.signal.resample_poly`) with a Kaiser-windowed sinc of
            2 * zeros * r + 1 taps, Kaiser `beta`, cutoff `cutoff` x the new Nyquist. zeros=10, beta=5,
            cutoff=1 is exactly scipy's default filter.
  soxr      `soxr.resample` at `quality` (QQ, LQ, MQ, HQ, VHQ; QQ has no anti-aliasing filter).
  nofilter  every r-th sample, no filter: aliasing, as a careless resampler does.
Every chain may carry `gain_db` (random chains: drawn from task.sr_gain_db), applied to input and target.
The low-rate signal always has ceil(time / r) samples, sample i at time i * r of the input, so the same
cubic spline brings every chain back to the target length.
"""

from __future__ import annotations

import functools
import numpy as np
import scipy.signal

from jaxsr.tasks.options import (
    IIR_FAMILIES,
    SR_CHAIN_KINDS,
    TaskOptions,
    check_ratio,
    check_signal,
    draw_uniform,
    task_option,
)


# ------------------------------------------------------------------------ the paper's decimator
def _antialias_sos(ratio: int) -> np.ndarray:
    # The same filter as scipy.signal.decimate's default IIR (cheby1, order 8, 0.05 dB ripple, cutoff
    # 0.8 of the new Nyquist), in second-order sections: the transfer-function form is numerically
    # fragile at r=8. Designed (and cached) by the chains' IIR designer.
    return _iir_sos("cheby1", 8, 0.8, ratio, 0.05, 60.0)


def lowpass_rows(y: np.ndarray, ratio: int) -> np.ndarray:
    """`[..., time] -> [..., time]`: the zero-phase anti-aliasing filter along the last axis."""
    sos = _antialias_sos(ratio)
    padlen = min(3 * (2 * len(sos) + 1), y.shape[-1] - 1)
    return scipy.signal.sosfiltfilt(sos, y, axis=-1, padlen=max(padlen, 0)).astype(np.float32)


def lowpass(y: np.ndarray, ratio: int) -> np.ndarray:
    """Zero-phase anti-aliasing lowpass for decimation by `ratio`. `[time] -> [time]`."""
    return lowpass_rows(check_signal(y), check_ratio(ratio))


def decimate(y: np.ndarray, ratio: int) -> np.ndarray:
    """Anti-aliased decimation: `[time] -> [ceil(time / ratio)]` (samples 0, r, 2r, ... after lowpass)."""
    return lowpass(y, ratio)[:: check_ratio(ratio)]


# ---------------------------------------------------------------------- real-world resampling chains
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
    "resample_poly": {
        "kind": "fir",
        "zeros": 10,
        "beta": 5.0,
        "cutoff": 1.0,
    },  # scipy's default filter
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
        text = (
            "Chebyshev I order 8, 0.05 dB, cutoff 0.8 x new Nyquist, zero-phase, decimate (paper)"
        )
    elif kind in ("iir", "causal"):
        extra = "".join(f", {k} {c[k]:g} dB" for k in ("rp", "rs") if k in c)
        how = "zero-phase" if kind == "iir" else "causal, delay-compensated"
        text = f"{c['family']} order {c['order']}{extra}, cutoff {c['cutoff']:.2f} x new Nyquist, {how}, decimate"
    elif kind == "fir":
        text = (
            f"resample_poly, Kaiser beta {c['beta']:g}, {c['zeros']} zero crossings, "
            f"cutoff {c['cutoff']:.2f} x new Nyquist"
        )
    elif kind == "soxr":
        text = f"soxr {c['quality']}"
    elif kind == "nofilter":
        text = "every r-th sample, no filter (aliasing)"
    else:
        raise ValueError(f"unknown chain kind {kind!r}; use one of {('paper',) + SR_CHAIN_KINDS}")
    return text + (f", gain {c['gain_db']:+.1f} dB" if c.get("gain_db") else "")


def draw_sr_chain(rng: np.random.Generator, task: TaskOptions | None = None) -> dict:
    """A random resampling chain (a dict, see above) drawn with `rng` from the `sr_*` fields of `task`
    (a `config.task` ConfigDict or dict; missing fields take `default_task()`)."""

    def get(key: str):
        return task_option(task, key)

    weights = dict(get("sr_chain_weights"))
    kinds = [k for k in SR_CHAIN_KINDS if weights.get(k, 0) > 0]
    if not kinds:
        raise ValueError(
            f"task.sr_chain_weights={weights}: at least one of {SR_CHAIN_KINDS} needs a positive weight"
        )
    p = np.array([weights[k] for k in kinds], np.float64)
    kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
    chain: dict = {"kind": kind}
    if kind in ("iir", "causal"):
        families = tuple(get("sr_iir_families"))
        family = families[int(rng.integers(len(families)))]
        lo, hi = (int(v) for v in get("sr_iir_order"))
        lo = max(lo, _MIN_ORDER.get(family, 1))
        chain.update(
            family=family,
            order=int(rng.integers(lo, max(lo, hi) + 1)),
            cutoff=_quantise(draw_uniform(rng, get("sr_cutoff")), _CUTOFF_STEP),
        )
        if family in ("cheby1", "ellip"):
            chain["rp"] = _RIPPLE_DB[int(rng.integers(len(_RIPPLE_DB)))]
        if family in ("cheby2", "ellip"):
            chain["rs"] = _STOPBAND_DB[int(rng.integers(len(_STOPBAND_DB)))]
    elif kind == "fir":
        lo, hi = (int(v) for v in get("sr_fir_zeros"))
        chain.update(
            zeros=int(rng.integers(lo, hi + 1)),
            beta=_quantise(draw_uniform(rng, get("sr_fir_beta")), _BETA_STEP),
            cutoff=_quantise(draw_uniform(rng, get("sr_cutoff")), _CUTOFF_STEP),
        )
    elif kind == "soxr":
        qualities = tuple(get("sr_soxr_qualities"))
        chain["quality"] = qualities[int(rng.integers(len(qualities)))]
    chain["gain_db"] = round(draw_uniform(rng, get("sr_gain_db")), 3)
    return chain


def _quantise(v: float, step: float) -> float:
    return round(round(v / step) * step, 6)


@functools.lru_cache(maxsize=16384)
def _iir_sos(
    family: str, order: int, cutoff: float, ratio: int, rp: float, rs: float
) -> np.ndarray:
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
    return (
        chain["family"],
        int(chain["order"]),
        float(chain["cutoff"]),
        ratio,
        float(chain.get("rp", 0.1)),
        float(chain.get("rs", 60.0)),
    )


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
    y = check_signal(y)
    ratio = check_ratio(ratio)
    return _lowrate(y, ratio, resampler_chain(chain) if isinstance(chain, str) else chain)


def _lowrate(y: np.ndarray, ratio: int, chain: dict) -> np.ndarray:
    kind, n = chain["kind"], len(y)
    n_low = -(-n // ratio)
    if kind == "paper":
        return lowpass_rows(y, ratio)[::ratio]
    y64 = y.astype(np.float64)
    if kind == "iir":
        out = _sosfiltfilt(_chain_sos(chain, ratio), y64)[::ratio]
    elif kind == "causal":
        sos = _chain_sos(chain, ratio)
        delay = _causal_delay(*_iir_design(chain, ratio))
        # Start in the steady state of the first sample (no switch-on transient), run `delay` samples past
        # the end, and drop the first `delay` outputs: the output is aligned with the input again.
        z = scipy.signal.sosfilt(
            sos,
            np.concatenate([y64, np.full(delay, y64[-1])]),
            zi=scipy.signal.sosfilt_zi(sos) * y64[0],
        )[0]
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
    return 2 * y[-1] - y[-2 : -k - 2 : -1]


def gain_and_lowrate(y: np.ndarray, ratio: int, chain: dict) -> tuple[np.ndarray, np.ndarray]:
    """(target `[time]`: `y` times the chain's gain, or `y` itself at 0 dB; its low-rate signal)."""
    g = float(chain.get("gain_db", 0.0) or 0.0)
    target = y if g == 0.0 else (y * np.float32(10.0 ** (g / 20.0))).astype(np.float32)
    return target, _lowrate(target, ratio, chain)
