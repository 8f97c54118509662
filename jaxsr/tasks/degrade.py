"""The three restoration tasks: how a clean signal is degraded, and the classical baseline for each.

All functions work on float32 numpy arrays of shape `[time]` on the host (they run inside the input
pipeline's workers) and are deterministic given a `np.random.Generator`.

| task      | degradation                                              | model input = baseline            |
|-----------|----------------------------------------------------------|-----------------------------------|
| `sr`      | zero-phase order-8 Chebyshev I lowpass at 0.8 x new      | cubic spline through the low-rate |
|           | Nyquist, keep every r-th sample (as `scipy.signal.decimate`) | samples, back to full length  |
|           | ("paper"), or a randomly drawn real-world resampling chain  |                                 |
|           | ("random"), or a named resampler (`RESAMPLERS`); then,   |                                   |
|           | optionally, a codec on the low-rate signal (`sr_codec`)   |                                   |
| `denoise` | add stationary or time-varying coloured noise, babble of | the noisy signal                |
|           | other clips or of shifted/synthetic voices, or recorded  |                                   |
|           | noise at a random SNR, optionally after a generated room |                                   |
| `inpaint` | zero out gaps of random length and position              | linear interpolation across gaps  |

In every task the model input is the baseline itself, so the network learns a residual on top of the
classical method (`y = x + f(x)`). This module is the per-task entry points (`degrade`, `degrade_sr`,
`sr_batch`, `degrade_denoise`, `degrade_inpaint`); the parts are the package's other modules: resamplers
and chains `jaxsr.tasks.resampling`, codecs `jaxsr.tasks.codecs`, front ends `jaxsr.tasks.upsampling`,
noises `jaxsr.tasks.noise`, gaps `jaxsr.tasks.gaps`, options `jaxsr.tasks.options`. Rates: `target_rate`
is the rate of `y` (and of `x`, the model's input and output), `low_rate` the sr low-rate signal's.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from jaxsr.tasks.codecs import apply_codec, check_codec, draw_sr_codec
from jaxsr.tasks.gaps import gap_mask, linear_fill
from jaxsr.tasks.noise import (
    add_noise,
    babble_noise,
    colored_noise,
    reverberate,
    room_impulse_response,
    varying_noise,
    voices_babble,
)
from jaxsr.tasks.options import (
    NOISE_TYPES,
    TASKS,
    TaskOptions,
    check_ratio,
    check_signal,
    draw_uniform,
    task_option,
)
from jaxsr.tasks.resampling import draw_sr_chain, gain_and_lowrate, lowpass_rows, resampler_chain
from jaxsr.tasks.upsampling import upsample_rows


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


# ---------------------------------------------------------------------------------------------- sr
def sr_baseline_batch(y: np.ndarray, ratio: int, frontend: str = "spline") -> np.ndarray:
    """`degrade_sr(..., frontend=frontend).x` for every row of `y` at once: `[batch, time] -> [batch, time]`.

    The same numbers as the per-row function (scipy filters and splines each row independently);
    one call per batch keeps scipy's set-up cost off every example in the input pipeline.
    """
    y = np.asarray(y, np.float32)
    if y.ndim != 2 or y.shape[-1] == 0:
        raise ValueError(f"y must be a batch of signals [batch, time]; got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y has NaN or infinite samples; clean or drop them first.")
    ratio = check_ratio(ratio)
    return upsample_rows(lowpass_rows(y, ratio)[..., ::ratio], ratio, y.shape[-1], frontend)


def _low_rate(target_rate: float | None, ratio: int, codec: str) -> float:
    if target_rate is None:
        raise ValueError(f"codec {codec!r} needs the sample rate of the signal (target_rate=...)")
    low = target_rate / ratio
    check_codec(codec, low)
    return low


def degrade_sr(
    y: np.ndarray,
    ratio: int,
    chain: str | dict | None = None,
    *,
    codec: str = "",
    target_rate: float | None = None,
    frontend: str = "spline",
) -> Degraded:
    """Low-rate version of `y` (`[time]`) made by `chain`, brought back by the front end (`frontend`: the
    cubic spline, or "sinc": `jaxsr.tasks.upsampling.sinc_upsample`): `x == baseline`, `[time]`.

    `chain`: None or "paper" (the paper's decimator, `jaxsr.tasks.resampling.decimate`), a name of
    `RESAMPLERS`, or a chain dict from `draw_sr_chain`. A chain's `gain_db` scales input and target alike (the scaled target is `.y`).
    `codec` (a name of `SR_CODECS`, "" for none): the low-rate signal is encoded and decoded with it
    (`apply_codec`) before the spline; it needs `target_rate`, the rate of `y`.
    """
    y = check_signal(y)
    ratio = check_ratio(ratio)
    if (chain is None or chain == "paper") and not codec:  # the paper's setup, bit for bit
        x = sr_baseline_batch(y[None], ratio, frontend)[0]
        return Degraded(x=x, baseline=x, info={"task": "sr", "ratio": ratio})
    chain = chain if isinstance(chain, dict) else resampler_chain(chain or "paper")
    target, x_lr = gain_and_lowrate(y, ratio, chain)
    info = {"task": "sr", "ratio": ratio, "chain": dict(chain)}
    if codec:
        x_lr = apply_codec(x_lr, _low_rate(target_rate, ratio, codec), codec)
        info["codec"] = codec
    x = upsample_rows(x_lr, ratio, len(y), frontend)
    return Degraded(x=x, baseline=x, info=info, y=None if target is y else target)


def named_degradation(name: str, y: np.ndarray, ratio: int) -> Degraded:
    """`y` (`[time]`) brought to the low rate by the named resampler (`RESAMPLERS`) and spline-upsampled."""
    return degrade_sr(y, ratio, resampler_chain(name))


def sr_batch(
    y: np.ndarray,
    ratio: int,
    chains: Sequence[str | dict],
    *,
    codec: str | Sequence[str] = "",
    target_rate: float | None = None,
    frontend: str = "spline",
) -> tuple[np.ndarray, np.ndarray]:
    """Row i of `y` degraded by `chains[i]` (then `codec`, or `codec[i]` given one per row; see `degrade_sr`):
    `[batch, time] -> (x [batch, time], target y [batch, time])`.

    The same numbers as `degrade_sr` row by row; the spline runs once for the whole batch.
    """
    y = np.asarray(y, np.float32)
    if y.ndim != 2 or y.shape[-1] == 0 or len(chains) != len(y):
        raise ValueError(
            f"y must be [batch, time] with one chain per row; got shape {y.shape} and "
            f"{len(chains)} chains"
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("y has NaN or infinite samples; clean or drop them first.")
    ratio = check_ratio(ratio)
    codecs = [codec] * len(y) if isinstance(codec, str) else list(codec)
    if len(codecs) != len(y):
        raise ValueError(f"codec: one per row or one for all; got {len(codecs)} for {len(y)} rows")
    targets = np.empty_like(y)
    low = np.empty((len(y), -(-y.shape[1] // ratio)), np.float32)
    for i, (row, chain, c) in enumerate(zip(y, chains, codecs)):
        targets[i], low[i] = gain_and_lowrate(
            row, ratio, resampler_chain(chain) if isinstance(chain, str) else chain
        )
        if c:
            low[i] = apply_codec(low[i], _low_rate(target_rate, ratio, c), c)
    return upsample_rows(low, ratio, y.shape[1], frontend), targets


# ----------------------------------------------------------------------------------------- denoise
# The noise generators live in jaxsr.tasks.noise (one job: making noise).
#
# Noise types (task.noise_types, drawn uniformly per example): white / pink / brown (stationary colours),
# varying (colour and level drifting over time), babble (other clips of the source, unmodified),
# babble_voices (3-8 talkers unlike the source speaker: other clips and synthetic voices, pitch- and
# formant-shifted), folder (recorded noise, task.noise_dir). With probability task.reverb_prob the clean
# speech first goes through a generated room (RT60 in task.reverb_rt60) and the *reverberant* speech is
# the target: the model removes noise, not the room. Dereverberation is another task; folding it in
# would ask a 0.9 M-parameter denoiser to invert responses longer than its receptive field, and would
# teach it that a room's tail is noise to be removed, which it then strips from ordinary recordings.


def degrade_denoise(
    y: np.ndarray,
    rng: np.random.Generator,
    snr_db: float | tuple[float, float] = (0.0, 15.0),
    noise_types: Sequence[str] = ("white", "pink", "brown"),
    noise_pool: Sequence[np.ndarray] = (),
    noise_files: Sequence[np.ndarray] = (),
    *,
    target_rate: int = 16000,
    exclude: int | None = None,
    voices: Sequence[np.ndarray] = (),
    options: TaskOptions | None = None,
) -> Degraded:
    """Add noise of a random type from `noise_types` at an SNR drawn uniformly from `snr_db`; `y` is `[time]`.

    `noise_pool`: clean clips for babble (`exclude`: the index in it of `y`'s own clip, never used).
    `noise_files`: recorded noise signals for "folder". `voices`: the synthetic voice bank of babble_voices
    (`[time]` clips at `target_rate`; the data layer's `jaxsr.data.synthetic.voice_bank`, its "train" bank
    for training, "test" for evaluation), needed when "babble_voices" is drawn. `options`: the task's
    denoise fields (`babble_*`, `varying_*`, `reverb_*`; missing ones take the defaults).
    With probability `reverb_prob` the speech is reverberated first; the noisy input is then the
    reverberant speech plus noise at the drawn SNR, and `.y` is the reverberant speech (the target).
    With `reverb_prob` 0 no extra random numbers are drawn: configs without the field degrade exactly as with it at 0.
    With probability `clean_prob` (an option; 0 draws nothing) the example is left clean: `x` is `y`.
    """
    y = check_signal(y)
    for t in noise_types:
        if t not in NOISE_TYPES:
            raise ValueError(f"noise type {t!r} is not one of {NOISE_TYPES}.")
    if not len(noise_types):
        raise ValueError(f"noise_types is empty; give at least one of {NOISE_TYPES}.")
    clean_prob = float(task_option(options, "clean_prob"))
    if (
        clean_prob > 0 and rng.random() < clean_prob
    ):  # a clean example: the model must leave it alone
        return Degraded(
            x=y.copy(),
            baseline=y.copy(),
            info={"task": "denoise", "noise": "none", "snr_db": float("inf")},
        )
    kind = noise_types[rng.integers(len(noise_types))]
    snr = draw_uniform(rng, (snr_db, snr_db) if np.isscalar(snr_db) else snr_db)
    n = len(y)
    info: dict = {"task": "denoise", "noise": kind, "snr_db": snr}
    target = y
    reverb_prob = float(task_option(options, "reverb_prob"))
    if reverb_prob > 0 and rng.random() < reverb_prob:
        rt60 = draw_uniform(rng, task_option(options, "reverb_rt60"))
        drr = draw_uniform(rng, task_option(options, "reverb_drr_db"))
        target = reverberate(y, room_impulse_response(rng, target_rate, rt60, drr))
        info["reverb"] = {"rt60": rt60, "drr_db": drr}
    if kind in ("white", "pink", "brown"):
        noise = colored_noise(rng, n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
    elif kind == "varying":
        noise = varying_noise(
            rng,
            n,
            target_rate,
            tuple(task_option(options, "varying_exponent")),
            tuple(task_option(options, "varying_level_db")),
            tuple(task_option(options, "varying_seconds")),
        )
    elif kind == "babble":
        noise = babble_noise(rng, n, noise_pool, exclude=exclude)
    elif kind == "babble_voices":
        if not len(voices):
            # The bank decides which random numbers are drawn (a talker's source is drawn only when there
            # is a choice), so leaving it out would silently change every later draw of the example.
            raise ValueError(
                "noise type 'babble_voices' needs the synthetic voice bank: pass "
                "voices=jaxsr.data.synthetic.voice_bank(rate, split)."
            )
        noise = voices_babble(
            rng,
            n,
            target_rate,
            noise_pool,
            exclude,
            voices,
            talkers=tuple(task_option(options, "babble_talkers")),
            pitch=tuple(task_option(options, "babble_pitch")),
            formant=tuple(task_option(options, "babble_formant")),
            min_shift=float(task_option(options, "babble_min_shift")),
            synthetic_prob=float(task_option(options, "babble_synthetic_prob")),
        )
    else:
        if not len(noise_files):
            raise ValueError(
                "noise type 'folder' needs recorded noise (task.noise_dir); none was loaded."
            )
        noise = babble_noise(rng, n, noise_files, talkers=1)
    x = add_noise(target, noise, snr)
    return Degraded(x=x, baseline=x, info=info, y=None if target is y else target)


# ----------------------------------------------------------------------------------------- inpaint
def degrade_inpaint(
    y: np.ndarray,
    rng: np.random.Generator,
    target_rate: int,
    num_gaps: int = 2,
    gap_ms: tuple[float, float] = (10.0, 50.0),
) -> Degraded:
    """Zero `num_gaps` random gaps of `gap_ms` (`gap_mask`) in `y` (`[time]`) and fill them linearly:
    `x == baseline` `[time]`, `.mask` `[time]` True in the gaps."""
    y = check_signal(y)
    mask = gap_mask(rng, len(y), target_rate, num_gaps, gap_ms)
    zeroed = np.where(mask, 0.0, y).astype(np.float32)
    x = linear_fill(zeroed, mask)
    return Degraded(
        x=x, baseline=x, mask=mask, info={"task": "inpaint", "gap_samples": int(mask.sum())}
    )


# -------------------------------------------------------------------------------------------- task
def degrade(
    y: np.ndarray,
    task: TaskOptions,
    rng: np.random.Generator,
    target_rate: int,
    noise_pool: Sequence[np.ndarray] = (),
    noise_files: Sequence[np.ndarray] = (),
    *,
    exclude: int | None = None,
    voices: Sequence[np.ndarray] = (),
) -> Degraded:
    """Degrade `y` (`[time]` at `target_rate`) as `task` (a `config.task` ConfigDict or mapping) says.

    denoise: `noise_pool` is the babble pool and `exclude` the index in it of `y`'s own clip (None when
    the pool does not hold it); `voices` the synthetic voice bank of babble_voices (`degrade_denoise`)."""
    name = task["name"] if isinstance(task, dict) else task.name
    get = (lambda k: task[k]) if isinstance(task, dict) else (lambda k: getattr(task, k))
    if name == "sr":
        mode = task_option(task, "sr_degradation")
        chain = (
            draw_sr_chain(rng, task) if mode == "random" else mode
        )  # "paper" or a named resampler
        codec = draw_sr_codec(
            rng, task, target_rate / get("ratio")
        )  # after the chain: random codecs leave every example's chain as it was
        return degrade_sr(
            y,
            get("ratio"),
            chain,
            codec=codec,
            target_rate=target_rate,
            frontend=task_option(task, "sr_frontend"),
        )
    if name == "denoise":
        return degrade_denoise(
            y,
            rng,
            tuple(get("snr_db")),
            tuple(get("noise_types")),
            noise_pool,
            noise_files,
            target_rate=target_rate,
            exclude=exclude,
            voices=voices,
            options=task,
        )
    if name == "inpaint":
        return degrade_inpaint(y, rng, target_rate, get("num_gaps"), tuple(get("gap_ms")))
    raise ValueError(f"task name must be one of {TASKS}; got {name!r}.")
