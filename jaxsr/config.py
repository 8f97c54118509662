"""The experiment config: one ml_collections tree that fully describes a run.

Every file in `jaxsr/configs/` (also reached as `configs/NAME.py` in a clone) starts from
`default_config()` and changes a few fields; `validate()` checks a config at start-up so that a typo
fails with a message naming the field instead of a traceback from inside JAX. The `task` section's
fields, their defaults and their checks belong to the degradations (`jaxsr.tasks.options`,
`jaxsr.tasks.validation`); this module builds the tree, checks the rest and reads and writes JSON. The
config used by a run is saved as JSON in its workdir (`config_to_json`), which is how `jaxsr.load(workdir)`
rebuilds the model without the config file.
"""

from __future__ import annotations

import json
import math
from typing import Any

import ml_collections

from jaxsr.tasks.options import default_task
from jaxsr.tasks.validation import validate_task

NORMS = ("batch", "none")
DTYPES = ("auto", "float32", "bfloat16")
SCHEDULES = ("constant", "cosine")
LOSSES = ("mse", "snr")


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

    # The degradation: its fields, defaults and meanings are `jaxsr.tasks.options.default_task`.
    c.task = ml_collections.ConfigDict(default_task())

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
    m, d, tr = config.model, config.data, config.train
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
    validate_task(config)
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
