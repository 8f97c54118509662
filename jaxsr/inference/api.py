"""Whole-signal restoration: `enhance` (input checks, then a plan of rates, lengths and chunks,
`EnhancePlan`, then the run: task front end, the chunked model, the output), plus the inpainting
helpers `zero_gaps` (find a gap mask) and `keep_known` (restore only the gaps).

    audio [time, ch] at any rate ──checks──> resample to the model's input rate (soxr, if needed)
        ──front end: sr: cubic spline or sinc to the target rate | inpaint: linear fill of the masked gaps──>
        [time', ch] at the target rate ──run the model in chunks──> (inpaint: keep the given samples)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Mapping

import ml_collections
import numpy as np
from numpy.typing import ArrayLike

from jaxsr.audio_io import resample
from jaxsr.tasks.options import task_option
from jaxsr.tasks.gaps import linear_fill
from jaxsr.tasks.upsampling import upsample_rows
from jaxsr.inference.checks import (
    check_audio_array,
    check_finite,
    check_mask,
    check_plausible,
    check_rate,
    same_rate,
    warn_clipped,
    count_clipped,
    expected_input_rate,
    resolve_task,
)
from jaxsr.inference.chunking import (
    ChunkPlan,
    check_inference_batch_size,
    chunk_plan,
    run_planned,
)
from jaxsr.inference.model import Model, resolve_model

log = logging.getLogger(__name__)


def keep_known(restored: np.ndarray, given: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Inpainting's output: the model's samples where `mask` is True (missing), the given ones elsewhere.

    The samples outside the gaps are known exactly, so the model must not change them; it only has to
    be right inside the gaps. All three arrays share one shape (`[time]` or `[time, channels]`).
    """
    return np.where(mask, restored, given).astype(np.float32, copy=False)


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """`x` `[time, ...]` cut or zero-padded to `n` samples: resampling rounds the length its own way."""
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros((n - len(x),) + x.shape[1:], x.dtype)])


# A long signal's post-processing runs a piece of this many samples at a time, so that its float64 and
# index arrays are a piece's, not the signal's (`enhance`'s working set: `checks.WORKING_COPIES`).
_PIECE = 1 << 18


def _fill_gaps(x: np.ndarray, miss: np.ndarray) -> np.ndarray:
    """`linear_fill` of each channel of `x` `[time, ch]` where `miss` is True, in place.

    A gap's fill reads only the known sample on either side of it, so the gaps are filled a few at a time,
    each group from a window reaching one sample past its first and last gap (at most `_PIECE` samples
    unless one gap is longer): the whole signal's numbers, without its index arrays (int64 and float64,
    four times the signal)."""
    n = len(x)
    for c in range(x.shape[1]):
        m = miss[:, c]
        edges = np.flatnonzero(np.diff(m, prepend=False, append=False))
        starts, ends = edges[::2], edges[1::2]  # gap k: samples [starts[k], ends[k])
        i = 0
        while i < len(starts):
            j = max(i + 1, int(np.searchsorted(ends, starts[i] + _PIECE, side="right")))
            lo, hi = max(starts[i] - 1, 0), min(ends[j - 1] + 1, n)
            x[lo:hi, c] = linear_fill(x[lo:hi, c], m[lo:hi])
            i = j
    return x


# Above the model's input band, an sr input at a rate between the model's input rate and its target rate
# counts as real content if it holds at least this share of the input's energy (-50 dB): speech holds
# about -17 dB there, a file upsampled from the model's input rate (an empty band) -90 dB or less.
_KEEP_BAND_MIN_SHARE = 1e-5
_CROSSOVER = (
    0.85,
    0.95,
)  # the kept band fades out over this span of the input's Nyquist (soxr's roll-off)


def _has_band_above(x: np.ndarray, rate: float, low_hz: float) -> bool:
    """Whether `x` `[time, ch]` at `rate` holds real content between `low_hz` and its own roll-off."""
    import scipy.signal

    # Welch's average periodogram: the memory of one segment, not of the file (an hour at 8 kHz is 29 M samples).
    freqs, psd = scipy.signal.welch(x, rate, nperseg=min(1024, len(x)), axis=0)
    band = psd[(freqs > 1.05 * low_hz) & (freqs < _CROSSOVER[0] * rate / 2)].sum()
    return bool(band > _KEEP_BAND_MIN_SHARE * max(psd.sum(), 1e-30))


