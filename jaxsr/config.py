"""The experiment config: one ml_collections tree that fully describes a run.

Every file in `jaxsr/configs/` (also reached as `configs/NAME.py` in a clone) starts from
`default_config()` and changes a few fields; `validate()` checks a config at start-up so that a typo fails with a message naming the field instead of a traceback from
inside JAX. The config used by a run is saved as JSON in its workdir (`config_to_json`), which is how
`jaxsr.load(workdir)` rebuilds the model without the config file.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import ml_collections

TASKS = ("sr", "denoise", "inpaint")
SR_RATIOS = (2, 3, 4, 6, 8)
# white / pink / brown: stationary colours; varying: colour and level drifting over time; babble: other
# clips of the source, unmodified; babble_voices: talkers unlike the source speaker (shifted other clips,
# synthetic voices); folder: recordings in task.noise_dir (see jaxsr/noise.py).
NOISE_TYPES = ("white", "pink", "brown", "varying", "babble", "babble_voices", "folder")
NORMS = ("batch", "none")
DTYPES = ("auto", "float32", "bfloat16")
SCHEDULES = ("constant", "cosine")
LOSSES = ("mse", "snr")
# sr degradation modes besides the named resamplers of `jaxsr.degrade.RESAMPLERS` (also accepted):
# "paper" is the paper's fixed decimator, "random" a resampling chain drawn per example.
SR_DEGRADATIONS = ("paper", "random")
# Kinds of randomly drawn sr chains (see jaxsr.degrade.draw_sr_chain) and the IIR families / soxr qualities.
SR_CHAIN_KINDS = ("iir", "fir", "soxr", "causal", "nofilter")
IIR_FAMILIES = ("butter", "cheby1", "cheby2", "ellip", "bessel")
SOXR_QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
# sr front ends: how the low-rate input is brought to the target rate before the network (task.sr_frontend).
SR_FRONTENDS = ("spline", "sinc")
# Codecs the sr low-rate signal can pass through after its resampler (task.sr_codec; jaxsr.resamplers.apply_codec).
SR_CODECS = ("pcm8", "ulaw", "alaw", "mp3", "vorbis", "opus")


def default_config() -> ml_collections.ConfigDict:
    """The base config; each field is commented with its meaning and, where relevant, its source."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    # Compute dtype of activations; params and optimizer state always stay float32.
    # "auto": bfloat16 on GPU/TPU, float32 on CPU (where bfloat16 convolutions are slower).
    c.dtype = "auto"

    c.model = m = ml_collections.ConfigDict()
    m.num_blocks = 4  # B in Kuleshov et al. 2017 (their best model uses B=4).
    m.width = 1.0  # Multiplier on every filter count; 1.0 is the paper's network.
    m.max_filters = 512  # The paper caps filters at 512.
    # Dilation of every conv. The paper's downsampling convs are plain stride-2 convs (dilation 1). The
    # reference code's later DRATE=2 pairs dilation with max-pool downsampling; with stride 2 an even
    # dilation would make each downsampling conv read only every other input sample, so it is refused.
    m.dilation = 1
    m.norm = "batch"  # Normalisation in the bottleneck ("batch" or "none").
    m.dropout = 0.5  # Dropout in the bottleneck and the upsampling blocks (paper: 0.5).
    m.leaky_slope = 0.2  # LeakyReLU slope in the bottleneck (reference code: 0.2).
    m.final_kernel = 9  # Kernel length of the last conv (reference code: 9).
    # True: the learnt residual is made odd, f(x) = (g(x) - g(-x)) / 2 with g the network above, so a
    # recording of the other polarity is restored exactly as the negative of the same recording's
    # restoration (recordings come in either polarity; see data.random_polarity). It also averages two
    # estimates, which helps a model trained on both polarities. The network runs twice (on x and on -x,
    # sharing its weights); the parameters are the same, so a trained model can be run either way.
    m.polarity_equivariant = False

    c.data = d = ml_collections.ConfigDict()
    d.name = "synthetic"  # synthetic | audio_folder | vctk | musdb18 | librispeech
    d.path = ""  # Source directory (or zip) for datasets the user provides.
    d.sample_rate = 16000  # Target (high) rate; everything is resampled to it.
    d.patch_length = 8192  # Training patch length in samples at the target rate.
    d.split = (
        ""  # Builder-specific split spec (see jaxsr.data.builders); "" means the builder default.
    )
    d.data_dir = (
        ""  # Where built datasets are cached ("" means $JAXSR_DATA_DIR or ~/.cache/jaxsr/datasets).
    )
    d.num_train_clips = 256  # synthetic only: clips in the training split.
    d.num_eval_clips = 16  # synthetic only: clips in the evaluation split.
    d.clip_seconds = 2.0  # synthetic only: seconds per clip.
    d.corpus_seed = 0  # synthetic only: base seed of the corpus.
    d.store_dtype = "int16"  # How built clips are stored: int16 or float32.
    d.segment_seconds = (
        0.0  # > 0 cuts long recordings into pieces of this length (30 suits MUSDB18).
    )
    d.trim_silence = False  # Trim leading/trailing silence of each file (librosa.effects.trim).
    d.trim_top_db = 30.0
    d.num_valid_clips = 8  # vctk / musdb18: validation clips carved from the training split.
    d.vctk_mode = (
        "single"  # vctk: "single" (p225, paper) or "multi" (first 99 speakers train, paper).
    )
    d.vctk_speaker = "p225"
    d.vctk_train_recordings = 223  # Paper: the first 223 recordings of p225 train, the rest test.
    d.vctk_train_speakers = 99  # Paper: the first 99 speakers train, the others test.
    d.vctk_mic = "mic1"  # VCTK 0.92 has two microphones: mic1 or mic2.
    d.build_workers = 0  # Decode threads when building (0: min(8, CPU count)).
    # librispeech: train speakers held out as the validation split (training evaluates on them and picks
    # `best/` by them), chosen by a hash of the speaker id. The test split is the speakers under `test/`
    # (or data.test_speakers); it never reaches training or checkpoint selection.
    d.num_valid_speakers = 12
    d.valid_speakers = ()  # librispeech: explicit validation speaker ids instead of the hash choice
    d.test_speakers = ()  # librispeech: explicit test speaker ids instead of the `test/` folder
    # Skip files whose top band (0.5-0.975 of the Nyquist) lies this many dB or more below their 0-0.125 band
    # (some recordings were band-limited before they reached the corpus, which would teach sr that the band is
    # empty); None keeps every file. Counted in the build summary as "band_limited".
    d.min_top_band_db = None
    d.silence_threshold_db = -50.0  # Patches quieter than this (RMS, dBFS) are skipped.
    # Invert the sign of each training patch with probability 1/2 (before its degradation). Microphones,
    # preamps and editors leave recordings in either polarity, and voiced speech is not symmetric (the
    # glottal pulses point one way), so a model trained on one polarity restores the other markedly
    # worse. False (the default, the paper's setup) draws nothing, so existing configs reproduce exactly.
    d.random_polarity = False
    d.num_workers = 0  # grain worker processes (0: in the main process).
    d.prefetch = 2

    c.task = t = ml_collections.ConfigDict()
    t.name = "sr"  # sr | denoise | inpaint
    t.ratio = 4  # sr: downsampling ratio r.
    # sr: how the low-rate input is made. "paper": the fixed zero-phase Chebyshev I (order 8, 0.8 x new
    # Nyquist) decimator of Kuleshov et al. (reproduces the paper). "random": per example a resampling
    # chain drawn from the fields below, so the model also works on audio brought to the low rate by
    # ordinary resamplers (a paper-trained model collapses on soxr / resample_poly input). A
    # name of jaxsr.degrade.RESAMPLERS (e.g. "soxr_hq") uses that one resampler for every example.
    t.sr_degradation = "paper"
    # sr random: relative probability of each chain kind (normalised; 0 disables a kind). iir: zero-phase
    # IIR low-pass then decimation; fir: polyphase FIR (scipy resample_poly, Kaiser window); soxr: soxr at
    # a quality of sr_soxr_qualities; causal: a causal IIR advanced by its delay (impulse-response peak;
    # rare: the residual phase shift, up to ~2 samples, cannot be undone by a model); nofilter: keep every
    # r-th sample (aliasing; rare).
    t.sr_chain_weights = ml_collections.ConfigDict(
        dict(iir=0.5, fir=0.2, soxr=0.22, causal=0.04, nofilter=0.04)
    )
    t.sr_iir_families = (
        IIR_FAMILIES  # sr random: IIR families, drawn uniformly (iir and causal chains).
    )
    t.sr_iir_order = (
        2,
        12,
    )  # sr random: IIR order range, inclusive (cheby2 at least 6: see degrade.py).
    t.sr_cutoff = (
        0.7,
        1.0,
    )  # sr random: IIR / FIR cutoff as a fraction of the new Nyquist, uniform.
    t.sr_fir_beta = (
        4.0,
        10.0,
    )  # sr random: Kaiser window beta of the FIR chains (scipy default 5.0).
    t.sr_fir_zeros = (
        6,
        16,
    )  # sr random: FIR half-length in zero crossings (x ratio taps; scipy default 10).
    t.sr_soxr_qualities = (
        SOXR_QUALITIES  # sr random: soxr qualities, drawn uniformly (QQ has no anti-aliasing).
    )
    t.sr_gain_db = (-12.0, 0.0)  # sr random: gain on input and target alike, dB, uniform.
    # sr: a codec the low-rate signal passes through after its resampler, as a telephone line, a VoIP call or
    # a compressed file does (pcm8, ulaw, alaw: 8-bit; mp3, vorbis, opus: lossy at libsndfile's default
    # quality); "" for none. For every example, in training and evaluation (`launch/evaluate.py --codec`).
    t.sr_codec = ""
    # sr: how the low-rate input reaches the target rate before the network: "spline" (the paper's cubic
    # spline) or "sinc" (band-limited interpolation, jaxsr.degrade.sinc_upsample: the input's own band and
    # no spectral images). Training, evaluation and inference all use the one chosen here.
    t.sr_frontend = "spline"
    # sr: > 0 keeps the band the input already has: the network's residual is high-passed so that below
    # sr_keep_band x the low rate's Nyquist the output is the front end's signal (with "sinc", the input's
    # own band) by construction, and the network restores only above (jaxsr.models.keep_band_taps). 0 is
    # the paper's y = x + f(x). A decimator that attenuates the top of the kept band (the paper's rolls off
    # from 0.8 of the Nyquist) is not undone there: the input is trusted below the edge.
    t.sr_keep_band = 0.0
    # sr: with this probability per example (when sr_codec is ""), a codec drawn uniformly from sr_random_codecs,
    # among those that carry the low rate (MP3 and Opus carry only some rates). 0 draws nothing, so a run
    # without random codecs draws its chains exactly as a config without the field does.
    t.sr_codec_prob = 0.0
    t.sr_random_codecs = SR_CODECS
    t.snr_db = (0.0, 15.0)  # denoise: input SNR drawn uniformly from this range.
    t.noise_types = ("white", "pink", "brown")  # denoise: drawn uniformly per example.
    t.noise_dir = ""  # denoise: folder of real noise recordings (noise type "folder").
    # denoise, "folder" noise: the last this fraction of every noise file is held out: training draws noise
    # from the rest, evaluation (training's validation, `launch/evaluate.py`, benchmarks) only from it.
    t.noise_holdout = 0.0
    # denoise: probability that an example gets no noise at all (input = target), so the model learns to
    # pass clean speech through unchanged. 0 draws nothing, so existing configs reproduce exactly.
    t.clean_prob = 0.0
    # denoise, noise type "varying" (jaxsr.noise.varying_noise): coloured noise whose PSD exponent (0 white,
    # 1 pink, 2 brown) and level follow smooth random paths, one control point every T seconds (T uniform
    # in varying_seconds per example), exponents uniform in varying_exponent, level swinging by up to S dB
    # (S uniform in varying_level_db). Real noise (traffic, fans ramping, a room's chatter) is not stationary.
    t.varying_exponent = (0.0, 2.0)
    t.varying_level_db = (3.0, 20.0)
    t.varying_seconds = (0.2, 2.0)
    # denoise, noise type "babble_voices" (jaxsr.noise.voices_babble): babble_talkers talkers (inclusive
    # range), each a synthetic voice of the embedded corpus (probability babble_synthetic_prob) or another
    # clip of the source (never the clean clip), played babble_pitch times faster (pitch and formants move)
    # and then formant-warped so formants move by a factor in babble_formant: voices unlike the training
    # speaker. Pitch factors are at least babble_min_shift away from 1 (a ratio), so no talker is a
    # source clip's speaker unmodified. (Plain "babble" keeps its 4 unmodified other clips.)
    t.babble_talkers = (3, 8)
    t.babble_pitch = (0.7, 1.5)
    t.babble_formant = (0.85, 1.2)
    t.babble_min_shift = 1.1
    t.babble_synthetic_prob = 0.5
    # denoise: probability of putting the clean speech through a generated room first (jaxsr.noise.
    # room_impulse_response: direct path, then a noise tail decaying 60 dB in RT60 seconds, uniform in
    # reverb_rt60, at a direct-to-reverberant ratio uniform in reverb_drr_db). The target is then the
    # reverberant speech: the model learns to remove noise and keep the room (dereverberation is another
    # task). 0 (the default) draws nothing extra, so existing configs reproduce exactly.
    t.reverb_prob = 0.0
    t.reverb_rt60 = (0.1, 0.6)
    t.reverb_drr_db = (3.0, 15.0)
    t.num_gaps = 2  # inpaint: gaps per patch (or per second for whole clips).
    t.gap_ms = (10.0, 50.0)  # inpaint: gap length range in milliseconds.

    c.train = tr = ml_collections.ConfigDict()
    tr.batch_size = 32  # Global batch, split over devices (the reference code trains with 64).
    tr.num_train_steps = 10_000
    tr.learning_rate = 3e-4  # Paper: Adam, lr 3e-4, b1 0.9, b2 0.999.
    tr.b1 = 0.9
    tr.b2 = 0.999
    tr.weight_decay = 0.0
    tr.schedule = "constant"  # constant | cosine (cosine decays to lr * final_lr_fraction)
    tr.warmup_steps = 0
    tr.final_lr_fraction = 0.05
    tr.grad_clip = 0.0  # Global-norm clipping; 0 disables.
    # The waveform loss. "mse" (the paper's) weighs each example by its error's energy, so loud errors on
    # hard examples dominate; "snr" (negative SNR in dB, capped at 40 dB) weighs every example alike,
    # which is what teaches a denoiser to leave clean and lightly noisy speech alone.
    tr.loss = "mse"  # mse | snr
    tr.stft_loss_weight = 0.0  # Weight of a multi-resolution STFT loss added to the waveform loss.
    tr.ema_decay = (
        0.0  # EMA of the params and of the BatchNorm statistics, evaluated together; 0 disables.
    )
    tr.log_every = 50
    tr.eval_every = 1000
    tr.checkpoint_every = 1000
    tr.keep_checkpoints = 3
    # Fine-tuning: start a fresh run's params and BatchNorm statistics from a trained model (a workdir,
    # one of its step directories, or a packaged model name such as "speech-sr-x4-16k"); the optimizer,
    # the schedule and the step start anew. "" trains from the initialiser. Ignored when resuming.
    tr.init_from = ""

    c.eval = e = ml_collections.ConfigDict()
    e.num_clips = 16  # Clips of the evaluation split used during training (0: all).
    e.chunk_length = 0  # Inference chunk length (0: 4 * patch_length).
    e.batch_size = 16  # Chunks per forward pass at evaluation / inference.
    e.save_examples = 1  # Before/after WAV + spectrogram PNG written at the end.
    return c


