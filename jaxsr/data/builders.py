"""TFDS dataset builders that never import TensorFlow: synthetic, audio_folder, vctk, musdb18.

Every builder decodes its sources, downmixes to mono, resamples to `data.sample_rate` (soxr HQ) and
stores one record per clip in array_record files, read back with random access (`as_data_source`):

    {'audio': int16 (or float32) [time], 'id': str, 'speaker': str, 'source_sample_rate': int}

`load_split(config.data, "train")` is the entry point: it builds on first use and returns a sequence of
dicts with float32 audio. Only `tfds.features.Tensor/Scalar/Text` are used (`features.Audio` would
import TensorFlow).

Cache layout: `<root>/<builder>/<config name>/<VERSION>/`, where root is the `data_dir` argument, else
$JAXSR_DATA_DIR, else `data.data_dir`, else ~/.cache/jaxsr/datasets. The config name is a readable
prefix plus a digest of every option that changes the data (rate, dtype, split spec, the source path
and a fingerprint of its files, ...), so two settings never share a directory; all options, the
builder VERSION, the jaxsr version and a build summary are saved in the dataset's metadata.json.

Split specs (`data.split`):
  ""                    the builder's default: audio_folder "hash:0.9,0.05,0.05"; vctk and musdb18 their
                        published splits, with `data.num_valid_clips` clips carved from train for valid.
  "hash:0.9,0.05,0.05"  train/valid/test fractions, by a hash of each file's relative path.
  "tail:20"             the 20 files whose relative paths sort last are held out (test); the rest train.
  "tail:20,valid:10"    the same 20 files are test, the 10 that sort just before them are valid, the rest
                        train: a validation set (for evaluation during training and `best/`) disjoint from test.
  "list:/path/to.txt"   lines "<train|valid|test> <id>" ("#" comments); unlisted files unused. Ids are
                        paths relative to data.path (audio_folder), "p225_001" (vctk), "train/<track>" (musdb18).
Where valid would be empty by construction (tail:N without valid:M, a hash valid fraction of 0, a list without valid
lines, num_valid_clips = 0), valid is the test set.
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
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from jaxsr import audio_io, files
from jaxsr.data import synthetic

SPLITS = ("train", "valid", "test")
STORE_DTYPES = ("int16", "float32")
DEFAULT_DATA_DIR = "~/.cache/jaxsr/datasets"
VERSION = "1.0.0"
# Peak below one int16 step: the clip is digital silence after quantisation.
_SILENT_PEAK = 1.0 / 32768.0


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


# ----------------------------------------------------------------------------------------------
# Source files and split plans.


@dataclasses.dataclass(frozen=True)
class _Item:
    """One source recording: where it is and what it becomes."""
    id: str  # Unique within a dataset; used as the record id and the TFDS key.
    speaker: str
    file: pathlib.Path  # The file, or the zip holding it.
    member: str | None = None  # Member name inside `file` if it is a zip.
    stamp: tuple = ()  # (size, mtime or CRC): feeds the source fingerprint.

    @property
    def name(self) -> str:
        return f"{self.file}:{self.member}" if self.member else str(self.file)


def _source_path(dc: Any, builder: str) -> pathlib.Path:
    path = str(dc.get("path", "") or "")
    if not path:
        raise ValueError(f"data.path is empty: the {builder!r} builder needs data.path set to the dataset "
                         "directory (or its .zip)")
    p = pathlib.Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"data.path={path!r} does not exist (builder {builder!r})")
    return p.resolve()


def _list_files(root: pathlib.Path, pattern: re.Pattern | None = None) -> list[tuple[str, _Item]]:
    """(relative posix path, item stub) for every file under a directory or in a zip matching `pattern`."""
    out = []
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise ValueError(f"data.path={str(root)!r} is a file but not a zip archive; pass the dataset "
                             "directory or its .zip")
        with zipfile.ZipFile(root) as zf:
            for info in zf.infolist():
                rel = info.filename
                base = rel.rsplit("/", 1)[-1]
                if info.is_dir() or rel.startswith("__MACOSX/") or base.startswith("."):
                    continue
                if pattern is None or pattern.search(rel):
                    out.append((rel, _Item(rel, "", root, rel, (info.file_size, info.CRC))))
        return sorted(out, key=lambda t: t[0])
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if f.startswith("."):
                continue
            full = pathlib.Path(dirpath, f)
            rel = full.relative_to(root).as_posix()
            if pattern is None or pattern.search(rel):
                st = full.stat()
                out.append((rel, _Item(rel, "", full, None, (st.st_size, st.st_mtime_ns))))
    return sorted(out, key=lambda t: t[0])


def _fingerprint(items: Iterable[_Item]) -> str:
    h = hashlib.sha1()
    for it in sorted(items, key=lambda i: i.id):
        h.update(repr((it.id, it.member or it.file.name, it.stamp)).encode())
    return h.hexdigest()[:16]


def _unit_hash(s: str) -> float:
    """A deterministic uniform number in [0, 1) from a string (independent of PYTHONHASHSEED)."""
    return int(hashlib.sha1(s.encode()).hexdigest()[:13], 16) / 16**13


def parse_split_spec(spec: str) -> tuple[str, Any]:
    """`data.split` -> ("default", None) | ("hash", (f_train, f_valid, f_test)) | ("tail", (n_test, n_valid))
    | ("list", path). `n_valid` is 0 for plain "tail:N" (valid is then the test set)."""
    spec = (spec or "").strip()
    hint = 'use "", "hash:0.9,0.05,0.05", "tail:20", "tail:20,valid:10" or "list:/path/to/splits.txt"'
    if not spec:
        return "default", None
    kind, _, arg = spec.partition(":")
    if kind == "hash":
        try:
            fr = tuple(float(v) for v in arg.split(","))
        except ValueError:
            fr = ()
        if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6 or fr[0] <= 0 or fr[2] <= 0:
            raise ValueError(f"data.split={spec!r}: hash needs three fractions train,valid,test summing to 1, "
                             "with train and test > 0 (valid 0 means valid = test), e.g. hash:0.9,0.05,0.05")
        return "hash", fr
    if kind == "tail":
        n_test, comma, rest = arg.partition(",")
        valid_kind, _, n_valid = rest.partition(":")
        if not n_test.isdigit() or int(n_test) < 1 or (comma and (valid_kind != "valid" or not n_valid.isdigit()
                                                                   or int(n_valid) < 1)):
            raise ValueError(f"data.split={spec!r}: tail needs a positive number of held-out test files, optionally "
                             "followed by a positive number of validation files before them, e.g. tail:20 or "
                             "tail:20,valid:10")
        return "tail", (int(n_test), int(n_valid) if comma else 0)
    if kind == "list":
        p = pathlib.Path(arg).expanduser()
        if not arg or not p.is_file():
            raise FileNotFoundError(f"data.split={spec!r}: split list file {arg!r} not found")
        return "list", p.resolve()
    raise ValueError(f"data.split={spec!r} is not a split spec; {hint}")


def _carve_valid(train: list[_Item], n: int, builder: str) -> tuple[list[_Item], list[_Item]]:
    """Move `n` train items (chosen by a hash of their ids: deterministic, spread out) to valid."""
    if n <= 0:
        return train, []
    if n >= len(train):
        raise ValueError(f"{builder}: data.num_valid_clips={n} leaves no training files (train has {len(train)}); "
                         "lower data.num_valid_clips")
    chosen = {it.id for it in sorted(train, key=lambda it: _unit_hash(it.id))[:n]}
    return [it for it in train if it.id not in chosen], [it for it in train if it.id in chosen]


def _assign_splits(items: list[_Item], spec: str, builder: str,
                   default: Callable[[list[_Item]], dict[str, list[_Item]]]) -> dict[str, list[_Item]]:
    """Split `items` (sorted by id) by the spec; raises if any split would be empty."""
    kind, arg = parse_split_spec(spec)
    if kind == "default":
        plan = default(items)
    elif kind == "hash":
        f_train, f_valid, _ = arg
        plan = {s: [] for s in SPLITS}
        for it in items:
            u = _unit_hash(it.id)
            plan["train" if u < f_train else "valid" if u < f_train + f_valid else "test"].append(it)
    elif kind == "tail":  # items are sorted by id: test is the last n_test, valid the n_valid before them
        n_test, n_valid = arg
        if n_test + n_valid >= len(items):
            raise ValueError(f"data.split={spec!r} holds out {n_test + n_valid} files but {builder} found only "
                             f"{len(items)}; use smaller numbers")
        held = n_test + n_valid
        plan = {"train": items[:-held], "valid": items[-held:-n_test] if n_valid else [], "test": items[-n_test:]}
    else:
        by_id = {it.id: it for it in items}
        plan = {s: [] for s in SPLITS}
        unknown = []
        for n, line in enumerate(arg.read_text().splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            split, _, rel = line.partition(" ")
            rel = rel.strip()
            if split not in SPLITS or not rel:
                raise ValueError(f"{arg}:{n}: expected '<train|valid|test> <id or relative path>', got {line!r}")
            (plan[split].append(by_id[rel]) if rel in by_id else unknown.append(rel))
        if unknown:
            raise ValueError(f"{arg}: {len(unknown)} listed ids are not among the {len(items)} recordings of "
                             f"{builder}: {unknown[:3]} (ids look like {items[0].id!r})")
    if not plan.get("valid"):
        plan["valid"] = list(plan["test"])
    for s in SPLITS:
        if not plan.get(s):
            raise ValueError(f"{builder}: split {s!r} would be empty with data.split={spec!r} over {len(items)} "
                             f"files ({ {k: len(v) for k, v in plan.items()} }); change data.split (e.g. tail:N or list:FILE)")
    return plan


def _common_options(dc: Any, name: str) -> dict:
    rate = dc.get("sample_rate", 16000)
    if not (isinstance(rate, (int, np.integer)) and 4000 <= rate <= 192000):
        raise ValueError(f"data.sample_rate={rate!r}: use an integer rate in Hz such as 16000")
    store = dc.get("store_dtype", "int16")
    if store not in STORE_DTYPES:
        raise ValueError(f"data.store_dtype={store!r}: use one of {STORE_DTYPES}")
    return {"builder": name, "version": VERSION, "sample_rate": int(rate), "store_dtype": store}


def _file_options(dc: Any, name: str, path: pathlib.Path) -> dict:
    opts = _common_options(dc, name)
    seg = float(dc.get("segment_seconds", 0.0))
    if seg < 0:
        raise ValueError(f"data.segment_seconds={seg!r}: use 0 (whole recordings) or a positive length")
    opts.update(path=str(path), split=str(dc.get("split", "") or ""), segment_seconds=seg,
                trim_silence=bool(dc.get("trim_silence", False)))
    if opts["trim_silence"]:
        opts["trim_top_db"] = float(dc.get("trim_top_db", 30.0))
    parse_split_spec(opts["split"])  # fail on a bad spec before touching any file
    return opts


def _synthetic_plan(dc: Any) -> tuple[dict, dict, str]:
    opts = _common_options(dc, "synthetic")
    if opts["sample_rate"] > 48000:
        raise ValueError(f"data.sample_rate={opts['sample_rate']}: the synthetic corpus renders at most 48000 Hz")
    n_train, n_eval = int(dc.get("num_train_clips", 256)), int(dc.get("num_eval_clips", 16))
    seconds, seed = float(dc.get("clip_seconds", 2.0)), int(dc.get("corpus_seed", 0))
    if n_train < 1 or n_eval < 1 or seconds <= 0:
        raise ValueError(f"data.num_train_clips={n_train}, data.num_eval_clips={n_eval}, data.clip_seconds={seconds}: "
                         "the synthetic corpus needs at least one clip per split and a positive length")
    opts.update(num_train_clips=n_train, num_eval_clips=n_eval, clip_seconds=seconds, corpus_seed=seed)
    plan = {s: [_Item(f"{s}-{i:05d}", "synthetic", pathlib.Path(s), None, (i,))
                for i in range(n_train if s == "train" else n_eval)] for s in SPLITS}
    readable = f"sr{opts['sample_rate']}-n{n_train}-{n_eval}-s{seconds:g}-seed{seed}-{opts['store_dtype']}"
    return opts, plan, readable


def _folder_plan(dc: Any) -> tuple[dict, dict, str]:
    root = _source_path(dc, "audio_folder")
    opts = _file_options(dc, "audio_folder", root)
    if root.is_dir():
        files = audio_io.list_audio_files(root)
        items = []
        for f in files:
            rel, st = f.relative_to(root).as_posix(), f.stat()
            items.append(_Item(rel, rel.rsplit("/", 1)[0] if "/" in rel else "", f, None, (st.st_size, st.st_mtime_ns)))
    else:
        exts = tuple(audio_io.AUDIO_EXTENSIONS)
        items = [dataclasses.replace(it, speaker=rel.rsplit("/", 1)[0] if "/" in rel else "")
                 for rel, it in _list_files(root) if rel.lower().endswith(exts)]
        if not items:
            raise ValueError(f"no audio files in the zip data.path={str(root)!r}: looked for {exts}")
    opts["fingerprint"] = _fingerprint(items)
    default = lambda its: _assign_splits(its, "hash:0.9,0.05,0.05", "audio_folder", None)  # noqa: E731
    plan = _assign_splits(items, opts["split"], "audio_folder", default)
    readable = f"{root.stem}-sr{opts['sample_rate']}-{opts['split'] or 'default'}-{opts['store_dtype']}"
    return opts, plan, readable


_VCTK_092 = re.compile(r"(?:^|/)wav48_silence_trimmed/([ps]\d+)/(\1_\d+)_(mic[12])\.flac$")
_VCTK_080 = re.compile(r"(?:^|/)wav48/([ps]\d+)/(\1_\d+)\.wav$")
VCTK_MODES = ("single", "multi")


def _vctk_plan(dc: Any) -> tuple[dict, dict, str]:
    root = _source_path(dc, "vctk")
    opts = _file_options(dc, "vctk", root)
    mode, mic = dc.get("vctk_mode", "single"), dc.get("vctk_mic", "mic1")
    if mode not in VCTK_MODES:
        raise ValueError(f"data.vctk_mode={mode!r}: use 'single' (one speaker) or 'multi' (speaker-disjoint)")
    if mic not in ("mic1", "mic2"):
        raise ValueError(f"data.vctk_mic={mic!r}: use 'mic1' or 'mic2' (VCTK 0.92)")
    files = _list_files(root, re.compile(r"(?:^|/)wav48(?:_silence_trimmed)?/"))
    new = [(m, it) for rel, it in files if (m := _VCTK_092.search(rel))]
    if new:
        layout, matched = "0.92", [(m, it) for m, it in new if m.group(3) == mic]
        if not matched:
            raise ValueError(f"VCTK 0.92 at data.path={str(root)!r} has no {mic} recordings (*_{mic}.flac)")
    else:
        layout, matched = "0.80", [(m, it) for rel, it in files if (m := _VCTK_080.search(rel))]
        if mic != "mic1":
            logging.warning("VCTK 0.80 has one microphone per recording; data.vctk_mic=%r is ignored", mic)
    if not matched:
        raise ValueError(
            f"data.path={str(root)!r} does not look like VCTK: expected wav48_silence_trimmed/pXXX/pXXX_YYY_mic1.flac "
            "(VCTK-Corpus 0.92) or wav48/pXXX/pXXX_YYY.wav (0.80), in a directory or a zip")
    items = sorted((dataclasses.replace(it, id=m.group(2), speaker=m.group(1)) for m, it in matched),
                   key=lambda it: (_speaker_key(it.speaker), it.id))
    opts.update(layout=layout, mode=mode, num_valid_clips=int(dc.get("num_valid_clips", 8)))
    if layout == "0.92":
        opts["mic"] = mic
    speakers = sorted({it.speaker for it in items}, key=_speaker_key)
    if mode == "single":
        spk, n_train = str(dc.get("vctk_speaker", "p225")), int(dc.get("vctk_train_recordings", 223))
        if spk not in speakers:
            raise ValueError(f"data.vctk_speaker={spk!r} is not in the VCTK at {root}; speakers found: "
                             f"{speakers[:8]}{'...' if len(speakers) > 8 else ''}")
        opts.update(speaker=spk, train_recordings=n_train)
        detail = f"single-{spk}-{n_train}"
        items = [it for it in items if it.speaker == spk]  # any split spec applies to this speaker only

        def default(its):  # Kuleshov et al.: the speaker's first 223 recordings train, the rest test
            if not 0 < n_train < len(its):
                raise ValueError(f"data.vctk_train_recordings={n_train}: speaker {spk} has {len(its)} recordings "
                                 f"({mic if layout == '0.92' else 'wav48'}); use a number in 1..{len(its) - 1}")
            train, valid = _carve_valid(its[:n_train], opts["num_valid_clips"], "vctk")
            return {"train": train, "valid": valid, "test": its[n_train:]}
    else:
        n_spk = int(dc.get("vctk_train_speakers", 99))
        opts["train_speakers"] = n_spk
        detail = f"multi-{n_spk}"

        def default(its):  # the first 99 speakers train, the others test (speaker-disjoint)
            if not 0 < n_spk < len(speakers):
                raise ValueError(f"data.vctk_train_speakers={n_spk}: the VCTK at {root} has {len(speakers)} speakers "
                                 f"with audio; use a number in 1..{len(speakers) - 1}")
            train_spk = set(speakers[:n_spk])
            train, valid = _carve_valid([it for it in its if it.speaker in train_spk], opts["num_valid_clips"], "vctk")
            return {"train": train, "valid": valid, "test": [it for it in its if it.speaker not in train_spk]}
    opts["fingerprint"] = _fingerprint(items)
    plan = _assign_splits(items, opts["split"], f"vctk ({layout}, {mode})", default)
    readable = f"{layout}-{detail}-{opts.get('mic', 'mic')}-sr{opts['sample_rate']}-{opts['split'] or 'paper'}-{opts['store_dtype']}"
    return opts, plan, readable


def _speaker_key(s: str) -> tuple:
    return (s[0], int(s[1:]) if s[1:].isdigit() else 0, s)


_MUSDB_HQ = re.compile(r"(?:^|/)(train|test)/([^/]+)/mixture\.wav$")
_MUSDB_STEM = re.compile(r"(?:^|/)(train|test)/([^/]+)\.stem\.mp4$")


def _musdb_plan(dc: Any) -> tuple[dict, dict, str]:
    root = _source_path(dc, "musdb18")
    opts = _file_options(dc, "musdb18", root)
    files = _list_files(root, re.compile(r"(?:^|/)(?:train|test)/"))
    matched = [(m, it) for rel, it in files if (m := _MUSDB_HQ.search(rel))]
    layout = "hq"
    if not matched:
        layout, matched = "stem", [(m, it) for rel, it in files if (m := _MUSDB_STEM.search(rel))]
        if matched and not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
            raise ValueError(f"data.path={str(root)!r} holds MUSDB18 .stem.mp4 files, which need ffmpeg and ffprobe "
                             "on PATH to decode; install ffmpeg, or use MUSDB18-HQ (train|test/<track>/mixture.wav)")
    if not matched:
        raise ValueError(f"data.path={str(root)!r} does not look like MUSDB18: expected train/<track>/mixture.wav and "
                         "test/<track>/mixture.wav (MUSDB18-HQ) or train|test/<track>.stem.mp4 (MUSDB18)")
    items = [dataclasses.replace(it, id=f"{m.group(1)}/{m.group(2)}", speaker=m.group(2).split(" - ")[0])
             for m, it in matched]
    opts.update(layout=layout, num_valid_clips=int(dc.get("num_valid_clips", 8)), fingerprint=_fingerprint(items))

    def default(its):
        train, valid = _carve_valid([it for it in its if it.id.startswith("train/")], opts["num_valid_clips"], "musdb18")
        return {"train": train, "valid": valid, "test": [it for it in its if it.id.startswith("test/")]}
    plan = _assign_splits(items, opts["split"], f"musdb18 ({layout})", default)
    readable = f"{layout}-sr{opts['sample_rate']}-{opts['split'] or 'official'}-{opts['store_dtype']}"
    return opts, plan, readable


# ----------------------------------------------------------------------------------------------
# Decoding one source into clips.


_zip_local = threading.local()


def _read_member(item: _Item) -> bytes:
    """Member bytes; one ZipFile per thread since ZipFile reads are not meant to be shared."""
    cache = _zip_local.__dict__.setdefault("zips", {})
    zf = cache.get(item.file)
    if zf is None:
        zf = cache[item.file] = zipfile.ZipFile(item.file)
    return zf.read(item.member)


def _decode_stem(path: str, stream: int = 0) -> tuple[np.ndarray, int]:
    """Audio stream `stream` of a .stem.mp4 (0 = the mixture) via ffmpeg -> float32 [time, channels]."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", f"a:{stream}", "-show_entries",
                            "stream=sample_rate,channels", "-of", "json", path], capture_output=True, text=True)
    streams = json.loads(probe.stdout or "{}").get("streams") if probe.returncode == 0 else None
    if not streams:
        raise ValueError(f"ffprobe cannot read audio stream {stream} of {path}: {probe.stderr.strip()[-300:]}")
    rate, channels = int(streams[0]["sample_rate"]), int(streams[0]["channels"])
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", f"0:a:{stream}", "-f", "f32le",
                          "-acodec", "pcm_f32le", "-"], capture_output=True)
    if out.returncode != 0 or not out.stdout:
        raise ValueError(f"ffmpeg cannot decode {path}: {out.stderr.decode(errors='replace').strip()[-300:]}")
    return np.frombuffer(out.stdout, dtype="<f4").reshape(-1, channels).copy(), rate