def _keep_input_band(
    restored: np.ndarray, known: np.ndarray, rate: float, target: float
) -> np.ndarray:
    """`restored` `[time, ch]` with its band below the input's Nyquist `rate / 2` replaced by `known`'s (the
    input resampled to `target`): a zero-phase linear-phase FIR crossover fading over `_CROSSOVER` x rate/2,
    so that below it the output is the input's own audio and above it the model's."""
    import scipy.signal

    nyq = rate / 2
    numtaps, beta = scipy.signal.kaiserord(
        60.0, (_CROSSOVER[1] - _CROSSOVER[0]) * nyq / (target / 2)
    )
    taps = scipy.signal.firwin(
        numtaps | 1, sum(_CROSSOVER) / 2 * nyq, window=("kaiser", beta), fs=target
    )[:, None]
    half = len(taps) // 2  # odd taps: no delay
    # A piece at a time (FFT convolution works in float64): each output sample reads `half` samples of the
    # difference on either side, zero past the signal's ends as in the whole signal's "same" convolution.
    n, out = len(restored), np.empty_like(restored, dtype=np.float32)
    for a in range(0, n, _PIECE):
        b = min(a + _PIECE, n)
        lo, hi = max(a - half, 0), min(b + half, n)
        diff = np.pad(known[lo:hi] - restored[lo:hi], ((half - (a - lo), half - (hi - b)), (0, 0)))
        out[a:b] = restored[a:b] + scipy.signal.oaconvolve(diff, taps, mode="valid", axes=0)
    return out


@dataclasses.dataclass(frozen=True)
class EnhancePlan:
    """What `enhance` does to one input, settled from its rates and length before any audio work.

    Three rates: `input_rate`, the audio's; `model_input_rate`, the rate the model's front end takes (the
    low rate `target_rate / ratio` for sr, else the target rate; the audio is resampled to it when they
    differ); `target_rate`, the model's output rate. The output has `output_samples` samples at
    `target_rate` per channel.
    """

    task: str
    ratio: int | None
    band_limited: bool
    input_rate: float
    model_input_rate: float
    target_rate: int
    channels: int
    input_samples: int
    output_samples: int
    # sr audio with content above the model's input rate: that band is kept (`_keep_input_band`).
    keep_band: bool
    chunks: ChunkPlan
    batch_size: int

    @property
    def resampled(self) -> bool:
        return not same_rate(self.input_rate, self.model_input_rate)

    @property
    def upsampled(self) -> bool:
        """Whether the model's front end (spline or sinc) brings the audio to the target rate: sr, unless
        the audio is band-limited at the target rate already."""
        return self.task == "sr" and not self.band_limited


def _plan(
    config: ml_collections.ConfigDict,
    forward: Any,
    x: np.ndarray,
    input_rate: float,
    task: str,
    ratio: int | None,
    band_limited: bool,
    allow_any_rate: bool,
    chunk_length: int | None,
    batch_size: int | None,
) -> EnhancePlan:
    """The plan for `x` `[time, ch]` at `input_rate`; refuses (ValueError, MemoryError) what cannot run."""
    n, ch = x.shape
    target_rate = int(config.data.sample_rate)
    model_input_rate = expected_input_rate(config, band_limited)
    upsampled = task == "sr" and not band_limited
    n_out = (
        n * int(ratio)
        if upsampled and same_rate(input_rate, model_input_rate)
        else int(round(n * target_rate / input_rate))
    )
    if n_out < 1:
        raise ValueError(
            f"audio has {n} samples at {input_rate:g} Hz, less than one sample at the target rate "
            f"{target_rate} Hz."
        )
    check_plausible(
        input_rate, model_input_rate, allow_any_rate, n_out, ch, target_rate, input_samples=n
    )
    resampled = not same_rate(input_rate, model_input_rate)
    if resampled and upsampled and same_rate(input_rate, target_rate):
        log.warning(
            "enhance: the audio is already at the target rate %d Hz; it is treated as full-band and reduced "
            "to the low rate first. If it is band-limited audio at %d Hz, pass band_limited=True.",
            target_rate,
            target_rate,
        )
    # An sr input between the model's input rate and its target rate carries a band the model would otherwise
    # drop (8 kHz telephone audio given to a 4 -> 16 kHz model): it is kept, and the model restores above it.
    keep_band = (
        upsampled
        and resampled
        and model_input_rate < input_rate < target_rate
        and not same_rate(input_rate, target_rate)
        and _has_band_above(x, input_rate, model_input_rate / 2)
    )
    return EnhancePlan(
        task=task,
        ratio=ratio,
        band_limited=bool(band_limited),
        input_rate=input_rate,
        model_input_rate=model_input_rate,
        target_rate=target_rate,
        channels=ch,
        input_samples=n,
        output_samples=n_out,
        keep_band=keep_band,
        chunks=chunk_plan(config, chunk_length, forward=forward),
        batch_size=check_inference_batch_size(batch_size, config),
    )


