"""Inference: restore whole signals (`enhance`), streams (`Streamer`), and the chunked core (`run_model`).

The model is applied to fixed-shape chunks so that a file of any length compiles nothing new:

    signal [time] ──pad──> chunks [n, L] (hop H = L - O) ──jit apply in batches──> [n, L]
                                       ──windowed overlap-add──> [time]

The overlap `O` is the model's receptive field on both sides plus a crossfade of length `F`: chunk k
and k+1 are crossfaded (raised cosine, weights summing to one) only where *both* saw their whole
receptive field inside the chunk, so the chunked result equals applying the model to the whole signal
(to float rounding) everywhere except within a receptive field of the signal's ends. Chunk starts are
multiples of H, itself a multiple of 2**(B+1), so every strided layer sees the same sampling grid as it
would on the whole signal.

    chunk k      |=========================\\______|
    chunk k+1                      |____/=========================
                                   |<Rl>|F|<Rr>|      (Rl, Rr: receptive field left / right)

Digital silence stays silent: an output sample whose input is exactly zero over the model's whole
receptive field is set to exactly zero (`silence_gate`), instead of the small constant the model's
biases produce there (~1e-4). Applied per chunk, it gives the same result as on the whole signal.

Shapes the jitted function sees: `[batch, L, 1]` with `batch` a power of two up to `batch_size`
(a partial batch is zero-padded to the next power of two), and `[channels, L', 1]` for the last chunk,
whose length L' is the smallest of L, L/2, L/4, L/8 that holds the rest of the signal (less padding;
a signal shorter than L is one such chunk). After a warm-up nothing recompiles per file.

Entry points: `load(workdir) -> Model`; `enhance(model, audio, sample_rate=...)` for whole signals
(task front end: cubic spline for sr from the low rate, linear fill of masked gaps for inpaint,
resampling of other rates); `Streamer` for blocks as they arrive; `run_model` for a signal already at
the target rate (used by training-time evaluation).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import pathlib
import time
import warnings
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import scipy.interpolate
import soxr

from jaxsr.audio_io import to_float32
from jaxsr.degrade import check_ratio, linear_fill, spline_upsample
from jaxsr.models import block_kernels, compute_dtype, length_multiple, model_from_config

log = logging.getLogger(__name__)

MAX_CHANNELS = 8
# Input rates `enhance` accepts without `allow_any_rate=True` (besides the model's own input rate). Outside
# them a rate is almost surely a wrong argument or a damaged header: `sample_rate=4` for 16 kHz audio, or a
# WAV claiming 7 Hz, would be "resampled" into an output thousands of times longer (minutes, gigabytes).
PLAUSIBLE_RATES = (1000.0, 768_000.0)
# `enhance` holds about this many float32 copies of its output at once (input at the target rate, padded
# copy, chunks, model outputs, overlap-add). An output whose working set exceeds half of this machine's
# memory is refused up front instead of swapping for minutes.
WORKING_COPIES = 8
# Knots of look-ahead / look-back for the streaming cubic spline. A not-a-knot spline's dependence on
# a knot decays by (2 - sqrt(3)) ~ 0.268 per knot, so 32 knots leave < 1e-18 of a boundary's effect.
SPLINE_CONTEXT = 32


# ----------------------------------------------------------------------------------- chunk geometry
def receptive_field(config: ml_collections.ConfigDict) -> tuple[int, int]:
    """`(left, right)`: output sample p depends on input samples `[p - left, p + right]` only.

    Derived layer by layer from the AudioUNet's convolutions (SAME padding, as `jax.lax` pads) and
    subpixel shuffles; exact for the architecture in `jaxsr.models`, checked in tests/test_enhance.py.
    """
    m = config.model
    kernels = block_kernels(m.num_blocks)

    def conv(k: int, dilation: int, stride: int, spacing: int) -> tuple[int, int]:
        eff = (k - 1) * dilation + 1
        pad_lo = max(eff - stride, 0) // 2
        return -pad_lo * spacing, (eff - 1 - pad_lo) * spacing

    lo, hi, skips = 0, 0, []
    for b, k in enumerate(kernels, start=1):  # down blocks: stride 2 at spacing 2**(b-1)
        a, c = conv(k, m.dilation, 2, 2 ** (b - 1))
        lo, hi = lo + a, hi + c
        skips.append((lo, hi))
    a, c = conv(kernels[-1], m.dilation, 2, 2 ** m.num_blocks)  # bottleneck
    lo, hi = lo + a, hi + c
    for b in reversed(range(1, m.num_blocks + 1)):  # up blocks: stride 1 at spacing 2**(b+1), then x2
        a, c = conv(kernels[b - 1], m.dilation, 1, 2 ** (b + 1))
        lo, hi = lo + a - 2 ** b, hi + c  # subpixel: output (2i+j) reads input i, offset in [-u/2, 0]
        lo, hi = min(lo, skips[b - 1][0]), max(hi, skips[b - 1][1])
    a, c = conv(m.final_kernel, 1, 1, 2)  # final conv has no dilation
    lo, hi = lo + a - 1, hi + c
    return -min(lo, 0), max(hi, 0)


def _round_up(n: int, m: int) -> int:
    return -(-int(n) // m) * m


@dataclasses.dataclass(frozen=True)
class ChunkPlan:
    """Where chunks start and how they are crossfaded (all in samples at the target rate).

    `length` L, `hop` H = L - overlap, `left` (receptive field kept clear at a chunk's start),
    `fade` F; the crossfade between chunk k and k+1 covers `[(k+1)H + left, (k+1)H + left + F)`.
    """

    length: int
    hop: int
    left: int
    fade: int
    multiple: int

    @property
    def overlap(self) -> int:
        return self.length - self.hop

    def num_chunks(self, n: int) -> int:
        return 1 if n <= self.length else 1 + -(-(n - self.length) // self.hop)

    def short_length(self, n: int) -> int:
        """The chunk length for `n <= length` samples (a short signal, or the last chunk): the smallest
        of 4 buckets L, L/2, L/4, L/8 that holds them, so that a few shapes serve every length."""
        buckets = sorted({max(self.multiple, _round_up(self.length >> i, self.multiple)) for i in range(4)})
        return next(b for b in buckets if b >= n)

    def last_length(self, n: int) -> int:
        """Length of the last chunk: bucketed down to what is left of the signal, to save padding."""
        return self.short_length(n - (self.num_chunks(n) - 1) * self.hop)

    @functools.lru_cache(maxsize=8)
    def window(self, first: bool, last: bool) -> np.ndarray:
        """Weight `[length]` of a chunk's output; neighbouring chunks' weights sum to one."""
        t = np.arange(self.length, dtype=np.float64) + 0.5

        def ramp(start: int) -> np.ndarray:  # raised cosine 0 -> 1 over [start, start + fade)
            return 0.5 - 0.5 * np.cos(np.pi * np.clip((t - start) / self.fade, 0.0, 1.0))

        w = np.ones(self.length)
        if not first:
            w = w * ramp(self.left)
        if not last:
            w = w * (1.0 - ramp(self.hop + self.left))
        return w.astype(np.float32)


def chunk_plan(config: ml_collections.ConfigDict, chunk_length: int | None = None) -> ChunkPlan:
    """The chunking used by `run_model` for `config`'s model.

    `chunk_length` (samples) defaults to `config.eval.chunk_length`, or 4 * `data.patch_length` when
    that is 0, raised if needed to twice the overlap. An explicit value must be a multiple of
    2**(num_blocks+1) and at least twice the overlap.
    """
    m = length_multiple(config.model.num_blocks)
    left, right = receptive_field(config)
    left, right = left + m, right + m  # a margin: exactness must not hinge on an off-by-one
    fade = _round_up(max(2 * m, 64), m)  # both chunks are exact here, so a short fade suffices
    overlap = _round_up(left + fade + right, m)
    minimum = 2 * overlap
    if chunk_length is None:
        default = int(config.eval.get("chunk_length", 0) or 4 * config.data.patch_length)
        length = max(_round_up(default, m), minimum)
    else:
        length = int(chunk_length)
        if length != chunk_length or length <= 0 or length % m:
            raise ValueError(f"chunk_length must be a positive multiple of {m} (model.num_blocks="
                             f"{config.model.num_blocks}); got {chunk_length!r}. Try {_round_up(max(length, 1), m)}.")
        if length < minimum:
            raise ValueError(f"chunk_length={length} is too short for this model: chunks overlap by {overlap} samples "
                             f"(its receptive field plus a crossfade), so use chunk_length >= {minimum}.")
    return ChunkPlan(length=length, hop=length - overlap, left=left, fade=fade, multiple=m)


# ------------------------------------------------------------------------------------ jitted apply
def _model_key(config: ml_collections.ConfigDict) -> str:
    return json.dumps({**config.model.to_dict(), "dtype": compute_dtype(config.dtype).name}, sort_keys=True)


@functools.lru_cache(maxsize=16)
def _jitted_apply(key: str, config_json: str):
    """One jitted eval-mode apply per model architecture and dtype; jax caches it per input shape."""
    del key  # the cache key; config_json carries the same information
    config = ml_collections.ConfigDict(json.loads(config_json))
    model = model_from_config(config)
    return jax.jit(lambda variables, x: model.apply(variables, x, train=False))


def _apply_fn(config: ml_collections.ConfigDict):
    cfg = ml_collections.ConfigDict({"model": config.model.to_dict(), "dtype": config.dtype})
    return _jitted_apply(_model_key(config), json.dumps(cfg.to_dict(), sort_keys=True))


def _batch_bucket(n: int, batch_size: int) -> int:
    return min(batch_size, 1 << max(0, (n - 1).bit_length()))


def silence_gate(x: np.ndarray, left: int, right: int) -> np.ndarray:
    """bool like `x` (`[n, L]`): True where row `x[i]` is exactly zero over `[p - left, p + right]`
    (samples outside the row count as zero, as the model's SAME padding sees them)."""
    n, length = x.shape
    nonzero = np.zeros((n, length + 1), np.int32)
    np.cumsum(x != 0, axis=1, dtype=np.int32, out=nonzero[:, 1:])
    p = np.arange(length)
    lo, hi = np.clip(p - left, 0, length), np.clip(p + right + 1, 0, length)
    return nonzero[:, hi] == nonzero[:, lo]


def apply_chunks(variables: Mapping, config: ml_collections.ConfigDict, chunks: np.ndarray,
                 batch_size: int) -> np.ndarray:
    """The model on each row of `chunks` `[n, L]` -> `[n, L]` float32, in zero-padded batches.

    Silence in, silence out: where a chunk is exactly zero over an output sample's whole receptive
    field, that sample is exactly zero. The model sees nothing but silence there, so nothing is lost:
    its output would be its biases' response to silence, a small constant (~1e-4) that turns digital
    silence (lead-ins, pauses, an all-zero file) into a DC offset. Gating each chunk equals gating the
    whole signal, because a chunk's output is only used where its receptive field lies inside it.
    """
    fn = _apply_fn(config)
    n, length = chunks.shape
    out = np.empty((n, length), np.float32)
    pending: list = []
    for i in range(0, n, batch_size):
        part = chunks[i:i + batch_size]
        b = _batch_bucket(len(part), batch_size)
        if b > len(part):
            part = np.concatenate([part, np.zeros((b - len(part), length), np.float32)])
        # Read results back two batches behind dispatch: host and device overlap, device memory stays bounded.
        pending.append((i, min(batch_size, n - i), fn(variables, jnp.asarray(part[:, :, None]))))
        if len(pending) > 2:
            j, k, y = pending.pop(0)
            out[j:j + k] = np.asarray(y)[:k, :, 0]
    for j, k, y in pending:
        out[j:j + k] = np.asarray(y)[:k, :, 0]
    out[silence_gate(chunks, *receptive_field(config))] = 0.0
    return out


def _add_chunk(out: np.ndarray, out_start: int, y: np.ndarray, k: int, plan: ChunkPlan, last: bool) -> None:
    """`out[:, p - out_start] += w_k(p) y_k(p)` for the positions p of chunk k inside `out` (`[ch, time]`)."""
    start = k * plan.hop
    lo, hi = max(start, out_start), min(start + y.shape[1], out_start + out.shape[1])
    if lo >= hi:
        return
    w = plan.window(k == 0, last)
    out[:, lo - out_start:hi - out_start] += w[lo - start:hi - start] * y[:, lo - start:hi - start]


def _as_device(variables: Mapping) -> Any:
    return jax.tree_util.tree_map(jnp.asarray, dict(variables))


def _run_planned(variables: Mapping, config: ml_collections.ConfigDict, x: np.ndarray, plan: ChunkPlan,
                 batch_size: int) -> np.ndarray:
    """`x` `[time, ch]` float32 -> model output `[time, ch]`: chunk, apply, overlap-add, trim."""
    n, ch = x.shape
    num = plan.num_chunks(n)
    last = plan.last_length(n)
    padded = np.zeros((ch, (num - 1) * plan.hop + max(last, plan.length)), np.float32)
    padded[:, :n] = x.T
    full = np.lib.stride_tricks.sliding_window_view(padded, plan.length, axis=1)[:, : (num - 1) * plan.hop: plan.hop]
    assert full.shape[1] == num - 1, (full.shape, num)
    y_full = apply_chunks(variables, config, full.reshape(ch * (num - 1), plan.length), batch_size)
    y_full = y_full.reshape(ch, num - 1, plan.length)
    start = (num - 1) * plan.hop
    y_last = apply_chunks(variables, config, np.ascontiguousarray(padded[:, start:start + last]), batch_size)
    out = np.zeros((ch, n), np.float32)
    for k in range(num - 1):
        _add_chunk(out, 0, y_full[:, k], k, plan, last=False)
    _add_chunk(out, 0, y_last, num - 1, plan, last=True)
    return out.T.copy()


def run_model(variables: Mapping, config: ml_collections.ConfigDict, x: np.ndarray | jax.Array, *,
              batch_size: int | None = None, chunk_length: int | None = None) -> np.ndarray:
    """The model (eval mode) on an already-degraded signal at the target rate, in chunks.

    `x`: `[time]` or `[time, channels]` (each channel restored independently) -> the same shape,
    float32. `batch_size` (chunks per forward pass) defaults to `default_batch_size(config)`;
    `chunk_length` see `chunk_plan`. Equal to the whole-signal application up to float rounding except
    within the receptive field of the signal's two ends.
    """
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.shape[0] == 0 or (x.ndim == 2 and x.shape[1] == 0):
        raise ValueError(f"run_model: x must be a non-empty [time] or [time, channels] signal; got shape {x.shape}")
    x2 = np.asarray(x, np.float32).reshape(x.shape[0], -1)
    batch_size = _check_batch_size(batch_size, config)
    y = _run_planned(_as_device(variables), config, x2, chunk_plan(config, chunk_length), batch_size)
    return y[:, 0] if x.ndim == 1 else y


def keep_known(restored: np.ndarray, given: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Inpainting's output: the model's samples where `mask` is True (missing), the given ones elsewhere.

    The samples outside the gaps are known exactly, so the model must not change them; it only has to
    be right inside the gaps. All three arrays share one shape (`[time]` or `[time, channels]`).
    """
    return np.where(mask, restored, given).astype(np.float32)


def default_batch_size(config: ml_collections.ConfigDict) -> int:
    """`config.eval.batch_size` on accelerators; 1 on CPU, where one 16k-32k-sample chunk already keeps
    the cores busy and a batch only adds zero-padding (measured in benchmarks/inference.py)."""
    return 1 if jax.default_backend() == "cpu" else int(config.eval.get("batch_size", 8))


def _check_batch_size(batch_size: int | None, config: ml_collections.ConfigDict) -> int:
    bs = batch_size if batch_size is not None else default_batch_size(config)
    if int(bs) != bs or int(bs) < 1:
        raise ValueError(f"batch_size must be a positive integer; got {bs!r}")
    return int(bs)


# ---------------------------------------------------------------------------------------- the model
@dataclasses.dataclass(frozen=True, eq=False)
class Model:
    """A restored model: what `enhance` and `Streamer` need, from `load(workdir)`.

    `variables`: `{'params', 'batch_stats'}` on the default device; `sample_rate`: the target (output)
    rate; `task`: `config.task` as a dict; `step`: the training step of the checkpoint.
    """

    variables: dict
    config: ml_collections.ConfigDict
    sample_rate: int
    task: dict
    step: int = 0
    path: str = ""

    @classmethod
    def from_variables(cls, variables: Mapping, config: ml_collections.ConfigDict, step: int = 0) -> "Model":
        variables = _normalise_variables(variables, config)
        return cls(variables=variables, config=config, sample_rate=int(config.data.sample_rate),
                   task=config.task.to_dict(), step=int(step))

    @property
    def input_rate(self) -> float:
        """Rate of the audio the task expects (the low rate for `sr`)."""
        return expected_input_rate(self.config, band_limited=False)

    def enhance(self, audio, *, sample_rate: float, **kwargs):
        return enhance(self, audio, sample_rate=sample_rate, **kwargs)

    def streamer(self, *, sample_rate: float, **kwargs) -> "Streamer":
        return Streamer(self, sample_rate=sample_rate, **kwargs)


def load(workdir_or_checkpoint: str | os.PathLike, which: str | int = "latest") -> Model:
    """Load a trained model for inference: a packaged model by name (`jaxsr.pretrained.available()`,
    e.g. "speech-sr-x4-16k"), or a training workdir (or one of its step directories).

    `which`: "latest", "best" or a step number. Raises FileNotFoundError / ValueError naming the path
    for a missing, half-written or other-version checkpoint (see `jaxsr.checkpoints.load_checkpoint`).
    """
    from jaxsr import pretrained

    text = os.fspath(workdir_or_checkpoint)
    path = pathlib.Path(text).expanduser()
    if not path.exists() and pretrained.is_name(text):
        if which not in ("latest", "best"):
            raise ValueError(f"{text!r} is a packaged model with one set of weights; drop which={which!r}")
        return pretrained.load(text)
    if not path.exists() and len(path.parts) == 1:  # a bare word: most likely a misspelt model name
        raise pretrained.unknown_name_error(text)
    from jaxsr.checkpoints import load_checkpoint  # orbax is only needed here

    restored = load_checkpoint(workdir_or_checkpoint, which)
    model = Model.from_variables(restored.variables, restored.config, restored.step)
    return dataclasses.replace(model, path=str(restored.path))


@functools.lru_cache(maxsize=16)
def _expected_shapes(key: str, config_json: str) -> dict:
    del key
    config = ml_collections.ConfigDict(json.loads(config_json))
    model = model_from_config(config)
    x = jnp.zeros((1, length_multiple(config.model.num_blocks), 1), jnp.float32)
    shapes = jax.eval_shape(lambda r: model.init({"params": r, "dropout": r}, x, train=False), jax.random.key(0))
    return {jax.tree_util.keystr(p): tuple(s.shape) for p, s in jax.tree_util.tree_leaves_with_path(dict(shapes))}


def _normalise_variables(params: Mapping, config: ml_collections.ConfigDict) -> dict:
    """A variables dict `{'params', ['batch_stats']}` checked against `config.model`, on the device."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a jaxsr.Model, a variables dict {{'params', 'batch_stats'}} or a "
                         f"params dict; got {type(params).__name__}")
    variables = dict(params) if "params" in params else {"params": params}
    if config.model.norm == "batch" and not variables.get("batch_stats"):
        raise ValueError("params: this model (model.norm='batch') needs its BatchNorm statistics; pass the variables "
                         "dict {'params': ..., 'batch_stats': ...} or a Model from jaxsr.load(workdir).")
    if not variables.get("batch_stats"):
        variables.pop("batch_stats", None)
    cfg = ml_collections.ConfigDict({"model": config.model.to_dict(), "dtype": "float32"})
    want = _expected_shapes(_model_key(cfg), json.dumps(cfg.to_dict(), sort_keys=True))
    got = {jax.tree_util.keystr(p): tuple(np.shape(a)) for p, a in jax.tree_util.tree_leaves_with_path(variables)}
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra
                  else f"{wrong[0]} has shape {got[wrong[0]]}, expected {want[wrong[0]]}")
        raise ValueError(f"params do not match config.model (num_blocks={config.model.num_blocks}, width="
                         f"{config.model.width}): {detail}. Pass the config the params were trained with.")
    return _as_device(variables)


def _resolve(params, config: ml_collections.ConfigDict | None) -> tuple[dict, ml_collections.ConfigDict]:
    if isinstance(params, Model):
        if config is not None and _model_key(config) != _model_key(params.config):
            raise ValueError("config: a Model carries its own config; pass config=None (or the same model config).")
        return params.variables, params.config
    if config is None:
        raise ValueError("config is required when params is a variables/params pytree (it says which model they "
                         "are); or pass a Model from jaxsr.load(workdir).")
    return _normalise_variables(params, config), config


def resolve_task(config: ml_collections.ConfigDict, task: str | None, ratio: int | None) -> tuple[str, int | None]:
    """`(task, ratio)` the model will run: the trained ones; a different `task` / `ratio` is a ValueError."""
    trained = config.task.name
    if task is not None and task != trained:
        raise ValueError(f"task={task!r}: this model was trained for task {trained!r}"
                         + (f" (ratio {config.task.ratio})" if trained == "sr" else "")
                         + "; a model only restores the degradation it was trained on.")
    if trained != "sr":
        if ratio is not None:
            raise ValueError(f"ratio={ratio!r} only applies to the sr task; this model does {trained!r}.")
        return trained, None
    if ratio is not None and check_ratio(ratio) != config.task.ratio:
        # The residual learnt for one bandwidth does not transfer to another: refuse rather than guess.
        raise ValueError(f"ratio={ratio}: this model was trained for sr with ratio {config.task.ratio}; "
                         "train (or load) a model for the ratio you need.")
    return trained, int(config.task.ratio)


def expected_input_rate(config: ml_collections.ConfigDict, band_limited: bool = False) -> float:
    """The rate `enhance` wants its input at: the low rate `target / ratio` for sr (unless band-limited)."""
    target = float(config.data.sample_rate)
    if config.task.name == "sr" and not band_limited:
        return target / config.task.ratio
    return target


# ------------------------------------------------------------------------------------------ enhance
def _check_rate(sample_rate) -> float:
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(f"sample_rate must be a positive number in Hz; got {sample_rate!r}") from None
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"sample_rate must be a positive number in Hz; got {sample_rate!r}")
    return rate