def _read_item(item: _Item) -> tuple[np.ndarray, int]:
    if item.name.endswith(".stem.mp4"):
        if item.member is None:
            return _decode_stem(str(item.file))
        with tempfile.NamedTemporaryFile(suffix=".stem.mp4") as tmp:
            tmp.write(_read_member(item))
            tmp.flush()
            return _decode_stem(tmp.name)
    if item.member is not None:
        return audio_io.read_audio_bytes(_read_member(item), item.name)
    return audio_io.read_audio(item.file)


@dataclasses.dataclass
class _Loaded:
    item: _Item
    audio: np.ndarray | None = None  # float32 [time] at the target rate, or None if skipped
    skip: str = ""  # "corrupt" | "empty" | "silent"
    error: str = ""
    channels: int = 1
    source_rate: int = 0
    clipped: bool = False


def _load_file(item: _Item, opts: dict) -> _Loaded:
    try:
        x, rate = _read_item(item)
    except (ValueError, OSError, RuntimeError, EOFError, zipfile.BadZipFile) as e:
        return _Loaded(item, skip="empty" if "no audio samples" in str(e) or "(0 bytes)" in str(e) else "corrupt",
                       error=str(e))
    out = _Loaded(item, channels=x.shape[1], source_rate=rate)
    y = audio_io.resample(x.mean(axis=1), rate, opts["sample_rate"])
    if y.size == 0:
        out.skip = "empty"
        return out
    if np.max(np.abs(y)) < _SILENT_PEAK:
        out.skip = "silent"
        return out
    if opts.get("trim_silence"):
        import librosa  # Lazily: librosa's import is slow and only trimming needs it.
        frame = _trim_frame(opts["sample_rate"])
        y, _ = librosa.effects.trim(y, top_db=opts["trim_top_db"], frame_length=frame, hop_length=frame // 4)
    out.clipped = bool(np.max(np.abs(y)) > 1.0)
    out.audio = np.clip(y, -1.0, 1.0)
    return out


def _trim_frame(rate: int) -> int:
    """About 32 ms: librosa's default 2048 samples is 128 ms at 16 kHz and would keep most of a pause."""
    return int(2 ** np.ceil(np.log2(0.032 * rate)))


def _load_synthetic(item: _Item, opts: dict) -> _Loaded:
    split, index = item.file.name, item.stamp[0]
    y = synthetic.make_clip(synthetic.clip_rng(split, index, opts["corpus_seed"]), opts["sample_rate"],
                            opts["clip_seconds"])
    return _Loaded(item, audio=y, source_rate=opts["sample_rate"])


def _encode(y: np.ndarray, store_dtype: str) -> np.ndarray:
    if store_dtype == "int16":  # the inverse of audio_io.to_float32: int16 / 32768
        return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
    return y.astype(np.float32)


def _segments(y: np.ndarray, rate: int, seconds: float) -> list[np.ndarray]:
    """Near-equal consecutive pieces of about `seconds` (whole clip if 0 or shorter)."""
    if seconds <= 0:
        return [y]
    n = max(1, int(round(len(y) / (seconds * rate))))
    return np.array_split(y, n)


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
    skipped: dict = dataclasses.field(default_factory=lambda: {"corrupt": [], "empty": [], "silent": []})
    source_rates: dict = dataclasses.field(default_factory=dict)

    def add(self, r: _Loaded) -> None:
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
    RELEASE_NOTES = {str(VERSION): "Mono clips resampled with soxr HQ, int16 or float32, array_record."}
    DESCRIPTION = ""

    def __init__(self, *, plan: dict | None = None, patch_length: int = 0, workers: int = 1, **kwargs):
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
        if isinstance(builder_config, JaxsrConfig):  # always a custom config: skip TFDS's warning about it
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
            features=tfds.features.FeaturesDict({
                "audio": tfds.features.Tensor(shape=(None,), dtype=dtype, encoding=tfds.features.Encoding.BYTES),
                "id": tfds.features.Text(),
                "speaker": tfds.features.Text(),
                "source_sample_rate": tfds.features.Scalar(dtype=np.int32),
            }),
            metadata=tfds.core.MetadataDict(jaxsr_version=_jaxsr_version(), builder_version=VERSION,
                                            options=self.options),
            disable_shuffling=True,  # records in source order: ids sorted, reproducible
        )

    def _load(self, item: _Item) -> _Loaded:
        return _load_file(item, self.options)

    def _split_generators(self, dl_manager):
        assert self._plan is not None, "construct jaxsr builders with build() / load_split()"
        return {s: self._generate_examples(s, self._plan[s]) for s in SPLITS}

    def _generate_examples(self, split: str, items: list[_Item]):
        opts = self.options
        summary = self._summaries[split] = _Summary()
        for r in _ordered_map(self._load, items, self._workers):
            summary.add(r)
            if r.skip:
                logging.warning("%s/%s: skipped %s file %s%s", self.name, split, r.skip, r.item.name,
                                f" ({r.error})" if r.error else "")
                continue
            pieces = _segments(r.audio, opts["sample_rate"], opts.get("segment_seconds", 0.0))
            for k, y in enumerate(pieces):
                key = r.item.id if len(pieces) == 1 else f"{r.item.id}#{k:03d}"
                summary.examples += 1
                summary.seconds += len(y) / opts["sample_rate"]
                summary.short += len(y) < self._patch_length
                yield key, {"audio": _encode(y, opts["store_dtype"]), "id": key, "speaker": r.item.speaker,
                            "source_sample_rate": int(r.source_rate)}
        if summary.examples == 0:
            raise ValueError(f"{self.name}: split {split!r} ended empty: none of its {summary.files} files gave a "
                             f"clip ({ {k: len(v) for k, v in summary.skipped.items()} } skipped; first: "
                             f"{sum(summary.skipped.values(), [])[:3]})")

    def _download_and_prepare(self, dl_manager, download_config, **kwargs):
        super()._download_and_prepare(dl_manager, download_config, **kwargs)
        self.info.metadata["build_summary"] = {s: v.as_dict() for s, v in self._summaries.items()}
        for split, s in self._summaries.items():
            n_skip = sum(len(v) for v in s.skipped.values())
            log = logging.warning if n_skip else logging.info
            log("%s/%s: %d clips (%.1f min) from %d files; skipped %s; downmixed %d multichannel, clipped %d, "
                "%d shorter than data.patch_length=%d (kept); source rates %s", self.name, split, s.examples,
                s.seconds / 60, s.files, {k: len(v) for k, v in s.skipped.items()}, s.downmixed, s.clipped,
                s.short, self._patch_length, s.source_rates)


