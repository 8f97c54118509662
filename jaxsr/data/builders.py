"""TFDS dataset builders that never import TensorFlow: synthetic, audio_folder, vctk, musdb18.

Every builder decodes its sources, downmixes to mono, resamples to `data.sample_rate` (soxr HQ) and
stores one record per clip in array_record files, read back with random access (`as_data_source`):

    {'audio': int16 (or float32) [time], 'id': str, 'speaker': str, 'source_sample_rate': int}

`load_split(config.data, "train")` is the entry point: it builds on first use and returns a sequence of
dicts with float32 audio. Only `tfds.features.Tensor/Scalar/Text` are used (`features.Audio` would
import TensorFlow). Which files make each split (and the `data.split` specs) is `jaxsr.data.sources`;
decoding one file is `jaxsr.data.decode`; this module runs the build and reads the result.

Cache layout: `<root>/<builder>/<config name>/<VERSION>/`, where root is the `data_dir` argument, else
$JAXSR_DATA_DIR, else `data.data_dir`, else ~/.cache/jaxsr/datasets. The config name is a readable
prefix plus a digest of every option that changes the data (rate, dtype, split spec, the source path
and a fingerprint of its files, ...), so two settings never share a directory; all options, the
builder VERSION, the jaxsr version and a build summary are saved in the dataset's metadata.json.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import operator
import os
import pathlib
import re
import shutil
import sys
from collections.abc import Sequence
from typing import Any, Callable, Iterator

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from jaxsr import audio_io, files

# `_Builder._load` looks `load_file` up here, so tests can patch `builders.load_file`.
from jaxsr.data.decode import Loaded, encode_clip, load_file, load_synthetic, split_segments
from jaxsr.data.sources import PLANS, SPLITS, SourceItem

DEFAULT_DATA_DIR = "~/.cache/jaxsr/datasets"
VERSION = "1.0.0"


def _jaxsr_version() -> str:
    import jaxsr  # The package is imported already; read lazily so a circular import cannot bite.

    version = getattr(jaxsr, "__version__", None)
    if version:
        return str(version)
    try:
        from importlib.metadata import version as dist_version

        return dist_version("jaxsr")
    except Exception:  # not installed (run from a checkout)
        return "0+unknown"


def _ordered_map(fn: Callable, items: list, workers: int) -> Iterator:
    """map(fn, items) on a thread pool, in order, with a bounded number of results in memory."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        pending = collections.deque()
        for it in items:
            pending.append(ex.submit(fn, it))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclasses.dataclass
class _Summary:
    """What happened to the sources of one split, logged and saved in the metadata after a build."""

    files: int = 0
    examples: int = 0
    seconds: float = 0.0
    downmixed: int = 0
    clipped: int = 0
    short: int = 0
    skipped: dict = dataclasses.field(
        default_factory=lambda: {"corrupt": [], "empty": [], "silent": [], "band_limited": []}
    )
    source_rates: dict = dataclasses.field(default_factory=dict)

    def add(self, r: Loaded) -> None:
        self.files += 1
        if r.skip:
            self.skipped[r.skip].append(r.item.name)
            return
        self.downmixed += r.channels > 1
        self.clipped += r.clipped
        key = str(r.source_rate)
        self.source_rates[key] = self.source_rates.get(key, 0) + 1

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["skipped"] = {k: {"count": len(v), "files": v[:20]} for k, v in self.skipped.items()}
        return d


# ----------------------------------------------------------------------------------------------
# The TFDS builders.


@dataclasses.dataclass(eq=False)
class JaxsrConfig(tfds.core.BuilderConfig):
    """A config per option set: `options_json` is everything that changes the data."""

    options_json: str = "{}"


