"""The input pipeline: source clips -> random patches -> task degradation -> batches (grain).

A *source* is a random-access sequence of records `{'audio': float32 [time], 'id': str, ...}` (see
`jaxsr.data.records`, which also holds the per-example generators `example_rng`).

Training (`train_loader`) is a pure function of the batch index. The run is one infinite stream of
examples; global example `g` is

* clip `perm_e[g % n]` with `perm_e` a permutation of the source for epoch `e = g // n` (shuffling),
* a random patch of that clip drawn with `example_rng(seed, g, SELECT)`; patches quieter than
  `data.silence_threshold_db` are redrawn (a few draws in the same clip, then in random clips, then an
  exhaustive scan, so a source with any loud patch never yields a silent one; a source with none
  raises). Clips shorter than a patch are zero-padded at the end, not skipped: short recordings still
  train, and digital silence after an utterance is what the model meets in real files too;
* with `data.random_polarity`, negated when `example_rng(seed, g, POLARITY)` draws heads (its own
  stream, so the patches and degradations drawn are the same as without it);
* degraded by `jaxsr.tasks.degrade.degrade` with `example_rng(seed, g, DEGRADE)`. For denoise, babble made
  from the source itself never uses the clip the patch was cut from.

Global batch `b` holds examples `b * B ... b * B + B - 1` (`B = train.batch_size`). Process `k` of `n`
(`shard_index`, `shard_count`) builds rows `k * B/n ... (k+1) * B/n - 1` of every global batch, so the
shards are disjoint and concatenating them in process order gives exactly the single-process batch:
a run is the same on any number of hosts and any number of workers. (Sharding the *records*, as grain's
`ShardByJaxProcess` does, would instead make the data depend on the host count.) Every process reads
the whole source, which is what random-access array_record / in-memory sources are for.

Because the stream is a function of the batch index, the iterator's whole state is the index of the
next batch: `get_iterator_state` / `set_iterator_state` save and restore it as a small JSON string that
is the same on every process and survives a change of `data.num_workers`.

We use grain's `MapDataset` API (range of batch indices -> `map` -> `to_iter_dataset` ->
`mp_prefetch`) rather than `DataLoader`: `mp_prefetch` runs the map in worker processes and interleaves
their outputs back in index order, so the output is independent of the worker count, and a whole batch
is built per call, which keeps grain's per-element Python overhead off each example. grain's own
iterator state is not used: under `mp_prefetch` it records per-worker positions and cannot be restored
with a different worker count, while a batch counter can. grain's `shuffle` is not used either: its
index_shuffle costs milliseconds per lookup here, a numpy permutation per epoch costs microseconds.

Evaluation examples (whole clips) are `jaxsr.data.eval_clips`; what both share (seeded streams, noise
files, clip records) is `jaxsr.data.records`.
"""

from __future__ import annotations

import collections.abc
import contextlib
import json
import signal
from typing import Iterator, Sequence

import grain
import ml_collections
import numpy as np

from jaxsr.data.records import (
    DEGRADE,
    ORDER,
    POLARITY,
    SELECT,
    babble_voices,
    check_seed,
    check_source,
    example_rng,
    noise_inputs,
    record_audio,
)
from jaxsr.tasks.codecs import draw_sr_codec
from jaxsr.tasks.degrade import degrade, sr_baseline_batch, sr_batch
from jaxsr.tasks.resampling import draw_sr_chain

__all__ = ["PatchIterator", "get_iterator_state", "set_iterator_state", "train_loader"]

_SAME_CLIP_DRAWS = 2  # patch draws in the scheduled clip before trying random other clips
_MAX_DRAWS = 8  # random draws before the exhaustive scan
_NO_END = 2**62  # "infinite" number of batches
_STATE_VERSION = 1


class _ClipOrder:
    """Clip index of global example `g`: a fresh permutation of the source every epoch."""

    def __init__(self, num_clips: int, seed: int):
        self.num_clips, self.seed = num_clips, seed
        self._epoch, self._perm = -1, None

    def __call__(self, g: int) -> int:
        epoch, pos = divmod(g, self.num_clips)
        if epoch != self._epoch:  # batches walk the stream forwards, so one cached epoch suffices
            self._epoch, self._perm = (
                epoch,
                example_rng(self.seed, epoch, ORDER).permutation(self.num_clips),
            )
        return int(self._perm[pos])


