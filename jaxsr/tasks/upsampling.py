"""The `sr` front ends: low-rate samples brought back to the target rate before the network.

The low-rate signal (`jaxsr.tasks.resampling`) has sample `i` at target-rate position `i * ratio`. A
front end interpolates it to the target length; the model's input is that signal (`y = x + f(x)`), so
training, evaluation and inference must use the same one (`task.sr_frontend`, `upsample_rows`):

  spline  the paper's not-a-knot cubic spline through the low-rate samples (`spline_upsample`)
  sinc    band-limited interpolation by a Kaiser-windowed sinc (`sinc_upsample`): the input's own band,
          no spectral images; a plain FIR, so `jaxsr.inference.streaming` streams it exactly

`soxr_upsample` is a third classical baseline for the benchmarks, not a front end. numpy / scipy / soxr,
host side, deterministic.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.interpolate

from jaxsr.tasks.options import check_ratio, check_signal


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