def _physical_memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX: no budget
        return None


def _check_plausible(rate: float, want: float, allow_any_rate: bool, n_out: int, channels: int, target: int) -> None:
    """Refuse an implausible input rate (unless `allow_any_rate`) and an output too large for memory."""
    lo, hi = PLAUSIBLE_RATES
    if not allow_any_rate and not _same_rate(rate, want) and not lo <= rate <= hi:
        raise ValueError(f"sample_rate={rate:g} Hz is outside the plausible range {lo:g}-{hi:g} Hz (a wrong argument or "
                         f"a damaged file header?); this model expects {want:g} Hz. Pass the audio's true rate, or "
                         "allow_any_rate=True (--any-rate) if the rate really is that.")
    memory = _physical_memory_bytes()
    need = WORKING_COPIES * 4 * n_out * channels
    if memory is not None and need > memory // 2:
        raise MemoryError(f"restoring this audio gives {n_out * channels} output samples ({n_out / target:.0f} s x "
                          f"{channels} channels at {target} Hz), which needs about {need / 2**30:.1f} GiB, more than half of "
                          f"this machine's {memory / 2**30:.1f} GiB. Restore it in pieces (or stream it with "
                          "jaxsr.Streamer), or check its sample rate.")


def _same_rate(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(a, b)


def _check_audio(audio, name: str = "audio", channels: int | None = None) -> tuple[np.ndarray, bool]:
    """-> (float32 `[time, ch]`, was_1d). Errors name `name` and say what shape is expected."""
    a = np.asarray(audio)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name}: dtype {a.dtype} is not audio; pass float samples in [-1, 1] or int16 PCM")
    peak = int(np.abs(a.astype(np.int64)).max()) if a.dtype == np.int32 and a.size else 0
    if 0 < peak <= 32768:
        # int32 PCM is scaled by 2**31; 16-bit samples stored in int32 would come out 1/65536 as loud.
        warnings.warn(f"{name}: int32 samples that all fit the int16 range (peak {peak}) "
                      "are read as 32-bit PCM, i.e. about -90 dBFS; if they are 16-bit samples, pass "
                      "audio.astype(np.int16) (or float audio / 32768).", stacklevel=3)
    try:
        a = to_float32(a)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    if a.ndim == 2 and 1 < a.shape[0] < a.shape[1] <= MAX_CHANNELS:
        # e.g. (2, 8): 2 samples of 8 channels, or 2 channels of 8 samples? Audio is [time, channels].
        warnings.warn(f"{name} has shape {a.shape}: read as {a.shape[0]} samples of {a.shape[1]} channels "
                      "([time, channels]); if it is [channels, time], pass audio.T.", stacklevel=3)
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must be shaped [time] or [time, channels]; got shape {a.shape}")
    was_1d = a.ndim == 1
    a = a if a.ndim == 2 else a[:, None]
    if a.shape[1] > MAX_CHANNELS:
        raise ValueError(f"{name} has shape {a.shape}, which reads as {a.shape[1]} channels (at most {MAX_CHANNELS}); "
                         "audio must be [time, channels] (transpose a [channels, time] array).")
    if a.shape[1] == 0:
        raise ValueError(f"{name} has no channels (shape {a.shape})")
    if channels is not None and a.shape[1] != channels:
        raise ValueError(f"{name} has {a.shape[1]} channels but this stream has {channels}")
    return a, was_1d


