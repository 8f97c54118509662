"""Whole-clip evaluation examples: source clips in order, each degraded deterministically.

Evaluation (`eval_examples`) is whole clips in source order, degraded with a seed from
`(config.seed, clip index)` (`degrade_clip`; babble from the other clips, never the clip itself).
Unlike training (`jaxsr.data.pipeline`) this needs no grain: an example is computed when it is read.
"""

from __future__ import annotations

import collections.abc
from typing import Sequence

import ml_collections
import numpy as np

from jaxsr.data.records import (
    EVAL,
    babble_voices,
    check_seed,
    check_source,
    example_rng,
    noise_inputs,
    record_audio,
)
from jaxsr.tasks.degrade import Degraded, degrade


class EvalExamples(collections.abc.Sequence):
    """Whole-clip evaluation examples, computed on access (a sequence: `len`, index, iterate).

    Item `i`: `{'id', 'y': clean [time] (times the drawn gain for sr "random"), 'x': degraded [time]
    (== 'baseline'), 'baseline', 'mask'}`
    with `mask` the `[time]` bool gap mask for inpaint and None otherwise.
    """

    def __init__(
        self,
        config: ml_collections.ConfigDict,
        source: Sequence,
        num_clips: int,
        noise_pool: Sequence,
        noise_files: Sequence,
        pool_is_source: bool = False,
    ):
        self._source, self._n = source, num_clips
        self._seed = check_seed(config)
        self._task = config.task.to_dict()
        self._sample_rate = int(config.data.sample_rate)
        self._patch_length = int(config.data.patch_length)
        self._noise_pool, self._noise_files = noise_pool, noise_files
        self._pool_is_source = pool_is_source

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(f"eval example {i} out of range for {self._n} clips")
        i = int(i) % self._n
        record = self._source[i]
        y = record_audio(record)
        d = degrade_clip(
            y,
            self._task,
            i,
            self._seed,
            self._sample_rate,
            self._patch_length,
            self._noise_pool,
            self._noise_files,
            exclude=i if self._pool_is_source else None,
        )
        rid = record.get("id", str(i)) if isinstance(record, dict) else str(i)
        rid = rid.decode() if isinstance(rid, bytes) else str(rid)
        # `d.y`: the target when the degradation changed it (the gain of an sr "random" chain).
        return {
            "id": rid,
            "y": y if d.y is None else d.y,
            "x": d.x,
            "baseline": d.baseline,
            "mask": d.mask,
        }


def degrade_clip(
    y: np.ndarray,
    task: dict,
    index: int,
    seed: int,
    sample_rate: int,
    patch_length: int,
    noise_pool: Sequence = (),
    noise_files: Sequence = (),
    exclude: int | None = None,
) -> Degraded:
    """Degrade whole clip `index` (`y`: `[time]`) for evaluation -> `jaxsr.tasks.degrade.Degraded`.

    Generator `example_rng(seed, index, EVAL)`; for inpaint the gap density of training
    (`task['num_gaps']` per `patch_length` samples, at least one gap). denoise: `exclude` is the index of
    `y` in `noise_pool` (never part of its babble; None when the pool does not hold it), and babble of
    voices uses the "test" bank of synthetic voices, which training never hears. Every evaluation
    (training's, `launch/evaluate.py`, the benchmarks) comes through here, so they all agree.
    """
    task = dict(
        task, clean_prob=0.0
    )  # every evaluation example is degraded: a clean one has no baseline to beat
    if task["name"] == "inpaint":
        task["num_gaps"] = max(1, int(round(task["num_gaps"] * len(y) / patch_length)))
    return degrade(
        y,
        task,
        example_rng(seed, index, EVAL),
        sample_rate,
        noise_pool,
        noise_files,
        exclude=exclude,
        voices=babble_voices(task, sample_rate, "test"),
    )


def eval_examples(
    config: ml_collections.ConfigDict,
    source: Sequence,
    num_clips: int | None = None,
    *,
    noise_pool: Sequence[np.ndarray] | None = None,
    noise_files: Sequence[np.ndarray] | None = None,
) -> EvalExamples:
    """The first `num_clips` clips of `source` (0 or None: all), whole, degraded deterministically."""
    n = check_source(source)
    if num_clips is not None and (int(num_clips) != num_clips or num_clips < 0):
        raise ValueError(
            f"num_clips (config.eval.num_clips) must be a non-negative integer; got {num_clips!r}"
        )
    n = n if not num_clips else min(int(num_clips), n)
    pool, files, pool_is_source = noise_inputs(config, source, noise_pool, noise_files, part="eval")
    return EvalExamples(config, source, n, pool, files, pool_is_source)
