"""The chunked core: cut a signal into fixed-shape chunks, run the network on them, overlap-add.

A file of any length compiles nothing new, because the network only ever sees a few shapes:

    signal [time] ──pad──> chunks [n, L] (hop H = L - O) ──apply_chunks, in batches──> [n, L]
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

Shapes the network sees: `[batch, L, 1]` with `batch` a power of two up to `batch_size` (a partial
batch is zero-padded to the next power of two), and `[channels, L', 1]` for the last chunk, whose
length L' is the smallest of L, L/2, L/4, L/8 that holds the rest of the signal (less padding; a
signal shorter than L is one such chunk). After a warm-up nothing recompiles per file.

`apply_chunks` is the one place the network runs; `run_model`, `enhance` and `Streamer` all reach it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxsr.models import (
    compute_dtype,
    keep_band,
    length_multiple,
    model_from_config,
    receptive_field,
)


# ----------------------------------------------------------------------------------- chunk geometry
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
    # The only lengths the network takes (an export with fixed chunk lengths), or None: any multiple.
    lengths: tuple[int, ...] | None = None

    @property
    def overlap(self) -> int:
        return self.length - self.hop

    def num_chunks(self, n: int) -> int:
        return 1 if n <= self.length else 1 + -(-(n - self.length) // self.hop)

    def short_length(self, n: int) -> int:
        """The chunk length for `n <= length` samples (a short signal, or the last chunk): the smallest
        of 4 buckets L, L/2, L/4, L/8 that holds them, so that a few shapes serve every length (the fixed
        `lengths` of an export instead, when it has them)."""
        buckets = self.lengths or sorted(
            {max(self.multiple, _round_up(self.length >> i, self.multiple)) for i in range(4)}
        )
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


def chunk_plan(
    config: ml_collections.ConfigDict, chunk_length: int | None = None, *, forward: Any = None
) -> ChunkPlan:
    """The chunking used by `run_model` for `config`'s model.

    `chunk_length` (samples) defaults to `config.eval.chunk_length`, or 4 * `data.patch_length` when
    that is 0, raised if needed to twice the overlap. An explicit value must be a multiple of
    2**(num_blocks+1) and at least twice the overlap. `forward`: the runtime that will run the network
    (a `jaxsr.deploy.Forward`); when it takes only fixed chunk lengths (an export made with
    `chunk_lengths`), the plan uses those: the longest by default, and the others for short pieces.
    """
    m = length_multiple(config.model.num_blocks)
    left, right = receptive_field(config)
    left, right = left + m, right + m  # a margin: exactness must not hinge on an off-by-one
    fade = _round_up(max(2 * m, 64), m)  # both chunks are exact here, so a short fade suffices
    overlap = _round_up(left + fade + right, m)
    minimum = 2 * overlap
    fixed = getattr(forward, "chunk_lengths", None)
    fixed = tuple(sorted(fixed)) if fixed else None
    if fixed is not None:
        if chunk_length is not None and chunk_length not in fixed:
            raise ValueError(
                f"chunk_length={chunk_length!r}: this export takes only the chunk lengths {list(fixed)}; "
                f"pass one of them (or none: {fixed[-1]})."
            )
        length = int(chunk_length if chunk_length is not None else fixed[-1])
        if length < minimum:
            raise ValueError(
                f"this export's chunk lengths {list(fixed)} are too short for its model: chunks overlap by "
                f"{overlap} samples, so it needs one >= {minimum}. Export again with --chunk-length "
                f"{_round_up(minimum, m)} (or larger), or without --chunk-length."
            )
        return ChunkPlan(
            length=length,
            hop=length - overlap,
            left=left,
            fade=fade,
            multiple=m,
            lengths=tuple(n for n in fixed if n <= length),
        )
    if chunk_length is None:
        default = int(config.eval.get("chunk_length", 0) or 4 * config.data.patch_length)
        length = max(_round_up(default, m), minimum)
    else:
        length = int(chunk_length)
        if length != chunk_length or length <= 0 or length % m:
            raise ValueError(
                f"chunk_length must be a positive multiple of {m} (model.num_blocks="
                f"{config.model.num_blocks}) and at least {minimum}; got {chunk_length!r}. Try "
                f"{max(_round_up(max(length, 1), m), minimum)}."
            )
        if length < minimum:
            raise ValueError(
                f"chunk_length={length} is too short for this model: chunks overlap by {overlap} samples "
                f"(its receptive field plus a crossfade), so use chunk_length >= {minimum}."
            )
    return ChunkPlan(length=length, hop=length - overlap, left=left, fade=fade, multiple=m)


# ------------------------------------------------------------------- the network: the one place it runs
def model_key(config: ml_collections.ConfigDict) -> str:
    return json.dumps(
        {
            **config.model.to_dict(),
            "dtype": compute_dtype(config.dtype).name,
            "keep_band": list(keep_band(config)),
        },
        sort_keys=True,
    )


def _network_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The part of `config` that defines the network: the model section, the dtype and, for sr, the task
    fields of the kept band (`jaxsr.models.keep_band`)."""
    task = {
        k: config.task[k] for k in ("name", "ratio", "sr_keep_band") if k in config.get("task", {})
    }
    return ml_collections.ConfigDict(
        {"model": config.model.to_dict(), "dtype": config.dtype, "task": task}
    )