class Synthetic(_Builder, skip_registration=True):
    DESCRIPTION = "The embedded speech-like corpus of jaxsr.data.synthetic."

    def _load(self, item: _Item) -> _Loaded:
        return _load_synthetic(item, self.options)


class AudioFolder(_Builder, skip_registration=True):
    DESCRIPTION = "Every audio file under a directory (or in a zip), one clip per file."


class Vctk(_Builder, skip_registration=True):
    DESCRIPTION = "CSTR VCTK Corpus 0.92 or 0.80, the single- and multi-speaker settings of Kuleshov et al. 2017."


class Musdb18(_Builder, skip_registration=True):
    DESCRIPTION = "MUSDB18(-HQ) mixtures, official train/test split."


_BUILDERS: dict[str, tuple[type[_Builder], Callable]] = {
    "synthetic": (Synthetic, _synthetic_plan),
    "audio_folder": (AudioFolder, _folder_plan),
    "vctk": (Vctk, _vctk_plan),
    "musdb18": (Musdb18, _musdb_plan),
}
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
        return all(pathlib.Path(f).exists() for s in SPLITS for f in builder.info.splits[s].filepaths)
    except KeyError:
        return False


def _clean_partial(builder: _Builder) -> None:
    """Remove a half-written version dir and TFDS temp dirs left by a killed build of this config."""
    path = pathlib.Path(builder.data_path)
    if path.exists():
        logging.warning("removing incomplete dataset directory %s (no dataset_info.json or missing files)", path)
        shutil.rmtree(path)
    for tmp in path.parent.glob(f"incomplete.*_{path.name}"):
        logging.warning("removing leftover temporary build directory %s", tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def build(data_config: Any, data_dir: str | os.PathLike | None = None) -> tfds.core.DatasetBuilder:
    """Build the dataset `data_config` describes if its cache is missing or incomplete; return the builder."""
    name = data_config.get("name", "")
    if name not in _BUILDERS:
        raise ValueError(f"data.name={name!r}: use one of {BUILDER_NAMES}")
    cls, plan_fn = _BUILDERS[name]
    opts, plan, readable = plan_fn(data_config)
    config = JaxsrConfig(name=_config_name(readable, opts), description=readable,
                         options_json=json.dumps(opts, sort_keys=True))
    workers = int(data_config.get("build_workers", 0)) or min(8, os.cpu_count() or 1)

    def make() -> _Builder:
        return cls(data_dir=os.fspath(dataset_root(data_config, data_dir)), config=config, plan=plan,
                   patch_length=int(data_config.get("patch_length", 0)), workers=workers)

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
            builder.download_and_prepare(file_format="array_record",
                                         download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return make()


class ClipSource(Sequence):
    """Random-access clips of one split: `source[i]` -> {'audio': float32 [time], 'id', 'speaker',
    'source_sample_rate'}; picklable, so grain workers can hold it."""

    def __init__(self, records: Sequence, sample_rate: int, name: str, split: str, path: str, metadata: dict):
        self._records, self.sample_rate, self.name, self.split = records, sample_rate, name, split
        self.path, self.metadata = path, metadata

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i, n = operator.index(index), len(self)
        if not -n <= i < n:
            raise IndexError(f"clip index {index} out of range for {self.name}/{self.split} with {n} clips")
        return self._decode(self._records[i % n])

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        return [self._decode(r) for r in self._records.__getitems__([operator.index(i) for i in indices])]

    @staticmethod
    def _decode(rec: dict) -> dict:
        text = lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v)  # noqa: E731
        return {"audio": audio_io.to_float32(rec["audio"]), "id": text(rec["id"]), "speaker": text(rec["speaker"]),
                "source_sample_rate": int(rec["source_sample_rate"])}

    def __repr__(self) -> str:
        return f"ClipSource({self.name}/{self.split}: {len(self)} clips at {self.sample_rate} Hz, {self.path})"


def load_split(data_config: Any, split: str, data_dir: str | os.PathLike | None = None) -> ClipSource:
    """The clips of `split` ("train", "valid" or "test") at data.sample_rate, building the dataset on first use."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: use one of {SPLITS}")
    builder = build(data_config, data_dir)
    return ClipSource(builder.as_data_source(split), int(data_config.get("sample_rate")), builder.name, split,
                      os.fspath(builder.data_path), dict(builder.info.metadata))