def _check_finite(a: np.ndarray, name: str, ignore: np.ndarray | None = None) -> None:
    bad = ~np.isfinite(a)
    if ignore is not None:
        bad &= ~ignore
    if bad.any():
        t, c = np.argwhere(bad)[0]
        raise ValueError(f"{name} has {int(bad.sum())} NaN or infinite samples (first at sample {t}, channel {c}); "
                         "clean them first (or, for inpaint, mark them missing with mask=True).")


def count_clipped(a: np.ndarray) -> int:
    return int(np.count_nonzero(np.abs(a) >= 0.999))


def _warn_clipped(n_clipped: int, size: int, name: str) -> None:
    # A few full-scale peaks are normal; many mean the recording clipped, which the model never saw.
    if n_clipped >= max(16, 1e-3 * size):
        warnings.warn(f"{name}: {n_clipped} of {size} samples are at full scale (|x| >= 0.999): the input looks "
                      "clipped; the model was not trained on clipping, so expect artefacts.", stacklevel=3)


def _resample(x: np.ndarray, rate_in: float, rate_out: float) -> np.ndarray:
    """soxr 'HQ' (as jaxsr.audio_io), accepting fractional rates such as 16000 / 3."""
    return np.asarray(soxr.resample(np.ascontiguousarray(x), rate_in, rate_out, quality="HQ"), np.float32)


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros((n - len(x),) + x.shape[1:], x.dtype)])