@functools.lru_cache(maxsize=16)
def _jitted_apply(key: str, config_json: str) -> Callable[[Any, jax.Array], jax.Array]:
    """One jitted eval-mode apply per model architecture and dtype; jax caches it per input shape."""
    del key  # the cache key; config_json carries the same information
    config = ml_collections.ConfigDict(json.loads(config_json))
    model = model_from_config(config)
    return jax.jit(lambda variables, x: model.apply(variables, x, train=False))


def xla_apply(config: ml_collections.ConfigDict) -> Callable[[Any, jax.Array], jax.Array]:
    """`fn(variables, x [batch, time, 1]) -> [batch, time, 1]`: the jitted XLA runtime for `config`'s model."""
    # Cached on the model architecture alone, so that configs differing elsewhere (data, eval, ...) share one
    # compiled function instead of recompiling per config object.
    cfg = _network_config(config)
    return _jitted_apply(model_key(config), json.dumps(cfg.to_dict(), sort_keys=True))


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


def apply_chunks(
    variables: Mapping,
    config: ml_collections.ConfigDict,
    chunks: np.ndarray,
    batch_size: int,
    forward: Callable | None = None,
) -> np.ndarray:
    """The network (eval mode) on each row of `chunks`: `[n, time]` float32 -> `[n, time]` float32.

    The one place the network runs: `run_model`, `enhance` and `Streamer` all reach it, so another
    runtime (ONNX Runtime, OpenVINO, a `jax.export` artefact) replaces `xla_apply` here and nowhere
    else. What a runtime must compute is `chunks: [n, time, 1] float32 -> [n, time, 1]`, called with
    `n` a power of two up to `batch_size` (zero rows pad a partial batch) and `time` one of the chunk
    plan's few lengths, so a compiled runtime sees a handful of shapes.

    Silence in, silence out: where a chunk is exactly zero over an output sample's whole receptive
    field, that sample is exactly zero. The model sees nothing but silence there, so nothing is lost:
    its output would be its biases' response to silence, a small constant (~1e-4) that turns digital
    silence (lead-ins, pauses, an all-zero file) into a DC offset. Gating each chunk equals gating the
    whole signal, because a chunk's output is only used where its receptive field lies inside it.

    `forward`: another runtime (a `jaxsr.deploy.Forward`: ONNX Runtime, OpenVINO, a StableHLO
    artefact, XLA in bfloat16), or None for the jitted Flax model in `config.dtype`. Batches, padding,
    the read-back order and the silence gate are the same for every runtime, so chunked == whole and
    streamed == offline hold whichever runs the network.
    """
    if forward is None:
        fn = xla_apply(config)

        def start(
            part: np.ndarray,
        ) -> Callable[[], Any]:  # dispatch now (async), read back when called
            y = fn(variables, jnp.asarray(part))
            return lambda: y
    else:
        start = forward.start
    n, length = chunks.shape
    out = np.empty((n, length), np.float32)
    pending: list = []
    for i in range(0, n, batch_size):
        part = chunks[i : i + batch_size]
        b = _batch_bucket(len(part), batch_size)
        if b > len(part):
            part = np.concatenate([part, np.zeros((b - len(part), length), np.float32)])
        # Read results back two batches behind dispatch: host and device overlap, device memory stays bounded.
        pending.append((i, min(batch_size, n - i), start(part[:, :, None])))
        if len(pending) > 2:
            j, k, result = pending.pop(0)
            out[j : j + k] = np.asarray(result())[:k, :, 0]
    for j, k, result in pending:
        out[j : j + k] = np.asarray(result())[:k, :, 0]
    out[silence_gate(chunks, *receptive_field(config))] = 0.0
    return out


