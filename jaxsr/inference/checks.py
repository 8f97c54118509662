"""Checking what a caller passes before any work: audio, rates, masks, task, and the memory it would take.

Every check raises a `ValueError` (or `MemoryError`) that names the argument and says what to do, or
warns where the input is legal but probably not what was meant (clipped audio, an ambiguous layout).
Audio comes back as float32 `[time, channels]`.
"""

from __future__ import annotations

import math
import os
import warnings

import ml_collections
import numpy as np

from jaxsr.audio_io import to_float32
from jaxsr.tasks.options import check_ratio

MAX_CHANNELS = 8
# Input rates `enhance` accepts without `allow_any_rate=True` (besides the model's own input rate). Outside
# them a rate is almost surely a wrong argument or a damaged header: `sample_rate=4` for 16 kHz audio, or a
# WAV claiming 7 Hz, would be "resampled" into an output thousands of times longer (minutes, gigabytes).
PLAUSIBLE_RATES = (1000.0, 768_000.0)
# `enhance` holds at most about this many float32 copies of its output at once, besides a float32 copy
# of its input: the model's input and output, the chunked model's padded copy, and the float64 work of the
# front end and the kept band, which run a piece at a time (about 4.3 at most on a minute of audio,
# measured with tracemalloc in tests/test_hostile_inputs.py; less on longer files). An output whose
# working set exceeds half of this machine's memory is refused up front instead of swapping for minutes.
WORKING_COPIES = 6


# ------------------------------------------------------------------------------------------ the task
def resolve_task(
    config: ml_collections.ConfigDict, task: str | None, ratio: int | None
) -> tuple[str, int | None]:
    """`(task, ratio)` the model will run: the trained ones; a different `task` / `ratio` is a ValueError."""
    trained = config.task.name
    if task is not None and task != trained:
        raise ValueError(
            f"task={task!r}: this model was trained for task {trained!r}"
            + (f" (ratio {config.task.ratio})" if trained == "sr" else "")
            + "; a model only restores the degradation it was trained on."
        )
    if trained != "sr":
        if ratio is not None:
            raise ValueError(
                f"ratio={ratio!r} only applies to the sr task; this model does {trained!r}."
            )
        return trained, None
    if ratio is not None and check_ratio(ratio) != config.task.ratio:
        # The residual learnt for one bandwidth does not transfer to another: refuse rather than guess.
        raise ValueError(
            f"ratio={ratio}: this model was trained for sr with ratio {config.task.ratio}; "
            "train (or load) a model for the ratio you need."
        )
    return trained, int(config.task.ratio)


def expected_input_rate(config: ml_collections.ConfigDict, band_limited: bool = False) -> float:
    """The rate `enhance` wants its input at: the low rate `target / ratio` for sr (unless band-limited)."""
    target = float(config.data.sample_rate)
    if config.task.name == "sr" and not band_limited:
        return target / config.task.ratio
    return target


# ------------------------------------------------------------------------------------ rates and memory
def check_rate(sample_rate: object) -> float:
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(
            f"sample_rate must be a positive number in Hz; got {sample_rate!r}"
        ) from None
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"sample_rate must be a positive number in Hz; got {sample_rate!r}")
    return rate


def _physical_memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX: no budget
        return None


def check_plausible(
    rate: float,
    want: float,
    allow_any_rate: bool,
    n_out: int,
    channels: int,
    target: int,
    *,
    input_samples: int = 0,
) -> None:
    """Refuse an implausible input rate (unless `allow_any_rate`) and an output too large for memory: its
    `WORKING_COPIES` float32 copies, plus the input's (`input_samples` per channel) as float32."""
    lo, hi = PLAUSIBLE_RATES
    if not allow_any_rate and not same_rate(rate, want) and not lo <= rate <= hi:
        raise ValueError(
            f"sample_rate={rate:g} Hz is outside the plausible range {lo:g}-{hi:g} Hz (a wrong argument or "
            f"a damaged file header?); this model expects {want:g} Hz. Pass the audio's true rate, or "
            "allow_any_rate=True (--any-rate) if the rate really is that."
        )
    memory = _physical_memory_bytes()
    need = 4 * channels * (WORKING_COPIES * n_out + input_samples)
    if memory is not None and need > memory // 2:
        raise MemoryError(
            f"restoring this audio gives {n_out * channels} output samples ({n_out / target:.0f} s x "
            f"{channels} channels at {target} Hz), which needs about {need / 2**30:.1f} GiB, more than half of "
            f"this machine's {memory / 2**30:.1f} GiB. Restore it in pieces (or stream it with "
            "jaxsr.Streamer), or check its sample rate."
        )


