"""Restoring a stream block by block: `Streamer`, and the streaming front ends it feeds the model through.

A front end turns input blocks into target-rate model input as soon as that input is final (the sr
spline once enough knots follow, the inpaint fill once a gap's right neighbour arrives); `Streamer`
runs the same chunk grid as `run_model` on it, computing each chunk when its last sample arrives, so
the concatenated output equals `enhance` on the whole signal.
"""

from __future__ import annotations

from typing import Mapping

import ml_collections
import numpy as np
import scipy.interpolate
from numpy.typing import ArrayLike

from jaxsr.tasks.options import task_option
from jaxsr.tasks.upsampling import SINC_ZEROS, sinc_rows, spline_upsample
from jaxsr.inference.api import keep_known
from jaxsr.inference.checks import (
    check_audio_array,
    check_finite,
    check_mask,
    check_rate,
    same_rate,
    warn_clipped,
    count_clipped,
    expected_input_rate,
    resolve_task,
)
from jaxsr.inference.chunking import (
    add_chunk,
    check_inference_batch_size,
    run_planned,
    apply_chunks,
    chunk_plan,
)
from jaxsr.inference.model import Model, resolve_model

# Knots of look-ahead / look-back for the streaming cubic spline. A not-a-knot spline's dependence on
# a knot decays by (2 - sqrt(3)) ~ 0.268 per knot, so 32 knots leave < 1e-18 of a boundary's effect.
SPLINE_CONTEXT = 32