class _Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared by all jaxsr builders: features, split generation, summary and metadata."""

    VERSION = tfds.core.Version(VERSION)
    RELEASE_NOTES = {
        str(VERSION): "Mono clips resampled with soxr HQ, int16 or float32, array_record."
    }
    DESCRIPTION = ""

    def __init__(
        self, *, plan: dict | None = None, patch_length: int = 0, workers: int = 1, **kwargs
    ):
        self._plan, self._patch_length, self._workers = plan, patch_length, workers
        self._summaries: dict[str, _Summary] = {}
        super().__init__(**kwargs)

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        # TFDS 4.9.10 resolves this through `importlib_resources`, which it only requires on Python < 3.9,
        # so the default fails for builders defined inside a package. The file is all it needs.
        return epath.Path(__file__)

    def _create_builder_config(self, builder_config, version):
        if isinstance(
            builder_config, JaxsrConfig
        ):  # always a custom config: skip TFDS's warning about it
            return builder_config
        return super()._create_builder_config(builder_config, version)

    @property
    def options(self) -> dict:
        return json.loads(self.builder_config.options_json)

    def _info(self) -> tfds.core.DatasetInfo:
        dtype = np.int16 if self.options.get("store_dtype", "int16") == "int16" else np.float32
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "audio": tfds.features.Tensor(
                        shape=(None,), dtype=dtype, encoding=tfds.features.Encoding.BYTES
                    ),
                    "id": tfds.features.Text(),
                    "speaker": tfds.features.Text(),
                    "source_sample_rate": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            metadata=tfds.core.MetadataDict(
                jaxsr_version=_jaxsr_version(), builder_version=VERSION, options=self.options
            ),
            disable_shuffling=True,  # records in source order: ids sorted, reproducible
        )

    def _load(self, item: SourceItem) -> Loaded:
        return load_file(item, self.options)

    def _split_generators(self, dl_manager):
        assert self._plan is not None, "construct jaxsr builders with build() / load_split()"
        return {s: self._generate_examples(s, self._plan[s]) for s in SPLITS}

    def _generate_examples(self, split: str, items: list[SourceItem]):
        opts = self.options
        summary = self._summaries[split] = _Summary()
        for r in _ordered_map(self._load, items, self._workers):
            summary.add(r)
            if r.skip:
                logging.warning(
                    "%s/%s: skipped %s file %s%s",
                    self.name,
                    split,
                    r.skip,
                    r.item.name,
                    f" ({r.error})" if r.error else "",
                )
                continue
            pieces = split_segments(r.audio, opts["sample_rate"], opts.get("segment_seconds", 0.0))
            for k, y in enumerate(pieces):
                key = r.item.id if len(pieces) == 1 else f"{r.item.id}#{k:03d}"
                summary.examples += 1
                summary.seconds += len(y) / opts["sample_rate"]
                summary.short += len(y) < self._patch_length
                yield (
                    key,
                    {
                        "audio": encode_clip(y, opts["store_dtype"]),
                        "id": key,
                        "speaker": r.item.speaker,
                        "source_sample_rate": int(r.source_rate),
                    },
                )
        if summary.examples == 0:
            raise ValueError(
                f"{self.name}: split {split!r} ended empty: none of its {summary.files} files gave a "
                f"clip ({ {k: len(v) for k, v in summary.skipped.items()} } skipped; first: "
                f"{sum(summary.skipped.values(), [])[:3]})"
            )

    # TFDS prints "Downloading and preparing dataset ..." and "... downloaded and prepared" in bold: jaxsr
    # downloads nothing, so say what happens instead, through the log (which --quiet silences).
    def _log_download_bytes(self) -> None:
        logging.info(
            "building %s/%s from local files into %s (nothing is downloaded)",
            self.name,
            self.builder_config.name,
            self.data_dir,
        )

    def _log_download_done(self) -> None:
        logging.info("built %s into %s", self.name, self.data_dir)

    def _download_and_prepare(self, dl_manager, download_config, **kwargs):
        super()._download_and_prepare(dl_manager, download_config, **kwargs)
        self.info.metadata["build_summary"] = {s: v.as_dict() for s, v in self._summaries.items()}
        for split, s in self._summaries.items():
            n_skip = sum(len(v) for v in s.skipped.values())
            log = logging.warning if n_skip else logging.info
            log(
                "%s/%s: %d clips (%.1f min) from %d files; skipped %s; downmixed %d multichannel, clipped %d, "
                "%d shorter than data.patch_length=%d (kept); source rates %s",
                self.name,
                split,
                s.examples,
                s.seconds / 60,
                s.files,
                {k: len(v) for k, v in s.skipped.items()},
                s.downmixed,
                s.clipped,
                s.short,
                self._patch_length,
                s.source_rates,
            )


class Synthetic(_Builder, skip_registration=True):
    DESCRIPTION = "The embedded speech-like corpus of jaxsr.data.synthetic."

    def _load(self, item: SourceItem) -> Loaded:
        return load_synthetic(item, self.options)


class AudioFolder(_Builder, skip_registration=True):
    DESCRIPTION = "Every audio file under a directory (or in a zip), one clip per file."


class Vctk(_Builder, skip_registration=True):
    DESCRIPTION = "CSTR VCTK Corpus 0.92 or 0.80, the single- and multi-speaker settings of Kuleshov et al. 2017."


class Musdb18(_Builder, skip_registration=True):
    DESCRIPTION = "MUSDB18(-HQ) mixtures, official train/test split."


class LibriSpeech(_Builder, skip_registration=True):
    DESCRIPTION = (
        "LibriSpeech-style read speech of many speakers, split by speaker (jaxsr.data.sources)."
    )


_BUILDERS: dict[str, type[_Builder]] = {
    "synthetic": Synthetic,
    "audio_folder": AudioFolder,
    "vctk": Vctk,
    "musdb18": Musdb18,
    "librispeech": LibriSpeech,
}
assert set(_BUILDERS) == set(PLANS)
BUILDER_NAMES = tuple(_BUILDERS)


# ----------------------------------------------------------------------------------------------
# Entry points.


def dataset_root(data_config: Any, data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """Cache root: the argument, else data.data_dir, else $JAXSR_DATA_DIR, else ~/.cache/jaxsr/datasets.

    The config comes before the environment so that a config (which is the whole description of a
    run) always reads the same cache, whoever calls `load_split`."""
    for cand in (data_dir, data_config.get("data_dir", ""), os.environ.get("JAXSR_DATA_DIR")):
        if cand:
            return pathlib.Path(cand).expanduser()
    return pathlib.Path(DEFAULT_DATA_DIR).expanduser()


def _config_name(readable: str, opts: dict) -> str:
    digest = hashlib.sha1(json.dumps(opts, sort_keys=True).encode()).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', readable)[:80]}-{digest}"


def _is_complete(builder: _Builder) -> bool:
    path = pathlib.Path(builder.data_path)
    if not (path / "dataset_info.json").exists():
        return False
    try:
        return all(
            pathlib.Path(f).exists() for s in SPLITS for f in builder.info.splits[s].filepaths
        )
    except KeyError:
        return False


def _clean_partial(builder: _Builder) -> None:
    """Remove a half-written version dir and TFDS temp dirs left by a killed build of this config."""
    path = pathlib.Path(builder.data_path)
    if path.exists():
        logging.warning(
            "removing incomplete dataset directory %s (no dataset_info.json or missing files)", path
        )
        shutil.rmtree(path)
    for tmp in path.parent.glob(f"incomplete.*_{path.name}"):
        logging.warning("removing leftover temporary build directory %s", tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def build(data_config: Any, data_dir: str | os.PathLike | None = None) -> tfds.core.DatasetBuilder:
    """Build the dataset `data_config` describes if its cache is missing or incomplete; return the builder."""
    name = data_config.get("name", "")
    if name not in _BUILDERS:
        raise ValueError(f"data.name={name!r}: use one of {BUILDER_NAMES}")
    cls = _BUILDERS[name]
    opts, plan, readable = PLANS[name](data_config)
    opts["version"] = VERSION  # a new builder version is a new cache directory
    config = JaxsrConfig(
        name=_config_name(readable, opts),
        description=readable,
        options_json=json.dumps(opts, sort_keys=True),
    )
    workers = int(data_config.get("build_workers", 0)) or min(8, os.cpu_count() or 1)

    def make() -> _Builder:
        return cls(
            data_dir=os.fspath(dataset_root(data_config, data_dir)),
            config=config,
            plan=plan,
            patch_length=int(data_config.get("patch_length", 0)),
            workers=workers,
        )

    builder = make()
    if _is_complete(builder):
        return builder
    with files.file_lock(pathlib.Path(builder.data_path).parent / ".lock"):
        builder = make()  # another process may have finished it while we waited
        if _is_complete(builder):
            return builder
        _clean_partial(builder)
        builder = make()
        logging.info("building %s/%s into %s", name, config.name, builder.data_path)
        # TFDS prints progress to stdout, which jaxsr keeps for machine-readable output.
        with contextlib.redirect_stdout(sys.stderr):
            builder.download_and_prepare(
                file_format="array_record",
                download_config=tfds.download.DownloadConfig(try_download_gcs=False),
            )
    return make()


class ClipSource(Sequence):
    """Random-access clips of one split: `source[i]` -> {'audio': float32 [time], 'id', 'speaker',
    'source_sample_rate'}; picklable, so grain workers can hold it."""

    def __init__(
        self, records: Sequence, sample_rate: int, name: str, split: str, path: str, metadata: dict
    ):
        self._records, self.sample_rate, self.name, self.split = records, sample_rate, name, split
        self.path, self.metadata = path, metadata

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i, n = operator.index(index), len(self)
        if not -n <= i < n:
            raise IndexError(
                f"clip index {index} out of range for {self.name}/{self.split} with {n} clips"
            )
        return self._decode(self._records[i % n])

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        return [
            self._decode(r)
            for r in self._records.__getitems__([operator.index(i) for i in indices])
        ]

    @staticmethod
    def _decode(rec: dict) -> dict:
        text = lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v)  # noqa: E731
        return {
            "audio": audio_io.to_float32(rec["audio"]),
            "id": text(rec["id"]),
            "speaker": text(rec["speaker"]),
            "source_sample_rate": int(rec["source_sample_rate"]),
        }

    def __repr__(self) -> str:
        return f"ClipSource({self.name}/{self.split}: {len(self)} clips at {self.sample_rate} Hz, {self.path})"


def load_split(
    data_config: Any, split: str, data_dir: str | os.PathLike | None = None
) -> ClipSource:
    """The clips of `split` ("train", "valid" or "test") at data.sample_rate, building the dataset on first use."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: use one of {SPLITS}")
    builder = build(data_config, data_dir)
    return ClipSource(
        builder.as_data_source(split),
        int(data_config.get("sample_rate")),
        builder.name,
        split,
        os.fspath(builder.data_path),
        dict(builder.info.metadata),
    )