@functools.lru_cache(maxsize=1)
def _task_defaults() -> dict:
    """`default_config().task` as a plain dict, built once: `task_option` reads it per example."""
    return default_config().task.to_dict()


def task_option(task: Any, name: str) -> Any:
    """`task[name]` for a `config.task` ConfigDict or a plain dict (a nested ConfigDict comes back as a
    dict); the `default_config()` value when `task` is None or lacks the field (plain dicts in callers and
    tests, config.json files older than the sr_* and denoise option fields), so that such tasks degrade
    exactly as they did before those fields existed."""
    if task is not None:
        try:
            value = task[name]
        except (KeyError, AttributeError):
            pass
        else:
            return value.to_dict() if hasattr(value, "to_dict") else value
    return _task_defaults()[name]


def _expect(cond: bool, field: str, msg: str) -> None:
    if not cond:
        raise ValueError(f"config.{field}: {msg}")


# Numeric fields of the run, the model, training and evaluation: (field, integer, low, high, low excluded).
# A float must be finite: inf or nan passes `x > 0` and fails only inside JAX, after the workdir is written.
_RANGES = (
    ("seed", True, 0, 2**32 - 1, False),
    ("model.width", False, 0, 16, True),
    ("model.max_filters", True, 1, 65536, False),
    ("model.final_kernel", True, 1, 1025, False),
    ("model.leaky_slope", False, 0, 1, False),
    ("model.dropout", False, 0, 1, False),
    ("train.batch_size", True, 1, 2**20, False),
    ("train.num_train_steps", True, 0, 10**9, False),
    ("train.learning_rate", False, 0, 10, True),
    ("train.b1", False, 0, 1, False),
    ("train.b2", False, 0, 1, False),
    ("train.weight_decay", False, 0, 10, False),
    ("train.warmup_steps", True, 0, 10**9, False),
    ("train.final_lr_fraction", False, 0, 1, False),
    ("train.grad_clip", False, 0, 1e6, False),
    ("train.stft_loss_weight", False, 0, 1e6, False),
    ("train.ema_decay", False, 0, 1, False),
    ("eval.num_clips", True, 0, 10**9, False),
    ("eval.chunk_length", True, 0, 2**31 - 1, False),
    ("eval.batch_size", True, 1, 2**20, False),
    ("eval.save_examples", True, 0, 10**6, False),
)