# ------------------------------------------------------------------------------------------ front ends
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
        self.r, self.knots, self.k0, self.n_lr, self.done = (
            ratio,
            np.zeros((0, channels), np.float32),
            0,
            0,
            0,
        )
        self.latency = (SPLINE_CONTEXT + 2) * ratio

    def _segment(self, a: int, b: int, final: bool) -> np.ndarray:
        if final and a == 0:  # the whole signal: exactly what enhance() does
            return np.stack(
                [spline_upsample(self.knots[:, c], self.r, b) for c in range(self.knots.shape[1])],
                1,
            )
        i0 = max(0, a // self.r - SPLINE_CONTEXT)
        i1 = self.n_lr if final else min(self.n_lr, -(-b // self.r) + SPLINE_CONTEXT + 1)
        y = self.knots[i0 - self.k0 : i1 - self.k0].astype(np.float64)
        spline = scipy.interpolate.CubicSpline(
            np.arange(i0, i1) * self.r, y, axis=0, bc_type="not-a-knot"
        )
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


class _SincFront(_Front):
    """Streaming windowed-sinc upsampling (`jaxsr.tasks.upsampling.sinc_upsample`), a plain FIR: each output
    sample is final once the SINC_ZEROS knots after it have arrived, and equals the whole-signal result."""

    def __init__(self, ratio: int, channels: int):
        self.r, self.knots, self.k0, self.n_lr, self.done = (
            ratio,
            np.zeros((0, channels), np.float32),
            0,
            0,
            0,
        )
        self.latency = (SINC_ZEROS + 1) * ratio

    def _segment(self, a: int, b: int) -> np.ndarray:
        i0 = max(0, -(-a // self.r) - SINC_ZEROS)  # the first knot whose filter reaches sample a
        window = self.knots[i0 - self.k0 :]
        return sinc_rows(window.T, self.r, b - i0 * self.r).T[a - i0 * self.r :]

    def push(self, x: np.ndarray, miss: np.ndarray | None) -> np.ndarray:
        self.knots = np.concatenate([self.knots, x])
        self.n_lr += len(x)
        avail = max(0, (self.n_lr - SINC_ZEROS) * self.r)
        if avail <= self.done:
            return x[:0]
        out = self._segment(self.done, avail)
        self.done = avail
        drop = max(0, -(-self.done // self.r) - SINC_ZEROS - self.k0)
        self.knots, self.k0 = self.knots[drop:], self.k0 + drop
        return out

    def flush(self) -> np.ndarray | None:
        end = self.n_lr * self.r
        return self._segment(self.done, end) if end > self.done else None


class _FillFront(_Front):
    """Streaming linear fill of masked samples: a gap is emitted once the sample after it arrives.

    `compose` then keeps the samples of masked blocks that were not missing, as `enhance` does
    (`keep_known`): it holds what was emitted, with its keep flags, until the output reaches it.
    """

    def __init__(self, channels: int):
        self.x = np.zeros((0, channels), np.float32)
        self.miss = np.zeros((0, channels), bool)
        self.keep = np.zeros(
            (0, channels), bool
        )  # per buffered sample: given with a mask and not missing
        self.given = np.zeros((0, channels), np.float32)  # emitted, not yet composed
        self.kept = np.zeros((0, channels), bool)
        self.prev: list[tuple[int, float] | None] = [
            None
        ] * channels  # last known (index, value) emitted
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
        self.x, self.miss, self.keep, self.x0 = (
            self.x[upto:],
            self.miss[upto:],
            self.keep[upto:],
            self.x0 + upto,
        )
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
            upto = min(
                upto,
                int(np.flatnonzero(~self.miss[:, c])[-1]) + 1 if (~self.miss[:, c]).any() else 0,
            )
        return self._fill(upto)

    def flush(self) -> np.ndarray | None:
        return self._fill(len(self.x)) if len(self.x) else None


# ------------------------------------------------------------------------------------------- the stream
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
    rate (the spline's look-ahead; `(SINC_ZEROS + 1) * ratio` with the sinc front end). For inpaint with a `mask`, samples after the last known sample also
    wait until their gap closes. The concatenated output equals `enhance` to float tolerance (the
    streaming spline is exact to ~1e-18; chunk results may differ in the last bits because batches
    differ). The stream is not resampled: `sample_rate` must be the rate the model expects.
    """

    def __init__(
        self,
        model_or_params: Model | Mapping,
        *,
        sample_rate: float,
        config: ml_collections.ConfigDict | None = None,
        band_limited: bool = False,
        task: str | None = None,
        ratio: int | None = None,
        batch_size: int | None = None,
        chunk_length: int | None = None,
        runtime: str | None = None,
        precision: str | None = None,
    ):
        self.variables, self.config, self.forward = resolve_model(
            model_or_params, config, runtime, precision
        )
        self.task, self.ratio = resolve_task(self.config, task, ratio)
        if band_limited and self.task != "sr":
            raise ValueError(
                f"band_limited=True only applies to the sr task; this model does {self.task!r}."
            )
        rate, want = check_rate(sample_rate), expected_input_rate(self.config, band_limited)
        if not same_rate(rate, want):
            raise ValueError(
                f"sample_rate={sample_rate}: this Streamer needs input at {want:g} Hz (task {self.task}"
                f"{', band-limited' if band_limited else ''}); it does not resample. Resample the stream "
                "first (e.g. soxr.ResampleStream) or use enhance() on whole signals."
            )
        self.band_limited = band_limited
        self._sinc = self.task == "sr" and task_option(self.config.task, "sr_frontend") == "sinc"
        self.input_rate, self.output_rate = rate, int(self.config.data.sample_rate)
        self.batch_size = check_inference_batch_size(batch_size, self.config)
        self.plan = chunk_plan(self.config, chunk_length, forward=self.forward)
        self.reset()

    @property
    def latency(self) -> int:
        front = 0
        if self.task == "sr" and not self.band_limited:
            front = (SINC_ZEROS + 1 if self._sinc else SPLINE_CONTEXT + 2) * self.ratio
        return self.plan.length + front

    @property
    def latency_seconds(self) -> float:
        return self.latency / self.output_rate

    def reset(self) -> None:
        self._channels: int | None = None
        self._was_1d = True
        self._front = None
        self._x = None  # target-rate samples not yet consumed by a chunk, [time, ch]
        self._x0 = self._n = self._next = self._emitted = 0
        self._ys: dict[
            int, np.ndarray
        ] = {}  # chunk index -> model output [ch, L], until fully emitted
        self._clip_warned = False

    def _start(self, ch: int, was_1d: bool) -> None:
        self._channels, self._was_1d = ch, was_1d
        if self.task == "sr" and not self.band_limited:
            self._front = (_SincFront if self._sinc else _SplineFront)(self.ratio, ch)
        elif self.task == "inpaint":
            self._front = _FillFront(ch)
        else:
            self._front = _Identity()
        self._x = np.zeros((0, ch), np.float32)

    def process(self, block: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
        """Feed `block` (`[time]` or `[time, ch]`, the layout of the first block) -> restored samples now ready."""
        x, was_1d = check_audio_array(block, "block", self._channels)
        if self._channels is None:
            self._start(x.shape[1], was_1d)
        miss = None
        if mask is not None:
            miss = check_mask(mask, x, self.task, self.output_rate, self.output_rate)
        check_finite(x, "block", ignore=miss)
        if miss is not None:
            x = np.where(miss, 0.0, x).astype(np.float32)
        if not self._clip_warned and count_clipped(x) >= max(16, 1e-3 * x.size):
            self._clip_warned = True
            warn_clipped(count_clipped(x), x.size, "block")
        return self._out(self._push(self._front.push(x, miss)))

    def flush(self) -> np.ndarray:
        """Finish the stream: the remaining restored samples. The streamer is reset afterwards."""
        if self._channels is None:
            raise ValueError(
                "flush() before any process(): the stream is empty, there is nothing to restore."
            )
        rest = self._front.flush()
        if rest is not None:
            self._push(rest, compute=False)
        n = self._n
        if self._next == 0:  # never filled one chunk: exactly the offline short-signal path
            y = run_planned(
                self.variables, self.config, self._x, self.plan, self.batch_size, self.forward
            ).T
        else:  # the offline grid: full chunks, then a last one bucketed to what is left
            p, num, last = self.plan, self.plan.num_chunks(n), self.plan.last_length(n)
            end = (num - 1) * p.hop + max(last, p.length) - self._x0
            self._x = np.concatenate(
                [self._x, np.zeros((end - len(self._x), self._channels), np.float32)]
            )
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
        ready = (
            (self._n - self.plan.length) // self.plan.hop + 1 if self._n >= self.plan.length else 0
        )
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
            chunks = np.stack([x[:, s : s + length] for s in starts], axis=1)  # [ch, k, length]
            y = apply_chunks(
                self.variables,
                self.config,
                chunks.reshape(-1, length),
                self.batch_size,
                self.forward,
            )
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
            add_chunk(out, self._emitted, self._ys[k], k, self.plan, last=k == last)
        self._emitted = upto
        self._ys = {
            k: y for k, y in self._ys.items() if k * self.plan.hop + self.plan.length > upto
        }
        return out
