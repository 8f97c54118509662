"""The experiment config: one ml_collections tree that fully describes a run.

Every file in `configs/` starts from `default_config()` and changes a few fields; `validate()` checks a
config at start-up so that a typo fails with a message naming the field instead of a traceback from
inside JAX. The config used by a run is saved as JSON in its workdir (`config_to_json`), which is how
`jaxsr.load(workdir)` rebuilds the model without the config file.
"""

from __future__ import annotations

import json
from typing import Any

import ml_collections

TASKS = ("sr", "denoise", "inpaint")
SR_RATIOS = (2, 3, 4, 6, 8)
NOISE_TYPES = ("white", "pink", "brown", "babble", "folder")
NORMS = ("batch", "none")
DTYPES = ("auto", "float32", "bfloat16")
SCHEDULES = ("constant", "cosine")


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

    c.data = d = ml_collections.ConfigDict()
    d.name = "synthetic"  # synthetic | audio_folder | vctk | musdb18
    d.path = ""  # Source directory (or zip) for datasets the user provides.
    d.sample_rate = 16000  # Target (high) rate; everything is resampled to it.
    d.patch_length = 8192  # Training patch length in samples at the target rate.
    d.split = ""  # Builder-specific split spec (see jaxsr.data.builders); "" means the builder default.
    d.data_dir = ""  # Where built datasets are cached ("" means $JAXSR_DATA_DIR or ~/.cache/jaxsr/datasets).
    d.num_train_clips = 256  # synthetic only: clips in the training split.
    d.num_eval_clips = 16  # synthetic only: clips in the evaluation split.
    d.clip_seconds = 2.0  # synthetic only: seconds per clip.
    d.corpus_seed = 0  # synthetic only: base seed of the corpus.
    d.store_dtype = "int16"  # How built clips are stored: int16 or float32.
    d.segment_seconds = 0.0  # > 0 cuts long recordings into pieces of this length (30 suits MUSDB18).
    d.trim_silence = False  # Trim leading/trailing silence of each file (librosa.effects.trim).
    d.trim_top_db = 30.0
    d.num_valid_clips = 8  # vctk / musdb18: validation clips carved from the training split.
    d.vctk_mode = "single"  # vctk: "single" (p225, paper) or "multi" (first 99 speakers train, paper).
    d.vctk_speaker = "p225"
    d.vctk_train_recordings = 223  # Paper: the first 223 recordings of p225 train, the rest test.
    d.vctk_train_speakers = 99  # Paper: the first 99 speakers train, the others test.
    d.vctk_mic = "mic1"  # VCTK 0.92 has two microphones: mic1 or mic2.
    d.build_workers = 0  # Decode threads when building (0: min(8, CPU count)).
    d.silence_threshold_db = -50.0  # Patches quieter than this (RMS, dBFS) are skipped.
    d.num_workers = 0  # grain worker processes (0: in the main process).
    d.prefetch = 2

    c.task = t = ml_collections.ConfigDict()
    t.name = "sr"  # sr | denoise | inpaint
    t.ratio = 4  # sr: downsampling ratio r.
    t.snr_db = (0.0, 15.0)  # denoise: input SNR drawn uniformly from this range.
    t.noise_types = ("white", "pink", "brown")  # denoise: drawn uniformly per example.
    t.noise_dir = ""  # denoise: folder of real noise recordings (noise type "folder").
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
    tr.stft_loss_weight = 0.0  # Weight of a multi-resolution STFT loss added to the MSE.
    tr.ema_decay = 0.0  # EMA of params used for evaluation; 0 disables.
    tr.log_every = 50
    tr.eval_every = 1000
    tr.checkpoint_every = 1000
    tr.keep_checkpoints = 3

    c.eval = e = ml_collections.ConfigDict()
    e.num_clips = 16  # Clips of the evaluation split used during training (0: all).
    e.chunk_length = 0  # Inference chunk length (0: 4 * patch_length).
    e.batch_size = 16  # Chunks per forward pass at evaluation / inference.
    e.save_examples = 1  # Before/after WAV + spectrogram PNG written at the end.
    return c


def _expect(cond: bool, field: str, msg: str) -> None:
    if not cond:
        raise ValueError(f"config.{field}: {msg}")


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the field if `config` cannot describe a run."""
    m, d, t, tr = config.model, config.data, config.task, config.train
    _expect(config.dtype in DTYPES, "dtype", f"got {config.dtype!r}; use one of {DTYPES}")
    _expect(isinstance(m.num_blocks, int) and 1 <= m.num_blocks <= 8, "model.num_blocks",
            f"got {m.num_blocks!r}; use an integer in 1..8")
    _expect(m.width > 0, "model.width", f"got {m.width!r}; use a positive multiplier such as 0.25 or 1.0")
    _expect(isinstance(m.dilation, int) and m.dilation >= 1, "model.dilation", f"got {m.dilation!r}; use an integer >= 1")
    _expect(m.dilation % 2 == 1, "model.dilation",
            f"got {m.dilation}; with stride-2 convolutions an even dilation reads only every other input sample "
            "(one polyphase component): use an odd dilation such as 1 or 3")
    _expect(m.norm in NORMS, "model.norm", f"got {m.norm!r}; use one of {NORMS}")
    _expect(0.0 <= m.dropout < 1.0, "model.dropout", f"got {m.dropout!r}; use a rate in [0, 1)")
    _expect(t.name in TASKS, "task.name", f"got {t.name!r}; use one of {TASKS}")
    if t.name == "sr":
        _expect(t.ratio in SR_RATIOS, "task.ratio", f"got {t.ratio!r}; use one of {SR_RATIOS}")
    if t.name == "denoise":
        lo, hi = t.snr_db
        _expect(lo <= hi, "task.snr_db", f"got {tuple(t.snr_db)!r}; use (low, high) with low <= high")
        for n in t.noise_types:
            _expect(n in NOISE_TYPES, "task.noise_types", f"unknown noise type {n!r}; use any of {NOISE_TYPES}")
        if "folder" in t.noise_types:
            _expect(bool(t.noise_dir), "task.noise_dir", "noise type 'folder' needs task.noise_dir set to a folder of noise files")
    if t.name == "inpaint":
        lo, hi = t.gap_ms
        _expect(0 < lo <= hi, "task.gap_ms", f"got {tuple(t.gap_ms)!r}; use (low, high) milliseconds with 0 < low <= high")
        _expect(t.num_gaps >= 1, "task.num_gaps", f"got {t.num_gaps!r}; use at least 1")
    multiple = 2 ** (m.num_blocks + 1)
    _expect(d.patch_length % multiple == 0 and d.patch_length > 0, "data.patch_length",
            f"got {d.patch_length}; with model.num_blocks={m.num_blocks} it must be a positive multiple of {multiple}")
    _expect(d.sample_rate >= 4000 and d.sample_rate <= 192000, "data.sample_rate", f"got {d.sample_rate!r}; use a rate in Hz such as 16000")
    _expect(tr.batch_size >= 1, "train.batch_size", f"got {tr.batch_size!r}; use a positive integer")
    _expect(tr.num_train_steps >= 0, "train.num_train_steps", f"got {tr.num_train_steps!r}; use a non-negative integer")
    _expect(tr.learning_rate > 0, "train.learning_rate", f"got {tr.learning_rate!r}; use a positive float")
    _expect(tr.schedule in SCHEDULES, "train.schedule", f"got {tr.schedule!r}; use one of {SCHEDULES}")
    _expect(0.0 <= tr.ema_decay < 1.0, "train.ema_decay", f"got {tr.ema_decay!r}; use 0 (off) or a decay in (0, 1)")


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