def _check_ranges(config: ml_collections.ConfigDict) -> None:
    for field, integer, low, high, open_low in _RANGES:
        section, _, name = field.rpartition(".")
        node = config[section] if section else config
        if (
            name not in node
        ):  # a config.json older than the field: filled in from the defaults when read
            continue
        v = node[name]
        ok = (
            isinstance(v, int if integer else (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            and (low < v if open_low else low <= v)
            and v <= high
        )
        _expect(
            ok,
            field,
            f"got {v!r}; use {'an integer' if integer else 'a finite number'} in "
            f"{'(' if open_low else '['}{low}, {high}]",
        )


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the field if `config` cannot describe a run."""
    m, d, t, tr = config.model, config.data, config.task, config.train
    _expect(config.dtype in DTYPES, "dtype", f"got {config.dtype!r}; use one of {DTYPES}")
    _expect(
        isinstance(m.num_blocks, int) and 1 <= m.num_blocks <= 8,
        "model.num_blocks",
        f"got {m.num_blocks!r}; use an integer in 1..8",
    )
    _expect(
        isinstance(config.data.get("random_polarity", False), bool),
        "data.random_polarity",
        f"got {config.data.get('random_polarity')!r}; use True or False",
    )
    _expect(
        isinstance(m.get("polarity_equivariant", False), bool),
        "model.polarity_equivariant",
        f"got {m.get('polarity_equivariant')!r}; use True or False",
    )
    _expect(
        m.width > 0,
        "model.width",
        f"got {m.width!r}; use a positive multiplier such as 0.25 or 1.0",
    )
    _expect(
        isinstance(m.dilation, int) and m.dilation >= 1,
        "model.dilation",
        f"got {m.dilation!r}; use an integer >= 1",
    )
    _expect(
        m.dilation % 2 == 1,
        "model.dilation",
        f"got {m.dilation}; with stride-2 convolutions an even dilation reads only every other input sample "
        "(one polyphase component): use an odd dilation such as 1 or 3",
    )
    _expect(m.norm in NORMS, "model.norm", f"got {m.norm!r}; use one of {NORMS}")
    _expect(0.0 <= m.dropout < 1.0, "model.dropout", f"got {m.dropout!r}; use a rate in [0, 1)")
    _expect(t.name in TASKS, "task.name", f"got {t.name!r}; use one of {TASKS}")
    if t.name == "sr":
        _expect(t.ratio in SR_RATIOS, "task.ratio", f"got {t.ratio!r}; use one of {SR_RATIOS}")
        _validate_sr_degradation(t)
        _validate_sr_codec(t, config.data.sample_rate / t.ratio)
        frontend = t.get("sr_frontend", "spline")
        _expect(
            frontend in SR_FRONTENDS,
            "task.sr_frontend",
            f"got {frontend!r}; use one of {SR_FRONTENDS}",
        )
        keep = t.get("sr_keep_band", 0.0)
        _expect(
            isinstance(keep, (int, float))
            and not isinstance(keep, bool)
            and (keep == 0 or 0.5 <= keep < 1.0),
            "task.sr_keep_band",
            f"got {keep!r}; use 0 (off) or a fraction of the low Nyquist in [0.5, 1), e.g. 0.9",
        )
    if t.name == "denoise":
        lo, hi = t.snr_db
        _expect(
            lo <= hi, "task.snr_db", f"got {tuple(t.snr_db)!r}; use (low, high) with low <= high"
        )
        for n in t.noise_types:
            _expect(
                n in NOISE_TYPES,
                "task.noise_types",
                f"unknown noise type {n!r}; use any of {NOISE_TYPES}",
            )
        _expect(len(t.noise_types) > 0, "task.noise_types", f"is empty; use any of {NOISE_TYPES}")
        if "folder" in t.noise_types:
            _expect(
                bool(t.noise_dir),
                "task.noise_dir",
                "noise type 'folder' needs task.noise_dir set to a folder of noise files",
            )
        _validate_denoise_options(t)
        for field in ("noise_holdout", "clean_prob"):
            v = t.get(field, 0.0)
            _expect(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v < 1.0,
                f"task.{field}",
                f"got {v!r}; use a fraction in [0, 1)",
            )
    if t.name == "inpaint":
        lo, hi = t.gap_ms
        _expect(
            0 < lo <= hi,
            "task.gap_ms",
            f"got {tuple(t.gap_ms)!r}; use (low, high) milliseconds with 0 < low <= high",
        )
        _expect(t.num_gaps >= 1, "task.num_gaps", f"got {t.num_gaps!r}; use at least 1")
    multiple = 2 ** (m.num_blocks + 1)
    _expect(
        d.patch_length % multiple == 0 and d.patch_length > 0,
        "data.patch_length",
        f"got {d.patch_length}; with model.num_blocks={m.num_blocks} it must be a positive multiple of {multiple}",
    )
    _expect(
        d.sample_rate >= 4000 and d.sample_rate <= 192000,
        "data.sample_rate",
        f"got {d.sample_rate!r}; use a rate in Hz such as 16000",
    )
    _expect(
        tr.batch_size >= 1, "train.batch_size", f"got {tr.batch_size!r}; use a positive integer"
    )
    _expect(
        tr.num_train_steps >= 0,
        "train.num_train_steps",
        f"got {tr.num_train_steps!r}; use a non-negative integer",
    )
    _expect(
        tr.learning_rate > 0,
        "train.learning_rate",
        f"got {tr.learning_rate!r}; use a positive float",
    )
    _expect(
        tr.schedule in SCHEDULES, "train.schedule", f"got {tr.schedule!r}; use one of {SCHEDULES}"
    )
    _expect(tr.loss in LOSSES, "train.loss", f"got {tr.loss!r}; use one of {LOSSES}")
    _expect(
        isinstance(tr.get("init_from", ""), str),
        "train.init_from",
        f'got {tr.get("init_from")!r}; use a workdir path, a packaged model name or ""',
    )
    _expect(
        0.0 <= tr.ema_decay < 1.0,
        "train.ema_decay",
        f"got {tr.ema_decay!r}; use 0 (off) or a decay in (0, 1)",
    )
    # The loop takes `step % every`: 0 would divide by zero mid-run, a negative value never fires.
    for field, unit in (
        ("log_every", "steps"),
        ("eval_every", "steps"),
        ("checkpoint_every", "steps"),
        ("keep_checkpoints", "checkpoints kept"),
    ):
        value = tr[field]
        _expect(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            f"train.{field}",
            f"got {value!r}; use a positive integer ({unit})",
        )
    _check_ranges(config)


def _pair(v) -> bool:
    return (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and all(isinstance(x, (int, float)) for x in v)
        and v[0] <= v[1]
    )


def _int_pair(v, low: int, high: int) -> bool:
    return _pair(v) and all(int(x) == x for x in v) and low <= v[0] and v[1] <= high


def _validate_sr_degradation(t: ml_collections.ConfigDict) -> None:
    """The sr degradation fields; the chain fields only matter (and are only checked) for "random"."""
    from jaxsr.resamplers import RESAMPLERS

    mode = t.get("sr_degradation", "paper")
    names = SR_DEGRADATIONS + tuple(n for n in RESAMPLERS if n not in SR_DEGRADATIONS)
    _expect(
        mode in names,
        "task.sr_degradation",
        f"got {mode!r}; use 'paper' (the paper's decimator), 'random' "
        f"(a resampling chain drawn per example) or a named resampler: {', '.join(names[2:])}",
    )
    if mode != "random":
        return
    w = dict(t.sr_chain_weights)
    for k, v in w.items():
        _expect(
            k in SR_CHAIN_KINDS,
            "task.sr_chain_weights",
            f"unknown chain kind {k!r}; use any of {SR_CHAIN_KINDS}",
        )
        _expect(
            isinstance(v, (int, float)) and v >= 0,
            f"task.sr_chain_weights.{k}",
            f"got {v!r}; use a weight >= 0",
        )
    _expect(
        sum(w.values()) > 0,
        "task.sr_chain_weights",
        f"got {w}; at least one weight must be positive",
    )
    for field, allowed in (
        ("sr_iir_families", IIR_FAMILIES),
        ("sr_soxr_qualities", SOXR_QUALITIES),
    ):
        values = tuple(t[field])
        _expect(
            len(values) > 0 and all(v in allowed for v in values),
            f"task.{field}",
            f"got {values!r}; use a non-empty subset of {allowed}",
        )
    _expect(
        _int_pair(t.sr_iir_order, 1, 16),
        "task.sr_iir_order",
        f"got {t.sr_iir_order!r}; use (low, high) integers with 1 <= low <= high <= 16",
    )
    _expect(
        _pair(t.sr_cutoff) and 0 < t.sr_cutoff[0] and t.sr_cutoff[1] <= 1.0,
        "task.sr_cutoff",
        f"got {t.sr_cutoff!r}; use (low, high) fractions of the new Nyquist with 0 < low <= high <= 1",
    )
    _expect(
        _pair(t.sr_fir_beta) and t.sr_fir_beta[0] >= 0,
        "task.sr_fir_beta",
        f"got {t.sr_fir_beta!r}; use (low, high) Kaiser betas with 0 <= low <= high",
    )
    _expect(
        _int_pair(t.sr_fir_zeros, 1, 64),
        "task.sr_fir_zeros",
        f"got {t.sr_fir_zeros!r}; use (low, high) integers with 1 <= low <= high <= 64",
    )
    _expect(
        _pair(t.sr_gain_db) and -60 <= t.sr_gain_db[0] and t.sr_gain_db[1] <= 20,
        "task.sr_gain_db",
        f"got {t.sr_gain_db!r}; use (low, high) dB with -60 <= low <= high <= 20",
    )


def _validate_sr_codec(t: ml_collections.ConfigDict, low_rate: float) -> None:
    """The sr codec fields: known names, a probability, and codecs that can carry the low rate `low_rate` Hz."""
    from jaxsr.resamplers import (
        carried_codecs,
        check_codec,
    )  # lazy: jaxsr.resamplers imports this module

    codec = t.get("sr_codec", "")
    _expect(
        codec in ("",) + SR_CODECS,
        "task.sr_codec",
        f"got {codec!r}; use one of {SR_CODECS} or '' (none)",
    )
    if codec:
        try:
            check_codec(codec, low_rate)
        except ValueError as e:
            _expect(False, "task.sr_codec", str(e))
    prob = t.get("sr_codec_prob", 0.0)
    _expect(
        isinstance(prob, (int, float)) and 0.0 <= prob <= 1.0,
        "task.sr_codec_prob",
        f"got {prob!r}; use a probability in [0, 1]",
    )
    drawn = tuple(t.get("sr_random_codecs", SR_CODECS))
    _expect(
        all(c in SR_CODECS for c in drawn) and (drawn or not prob),
        "task.sr_random_codecs",
        f"got {drawn!r}; use a non-empty subset of {SR_CODECS}",
    )
    if prob > 0:
        _expect(
            bool(carried_codecs(drawn, low_rate)),
            "task.sr_random_codecs",
            f"none of {drawn} carries the low rate {low_rate:g} Hz; add ulaw, alaw, pcm8 or vorbis",
        )


def _validate_denoise_options(t: ml_collections.ConfigDict) -> None:
    """The varying / babble_voices / reverb fields of denoise (checked whatever the noise types, so a bad
    value fails at start-up, not when a later override adds the type)."""

    def pair(
        field: str, low: float, high: float, what: str, ints: bool = False, open_low: bool = False
    ) -> None:
        v = t[field]
        ok = (
            _int_pair(v, int(low), int(high))
            if ints
            else _pair(v) and (v[0] > low if open_low else v[0] >= low) and v[1] <= high
        )
        bound = f"{low} < low" if open_low else f"{low} <= low"
        _expect(
            ok, f"task.{field}", f"got {v!r}; use (low, high) {what} with {bound} <= high <= {high}"
        )

    def number(field: str, low: float, high: float, what: str) -> None:
        v = t[field]
        _expect(
            isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high,
            f"task.{field}",
            f"got {v!r}; use {what} in [{low}, {high}]",
        )

    pair("varying_exponent", -1.0, 3.0, "PSD exponents (0 white, 1 pink, 2 brown)")
    pair("varying_level_db", 0.0, 60.0, "level swings in dB")
    pair("varying_seconds", 0.0, 60.0, "seconds between envelope control points", open_low=True)
    pair("babble_talkers", 1, 32, "integer talker counts", ints=True)
    pair("babble_pitch", 0.25, 4.0, "pitch factors")
    pair("babble_formant", 0.5, 2.0, "formant factors")
    number("babble_min_shift", 1.0, 2.0, "a pitch ratio (1: no minimum)")
    number("babble_synthetic_prob", 0.0, 1.0, "a probability")
    number("reverb_prob", 0.0, 1.0, "a probability")
    pair("reverb_rt60", 0.0, 3.0, "RT60 seconds", open_low=True)
    pair("reverb_drr_db", -10.0, 40.0, "direct-to-reverberant ratios in dB")


def config_to_json(config: ml_collections.ConfigDict) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot serialise {type(o).__name__} in config")


def config_from_json(text: str) -> ml_collections.ConfigDict:
    """Inverse of `config_to_json`, filled in over `default_config()` so older files keep loading."""
    saved = json.loads(text)
    config = default_config()
    _merge(config, saved)
    return config


def _merge(dst: ml_collections.ConfigDict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict):
            if k not in dst:
                dst[k] = ml_collections.ConfigDict()
            _merge(dst[k], v)
        else:
            dst[k] = tuple(v) if isinstance(v, list) else v
