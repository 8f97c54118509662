"""A PyTorch twin of `jaxsr.models.AudioUNet`, for side-by-side speed comparisons.

Layer for layer the same network, so that with `load_flax_variables` the two give the same output to
float tolerance (tests/test_torch_twin.py checks this). Only the benchmarks import PyTorch; the
`jaxsr` package never does.

Two details that have to be copied from Flax/XLA rather than taken from PyTorch defaults:

* "SAME" padding. For a conv of kernel `k`, dilation `d` and stride `s` on `n` samples XLA pads
  `total = max((ceil(n/s) - 1) * s + (k - 1) * d + 1 - n, 0)` samples, `total // 2` on the left and the
  rest on the right. With stride 2 the total is odd, so the padding is asymmetric and cannot be
  expressed with `nn.Conv1d(padding=...)`; we pad explicitly with `F.pad`.
* BatchNorm running statistics. Flax's `momentum=0.9` is PyTorch's `momentum=0.1` (the weight of the
  new batch). Both normalise with the biased batch variance, but PyTorch stores the *unbiased* one in
  `running_var` while Flax stores the biased one; after one training step they differ by a factor
  `n / (n - 1)` in the batch term (n = batch * bottleneck length). Eval-mode outputs are unaffected.

The interface is channels-last `[batch, time, 1]` like jaxsr; internally everything runs NCW, which is
PyTorch's native conv layout.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# Kept in sync with jaxsr.models by hand: the benchmarks must not need jaxsr to build the twin, but
# tests/test_torch_twin.py compares both against jaxsr.
def block_filters(num_blocks: int, width: float = 1.0, max_filters: int = 512) -> list[int]:
    """Filter count of each downsampling block b = 1..B: `min(2**(6+b), max_filters) * width`."""
    return [
        max(1, int(round(min(2 ** (6 + b), max_filters) * width))) for b in range(1, num_blocks + 1)
    ]


def block_kernels(num_blocks: int) -> list[int]:
    """Kernel length of each downsampling block b = 1..B: `max(2**(7-b)+1, 9)`."""
    return [max(2 ** (7 - b) + 1, 9) for b in range(1, num_blocks + 1)]


def same_padding(length: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """(left, right) zero padding that XLA uses for padding="SAME"."""
    out = -(-length // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2, total - total // 2


def subpixel_1d(x: torch.Tensor, r: int = 2) -> torch.Tensor:
    """NCW subpixel shuffle `[b, r*c, t] -> [b, c, r*t]`, channel-ordered like `jaxsr.models.subpixel_1d`.

    Output sample `r*i + j`, channel `k` is input sample `i`, channel `j*c + k`.
    """
    b, rc, t = x.shape
    c = rc // r
    return x.view(b, r, c, t).permute(0, 2, 3, 1).reshape(b, c, t * r)


class SameConv1d(nn.Conv1d):
    """`nn.Conv1d` with XLA "SAME" padding (asymmetric for stride 2, see module docstring)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__(in_ch, out_ch, kernel, stride=stride, dilation=dilation, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = same_padding(x.shape[-1], self.kernel_size[0], self.stride[0], self.dilation[0])
        if lo == hi and self.stride[0] == 1:
            # Symmetric case: let the conv pad, which saves a copy.
            return F.conv1d(x, self.weight, self.bias, 1, lo, self.dilation)
        return super().forward(F.pad(x, (lo, hi)))


class TorchAudioUNet(nn.Module):
    """The AudioUNet in PyTorch. `forward(x)`: `[batch, time, 1]` -> `[batch, time, 1]`.

    Arguments mirror `jaxsr.models.AudioUNet` (and `config.model`). Initialisation is PyTorch's default,
    not jaxsr's: copy weights with `load_flax_variables` when outputs must match.
    """

    def __init__(
        self,
        num_blocks: int = 4,
        width: float = 1.0,
        max_filters: int = 512,
        dilation: int = 1,
        norm: str = "batch",
        dropout: float = 0.5,
        leaky_slope: float = 0.2,
        final_kernel: int = 9,
        polarity_equivariant: bool = False,
    ):
        super().__init__()
        self.polarity_equivariant = polarity_equivariant
        if norm not in ("batch", "none"):
            raise ValueError(f"norm: got {norm!r}; use 'batch' or 'none'")
        self.num_blocks = num_blocks
        self.leaky_slope = leaky_slope
        filters = block_filters(num_blocks, width, max_filters)
        kernels = block_kernels(num_blocks)

        self.down = nn.ModuleList()
        in_ch = 1
        for nf, k in zip(filters, kernels):
            self.down.append(SameConv1d(in_ch, nf, k, stride=2, dilation=dilation))
            in_ch = nf
        self.bottleneck = SameConv1d(in_ch, filters[-1], kernels[-1], stride=2, dilation=dilation)
        # Flax momentum 0.9 (weight of the old value) == torch momentum 0.1 (weight of the new batch).
        self.bottleneck_bn = (
            nn.BatchNorm1d(filters[-1], eps=1e-5, momentum=0.1) if norm == "batch" else None
        )
        self.dropout = nn.Dropout(dropout)

        # up[i] is jaxsr's "up{B - i}": applied deepest first.
        self.up = nn.ModuleList()
        in_ch = filters[-1]
        for b in reversed(range(num_blocks)):
            self.up.append(
                SameConv1d(in_ch, 2 * filters[b], kernels[b], stride=1, dilation=dilation)
            )
            in_ch = filters[b] + filters[b]  # subpixel halves 2*nf to nf, then the skip adds nf
        self.final = SameConv1d(in_ch, 2, final_kernel, stride=1, dilation=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x`: `[batch, time, 1]` -> `[batch, time, 1]` (residual: `x + f(x)`)."""
        m = 2 ** (self.num_blocks + 1)
        if x.dim() != 3 or x.shape[-1] != 1 or x.shape[1] % m:
            raise ValueError(
                f"TorchAudioUNet expects [batch, time, 1] with time a multiple of {m}; "
                f"got {tuple(x.shape)}"
            )
        if (
            self.polarity_equivariant
        ):  # as jaxsr: g on x and on -x (two passes, shared weights), odd part
            return x + 0.5 * (self._residual(x) - self._residual(-x))
        return x + self._residual(x)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        """The network's contribution f(x): `[batch, time, 1]` -> `[batch, time, 1]`."""
        h = x.transpose(1, 2)  # [b, 1, t]
        skips = []
        for conv in self.down:
            h = F.relu(conv(h))
            skips.append(h)
        h = self.bottleneck(h)
        if self.bottleneck_bn is not None:
            h = self.bottleneck_bn(h)
        h = F.leaky_relu(h, self.leaky_slope)
        h = self.dropout(h)
        for conv, skip in zip(self.up, reversed(skips)):
            h = F.relu(self.dropout(conv(h)))
            h = torch.cat([subpixel_1d(h, 2), skip], dim=1)
        h = subpixel_1d(self.final(h), 2)  # [b, 1, t]
        return h.transpose(1, 2).to(x.dtype)


def count_params(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm running statistics are buffers, as in Flax's `batch_stats`)."""
    return sum(p.numel() for p in model.parameters())


def model_from_config(config: Any) -> TorchAudioUNet:
    """Build the twin from a jaxsr config (`config.model.*`)."""
    m = config.model
    return TorchAudioUNet(
        num_blocks=m.num_blocks,
        width=m.width,
        max_filters=m.max_filters,
        dilation=m.dilation,
        norm=m.norm,
        dropout=m.dropout,
        leaky_slope=m.leaky_slope,
        final_kernel=m.final_kernel,
        polarity_equivariant=bool(m.get("polarity_equivariant", False)),
    )


def _tensor(a: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32))


def _copy_conv(conv: nn.Conv1d, p: Mapping[str, Any], name: str) -> None:
    kernel = _tensor(p["kernel"])  # Flax [k, in, out] -> torch [out, in, k]
    weight = kernel.permute(2, 1, 0)
    if weight.shape != conv.weight.shape:
        raise ValueError(
            f"load_flax_variables: {name}.kernel has shape {tuple(kernel.shape)}, which does not fit "
            f"a torch weight of shape {tuple(conv.weight.shape)}; build both models with the same config"
        )
    conv.weight.copy_(weight)
    conv.bias.copy_(_tensor(p["bias"]))


@torch.no_grad()
def load_flax_variables(model: TorchAudioUNet, variables: Mapping[str, Any]) -> TorchAudioUNet:
    """Copy jaxsr's `{'params': ..., 'batch_stats': ...}` into `model` in place (and return it)."""
    params = variables["params"]
    B = model.num_blocks
    for b, conv in enumerate(model.down, start=1):
        _copy_conv(conv, params[f"down{b}"], f"down{b}")
    _copy_conv(model.bottleneck, params["bottleneck"], "bottleneck")
    for i, conv in enumerate(model.up):
        _copy_conv(conv, params[f"up{B - i}"], f"up{B - i}")
    _copy_conv(model.final, params["final"], "final")
    if model.bottleneck_bn is not None:
        bn, stats = model.bottleneck_bn, variables["batch_stats"]["bottleneck_bn"]
        bn.weight.copy_(_tensor(params["bottleneck_bn"]["scale"]))
        bn.bias.copy_(_tensor(params["bottleneck_bn"]["bias"]))
        bn.running_mean.copy_(_tensor(stats["mean"]))
        bn.running_var.copy_(_tensor(stats["var"]))
    return model