def enhance(params, audio, *, sample_rate: float, config: ml_collections.ConfigDict | None = None,
            task: str | None = None, ratio: int | None = None, band_limited: bool = False,
            batch_size: int | None = None, return_info: bool = False, mask=None,
            chunk_length: int | None = None, allow_any_rate: bool = False):
    """Restore `audio` with a trained model; returns float32 at the model's target rate.

    `params`: a `Model` (from `jaxsr.load`) or a variables / params pytree plus `config`.
    `audio`: numpy or jax, `[time]` or `[time, channels]` (at most 8; each restored independently),
    float in [-1, 1] or int16 PCM. `sample_rate`: the rate of `audio`.

    * `sr`: `audio` at the low rate `target / ratio` is cubic-spline upsampled, then restored; with
      `band_limited=True` it is already at the target rate (band-limited). Other rates are resampled
      (soxr) to the expected one first; `info['resampled']` says so and it is logged.
    * `denoise` / `inpaint`: `audio` at the target rate (resampled otherwise). For inpaint, `mask`
      (`[time]` or like `audio`, True = missing; NaN allowed there) is linear-filled before the model,
      and only the masked samples are replaced: the others come back exactly as given (`keep_known`).

    The output has the same layout and duration: `round(len * target / sample_rate)` samples (for sr
    from the low rate exactly `len * ratio`). With `return_info=True` returns `(audio, info)`.

    A `sample_rate` outside `PLAUSIBLE_RATES` (1-768 kHz; the model's own input rate is always fine) is
    refused unless `allow_any_rate=True`; an output whose working memory would exceed half of this
    machine's RAM is refused with MemoryError (restore it in pieces).
    """
    t0 = time.perf_counter()
    variables, config = _resolve(params, config)
    task_name, ratio = resolve_task(config, task, ratio)
    rate = _check_rate(sample_rate)
    target = int(config.data.sample_rate)
    if band_limited and task_name != "sr":
        raise ValueError(f"band_limited=True only applies to the sr task; this model does {task_name!r}.")
    if band_limited and rate < target and not _same_rate(rate, target):
        raise ValueError(f"band_limited=True expects audio at the target rate {target} Hz (already band-limited); got "
                         f"sample_rate={sample_rate}. For low-rate input pass band_limited=False (it is upsampled).")
    x, was_1d = _check_audio(audio)
    n, ch = x.shape
    if n == 0:
        raise ValueError("audio is empty (0 samples); pass at least one sample.")
    miss = _check_mask(mask, x, task_name, rate, target)
    _check_finite(x, "audio", ignore=miss)
    if miss is not None:
        x = np.where(miss, 0.0, x).astype(np.float32)
    n_clipped = count_clipped(x)
    _warn_clipped(n_clipped, x.size, "audio")

    want = expected_input_rate(config, band_limited)
    n_out = n * int(ratio) if (task_name == "sr" and not band_limited and _same_rate(rate, want)) \
        else int(round(n * target / rate))
    resampled = not _same_rate(rate, want)
    if n_out < 1:
        raise ValueError(f"audio has {n} samples at {rate:g} Hz, less than one sample at the target rate {target} Hz.")
    _check_plausible(rate, want, allow_any_rate, n_out, ch, target)
    if resampled and task_name == "sr" and not band_limited and _same_rate(rate, target):
        log.warning("enhance: the audio is already at the target rate %d Hz; it is treated as full-band and reduced "
                    "to the low rate first. If it is band-limited audio at %d Hz, pass band_limited=True.", target, target)
    if resampled:
        log.info("enhance: resampling input from %g Hz to %g Hz (the %s model's input rate)", rate, want, task_name)
        x = _resample(x, rate, want)
    if task_name == "sr" and not band_limited:
        x = np.stack([spline_upsample(x[:, c], ratio, n_out) for c in range(ch)], axis=1)
    elif miss is not None:
        x = np.stack([linear_fill(x[:, c], miss[:, c]) for c in range(ch)], axis=1)
    x = _fit_length(x, n_out)

    bs = _check_batch_size(batch_size, config)
    plan = chunk_plan(config, chunk_length)
    y = _run_planned(variables, config, x, plan, bs)
    if not np.all(np.isfinite(y)):
        raise FloatingPointError("the model produced NaN/inf samples: the checkpoint is probably diverged.")
    if miss is not None:
        y = keep_known(y, x, miss)
    out = y[:, 0] if was_1d else y
    if not return_info:
        return out
    info = {
        "task": task_name, "ratio": ratio, "band_limited": bool(band_limited),
        "input_rate": rate, "model_input_rate": want, "output_rate": target,
        "resampled": resampled, "resampled_from": rate if resampled else None, "resampled_to": want if resampled else None,
        "channels": ch, "input_samples": n, "output_samples": n_out, "seconds": n_out / target,
        "clipped_samples": n_clipped, "masked_samples": int(miss.sum()) if miss is not None else 0,
        "chunk_length": plan.length, "overlap": plan.overlap, "batch_size": bs,
        "elapsed_s": time.perf_counter() - t0,
    }
    if isinstance(params, Model):
        info["step"] = params.step
    return out, info