def _run(
    plan: EnhancePlan,
    variables: Mapping,
    config: ml_collections.ConfigDict,
    forward: Any,
    x: np.ndarray,
    miss: np.ndarray | None,
) -> np.ndarray:
    """`x` `[time, ch]` at `plan.input_rate` (zero where `miss`) restored: `[output_samples, ch]` float32."""
    x_given = x
    if plan.resampled:
        log.info(
            "enhance: resampling input from %g Hz to %g Hz (the %s model's input rate)",
            plan.input_rate,
            plan.model_input_rate,
            plan.task,
        )
        x = resample(x, plan.input_rate, plan.model_input_rate, fractional=True)
    if plan.keep_band:
        log.info(
            "enhance: the %g Hz input carries audio above the model's %g Hz input band: its own band up to "
            "%g Hz is kept, and the model restores above it",
            plan.input_rate,
            plan.model_input_rate,
            _CROSSOVER[1] * plan.input_rate / 2,
        )
    n_out = plan.output_samples
    if plan.upsampled:  # the model's front end: the paper's spline, or windowed sinc
        frontend = task_option(config.task, "sr_frontend")
        x = upsample_rows(x.T, plan.ratio, n_out, frontend).T
    elif miss is not None:
        x = _fill_gaps(x, miss)
    x = _fit_length(x, n_out)
    y = run_planned(variables, config, x, plan.chunks, plan.batch_size, forward)
    if not np.all(np.isfinite(y)):
        raise FloatingPointError(
            "the model produced NaN/inf samples: the checkpoint is probably diverged."
        )
    if miss is not None:
        y = keep_known(y, x, miss)
    del x  # the model's input: not needed from here on (a copy of the output)
    if plan.keep_band:
        known = resample(x_given, plan.input_rate, plan.target_rate, fractional=True)
        y = _keep_input_band(y, _fit_length(known, n_out), plan.input_rate, plan.target_rate)
    return y