def same_rate(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(a, b)


# ------------------------------------------------------------------------------------------ the audio
def check_audio_array(
    audio, name: str = "audio", channels: int | None = None
) -> tuple[np.ndarray, bool]:
    """-> (float32 `[time, ch]`, was_1d). Errors name `name` and say what shape is expected."""
    a = np.asarray(audio)
    if a.dtype == bool or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise ValueError(
            f"{name}: dtype {a.dtype} is not audio; pass float samples in [-1, 1] or int16 PCM"
        )
    peak = int(np.abs(a.astype(np.int64)).max()) if a.dtype == np.int32 and a.size else 0
    if 0 < peak <= 32768:
        # int32 PCM is scaled by 2**31; 16-bit samples stored in int32 would come out 1/65536 as loud.
        warnings.warn(
            f"{name}: int32 samples that all fit the int16 range (peak {peak}) "
            "are read as 32-bit PCM, i.e. about -90 dBFS; if they are 16-bit samples, pass "
            "audio.astype(np.int16) (or float audio / 32768).",
            stacklevel=3,
        )
    try:
        a = to_float32(a)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    if a.ndim == 2 and 1 < a.shape[0] < a.shape[1] <= MAX_CHANNELS:
        # e.g. (2, 8): 2 samples of 8 channels, or 2 channels of 8 samples? Audio is [time, channels].
        warnings.warn(
            f"{name} has shape {a.shape}: read as {a.shape[0]} samples of {a.shape[1]} channels "
            "([time, channels]); if it is [channels, time], pass audio.T.",
            stacklevel=3,
        )
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must be shaped [time] or [time, channels]; got shape {a.shape}")
    was_1d = a.ndim == 1
    a = a if a.ndim == 2 else a[:, None]
    if a.shape[1] > MAX_CHANNELS:
        raise ValueError(
            f"{name} has shape {a.shape}, which reads as {a.shape[1]} channels (at most {MAX_CHANNELS}); "
            "audio must be [time, channels] (transpose a [channels, time] array)."
        )
    if a.shape[1] == 0:
        raise ValueError(f"{name} has no channels (shape {a.shape})")
    if channels is not None and a.shape[1] != channels:
        raise ValueError(f"{name} has {a.shape[1]} channels but this stream has {channels}")
    return a, was_1d


def check_finite(a: np.ndarray, name: str, ignore: np.ndarray | None = None) -> None:
    bad = ~np.isfinite(a)
    if ignore is not None:
        bad &= ~ignore
    if bad.any():
        t, c = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} has {int(bad.sum())} NaN or infinite samples (first at sample {t}, channel {c}); "
            "clean them first (or, for inpaint, mark them missing with mask=True)."
        )


def count_clipped(a: np.ndarray) -> int:
    """Samples of `a` (any shape) at full scale, |x| >= 0.999: how clipping shows in float audio."""
    return int(np.count_nonzero(np.abs(a) >= 0.999))


def warn_clipped(n_clipped: int, size: int, name: str) -> None:
    # A few full-scale peaks are normal; many mean the recording clipped, which the model never saw.
    if n_clipped >= max(16, 1e-3 * size):
        warnings.warn(
            f"{name}: {n_clipped} of {size} samples are at full scale (|x| >= 0.999): the input looks "
            "clipped; the model was not trained on clipping, so expect artefacts.",
            stacklevel=3,
        )


def check_mask(mask, x: np.ndarray, task_name: str, rate: float, target: int) -> np.ndarray | None:
    """`mask` as bool `[time, ch]` like `x`, or None."""
    if mask is None:
        return None
    if task_name != "inpaint":
        raise ValueError(f"mask only applies to the inpaint task; this model does {task_name!r}.")
    if not same_rate(rate, target):
        raise ValueError(
            f"mask: with a mask the audio must be at the model's rate {target} Hz (got {rate:g}); a mask "
            "cannot be resampled. Resample the audio and its mask yourself first."
        )
    m = np.asarray(mask)
    if m.dtype != bool:
        raise ValueError(
            f"mask must be a boolean array (True = missing sample); got dtype {m.dtype}"
        )
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2 or m.shape[0] != x.shape[0] or m.shape[1] not in (1, x.shape[1]):
        raise ValueError(
            f"mask has shape {np.shape(mask)}; it must be [time] or [time, channels] like audio {x.shape}"
        )
    return np.broadcast_to(m, x.shape)