def zero_gaps(audio: np.ndarray, sample_rate: float, min_ms: float) -> np.ndarray:
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


def _check_mask(mask, x: np.ndarray, task_name: str, rate: float, target: int) -> np.ndarray | None:
    """`mask` as bool `[time, ch]` like `x`, or None."""
    if mask is None:
        return None
    if task_name != "inpaint":
        raise ValueError(f"mask only applies to the inpaint task; this model does {task_name!r}.")
    if not _same_rate(rate, target):
        raise ValueError(f"mask: with a mask the audio must be at the model's rate {target} Hz (got {rate:g}); a mask "
                         "cannot be resampled. Resample the audio and its mask yourself first.")
    m = np.asarray(mask)
    if m.dtype != bool:
        raise ValueError(f"mask must be a boolean array (True = missing sample); got dtype {m.dtype}")
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2 or m.shape[0] != x.shape[0] or m.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"mask has shape {np.shape(mask)}; it must be [time] or [time, channels] like audio {x.shape}")
    return np.broadcast_to(m, x.shape)


# ----------------------------------------------------------------------------------------- streaming
class _Front:
    """A streaming front end turns input blocks into target-rate model input (`push`, `flush`); `compose`
    turns each block of model output, in order, into the stream's output."""

    latency = 0

    def compose(self, y: np.ndarray) -> np.ndarray:
        return y