def _patch(audio: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random `[length]` window of `audio`, or `audio` zero-padded at the end if shorter."""
    if len(audio) < length:
        return np.pad(audio, (0, length - len(audio)))
    start = int(rng.integers(len(audio) - length + 1))
    return audio[start : start + length]


def _loud_starts(audio: np.ndarray, length: int, min_energy: float) -> np.ndarray:
    """Start offsets of every `[length]` window with energy (sum of squares) >= `min_energy`."""
    if len(audio) < length:
        audio = np.pad(audio, (0, length - len(audio)))
    cs = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])
    return np.flatnonzero(cs[length:] - cs[:-length] >= min_energy)


class _BatchFn:
    """Batch index -> `{'x', 'y'}` rows of this shard. Pickled into grain's worker processes."""

    def __init__(
        self,
        config: ml_collections.ConfigDict,
        source: Sequence,
        shard_index: int,
        shard_count: int,
        noise_pool: Sequence,
        noise_files: Sequence,
        pool_is_source: bool = False,
    ):
        d = config.data
        self.source = source
        self.seed = check_seed(config)
        self.global_batch = int(config.train.batch_size)
        self.local_batch = self.global_batch // shard_count
        self.first_row = shard_index * self.local_batch
        self.length = int(d.patch_length)
        self.sample_rate = int(d.sample_rate)
        self.threshold_db = float(d.silence_threshold_db)
        self.random_polarity = bool(
            d.get("random_polarity", False)
        )  # absent from older config.json files
        # Energy of a [length] patch at the threshold RMS: rms_db < t  <=>  sum(p^2) < length * 10^(t/10).
        self.min_energy = self.length * 10.0 ** (self.threshold_db / 10.0)
        self.task = config.task.to_dict()  # a plain dict: cheap to pickle and to read per example
        self.noise_pool, self.noise_files = noise_pool, noise_files
        self.pool_is_source = pool_is_source  # then babble of a patch of clip c never uses clip c
        self.order = _ClipOrder(len(source), self.seed)

    def __call__(self, batch_index: int) -> dict[str, np.ndarray]:
        g0 = (
            int(batch_index) * self.global_batch + self.first_row
        )  # global index of this shard's first row
        examples = range(g0, g0 + self.local_batch)
        patches = [
            self._loud_patch(self.order(g), example_rng(self.seed, g, SELECT)) for g in examples
        ]
        y = np.stack([p for p, _ in patches])
        if self.random_polarity:
            y *= self.polarities(examples)[:, None]
        x, y = self.degrade_rows(y, examples, [c for _, c in patches])
        return {"x": x[:, :, None], "y": y[:, :, None]}

    def polarities(self, examples: range) -> np.ndarray:
        """`[rows]` float32 of +1 / -1: the sign each example's clean patch gets under `data.random_polarity`."""
        return np.array(
            [-1.0 if example_rng(self.seed, g, POLARITY).random() < 0.5 else 1.0 for g in examples],
            np.float32,
        )

    def degrade_rows(
        self, y: np.ndarray, examples: range, clips: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`[rows, length]` clean -> (degraded, target), row `i` with the DEGRADE generator of example
        `examples[i]`. The target is the clean row, times the drawn gain for sr "random", reverberated
        for denoise examples drawn with reverb. `clips[i]`: the source clip row `i` was cut from (babble
        made from the source never uses it).

        The sr degradation dominates the pipeline's time and its spline vectorises over rows
        bit-identically, so it runs once per batch (benchmarks/input_pipeline.py measures both).
        """
        if self.task["name"] == "sr":
            mode, ratio = self.task.get("sr_degradation", "paper"), self.task["ratio"]
            frontend = self.task.get("sr_frontend", "spline")
            if (
                mode == "paper"
                and not self.task.get("sr_codec", "")
                and not self.task.get("sr_codec_prob", 0.0)
            ):
                return sr_baseline_batch(
                    y, ratio, frontend
                ), y  # deterministic: no generator needed, one scipy call per batch
            # The same draws `degrade` makes with this generator (chain, then codec), so a batch equals its rows
            # degraded one by one.
            rngs = [example_rng(self.seed, g, DEGRADE) for g in examples]
            chains = (
                [draw_sr_chain(r, self.task) for r in rngs] if mode == "random" else [mode] * len(y)
            )
            codecs = [draw_sr_codec(r, self.task, self.sample_rate / ratio) for r in rngs]
            return sr_batch(
                y, ratio, chains, codec=codecs, target_rate=self.sample_rate, frontend=frontend
            )
        clips = clips if clips is not None and self.pool_is_source else [None] * len(y)
        voices = babble_voices(self.task, self.sample_rate, "train")  # rendered once per worker
        done = [
            degrade(
                row,
                self.task,
                example_rng(self.seed, g, DEGRADE),
                self.sample_rate,
                self.noise_pool,
                self.noise_files,
                exclude=c,
                voices=voices,
            )
            for row, g, c in zip(y, examples, clips)
        ]
        x = np.stack([d.x for d in done])
        if all(d.y is None for d in done):
            return x, y
        return x, np.stack([row if d.y is None else d.y for row, d in zip(y, done)])

    def _loud_patch(self, clip: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """(a `[length]` patch louder than the threshold, the index of the clip it was cut from)."""
        # Rejection sampling: cheap when most patches are loud, as in speech corpora.
        first = clip
        for draw in range(_MAX_DRAWS):
            if draw >= _SAME_CLIP_DRAWS:
                clip = int(rng.integers(len(self.source)))
            p = _patch(record_audio(self.source[clip]), self.length, rng)
            if float(np.dot(p, p)) >= self.min_energy:
                return p, clip
        # Mostly silent data: scan clips from the scheduled one for any loud window.
        n = len(self.source)
        for k in range(n):
            clip = (first + k) % n
            audio = record_audio(self.source[clip])
            starts = _loud_starts(audio, self.length, self.min_energy)
            if starts.size:
                if len(audio) < self.length:
                    return _patch(audio, self.length, rng), clip
                start = int(starts[rng.integers(starts.size)])
                return audio[start : start + self.length], clip
        raise ValueError(
            f"no {self.length}-sample patch of the {n} source clips is louder than "
            f"config.data.silence_threshold_db={self.threshold_db} dBFS; lower the threshold "
            "or check that the audio is not silent"
        )


def _ensure_absl_flags_parsed() -> None:
    # grain 0.2.18 with jax installed reads an absl flag when it starts workers and raises
    # UnparsedFlagAccessError in scripts that do not run under absl.app (google/grain#1355, fixed
    # upstream in #1362). Marking flags parsed keeps every flag at its default, which is what grain
    # would read; under absl.app (our launch scripts) flags are already parsed and this does nothing.
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


class PatchIterator(collections.abc.Iterator):
    """Infinite iterator of training batches `{'x', 'y'}: float32 [local_batch, patch_length, 1]`.

    Its state is the index of the next batch (`get_state` / `set_state`, JSON strings). Worker
    processes start on the first `next()`; `close()` (or the end of a `with` block) stops them.
    """

    def __init__(self, batch_fn: _BatchFn, num_workers: int, prefetch: int):
        self._batch_fn, self._num_workers, self._prefetch = batch_fn, num_workers, prefetch
        self._next_batch = 0
        self._it: Iterator | None = None

    def _start(self) -> Iterator:
        ds = grain.MapDataset.range(self._next_batch, _NO_END).map(self._batch_fn)
        if self._num_workers == 0:
            # A background thread computes ahead while the caller's train step runs.
            threads = 1 if self._prefetch > 0 else 0
            return iter(
                ds.to_iter_dataset(
                    grain.ReadOptions(num_threads=threads, prefetch_buffer_size=self._prefetch)
                )
            )
        _ensure_absl_flags_parsed()
        _bound_worker_shutdown()
        # In workers the map runs in the worker's own loop; threads there would only contend for its GIL.
        ids = ds.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
        opts = grain.MultiprocessingOptions(
            num_workers=self._num_workers, per_worker_buffer_size=max(self._prefetch, 1)
        )
        return iter(ids.mp_prefetch(opts, worker_init_fn=_ignore_stop_signals))

    def __next__(self) -> dict[str, np.ndarray]:
        if self._it is None:
            # The workers start in the first next(), from grain threads created there: both inherit the signal
            # mask, so with SIGTERM/SIGINT blocked meanwhile the workers never take them. A scheduler's or a
            # terminal's signal goes to the whole process group; a worker it killed mid-write would leave the
            # parent blocked for ever reading half a batch, unable to exit after saving its checkpoint. The
            # parent stops its workers itself (close(): a stop event, then SIGKILL); a signal that arrives in
            # this window stays pending and is delivered to the parent as soon as the mask is restored.
            with _workers_deaf_to(signal.SIGTERM, signal.SIGINT, enabled=self._num_workers > 0):
                self._it = self._start()
                batch = next(self._it)
        else:
            batch = next(self._it)
        self._next_batch += 1
        # Workers hand over grain SharedMemoryArrays whose buffer is unlinked when they are collected;
        # a copy (about 1 ms for 2 MB) gives the caller plain arrays with ordinary lifetimes.
        return {k: v if type(v) is np.ndarray else np.array(v) for k, v in batch.items()}

    def get_state(self) -> str:
        f = self._batch_fn
        return json.dumps(
            {
                "version": _STATE_VERSION,
                "next_batch": self._next_batch,
                "seed": f.seed,
                "batch_size": f.global_batch,
            }
        )

    def set_state(self, state: str | bytes) -> None:
        try:
            s = json.loads(state)
            next_batch = int(s["next_batch"])
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(
                f"not an input-pipeline state (expected the JSON from get_iterator_state): {e}"
            ) from None
        f = self._batch_fn
        for key, now in (("seed", f.seed), ("batch_size", f.global_batch)):
            if key in s and s[key] != now:
                field = "seed" if key == "seed" else "train.batch_size"
                raise ValueError(
                    f"the saved input-pipeline state was made with config.{field}={s[key]}, this run "
                    f"has {now}; resume with the same value or start a fresh workdir"
                )
        if next_batch < 0:
            raise ValueError(f"input-pipeline state has a negative next_batch={next_batch}")
        self.close()
        self._next_batch = next_batch

    def close(self) -> None:
        it, self._it = self._it, None
        close = getattr(it, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "PatchIterator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: grain's own finalizers clean up
            pass


def _bound_worker_shutdown(seconds: float = 5.0) -> None:
    """Cap how long grain waits for a stopping worker before it kills it (grain 0.2: 25 s per worker).

    A worker whose queue feeder is blocked on a full pipe (the parent no longer reads it) cannot exit by
    itself, so a run stopped by SIGTERM sat out grain's 25 s, or 50 s for two such workers, past many
    schedulers' grace period (Kubernetes and Slurm allow 30 s by default). The workers hold nothing to
    keep (the pipeline state is our batch counter), and grain kills a worker it gave up on without reading
    its queue again, so a shorter wait loses nothing.
    """
    from grain._src.python.dataset.transformations import process_prefetch

    if getattr(process_prefetch, "_PROCESS_KILL_TIMEOUT_S", 0) > seconds:
        process_prefetch._PROCESS_KILL_TIMEOUT_S = seconds


def _ignore_stop_signals(worker_index: int, worker_count: int) -> None:
    """In each grain worker: SIGTERM and SIGINT are the parent's to act on (it stops its workers itself);
    covers workers that grain starts from threads which predate `_workers_deaf_to`'s mask."""
    del worker_index, worker_count
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _workers_deaf_to(*signums: int, enabled: bool = True) -> Iterator[None]:
    """Block `signums` in this thread for the block (threads and processes started in it inherit the mask)."""
    if not enabled or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signums)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def train_loader(
    config: ml_collections.ConfigDict,
    source: Sequence,
    *,
    shard_index: int = 0,
    shard_count: int = 1,
    noise_pool: Sequence[np.ndarray] | None = None,
    noise_files: Sequence[np.ndarray] | None = None,
) -> PatchIterator:
    """Infinite training batches `{'x': degraded, 'y': clean}`, float32 `[batch // shard_count, patch_length, 1]`.

    `noise_pool` (babble) defaults to the clips of `source` (an example never hears its own clip in it; a
    pool given here is used whole); `noise_files` ("folder" noise) to the files
    in `config.task.noise_dir`. Uses `config.data.num_workers` processes (0: in this process) and
    `config.data.prefetch` batches of read-ahead.
    """
    check_source(source)
    if not (isinstance(shard_count, int) and shard_count >= 1):
        raise ValueError(
            f"shard_count must be a positive integer (the number of processes); got {shard_count!r}"
        )
    if not (isinstance(shard_index, int) and 0 <= shard_index < shard_count):
        raise ValueError(f"shard_index must be in 0..{shard_count - 1}; got {shard_index!r}")
    batch = config.train.batch_size
    if batch < 1 or batch % shard_count:
        raise ValueError(
            f"config.train.batch_size={batch} must be a positive multiple of the {shard_count} "
            f"processes reading data; use e.g. {max(1, batch // shard_count) * shard_count}"
        )
    if config.data.patch_length < 1:
        raise ValueError(
            f"config.data.patch_length must be positive; got {config.data.patch_length}"
        )
    workers, prefetch = int(config.data.num_workers), int(config.data.prefetch)
    if workers < 0:
        raise ValueError(
            f"config.data.num_workers must be >= 0 (0: load in this process); got {workers}"
        )
    if prefetch < 0:
        raise ValueError(f"config.data.prefetch must be >= 0; got {prefetch}")
    pool, files, pool_is_source = noise_inputs(config, source, noise_pool, noise_files)
    return PatchIterator(
        _BatchFn(config, source, shard_index, shard_count, pool, files, pool_is_source),
        workers,
        prefetch,
    )


def get_iterator_state(it: PatchIterator) -> str:
    """JSON string that `set_iterator_state` restores: the same on every process."""
    if not isinstance(it, PatchIterator):
        raise ValueError(
            f"get_iterator_state needs the iterator from train_loader; got {type(it).__name__}"
        )
    return it.get_state()


def set_iterator_state(it: PatchIterator, state: str | bytes) -> None:
    """Make `it` continue with the batch that followed when `state` was saved."""
    if not isinstance(it, PatchIterator):
        raise ValueError(
            f"set_iterator_state needs the iterator from train_loader; got {type(it).__name__}"
        )
    it.set_state(state)