def enhance(
    params: Model | Mapping,
    audio: ArrayLike,
    *,
    sample_rate: float,
    config: ml_collections.ConfigDict | None = None,
    task: str | None = None,
    ratio: int | None = None,
    band_limited: bool = False,
    batch_size: int | None = None,
    return_info: bool = False,
    mask: ArrayLike | None = None,
    chunk_length: int | None = None,
    allow_any_rate: bool = False,
    runtime: str | None = None,
    precision: str | None = None,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Restore `audio` with a trained model; returns float32 at the model's target rate.

    `params`: a `Model` (from `jaxsr.load`) or a variables / params pytree plus `config`.
    `audio`: numpy or jax, `[time]` or `[time, channels]` (at most 8; each restored independently),
    float in [-1, 1] or int16 PCM. `sample_rate`: the rate of `audio`.

    * `sr`: `audio` at the low rate `target / ratio` is upsampled by the model's front end (the cubic
      spline, or windowed sinc for `task.sr_frontend = "sinc"`), then restored; with
      `band_limited=True` it is already at the target rate (band-limited). Other rates are resampled
      (soxr) to the expected one first; `info['resampled']` says so and it is logged. Input at a rate between
      the low rate and the target (8 kHz audio for a 4 -> 16 kHz model) keeps its own band: below its Nyquist
      the output is the input resampled to the target (a crossover over 0.85-0.95 of that Nyquist), above it
      the model's (`info['kept_input_band_hz']`), unless that band is empty (a file upsampled from the low rate).
    * `denoise` / `inpaint`: `audio` at the target rate (resampled otherwise). For inpaint, `mask`
      (`[time]` or like `audio`, True = missing; NaN allowed there) is linear-filled before the model,
      and only the masked samples are replaced: the others come back exactly as given (`keep_known`).

    The output has the same layout and duration: `round(len * target / sample_rate)` samples (for sr
    from the low rate exactly `len * ratio`). With `return_info=True` returns `(audio, info)`.

    The output is returned as computed, never clipped: restoring a band or removing noise can take a
    loud input past full scale (a peak of 0.99 in can come back as 1.01). `info['clipped_samples']`
    counts the input's samples at or past full scale and `info['output_clipped_samples']` the output's;
    a float file keeps them, an integer PCM file would clip them (scale the audio down first; `jaxsr
    enhance` warns).

    A `sample_rate` outside `PLAUSIBLE_RATES` (1-768 kHz; the model's own input rate is always fine) is
    refused unless `allow_any_rate=True`; an output whose working memory would exceed half of this
    machine's RAM is refused with MemoryError (restore it in pieces).

    `runtime` ("xla", "stablehlo", "onnxruntime", "openvino") and `precision` ("float32", "bfloat16")
    choose what runs the network (default: the Model's own, XLA float32 for a trained model); the
    chunking, the baselines and `keep_known` are the same for every runtime (`jaxsr.deploy.runtimes`).
    """
    t0 = time.perf_counter()
    variables, config, forward = resolve_model(params, config, runtime, precision)
    task_name, ratio = resolve_task(config, task, ratio)
    input_rate = check_rate(sample_rate)
    target_rate = int(config.data.sample_rate)
    if band_limited and task_name != "sr":
        raise ValueError(
            f"band_limited=True only applies to the sr task; this model does {task_name!r}."
        )
    if band_limited and input_rate < target_rate and not same_rate(input_rate, target_rate):
        raise ValueError(
            f"band_limited=True expects audio at the target rate {target_rate} Hz (already band-limited); "
            f"got sample_rate={sample_rate}. For low-rate input pass band_limited=False (it is upsampled)."
        )
    x, was_1d = check_audio_array(audio)
    if len(x) == 0:
        raise ValueError("audio is empty (0 samples); pass at least one sample.")
    miss = check_mask(mask, x, task_name, input_rate, target_rate)
    check_finite(x, "audio", ignore=miss)
    if miss is not None:
        x = np.where(miss, 0.0, x).astype(np.float32, copy=False)
    n_clipped = count_clipped(x)
    warn_clipped(n_clipped, x.size, "audio")
    plan = _plan(
        config,
        forward,
        x,
        input_rate,
        task_name,
        ratio,
        band_limited,
        allow_any_rate,
        chunk_length,
        batch_size,
    )
    y = _run(plan, variables, config, forward, x, miss)
    out = y[:, 0] if was_1d else y
    if not return_info:
        return out
    info = {
        "task": task_name,
        "ratio": ratio,
        "band_limited": plan.band_limited,
        "input_rate": input_rate,
        "model_input_rate": plan.model_input_rate,
        "output_rate": target_rate,
        "resampled": plan.resampled,
        "resampled_from": input_rate if plan.resampled else None,
        "resampled_to": plan.model_input_rate if plan.resampled else None,
        "kept_input_band_hz": _CROSSOVER[1] * input_rate / 2 if plan.keep_band else None,
        "runtime": "xla" if forward is None else forward.runtime,
        "precision": "float32" if forward is None else forward.precision,
        "channels": plan.channels,
        "input_samples": plan.input_samples,
        "output_samples": plan.output_samples,
        "seconds": plan.output_samples / target_rate,
        "clipped_samples": n_clipped,
        "output_clipped_samples": count_clipped(out),
        "masked_samples": int(miss.sum()) if miss is not None else 0,
        "chunk_length": plan.chunks.length,
        "overlap": plan.chunks.overlap,
        "batch_size": plan.batch_size,
        "elapsed_s": time.perf_counter() - t0,
    }
    if isinstance(params, Model):
        info["step"] = params.step
    return out, info


def zero_gaps(audio: ArrayLike, sample_rate: float, min_ms: float) -> np.ndarray:
    """A gap mask for `enhance(..., mask=)`: True on every run of exactly-zero samples lasting at least
    `min_ms` milliseconds, per channel. Dropped packets and recording dropouts are usually stored this way.
    Shorter zero runs (a quantised signal crossing zero) are left alone; digital silence longer than
    `min_ms` is marked too, and comes back as silence (exact zeros where it outlasts the receptive field).

    `audio`: `[time]` or `[time, channels]` -> bool of the same shape.
    """
    if not min_ms > 0:
        raise ValueError(f"min_ms must be > 0; got {min_ms!r}")
    x = np.asarray(audio)
    zero = (x == 0).reshape(len(x), -1)
    min_len = max(1, int(round(min_ms * 1e-3 * sample_rate)))
    out = np.zeros_like(zero)
    for c in range(zero.shape[1]):
        edges = np.diff(np.concatenate([[0], zero[:, c].astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if b - a >= min_len:
                out[a:b, c] = True
    return out.reshape(x.shape)