class _Identity(_Front):
    """Front end for input already at the target rate: passes blocks through."""

    def push(self, x: np.ndarray, miss: np.ndarray | None) -> np.ndarray:
        return x

    def flush(self) -> np.ndarray | None:
        return None


class _SplineFront(_Front):
    """Streaming cubic-spline upsampling: emits target-rate samples once SPLINE_CONTEXT knots follow.

    Each output segment is the not-a-knot spline through a window of knots reaching SPLINE_CONTEXT knots
    beyond it on both sides (or to the signal's true start / end), which equals the spline through all
    knots to ~1e-18 relative, i.e. to float rounding.
    """

    def __init__(self, ratio: int, channels: int):
        self.r, self.knots, self.k0, self.n_lr, self.done = ratio, np.zeros((0, channels), np.float32), 0, 0, 0
        self.latency = (SPLINE_CONTEXT + 2) * ratio

    def _segment(self, a: int, b: int, final: bool) -> np.ndarray:
        if final and a == 0:  # the whole signal: exactly what enhance() does
            return np.stack([spline_upsample(self.knots[:, c], self.r, b) for c in range(self.knots.shape[1])], 1)
        i0 = max(0, a // self.r - SPLINE_CONTEXT)
        i1 = self.n_lr if final else min(self.n_lr, -(-b // self.r) + SPLINE_CONTEXT + 1)
        y = self.knots[i0 - self.k0:i1 - self.k0].astype(np.float64)
        spline = scipy.interpolate.CubicSpline(np.arange(i0, i1) * self.r, y, axis=0, bc_type="not-a-knot")
        return spline(np.arange(a, b)).astype(np.float32)

    def push(self, x: np.ndarray, miss: np.ndarray | None) -> np.ndarray:
        self.knots = np.concatenate([self.knots, x])
        self.n_lr += len(x)
        avail = max(0, (self.n_lr - SPLINE_CONTEXT - 2) * self.r)
        if avail <= self.done:
            return x[:0]
        out = self._segment(self.done, avail, final=False)
        self.done = avail
        drop = max(0, self.done // self.r - SPLINE_CONTEXT - 1 - self.k0)
        self.knots, self.k0 = self.knots[drop:], self.k0 + drop
        return out

    def flush(self) -> np.ndarray | None:
        end = self.n_lr * self.r
        return self._segment(self.done, end, final=True) if end > self.done else None


class _FillFront(_Front):
    """Streaming linear fill of masked samples: a gap is emitted once the sample after it arrives.

    `compose` then keeps the samples of masked blocks that were not missing, as `enhance` does
    (`keep_known`): it holds what was emitted, with its keep flags, until the output reaches it.
    """

    def __init__(self, channels: int):
        self.x = np.zeros((0, channels), np.float32)
        self.miss = np.zeros((0, channels), bool)
        self.keep = np.zeros((0, channels), bool)  # per buffered sample: given with a mask and not missing
        self.given = np.zeros((0, channels), np.float32)  # emitted, not yet composed
        self.kept = np.zeros((0, channels), bool)
        self.prev: list[tuple[int, float] | None] = [None] * channels  # last known (index, value) emitted
        self.x0 = 0

    def _fill(self, upto: int) -> np.ndarray:
        out = self.x[:upto].copy()
        for c in range(self.x.shape[1]):
            holes = np.flatnonzero(self.miss[:upto, c])
            if not holes.size:
                continue
            known = np.flatnonzero(~self.miss[:, c])
            xp, fp = list(self.x0 + known), list(self.x[known, c])
            if self.prev[c] is not None:
                xp, fp = [self.prev[c][0]] + xp, [self.prev[c][1]] + fp
            out[holes, c] = np.interp(self.x0 + holes, xp, fp) if xp else 0.0
        for c in range(self.x.shape[1]):
            known = np.flatnonzero(~self.miss[:upto, c])
            if known.size:
                self.prev[c] = (self.x0 + int(known[-1]), float(self.x[known[-1], c]))
        self.given = np.concatenate([self.given, out])
        self.kept = np.concatenate([self.kept, self.keep[:upto]])
        self.x, self.miss, self.keep, self.x0 = self.x[upto:], self.miss[upto:], self.keep[upto:], self.x0 + upto
        return out

    def compose(self, y: np.ndarray) -> np.ndarray:
        """`y` `[ch, n]`: the model output for the next n samples -> the stream's output for them."""
        n = y.shape[1]
        given, kept = self.given[:n].T, self.kept[:n].T
        self.given, self.kept = self.given[n:], self.kept[n:]
        return keep_known(y, given, ~kept)

    def push(self, x: np.ndarray, miss: np.ndarray | None) -> np.ndarray:
        self.x = np.concatenate([self.x, x])
        self.miss = np.concatenate([self.miss, np.zeros(x.shape, bool) if miss is None else miss])
        self.keep = np.concatenate([self.keep, np.zeros(x.shape, bool) if miss is None else ~miss])
        # Emit up to the last sample known in every channel: later holes still lack a right neighbour.
        upto = len(self.x)
        for c in range(self.x.shape[1]):
            upto = min(upto, int(np.flatnonzero(~self.miss[:, c])[-1]) + 1 if (~self.miss[:, c]).any() else 0)
        return self._fill(upto)

    def flush(self) -> np.ndarray | None:
        return self._fill(len(self.x)) if len(self.x) else None


class Streamer:
    """Restore audio block by block, with output identical to `enhance` on the whole signal.

        s = jaxsr.Streamer(model, sample_rate=4000)      # an sr r=4 model fed 4 kHz blocks
        for block in blocks:                              # blocks of any size, [time] or [time, ch]
            play(s.process(block))                        # restored samples at the target rate
        play(s.flush())                                   # the rest; the streamer is then reset

    It runs the same chunk grid and crossfade as `run_model`, computing chunk k as soon as its last
    input sample arrives and emitting each sample once every chunk overlapping it is done.

    Latency (`latency`, in target-rate samples; `latency_seconds`): after input worth `t` target-rate
    samples, exactly `max(0, t - latency)` samples have been returned. It is one chunk (`chunk_length`)
    for band-limited sr, denoise and inpaint, plus `(SPLINE_CONTEXT + 2) * ratio` for sr from the low
    rate (the spline's look-ahead). For inpaint with a `mask`, samples after the last known sample also
    wait until their gap closes. The concatenated output equals `enhance` to float tolerance (the
    streaming spline is exact to ~1e-18; chunk results may differ in the last bits because batches
    differ). The stream is not resampled: `sample_rate` must be the rate the model expects.
    """

    def __init__(self, model_or_params, *, sample_rate: float, config: ml_collections.ConfigDict | None = None,
                 band_limited: bool = False, task: str | None = None, ratio: int | None = None,
                 batch_size: int | None = None, chunk_length: int | None = None):
        self.variables, self.config = _resolve(model_or_params, config)
        self.task, self.ratio = resolve_task(self.config, task, ratio)
        if band_limited and self.task != "sr":
            raise ValueError(f"band_limited=True only applies to the sr task; this model does {self.task!r}.")
        rate, want = _check_rate(sample_rate), expected_input_rate(self.config, band_limited)
        if not _same_rate(rate, want):
            raise ValueError(f"sample_rate={sample_rate}: this Streamer needs input at {want:g} Hz (task {self.task}"
                             f"{', band-limited' if band_limited else ''}); it does not resample. Resample the stream "
                             "first (e.g. soxr.ResampleStream) or use enhance() on whole signals.")
        self.band_limited = band_limited
        self.input_rate, self.output_rate = rate, int(self.config.data.sample_rate)
        self.batch_size = _check_batch_size(batch_size, self.config)
        self.plan = chunk_plan(self.config, chunk_length)
        self.reset()

    @property
    def latency(self) -> int:
        spline = (SPLINE_CONTEXT + 2) * self.ratio if (self.task == "sr" and not self.band_limited) else 0
        return self.plan.length + spline

    @property
    def latency_seconds(self) -> float:
        return self.latency / self.output_rate

    def reset(self) -> None:
        self._channels: int | None = None
        self._was_1d = True
        self._front = None
        self._x = None  # target-rate samples not yet consumed by a chunk, [time, ch]
        self._x0 = self._n = self._next = self._emitted = 0
        self._ys: dict[int, np.ndarray] = {}  # chunk index -> model output [ch, L], until fully emitted
        self._clip_warned = False

    def _start(self, ch: int, was_1d: bool) -> None:
        self._channels, self._was_1d = ch, was_1d
        if self.task == "sr" and not self.band_limited:
            self._front = _SplineFront(self.ratio, ch)
        elif self.task == "inpaint":
            self._front = _FillFront(ch)
        else:
            self._front = _Identity()
        self._x = np.zeros((0, ch), np.float32)

    def process(self, block, mask=None) -> np.ndarray:
        """Feed `block` (`[time]` or `[time, ch]`, the layout of the first block) -> restored samples now ready."""
        x, was_1d = _check_audio(block, "block", self._channels)
        if self._channels is None:
            self._start(x.shape[1], was_1d)
        miss = None
        if mask is not None:
            miss = _check_mask(mask, x, self.task, self.output_rate, self.output_rate)
        _check_finite(x, "block", ignore=miss)
        if miss is not None:
            x = np.where(miss, 0.0, x).astype(np.float32)
        if not self._clip_warned and count_clipped(x) >= max(16, 1e-3 * x.size):
            self._clip_warned = True
            _warn_clipped(count_clipped(x), x.size, "block")
        return self._out(self._push(self._front.push(x, miss)))

    def flush(self) -> np.ndarray:
        """Finish the stream: the remaining restored samples. The streamer is reset afterwards."""
        if self._channels is None:
            raise ValueError("flush() before any process(): the stream is empty, there is nothing to restore.")
        rest = self._front.flush()
        if rest is not None:
            self._push(rest, compute=False)
        n = self._n
        if self._next == 0:  # never filled one chunk: exactly the offline short-signal path
            y = _run_planned(self.variables, self.config, self._x, self.plan, self.batch_size).T
        else:  # the offline grid: full chunks, then a last one bucketed to what is left
            p, num, last = self.plan, self.plan.num_chunks(n), self.plan.last_length(n)
            end = (num - 1) * p.hop + max(last, p.length) - self._x0
            self._x = np.concatenate([self._x, np.zeros((end - len(self._x), self._channels), np.float32)])
            self._compute(num - 1)
            if self._next == num - 1:
                self._compute(num, length=last)
            y = self._emit(n, last=num - 1)
        out = self._out(y)
        self.reset()
        return out

    def _out(self, y_ch_time: np.ndarray) -> np.ndarray:
        y = self._front.compose(y_ch_time).T
        return y[:, 0].copy() if self._was_1d else y.copy()

    def _push(self, x: np.ndarray, compute: bool = True) -> np.ndarray:
        """Append target-rate samples; run every chunk now complete; emit what is final."""
        self._x = np.concatenate([self._x, x])
        self._n += len(x)
        empty = np.zeros((self._channels, 0), np.float32)
        if not compute:
            return empty
        ready = (self._n - self.plan.length) // self.plan.hop + 1 if self._n >= self.plan.length else 0
        if ready > self._next:
            self._compute(ready)
        upto = self._n - self.plan.length  # the fixed latency; everything before it is final
        if self._next == 0 or upto <= self._emitted:
            return empty
        assert upto <= self._next * self.plan.hop + self.plan.left
        return self._emit(upto, last=None)

    def _compute(self, upto_chunk: int, length: int | None = None) -> None:
        """Run chunks `[self._next, upto_chunk)` (of `length`, default the plan's) on the buffered input."""
        p, ch = self.plan, self._channels
        length = length or p.length
        if upto_chunk > self._next:
            x = self._x.T
            starts = [k * p.hop - self._x0 for k in range(self._next, upto_chunk)]
            chunks = np.stack([x[:, s:s + length] for s in starts], axis=1)  # [ch, k, length]
            y = apply_chunks(self.variables, self.config, chunks.reshape(-1, length), self.batch_size)
            y = y.reshape(ch, len(starts), length)
            for i, k in enumerate(range(self._next, upto_chunk)):
                self._ys[k] = y[:, i]
            self._next = upto_chunk
        drop = self._next * p.hop - self._x0  # later chunks start at or after this
        if drop > 0:
            self._x, self._x0 = self._x[drop:], self._x0 + drop

    def _emit(self, upto: int, last: int | None) -> np.ndarray:
        out = np.zeros((self._channels, upto - self._emitted), np.float32)
        for k in sorted(self._ys):
            _add_chunk(out, self._emitted, self._ys[k], k, self.plan, last=k == last)
        self._emitted = upto
        self._ys = {k: y for k, y in self._ys.items() if k * self.plan.hop + self.plan.length > upto}
        return out
