"""AudioUNet (Kuleshov, Enam & Ermon, "Audio Super Resolution using Neural Networks", 2017).

A waveform U-Net that predicts a residual: `y = x + f(x)`, where `x` is the degraded signal already at
the target length (for super-resolution, the cubic-spline upsampling of the low-rate input).

    x [b, T, 1]
     ├─ down 1: conv stride 2, nf(1) filters, kernel k(1), ReLU        -> [b, T/2,  nf(1)]   ─┐ skip
     ├─ ...                                                                                  │
     ├─ down B                                                         -> [b, T/2^B, nf(B)]   ─┤
     ├─ bottleneck: conv stride 2, norm, LeakyReLU, dropout            -> [b, T/2^(B+1), nf(B)]│
     ├─ up B: conv 2*nf(B), dropout, ReLU, subpixel x2, concat skip B  -> [b, T/2^B, 2*nf(B)] ◄┘
     ├─ ...
     ├─ up 1                                                           -> [b, T/2, 2*nf(1)]
     └─ final conv to 2 channels, subpixel x2                          -> [b, T, 1] ; + x

with nf(b) = min(2**(6+b), 512) * width and k(b) = max(2**(7-b)+1, 9). With `polarity_equivariant`
the residual is `f(x) = (g(x) - g(-x)) / 2`, g the network above (same parameters), so `y(-x) = -y(x)`.

With `keep_band` (super-resolution: the band the low-rate input already carries) the residual passes a
fixed linear-phase high-pass first, `y = x + HP(f(x))`, so that below the band edge the output *is* the
input, by construction and in every runtime that runs this graph: the network can only add what is
missing above it. (`keep_band_taps` designs the filter; it is a constant, not a parameter.)
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np


def block_filters(num_blocks: int, width: float = 1.0, max_filters: int = 512) -> list[int]:
    """Filter count of each downsampling block b = 1..B: `min(2**(6+b), max_filters) * width`."""
    return [
        max(1, int(round(min(2 ** (6 + b), max_filters) * width))) for b in range(1, num_blocks + 1)
    ]


def block_kernels(num_blocks: int) -> list[int]:
    """Kernel length of each downsampling block b = 1..B: `max(2**(7-b)+1, 9)`."""
    return [max(2 ** (7 - b) + 1, 9) for b in range(1, num_blocks + 1)]


def length_multiple(num_blocks: int) -> int:
    """Input lengths must be a multiple of this: B stride-2 blocks plus the stride-2 bottleneck."""
    return 2 ** (num_blocks + 1)


@functools.lru_cache(maxsize=32)
def keep_band_taps(keep_band: tuple[float, float]) -> np.ndarray:
    """`[taps]` float32: a zero-phase (odd, symmetric) FIR high-pass that removes everything below
    `keep_band[0]` and passes everything above `keep_band[1]` (both fractions of the output's Nyquist).

    Kaiser-windowed, 60 dB down below the band edge: whatever the network adds there is attenuated a
    thousandfold in amplitude. The pass edge is where the low-rate input's Nyquist lies, so the network
    owns the whole missing band. `()` (no kept band) gives `[1.0]`, the identity.
    """
    if not keep_band:
        return np.ones(1, np.float32)
    import scipy.signal  # only the design needs scipy; applying the taps is a plain convolution

    lo, hi = (float(v) for v in keep_band)
    if not 0.0 < lo < hi <= 1.0:
        raise ValueError(
            f"keep_band must be (low, high) fractions of the Nyquist with 0 < low < high <= 1; got {keep_band}"
        )
    numtaps, beta = scipy.signal.kaiserord(60.0, hi - lo)
    lowpass = scipy.signal.firwin(numtaps | 1, (lo + hi) / 2, window=("kaiser", beta))
    taps = -lowpass
    taps[len(taps) // 2] += 1.0  # delta - lowpass: the complementary high-pass, same (zero) phase
    taps = taps.astype(np.float32)
    taps.setflags(write=False)  # cached: every caller shares this array
    return taps


def _fir(h: jax.Array, taps: np.ndarray) -> jax.Array:
    """`[batch, time, 1]` convolved with the odd-length symmetric `taps`, same length, zero-padded, float32."""
    if len(taps) == 1:
        return h
    kernel = jnp.asarray(taps[::-1].copy(), jnp.float32)[:, None, None]  # [width, in, out]
    return jax.lax.conv_general_dilated(
        h.astype(jnp.float32),
        kernel,
        (1,),
        "SAME",
        dimension_numbers=("NWC", "WIO", "NWC"),
        precision=jax.lax.Precision.HIGHEST,
    )


def subpixel_1d(x: jax.Array, r: int = 2) -> jax.Array:
    """1-D subpixel shuffle: `[b, t, r*c] -> [b, r*t, c]`.

    Output sample `r*i + j`, channel `k` is input sample `i`, channel `j*c + k`: each group of `c`
    channels becomes one of `r` interleaved phases in time (the 1-D form of Shi et al. 2016, as in the
    reference code's `SubPixel1D`).
    """
    b, t, rc = x.shape
    if rc % r:
        raise ValueError(f"subpixel_1d: channel count {rc} is not divisible by r={r}")
    return x.reshape(b, t, r, rc // r).reshape(b, t * r, rc // r)


class AudioUNet(nn.Module):
    """The AudioUNet. Call as `model.apply(variables, x, train=...)` with `x` of shape `[batch, time, 1]`.

    Attributes mirror `config.model` (see `jaxsr.config`); `dtype` is the compute dtype (params are
    always float32).
    """

    num_blocks: int = 4
    width: float = 1.0
    max_filters: int = 512
    dilation: int = 1
    norm: str = "batch"
    dropout: float = 0.5
    leaky_slope: float = 0.2
    final_kernel: int = 9
    polarity_equivariant: bool = False
    keep_band: tuple = ()  # (low, high) fractions of the output Nyquist: see `keep_band_taps`; () = paper
    dtype: Any = jnp.float32

    def _conv(self, features: int, kernel: int, strides: int, name: str) -> nn.Conv:
        return nn.Conv(
            features,
            kernel_size=(kernel,),
            strides=(strides,),
            kernel_dilation=(self.dilation,),
            padding="SAME",
            kernel_init=nn.initializers.orthogonal(),  # the reference code's initialiser
            dtype=self.dtype,
            param_dtype=jnp.float32,
            name=name,
        )

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """`x`: `[batch, time, 1]` -> restored `[batch, time, 1]` (float32)."""
        check_input_shape(x.shape, self.num_blocks)
        filters = block_filters(self.num_blocks, self.width, self.max_filters)
        kernels = block_kernels(self.num_blocks)
        # The layers are made once and applied once (or twice, sharing their weights; see `residual`).
        down = [
            self._conv(nf, k, 2, f"down{b}")
            for b, (nf, k) in enumerate(zip(filters, kernels), start=1)
        ]
        bottleneck = self._conv(filters[-1], kernels[-1], 2, "bottleneck")
        # Statistics are kept in float32 for stability under bfloat16 compute.
        bn = (
            nn.BatchNorm(
                use_running_average=not train,
                momentum=0.9,
                dtype=self.dtype,
                param_dtype=jnp.float32,
                name="bottleneck_bn",
            )
            if self.norm == "batch"
            else None
        )
        up = {
            b: self._conv(2 * filters[b - 1], kernels[b - 1], 1, f"up{b}")
            for b in range(1, self.num_blocks + 1)
        }
        final = nn.Conv(
            2,
            kernel_size=(self.final_kernel,),
            padding="SAME",
            kernel_init=nn.initializers.normal(1e-3),
            dtype=self.dtype,
            param_dtype=jnp.float32,
            name="final",
        )
        # One Dropout per place, made in the order the earlier inline code made them (bottleneck, then up B
        # ... up 1), so they keep their auto-names and hence their random streams: runs reproduce exactly.
        drop = [
            nn.Dropout(self.dropout, deterministic=not train) for _ in range(self.num_blocks + 1)
        ]

        def residual(h: jax.Array) -> jax.Array:  # f: [batch, time, 1] -> [batch, time, 1] float32
            h = h.astype(self.dtype)
            skips = []
            for conv in down:
                h = nn.relu(conv(h))
                skips.append(h)
            h = bottleneck(h)
            if bn is not None:
                h = bn(h)
            h = drop[0](nn.leaky_relu(h, self.leaky_slope))
            for b in reversed(range(1, self.num_blocks + 1)):
                h = nn.relu(drop[self.num_blocks + 1 - b](up[b](h)))
                h = jnp.concatenate([subpixel_1d(h, 2), skips[b - 1]], axis=-1)
            return subpixel_1d(final(h), 2).astype(jnp.float32)

        x32 = x.astype(jnp.float32)
        taps = keep_band_taps(tuple(self.keep_band))
        if not self.polarity_equivariant:
            return x32 + _fir(residual(x), taps)
        # f(x) = (g(x) - g(-x)) / 2 is odd: f(-x) = -f(x) exactly. Two passes rather than one over a doubled
        # batch: splitting a batch of symbolic size again would need a gather, which the ONNX export lacks.
        return x32 + _fir(0.5 * (residual(x) - residual(-x)), taps)


def check_input_shape(shape: Sequence[int], num_blocks: int) -> None:
    """Raise ValueError unless `shape` is `[batch, time, 1]` with `time` a multiple of 2**(B+1)."""
    if len(shape) != 3 or shape[-1] != 1:
        raise ValueError(
            f"AudioUNet expects input of shape [batch, time, 1] (mono, channels last); got {tuple(shape)}. "
            "Add a channel axis with x[..., None] and restore each channel separately."
        )
    m = length_multiple(num_blocks)
    t = shape[1]
    if t == 0 or t % m:
        lo, hi = (t // m) * m, (t // m + 1) * m
        nearest = (
            f"nearest lengths that work: {lo} and {hi}"
            if lo
            else f"the shortest length that works is {m}"
        )
        raise ValueError(
            f"AudioUNet with num_blocks={num_blocks} needs a time length that is a multiple of {m}; got {t}; "
            f"{nearest}. Pad the input (jaxsr.enhance does this for you)."
        )


def model_from_config(config: ml_collections.ConfigDict) -> AudioUNet:
    m = config.model
    return AudioUNet(
        num_blocks=m.num_blocks,
        width=m.width,
        max_filters=m.max_filters,
        dilation=m.dilation,
        norm=m.norm,
        dropout=m.dropout,
        leaky_slope=m.leaky_slope,
        final_kernel=m.final_kernel,
        polarity_equivariant=bool(m.get("polarity_equivariant", False)),
        keep_band=keep_band(config),
        dtype=compute_dtype(config.dtype),
    )


def keep_band(config: ml_collections.ConfigDict) -> tuple:
    """`AudioUNet.keep_band` for a config: for sr with `task.sr_keep_band` = k > 0, the residual is removed
    below k x the low rate's Nyquist and kept above that Nyquist: `(k / ratio, 1 / ratio)` of the output's
    Nyquist. `()` for the other tasks and for k = 0 (the paper's `y = x + f(x)`)."""
    t = config.get("task")
    k = float(t.get("sr_keep_band", 0.0) or 0.0) if t is not None else 0.0
    if k <= 0 or t.get("name") != "sr":
        return ()
    return (k / t.ratio, 1.0 / t.ratio)


def receptive_field(config: ml_collections.ConfigDict) -> tuple[int, int]:
    """`(left, right)`: output sample p depends on input samples `[p - left, p + right]` only.

    Derived layer by layer from the AudioUNet's convolutions (SAME padding, as `jax.lax` pads) and
    subpixel shuffles; exact for the architecture in this module, checked in tests/test_inference.py.
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
    a, c = conv(kernels[-1], m.dilation, 2, 2**m.num_blocks)  # bottleneck
    lo, hi = lo + a, hi + c
    for b in reversed(
        range(1, m.num_blocks + 1)
    ):  # up blocks: stride 1 at spacing 2**(b+1), then x2
        a, c = conv(kernels[b - 1], m.dilation, 1, 2 ** (b + 1))
        lo, hi = lo + a - 2**b, hi + c  # subpixel: output (2i+j) reads input i, offset in [-u/2, 0]
        lo, hi = min(lo, skips[b - 1][0]), max(hi, skips[b - 1][1])
    a, c = conv(m.final_kernel, 1, 1, 2)  # final conv has no dilation
    lo, hi = lo + a - 1, hi + c
    half = len(keep_band_taps(keep_band(config))) // 2  # the kept band's high-pass on the residual
    return -min(lo, 0) + half, max(hi, 0) + half


def compute_dtype(name: str) -> jnp.dtype:
    """`config.dtype` as a jnp dtype; "auto" is bfloat16 on GPU/TPU and float32 on CPU."""
    if name == "auto":
        return jnp.dtype(
            jnp.bfloat16 if jax.default_backend() in ("gpu", "tpu", "cuda", "rocm") else jnp.float32
        )
    return jnp.dtype(name)


def _init_fn(model: AudioUNet, length: int | None) -> Callable[[jax.Array], Any]:
    """`rng -> {'params', 'batch_stats'}` on a dummy `[1, length, 1]` input: one init for values and shapes."""
    x = jnp.zeros((1, length or length_multiple(model.num_blocks) * 4, 1), jnp.float32)
    return lambda r: model.init({"params": r, "dropout": r}, x, train=False)


def init_variables(model: AudioUNet, rng: jax.Array, length: int | None = None) -> dict:
    """Initialise `{'params': ..., 'batch_stats': ...}` with a dummy `[1, length, 1]` input."""
    return dict(jax.jit(_init_fn(model, length))(rng))


def variable_shapes(model: AudioUNet) -> dict:
    """The shapes `init_variables` gives (a pytree of `jax.ShapeDtypeStruct`), traced without computing
    anything: what a checkpoint or a packaged model's arrays must match."""
    return dict(jax.eval_shape(_init_fn(model, None), jax.random.key(0)))


def forward_flops(config: ml_collections.ConfigDict, length: int) -> int:
    """Floating-point operations (2 per multiply-add) of the convolutions for one `[1, length, 1]` input.

    Counted from the architecture, not from a compiler: XLA's cost analysis on GPU omits convolutions
    that it hands to cuDNN, so it cannot give model-FLOPs utilisation there. Elementwise work (ReLU,
    BatchNorm, the residual add) is left out, as usual for MFU; "SAME" padding counts every kernel tap.
    A train step is about 3x this per example (forward, plus the gradients of inputs and weights).
    """
    m = config.model
    check_input_shape((1, length, 1), m.num_blocks)
    nf = block_filters(m.num_blocks, m.width, m.max_filters)
    ks = block_kernels(m.num_blocks)
    B = m.num_blocks
    macs = 0
    for b in range(1, B + 1):  # down b: stride 2, output length T / 2^b
        macs += (length >> b) * nf[b - 1] * ks[b - 1] * (1 if b == 1 else nf[b - 2])
    macs += (length >> (B + 1)) * nf[-1] * ks[-1] * nf[-1]  # bottleneck
    for b in range(B, 0, -1):  # up b: stride 1 at length T / 2^(b+1), then subpixel x2 and the skip
        in_ch = nf[-1] if b == B else 2 * nf[b]
        macs += (length >> (b + 1)) * 2 * nf[b - 1] * ks[b - 1] * in_ch
    macs += (length >> 1) * 2 * m.final_kernel * 2 * nf[0]  # final conv, then subpixel x2
    macs *= 2 if m.get("polarity_equivariant", False) else 1  # the network runs on x and -x
    taps = len(keep_band_taps(keep_band(config)))
    return 2 * (macs + (length * taps if taps > 1 else 0))


def count_params(params: Any) -> int:
    return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))
