"""Source records and the per-example randomness that training and evaluation share.

A *source* is any random-access sequence (`len`, `__getitem__`) of records
`{'audio': float32 [time], 'id': str, ...}` at `config.data.sample_rate`: an in-memory list
(`records_from_clips`), or the TFDS `as_data_source()` that `jaxsr.data.builders.load_split` returns.

Both `jaxsr.data.pipeline` (training batches) and `jaxsr.data.eval_clips` (whole-clip evaluation) read
sources through here: `record_audio` decodes a record, `check_source` / `check_seed` reject what a user
can get wrong, `noise_inputs` gathers the babble pool and recorded noise a denoise task adds (`babble_voices` its
synthetic talkers), and
`example_rng` is the one place a seed turns into a generator, so a given `(seed, index, stream)` draws
the same numbers wherever it is used.
"""

from __future__ import annotations

import collections.abc
import pathlib
from typing import Any, Sequence

import ml_collections
import numpy as np

from jaxsr.data.synthetic import voice_bank
from jaxsr.tasks.options import task_option

# Streams of `example_rng`: independent generators for the different random choices of one example.
SELECT, DEGRADE, EVAL, ORDER, POLARITY = 0, 1, 2, 3, 4
NOISE_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
BABBLE_TYPES = ("babble", "babble_voices")  # noise types made from a pool of other clips


def example_rng(seed: int, index: int, stream: int) -> np.random.Generator:
    """The generator for `stream` (SELECT, DEGRADE, EVAL, ORDER, POLARITY) of example/clip/epoch `index`."""
    return np.random.default_rng([int(seed), int(stream), int(index)])


def records_from_clips(
    clips: Sequence[np.ndarray], sample_rate: int, prefix: str = "clip"
) -> list[dict]:
    """An in-memory source from `[time]` arrays (e.g. `jaxsr.data.synthetic.make_corpus`)."""
    return [
        {
            "audio": np.asarray(c, np.float32),
            "id": f"{prefix}/{i}",
            "speaker": "",
            "source_sample_rate": int(sample_rate),
        }
        for i, c in enumerate(clips)
    ]


def record_audio(record: Any) -> np.ndarray:
    """`[time]` float32 audio of a source record (`[time, 1]` and int16 PCM accepted too)."""
    try:
        a = record["audio"]
    except (KeyError, TypeError, IndexError):
        raise ValueError(
            f"source records must be dicts with an 'audio' array; got {type(record).__name__}"
        ) from None
    a = np.asarray(a)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"source audio must be mono [time] (or [time, 1]); got shape {a.shape}")
    if np.issubdtype(a.dtype, np.integer):  # int16 PCM, in case a source stores it undecoded
        a = a.astype(np.float32) / 32768.0
    return a.astype(np.float32, copy=False)


class AudioView(collections.abc.Sequence):
    """A lazy `[time]`-array view of a source: the babble pool, without loading every clip."""

    def __init__(self, source: Sequence):
        self._source = source

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, i: int) -> np.ndarray:
        return record_audio(self._source[int(i)])


def load_noise_files(
    noise_dir: str, sample_rate: int, holdout: float = 0.0, part: str = "train"
) -> list[np.ndarray]:
    """Every audio file under `noise_dir` (recursively, sorted by relative path; hidden files skipped), each
    mono float32 `[time]` at `sample_rate`. With `holdout` > 0 each file is cut in two: `part="train"` gets
    its first `1 - holdout`, `part="eval"` its last `holdout`, so evaluation hears noise training never did."""
    from jaxsr.audio_io import (
        list_audio_files,
        read_audio,
    )  # imported here: only the "folder" noise type needs it

    root = pathlib.Path(noise_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"config.task.noise_dir={noise_dir!r} is not a folder; point it at a folder "
            f"of noise recordings ({', '.join(NOISE_EXTENSIONS)})"
        )
    paths = list_audio_files(root, NOISE_EXTENSIONS, allow_empty=True)
    if not paths:
        raise FileNotFoundError(
            f"config.task.noise_dir={noise_dir!r} holds no audio files "
            f"({', '.join(NOISE_EXTENSIONS)})"
        )
    if part not in ("train", "eval"):
        raise ValueError(f"part must be 'train' or 'eval'; got {part!r}")
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"config.task.noise_holdout must be a fraction in [0, 1); got {holdout!r}")
    signals = [read_audio(p, sample_rate, mono=True)[0].reshape(-1) for p in paths]
    if holdout <= 0:
        return signals
    cut = [int(round(len(s) * (1.0 - holdout))) for s in signals]
    return [s[:c] if part == "train" else s[c:] for s, c in zip(signals, cut)]


def check_source(source: Sequence, what: str = "source") -> int:
    """The number of clips in `source`, or a ValueError naming `what` if it is not a non-empty sequence."""
    try:
        n = len(source)
    except TypeError:
        raise ValueError(
            f"{what} must be a random-access sequence of records (len, __getitem__); "
            f"got {type(source).__name__}"
        ) from None
    if n == 0:
        raise ValueError(
            f"{what} is empty: it has no clips. Check config.data.name / data.path / data.split."
        )
    return n


def check_seed(config: ml_collections.ConfigDict) -> int:
    """`config.seed` as an int, or a ValueError unless it is a non-negative integer."""
    if int(config.seed) != config.seed or config.seed < 0:
        raise ValueError(f"config.seed must be a non-negative integer; got {config.seed!r}")
    return int(config.seed)


def noise_inputs(
    config: ml_collections.ConfigDict,
    source: Sequence,
    noise_pool: Sequence | None,
    noise_files: Sequence | None,
    part: str = "train",
) -> tuple[Sequence, Sequence, bool]:
    """The babble pool and recorded noise the task needs (empty when it needs none), and whether the
    pool is `source` itself: then clip i of the source is item i of the pool, and an example of clip i
    excludes it from its babble (babble must never contain the clean speech it is added to). `part`
    ("train" or "eval") picks the side of `task.noise_holdout` that recorded noise comes from."""
    task = config.task
    if task.name != "denoise":
        return (), (), False
    pool_is_source = False
    if any(t in task.noise_types for t in BABBLE_TYPES) and noise_pool is None:
        noise_pool, pool_is_source = AudioView(source), True  # the other clips of the same source
    if "folder" in task.noise_types and noise_files is None:
        noise_files = load_noise_files(
            task.noise_dir, config.data.sample_rate, float(task.get("noise_holdout", 0.0)), part
        )
    return (
        (noise_pool if noise_pool is not None else ()),
        (noise_files if noise_files is not None else ()),
        pool_is_source,
    )


def babble_voices(task: Any, sample_rate: int, split: str) -> tuple[np.ndarray, ...]:
    """The synthetic voice bank (`jaxsr.data.synthetic.voice_bank`, `split` "train" for training or "test"
    for evaluation) that `task` (a `config.task` ConfigDict or dict) draws babble of voices from; () when
    it never draws that noise type, so other tasks render nothing. Each `[time]` float32 at `sample_rate`."""
    if task_option(task, "name") != "denoise" or "babble_voices" not in task_option(
        task, "noise_types"
    ):
        return ()
    return voice_bank(int(sample_rate), split)