# ------------------------------------------------------------------------- chunk, apply, overlap-add
def add_chunk(
    out: np.ndarray, out_start: int, y: np.ndarray, k: int, plan: ChunkPlan, last: bool
) -> None:
    """`out[:, p - out_start] += w_k(p) y_k(p)` for the positions p of chunk k inside `out` (`[ch, time]`)."""
    start = k * plan.hop
    lo, hi = max(start, out_start), min(start + y.shape[1], out_start + out.shape[1])
    if lo >= hi:
        return
    w = plan.window(k == 0, last)
    out[:, lo - out_start : hi - out_start] += (
        w[lo - start : hi - start] * y[:, lo - start : hi - start]
    )


def as_device(variables: Mapping) -> Any:
    return jax.tree_util.tree_map(jnp.asarray, dict(variables))


# Rows of chunks `run_planned` hands the network at once: enough for two batches in flight, few enough
# that no copy of the whole signal's chunks (longer than the signal by the overlap) is ever held.
_GROUP_SAMPLES = 1 << 20


def run_planned(
    variables: Mapping,
    config: ml_collections.ConfigDict,
    x: np.ndarray,
    plan: ChunkPlan,
    batch_size: int,
    forward: Callable | None = None,
) -> np.ndarray:
    """`x` `[time, ch]` float32 -> model output `[time, ch]`: chunk, apply, overlap-add, trim.

    Chunks go through the network a group at a time and are added into the output as they come back,
    so the memory beyond the output is one group's, whatever the signal's length."""
    n, ch = x.shape
    num = plan.num_chunks(n)
    last = plan.last_length(n)
    padded = np.zeros((ch, (num - 1) * plan.hop + max(last, plan.length)), np.float32)
    padded[:, :n] = x.T
    full = np.lib.stride_tricks.sliding_window_view(padded, plan.length, axis=1)[
        :, : (num - 1) * plan.hop : plan.hop
    ]
    assert full.shape[1] == num - 1, (full.shape, num)
    out = np.zeros((ch, n), np.float32)
    group = max(4 * batch_size, _GROUP_SAMPLES // plan.length)
    for c in range(ch):
        for k0 in range(0, num - 1, group):
            y = apply_chunks(
                variables,
                config,
                np.ascontiguousarray(full[c, k0 : k0 + group]),
                batch_size,
                forward,
            )
            for j in range(len(y)):
                add_chunk(out[c : c + 1], 0, y[j : j + 1], k0 + j, plan, last=False)
    start = (num - 1) * plan.hop
    y_last = apply_chunks(
        variables,
        config,
        np.ascontiguousarray(padded[:, start : start + last]),
        batch_size,
        forward,
    )
    del padded, full
    add_chunk(out, 0, y_last, num - 1, plan, last=True)
    return np.ascontiguousarray(out.T)


def run_model(
    variables: Mapping,
    config: ml_collections.ConfigDict,
    x: np.ndarray | jax.Array,
    *,
    batch_size: int | None = None,
    chunk_length: int | None = None,
) -> np.ndarray:
    """The model (eval mode) on an already-degraded signal at the target rate, in chunks.

    `x`: `[time]` or `[time, channels]` (each channel restored independently) -> the same shape,
    float32. `batch_size` (chunks per forward pass) defaults to `default_batch_size(config)`;
    `chunk_length` see `chunk_plan`. Equal to the whole-signal application up to float rounding except
    within the receptive field of the signal's two ends.
    """
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.shape[0] == 0 or (x.ndim == 2 and x.shape[1] == 0):
        raise ValueError(
            f"run_model: x must be a non-empty [time] or [time, channels] signal; got shape {x.shape}"
        )
    x2 = np.asarray(x, np.float32).reshape(x.shape[0], -1)
    batch_size = check_inference_batch_size(batch_size, config)
    y = run_planned(as_device(variables), config, x2, chunk_plan(config, chunk_length), batch_size)
    return y[:, 0] if x.ndim == 1 else y


# ---------------------------------------------------------------------------------------- batch size
def default_batch_size(config: ml_collections.ConfigDict) -> int:
    """`config.eval.batch_size` on accelerators; 1 on CPU, where one 16k-32k-sample chunk already keeps
    the cores busy and a batch only adds zero-padding (measured in benchmarks/inference.py)."""
    return 1 if jax.default_backend() == "cpu" else int(config.eval.get("batch_size", 8))


def check_inference_batch_size(batch_size: int | None, config: ml_collections.ConfigDict) -> int:
    bs = batch_size if batch_size is not None else default_batch_size(config)
    if int(bs) != bs or int(bs) < 1:
        raise ValueError(f"batch_size must be a positive integer; got {bs!r}")
    return int(bs)
