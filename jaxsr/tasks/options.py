"""What a task can be configured with: the names, the default fields of `config.task`, and reading them.

The tasks package's base: every other module of `jaxsr.tasks` reads its options through here, and the
config (`jaxsr.config`) takes its `task` section from `default_task()`, so a field's default and meaning
are written once. Also the checks and the range draw every degradation shares (`check_signal`,
`check_ratio`, `draw_uniform`), so a range means the same thing, and draws the same numbers, wherever it
is configured. numpy only.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

TASKS = ("sr", "denoise", "inpaint")
SR_RATIOS = (2, 3, 4, 6, 8)
# white / pink / brown: stationary colours; varying: colour and level drifting over time; babble: other
# clips of the source, unmodified; babble_voices: talkers unlike the source speaker (shifted other clips,
# synthetic voices); folder: recordings in task.noise_dir (see jaxsr/tasks/noise.py).
NOISE_TYPES = ("white", "pink", "brown", "varying", "babble", "babble_voices", "folder")
# sr degradation modes besides the named resamplers of `jaxsr.tasks.resampling.RESAMPLERS` (also
# accepted): "paper" is the paper's fixed decimator, "random" a resampling chain drawn per example.
SR_DEGRADATIONS = ("paper", "random")
# Kinds of randomly drawn sr chains (see jaxsr.tasks.resampling.draw_sr_chain) and the IIR families /
# soxr qualities.
SR_CHAIN_KINDS = ("iir", "fir", "soxr", "causal", "nofilter")
IIR_FAMILIES = ("butter", "cheby1", "cheby2", "ellip", "bessel")
SOXR_QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
# sr front ends: how the low-rate input is brought to the target rate before the network (task.sr_frontend).
SR_FRONTENDS = ("spline", "sinc")
# Codecs the sr low-rate signal can pass through after its resampler (task.sr_codec;
# jaxsr.tasks.codecs.apply_codec).
SR_CODECS = ("pcm8", "ulaw", "alaw", "mp3", "vorbis", "opus")

# A task's options: a `config.task` ConfigDict or a plain dict (fields it lacks take the defaults).
TaskOptions = Any


def default_task() -> dict:
    """The default fields of `config.task`, each commented with its meaning. A fresh dict per call."""
    t: dict = {}
    t["name"] = "sr"  # sr | denoise | inpaint
    t["ratio"] = 4  # sr: downsampling ratio r.
    # sr: how the low-rate input is made. "paper": the fixed zero-phase Chebyshev I (order 8, 0.8 x new
    # Nyquist) decimator of Kuleshov et al. (reproduces the paper). "random": per example a resampling
    # chain drawn from the fields below, so the model also works on audio brought to the low rate by
    # ordinary resamplers (a paper-trained model collapses on soxr / resample_poly input). A
    # name of jaxsr.tasks.resampling.RESAMPLERS (e.g. "soxr_hq") uses that one resampler for every example.
    t["sr_degradation"] = "paper"
    # sr random: relative probability of each chain kind (normalised; 0 disables a kind). iir: zero-phase
    # IIR low-pass then decimation; fir: polyphase FIR (scipy resample_poly, Kaiser window); soxr: soxr at
    # a quality of sr_soxr_qualities; causal: a causal IIR advanced by its delay (impulse-response peak;
    # rare: the residual phase shift, up to ~2 samples, cannot be undone by a model); nofilter: keep every
    # r-th sample (aliasing; rare).
    t["sr_chain_weights"] = dict(iir=0.5, fir=0.2, soxr=0.22, causal=0.04, nofilter=0.04)
    # sr random: IIR families, drawn uniformly (iir and causal chains).
    t["sr_iir_families"] = IIR_FAMILIES
    # sr random: IIR order range, inclusive (cheby2 at least 6: see jaxsr/tasks/resampling.py).
    t["sr_iir_order"] = (2, 12)
    # sr random: IIR / FIR cutoff as a fraction of the new Nyquist, uniform.
    t["sr_cutoff"] = (0.7, 1.0)
    # sr random: Kaiser window beta of the FIR chains (scipy default 5.0).
    t["sr_fir_beta"] = (4.0, 10.0)
    # sr random: FIR half-length in zero crossings (x ratio taps; scipy default 10).
    t["sr_fir_zeros"] = (6, 16)
    # sr random: soxr qualities, drawn uniformly (QQ has no anti-aliasing).
    t["sr_soxr_qualities"] = SOXR_QUALITIES
    t["sr_gain_db"] = (-12.0, 0.0)  # sr random: gain on input and target alike, dB, uniform.
    # sr: a codec the low-rate signal passes through after its resampler, as a telephone line, a VoIP call or
    # a compressed file does (pcm8, ulaw, alaw: 8-bit; mp3, vorbis, opus: lossy at libsndfile's default
    # quality); "" for none. For every example, in training and evaluation (`launch/evaluate.py --codec`).
    t["sr_codec"] = ""
    # sr: how the low-rate input reaches the target rate before the network: "spline" (the paper's cubic
    # spline) or "sinc" (band-limited interpolation, jaxsr.tasks.upsampling.sinc_upsample: the input's own band and
    # no spectral images). Training, evaluation and inference all use the one chosen here.
    t["sr_frontend"] = "spline"
    # sr: > 0 keeps the band the input already has: the network's residual is high-passed so that below
    # sr_keep_band x the low rate's Nyquist the output is the front end's signal (with "sinc", the input's
    # own band) by construction, and the network restores only above (jaxsr.models.keep_band_taps). 0 is
    # the paper's y = x + f(x). A decimator that attenuates the top of the kept band (the paper's rolls off
    # from 0.8 of the Nyquist) is not undone there: the input is trusted below the edge.
    t["sr_keep_band"] = 0.0
    # sr: with this probability per example (when sr_codec is ""), a codec drawn uniformly from sr_random_codecs,
    # among those that carry the low rate (MP3 and Opus carry only some rates). 0 draws nothing, so a run
    # without random codecs draws its chains exactly as a config without the field does.
    t["sr_codec_prob"] = 0.0
    t["sr_random_codecs"] = SR_CODECS
    t["snr_db"] = (0.0, 15.0)  # denoise: input SNR drawn uniformly from this range.
    t["noise_types"] = ("white", "pink", "brown")  # denoise: drawn uniformly per example.
    t["noise_dir"] = ""  # denoise: folder of real noise recordings (noise type "folder").
    # denoise, "folder" noise: the last this fraction of every noise file is held out: training draws noise
    # from the rest, evaluation (training's validation, `launch/evaluate.py`, benchmarks) only from it.
    t["noise_holdout"] = 0.0
    # denoise: probability that an example gets no noise at all (input = target), so the model learns to
    # pass clean speech through unchanged. 0 draws nothing, so existing configs reproduce exactly.
    t["clean_prob"] = 0.0
    # denoise, noise type "varying" (jaxsr.tasks.noise.varying_noise): coloured noise whose PSD exponent (0 white,
    # 1 pink, 2 brown) and level follow smooth random paths, one control point every T seconds (T uniform
    # in varying_seconds per example), exponents uniform in varying_exponent, level swinging by up to S dB
    # (S uniform in varying_level_db). Real noise (traffic, fans ramping, a room's chatter) is not stationary.
    t["varying_exponent"] = (0.0, 2.0)
    t["varying_level_db"] = (3.0, 20.0)
    t["varying_seconds"] = (0.2, 2.0)
    # denoise, noise type "babble_voices" (jaxsr.tasks.noise.voices_babble): babble_talkers talkers (inclusive
    # range), each a synthetic voice of the embedded corpus (probability babble_synthetic_prob) or another
    # clip of the source (never the clean clip), played babble_pitch times faster (pitch and formants move)
    # and then formant-warped so formants move by a factor in babble_formant: voices unlike the training
    # speaker. Pitch factors are at least babble_min_shift away from 1 (a ratio), so no talker is a
    # source clip's speaker unmodified. (Plain "babble" keeps its 4 unmodified other clips.)
    t["babble_talkers"] = (3, 8)
    t["babble_pitch"] = (0.7, 1.5)
    t["babble_formant"] = (0.85, 1.2)
    t["babble_min_shift"] = 1.1
    t["babble_synthetic_prob"] = 0.5
    # denoise: probability of putting the clean speech through a generated room first (jaxsr.tasks.noise.
    # room_impulse_response: direct path, then a noise tail decaying 60 dB in RT60 seconds, uniform in
    # reverb_rt60, at a direct-to-reverberant ratio uniform in reverb_drr_db). The target is then the
    # reverberant speech: the model learns to remove noise and keep the room (dereverberation is another
    # task). 0 (the default) draws nothing extra, so existing configs reproduce exactly.
    t["reverb_prob"] = 0.0
    t["reverb_rt60"] = (0.1, 0.6)
    t["reverb_drr_db"] = (3.0, 15.0)
    t["num_gaps"] = 2  # inpaint: gaps per patch (or per second for whole clips).
    t["gap_ms"] = (10.0, 50.0)  # inpaint: gap length range in milliseconds.
    return t


@functools.lru_cache(maxsize=1)
def _defaults() -> dict:
    """`default_task()` built once: `task_option` reads it per example."""
    return default_task()


def task_option(task: TaskOptions | None, name: str) -> Any:
    """`task[name]` for a `config.task` ConfigDict or a plain dict (a nested ConfigDict comes back as a
    dict); the `default_task()` value when `task` is None or lacks the field (plain dicts in callers and
    tests, config.json files older than the sr_* and denoise option fields), so that such tasks degrade
    exactly as they did before those fields existed."""
    if task is not None:
        try:
            value = task[name]
        except (KeyError, AttributeError):
            pass
        else:
            return value.to_dict() if hasattr(value, "to_dict") else value
    return _defaults()[name]


def check_signal(y: np.ndarray, name: str = "y") -> np.ndarray:
    """`y` as float32 `[time]`, or a ValueError naming `name` (every degradation checks its input here)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D signal [time]; got shape {y.shape}. Degrade each channel separately."
        )
    if y.size == 0:
        raise ValueError(f"{name} is empty; pass at least one sample.")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} has NaN or infinite samples; clean or drop them first.")
    return y.astype(np.float32, copy=False)


def check_ratio(ratio: int) -> int:
    """`ratio` as an int, or a ValueError unless it is one of the supported `SR_RATIOS`."""
    if int(ratio) != ratio or int(ratio) not in SR_RATIOS:
        raise ValueError(f"ratio must be one of {SR_RATIOS}; got {ratio!r}.")
    return int(ratio)


def draw_uniform(rng: np.random.Generator, lo_hi: Sequence[float]) -> float:
    """A float uniform in `[lo, hi]` (`lo_hi`); a fixed setting (hi <= lo) is `lo` and draws no random
    number. The one range draw of every degradation, so a range means the same thing, and draws the same
    numbers, wherever it is configured."""
    lo, hi = (float(v) for v in lo_hi)
    return float(rng.uniform(lo, hi)) if hi > lo else lo
