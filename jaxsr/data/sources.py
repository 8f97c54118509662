"""Finding a dataset's source files and planning its splits: what each builder will decode.

A *plan* is `(options, {split: [SourceItem]}, readable name)`: the options are everything that changes the
data (rate, dtype, split spec, the source path and a fingerprint of its files, ...) and name the cache
directory; the items are the recordings of each split in record order. Nothing here decodes audio.

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

import dataclasses
import hashlib
import pathlib
import re
import shutil
import zipfile
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from absl import logging

from jaxsr import audio_io

SPLITS = ("train", "valid", "test")
STORE_DTYPES = ("int16", "float32")
VCTK_MODES = ("single", "multi")
Plan = tuple[
    dict, dict, str
]  # (options, {split: [SourceItem]}, readable name): see the module docstring


@dataclasses.dataclass(frozen=True)
class SourceItem:
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
        raise ValueError(
            f"data.path is empty: the {builder!r} builder needs data.path set to the dataset "
            "directory (or its .zip)"
        )
    p = pathlib.Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"data.path={path!r} does not exist (builder {builder!r})")
    return p.resolve()


def _list_files(
    root: pathlib.Path, extensions: Sequence[str], pattern: re.Pattern | None = None
) -> list[tuple[str, SourceItem]]:
    """(relative posix path, item stub) for every file with one of `extensions` under a directory (through
    `audio_io.list_audio_files`, the one listing of audio files) or in a zip, whose path matches `pattern`;
    sorted by relative path. Hidden files and folders are skipped in both."""
    exts = tuple(e.lower() for e in extensions)
    out = []
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise ValueError(
                f"data.path={str(root)!r} is a file but not a zip archive; pass the dataset "
                "directory or its .zip"
            )
        with zipfile.ZipFile(root) as zf:
            for info in zf.infolist():
                rel = info.filename
                base = rel.rsplit("/", 1)[-1]
                if info.is_dir() or rel.startswith("__MACOSX/") or base.startswith("."):
                    continue
                if rel.lower().endswith(exts) and (pattern is None or pattern.search(rel)):
                    out.append((rel, SourceItem(rel, "", root, rel, (info.file_size, info.CRC))))
        return sorted(out, key=lambda t: t[0])
    for full in audio_io.list_audio_files(
        root, exts, allow_empty=True
    ):  # the caller says what it expected
        rel = full.relative_to(root).as_posix()
        if pattern is None or pattern.search(rel):
            st = full.stat()
            out.append((rel, SourceItem(rel, "", full, None, (st.st_size, st.st_mtime_ns))))
    return out  # list_audio_files sorts by relative path already


def _fingerprint(items: Iterable[SourceItem]) -> str:
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
    hint = (
        'use "", "hash:0.9,0.05,0.05", "tail:20", "tail:20,valid:10" or "list:/path/to/splits.txt"'
    )
    if not spec:
        return "default", None
    kind, _, arg = spec.partition(":")
    if kind == "hash":
        try:
            fr = tuple(float(v) for v in arg.split(","))
        except ValueError:
            fr = ()
        if len(fr) != 3 or min(fr) < 0 or abs(sum(fr) - 1.0) > 1e-6 or fr[0] <= 0 or fr[2] <= 0:
            raise ValueError(
                f"data.split={spec!r}: hash needs three fractions train,valid,test summing to 1, "
                "with train and test > 0 (valid 0 means valid = test), e.g. hash:0.9,0.05,0.05"
            )
        return "hash", fr
    if kind == "tail":
        n_test, comma, rest = arg.partition(",")
        valid_kind, _, n_valid = rest.partition(":")
        if (
            not n_test.isdigit()
            or int(n_test) < 1
            or (comma and (valid_kind != "valid" or not n_valid.isdigit() or int(n_valid) < 1))
        ):
            raise ValueError(
                f"data.split={spec!r}: tail needs a positive number of held-out test files, optionally "
                "followed by a positive number of validation files before them, e.g. tail:20 or "
                "tail:20,valid:10"
            )
        return "tail", (int(n_test), int(n_valid) if comma else 0)
    if kind == "list":
        p = pathlib.Path(arg).expanduser()
        if not arg or not p.is_file():
            raise FileNotFoundError(f"data.split={spec!r}: split list file {arg!r} not found")
        return "list", p.resolve()
    raise ValueError(f"data.split={spec!r} is not a split spec; {hint}")


def _carve_valid(
    train: list[SourceItem], n: int, builder: str
) -> tuple[list[SourceItem], list[SourceItem]]:
    """Move `n` train items (chosen by a hash of their ids: deterministic, spread out) to valid."""
    if n <= 0:
        return train, []
    if n >= len(train):
        raise ValueError(
            f"{builder}: data.num_valid_clips={n} leaves no training files (train has {len(train)}); "
            "lower data.num_valid_clips"
        )
    chosen = {it.id for it in sorted(train, key=lambda it: _unit_hash(it.id))[:n]}
    return [it for it in train if it.id not in chosen], [it for it in train if it.id in chosen]


def _assign_splits(
    items: list[SourceItem],
    spec: str,
    builder: str,
    default: Callable[[list[SourceItem]], dict[str, list[SourceItem]]],
) -> dict[str, list[SourceItem]]:
    """Split `items` (sorted by id) by the spec; raises if any split would be empty."""
    kind, arg = parse_split_spec(spec)
    if kind == "default":
        plan = default(items)
    elif kind == "hash":
        f_train, f_valid, _ = arg
        plan = {s: [] for s in SPLITS}
        for it in items:
            u = _unit_hash(it.id)
            plan["train" if u < f_train else "valid" if u < f_train + f_valid else "test"].append(
                it
            )
    elif (
        kind == "tail"
    ):  # items are sorted by id: test is the last n_test, valid the n_valid before them
        n_test, n_valid = arg
        if n_test + n_valid >= len(items):
            raise ValueError(
                f"data.split={spec!r} holds out {n_test + n_valid} files but {builder} found only "
                f"{len(items)}; use smaller numbers"
            )
        held = n_test + n_valid
        plan = {
            "train": items[:-held],
            "valid": items[-held:-n_test] if n_valid else [],
            "test": items[-n_test:],
        }
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
                raise ValueError(
                    f"{arg}:{n}: expected '<train|valid|test> <id or relative path>', got {line!r}"
                )
            (plan[split].append(by_id[rel]) if rel in by_id else unknown.append(rel))
        if unknown:
            raise ValueError(
                f"{arg}: {len(unknown)} listed ids are not among the {len(items)} recordings of "
                f"{builder}: {unknown[:3]} (ids look like {items[0].id!r})"
            )
    if not plan.get("valid"):
        plan["valid"] = list(plan["test"])
    for s in SPLITS:
        if not plan.get(s):
            raise ValueError(
                f"{builder}: split {s!r} would be empty with data.split={spec!r} over {len(items)} "
                f"files ({ {k: len(v) for k, v in plan.items()} }); change data.split (e.g. tail:N or list:FILE)"
            )
    return plan


def _common_options(dc: Any, name: str) -> dict:
    """The options every builder has (`build` adds the builder VERSION)."""
    rate = dc.get("sample_rate", 16000)
    if not (isinstance(rate, (int, np.integer)) and 4000 <= rate <= 192000):
        raise ValueError(f"data.sample_rate={rate!r}: use an integer rate in Hz such as 16000")
    store = dc.get("store_dtype", "int16")
    if store not in STORE_DTYPES:
        raise ValueError(f"data.store_dtype={store!r}: use one of {STORE_DTYPES}")
    return {"builder": name, "sample_rate": int(rate), "store_dtype": store}


def _file_options(dc: Any, name: str, path: pathlib.Path) -> dict:
    opts = _common_options(dc, name)
    seg = float(dc.get("segment_seconds", 0.0))
    if seg < 0:
        raise ValueError(
            f"data.segment_seconds={seg!r}: use 0 (whole recordings) or a positive length"
        )
    opts.update(
        path=str(path),
        split=str(dc.get("split", "") or ""),
        segment_seconds=seg,
        trim_silence=bool(dc.get("trim_silence", False)),
    )
    min_band = dc.get("min_top_band_db", None)
    if min_band is not None:  # only then: caches built before the option existed keep their names
        if not (
            isinstance(min_band, (int, float))
            and not isinstance(min_band, bool)
            and -120 <= min_band <= 0
        ):
            raise ValueError(
                f"data.min_top_band_db={min_band!r}: use None (keep every file) or a level in dB "
                "in [-120, 0], e.g. -35"
            )
        opts["min_top_band_db"] = float(min_band)
    if opts["trim_silence"]:
        opts["trim_top_db"] = float(dc.get("trim_top_db", 30.0))
    parse_split_spec(opts["split"])  # fail on a bad spec before touching any file
    return opts


def _synthetic_plan(dc: Any) -> Plan:
    opts = _common_options(dc, "synthetic")
    if opts["sample_rate"] > 48000:
        raise ValueError(
            f"data.sample_rate={opts['sample_rate']}: the synthetic corpus renders at most 48000 Hz"
        )
    n_train, n_eval = int(dc.get("num_train_clips", 256)), int(dc.get("num_eval_clips", 16))
    seconds, seed = float(dc.get("clip_seconds", 2.0)), int(dc.get("corpus_seed", 0))
    if n_train < 1 or n_eval < 1 or seconds <= 0:
        raise ValueError(
            f"data.num_train_clips={n_train}, data.num_eval_clips={n_eval}, data.clip_seconds={seconds}: "
            "the synthetic corpus needs at least one clip per split and a positive length"
        )
    opts.update(
        num_train_clips=n_train, num_eval_clips=n_eval, clip_seconds=seconds, corpus_seed=seed
    )
    plan = {
        s: [
            SourceItem(f"{s}-{i:05d}", "synthetic", pathlib.Path(s), None, (i,))
            for i in range(n_train if s == "train" else n_eval)
        ]
        for s in SPLITS
    }
    readable = (
        f"sr{opts['sample_rate']}-n{n_train}-{n_eval}-s{seconds:g}-seed{seed}-{opts['store_dtype']}"
    )
    return opts, plan, readable


def _folder_plan(dc: Any) -> Plan:
    root = _source_path(dc, "audio_folder")
    opts = _file_options(dc, "audio_folder", root)
    exts = tuple(audio_io.AUDIO_EXTENSIONS)
    items = [
        dataclasses.replace(it, speaker=rel.rsplit("/", 1)[0] if "/" in rel else "")
        for rel, it in _list_files(root, exts)
    ]
    if not items:
        raise ValueError(
            f"no audio files under data.path={str(root)!r}{' (a zip)' if root.is_file() else ''}: "
            f"looked recursively for extensions {exts}"
        )
    opts["fingerprint"] = _fingerprint(items)
    default = lambda its: _assign_splits(its, "hash:0.9,0.05,0.05", "audio_folder", None)  # noqa: E731
    plan = _assign_splits(items, opts["split"], "audio_folder", default)
    readable = (
        f"{root.stem}-sr{opts['sample_rate']}-{opts['split'] or 'default'}-{opts['store_dtype']}"
    )
    return opts, plan, readable


_VCTK_092 = re.compile(r"(?:^|/)wav48_silence_trimmed/([ps]\d+)/(\1_\d+)_(mic[12])\.flac$")
_VCTK_080 = re.compile(r"(?:^|/)wav48/([ps]\d+)/(\1_\d+)\.wav$")


def _vctk_plan(dc: Any) -> Plan:
    root = _source_path(dc, "vctk")
    opts = _file_options(dc, "vctk", root)
    mode, mic = dc.get("vctk_mode", "single"), dc.get("vctk_mic", "mic1")
    if mode not in VCTK_MODES:
        raise ValueError(
            f"data.vctk_mode={mode!r}: use 'single' (one speaker) or 'multi' (speaker-disjoint)"
        )
    if mic not in ("mic1", "mic2"):
        raise ValueError(f"data.vctk_mic={mic!r}: use 'mic1' or 'mic2' (VCTK 0.92)")
    files = _list_files(root, (".flac", ".wav"), re.compile(r"(?:^|/)wav48(?:_silence_trimmed)?/"))
    new = [(m, it) for rel, it in files if (m := _VCTK_092.search(rel))]
    if new:
        layout, matched = "0.92", [(m, it) for m, it in new if m.group(3) == mic]
        if not matched:
            raise ValueError(
                f"VCTK 0.92 at data.path={str(root)!r} has no {mic} recordings (*_{mic}.flac)"
            )
    else:
        layout, matched = "0.80", [(m, it) for rel, it in files if (m := _VCTK_080.search(rel))]
        if mic != "mic1":
            logging.warning(
                "VCTK 0.80 has one microphone per recording; data.vctk_mic=%r is ignored", mic
            )
    if not matched:
        raise ValueError(
            f"data.path={str(root)!r} does not look like VCTK: expected wav48_silence_trimmed/pXXX/pXXX_YYY_mic1.flac "
            "(VCTK-Corpus 0.92) or wav48/pXXX/pXXX_YYY.wav (0.80), in a directory or a zip"
        )
    items = sorted(
        (dataclasses.replace(it, id=m.group(2), speaker=m.group(1)) for m, it in matched),
        key=lambda it: (_speaker_key(it.speaker), it.id),
    )
    opts.update(layout=layout, mode=mode, num_valid_clips=int(dc.get("num_valid_clips", 8)))
    if layout == "0.92":
        opts["mic"] = mic
    speakers = sorted({it.speaker for it in items}, key=_speaker_key)
    if mode == "single":
        spk, n_train = (
            str(dc.get("vctk_speaker", "p225")),
            int(dc.get("vctk_train_recordings", 223)),
        )
        if spk not in speakers:
            raise ValueError(
                f"data.vctk_speaker={spk!r} is not in the VCTK at {root}; speakers found: "
                f"{speakers[:8]}{'...' if len(speakers) > 8 else ''}"
            )
        opts.update(speaker=spk, train_recordings=n_train)
        detail = f"single-{spk}-{n_train}"
        items = [
            it for it in items if it.speaker == spk
        ]  # any split spec applies to this speaker only

        def default(
            its,
        ):  # Kuleshov et al.: the speaker's first 223 recordings train, the rest test
            if not 0 < n_train < len(its):
                raise ValueError(
                    f"data.vctk_train_recordings={n_train}: speaker {spk} has {len(its)} recordings "
                    f"({mic if layout == '0.92' else 'wav48'}); use a number in 1..{len(its) - 1}"
                )
            train, valid = _carve_valid(its[:n_train], opts["num_valid_clips"], "vctk")
            return {"train": train, "valid": valid, "test": its[n_train:]}
    else:
        n_spk = int(dc.get("vctk_train_speakers", 99))
        opts["train_speakers"] = n_spk
        detail = f"multi-{n_spk}"

        def default(its):  # the first 99 speakers train, the others test (speaker-disjoint)
            if not 0 < n_spk < len(speakers):
                raise ValueError(
                    f"data.vctk_train_speakers={n_spk}: the VCTK at {root} has {len(speakers)} speakers "
                    f"with audio; use a number in 1..{len(speakers) - 1}"
                )
            train_spk = set(speakers[:n_spk])
            train, valid = _carve_valid(
                [it for it in its if it.speaker in train_spk], opts["num_valid_clips"], "vctk"
            )
            return {
                "train": train,
                "valid": valid,
                "test": [it for it in its if it.speaker not in train_spk],
            }

    opts["fingerprint"] = _fingerprint(items)
    plan = _assign_splits(items, opts["split"], f"vctk ({layout}, {mode})", default)
    readable = f"{layout}-{detail}-{opts.get('mic', 'mic')}-sr{opts['sample_rate']}-{opts['split'] or 'paper'}-{opts['store_dtype']}"
    return opts, plan, readable


def _speaker_key(s: str) -> tuple:
    return (s[0], int(s[1:]) if s[1:].isdigit() else 0, s)


_LIBRISPEECH = re.compile(r"(?:^|/)((\d+)-\d+-\d+)\.(?:flac|wav)$")
SHARED_DATA_README = "../shared/data/README.md"


def _librispeech_plan(dc: Any) -> Plan:
    """LibriSpeech-style speech of many speakers, split by speaker (never by file).

    Files are named `SPEAKER-CHAPTER-UTTERANCE.flac` anywhere under data.path. test: the speakers of files
    under a folder whose name starts with "test" (LibriSpeech's test-clean / test-other, or `test/` of
    ../shared/data/librispeech-261), or data.test_speakers; valid: data.valid_speakers, or
    data.num_valid_speakers of the other speakers chosen by a hash of their ids; train: the rest. Folders
    starting with "dev" are left out. A speaker in both train and test is refused.
    """
    path = str(dc.get("path", "") or "")
    where = (
        f"point data.path at a LibriSpeech folder (for the subset beside this project, "
        f"../shared/data/librispeech-261: see {SHARED_DATA_README})"
    )
    if not path:
        raise ValueError(f"data.path is empty: the 'librispeech' builder needs it; {where}")
    root = pathlib.Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"data.path={path!r} does not exist; {where}")
    root = root.resolve()
    if str(dc.get("split", "") or ""):
        raise ValueError(
            f"data.split={dc.get('split')!r}: librispeech splits by speaker; leave data.split empty and "
            "use data.num_valid_speakers, data.valid_speakers or data.test_speakers"
        )
    opts = _file_options(dc, "librispeech", root)
    items, test_folder = [], set()
    for rel, it in _list_files(root, (".flac", ".wav")):
        m = _LIBRISPEECH.search(rel)
        parts = rel.split("/")[:-1]
        if not m or any(p.lower().startswith("dev") for p in parts):
            continue
        items.append(dataclasses.replace(it, id=m.group(1), speaker=m.group(2)))
        if any(p.lower().startswith("test") for p in parts):
            test_folder.add(m.group(1))
    if not items:
        raise ValueError(
            f"no LibriSpeech recordings (SPEAKER-CHAPTER-UTTERANCE.flac) under data.path={str(root)!r}; "
            f"{where}"
        )
    items.sort(key=lambda it: it.id)
    speakers = sorted({it.speaker for it in items}, key=int)
    test_spk = {str(v) for v in dc.get("test_speakers", ()) or ()}
    valid_spk = {str(v) for v in dc.get("valid_speakers", ()) or ()}
    unknown = sorted((test_spk | valid_spk) - set(speakers))
    if unknown:
        raise ValueError(
            f"data.test_speakers / data.valid_speakers name speakers with no recordings under {root}: "
            f"{unknown[:5]}"
        )
    if test_spk & valid_spk:
        raise ValueError(
            f"speakers {sorted(test_spk & valid_spk)[:5]} are in both data.valid_speakers and "
            "data.test_speakers; a speaker belongs to one split only"
        )
    if not test_spk:
        test_spk = {it.speaker for it in items if it.id in test_folder}
        both = sorted(test_spk & {it.speaker for it in items if it.id not in test_folder}, key=int)
        if both:
            raise ValueError(
                f"speakers {both[:5]} have recordings both under a test folder and elsewhere in {root}; "
                "a test speaker must never train: move their files, or list data.test_speakers"
            )
    if not test_spk:
        raise ValueError(
            f"no test speakers under {root}: put them in a folder named test*/ or list data.test_speakers"
        )
    pool = [s for s in speakers if s not in test_spk]
    if not valid_spk:
        n_valid = int(dc.get("num_valid_speakers", 12))
        if not 0 < n_valid < len(pool):
            raise ValueError(
                f"data.num_valid_speakers={n_valid}: {len(pool)} speakers are left for train and valid; "
                f"use a number in 1..{len(pool) - 1}"
            )
        valid_spk = set(sorted(pool, key=_unit_hash)[:n_valid])
    plan = {
        "train": [
            it
            for it in items
            if it.speaker in pool and it.speaker not in valid_spk and it.id not in test_folder
        ],
        "valid": [it for it in items if it.speaker in valid_spk and it.id not in test_folder],
        "test": [it for it in items if it.speaker in test_spk],
    }
    for split, its in plan.items():
        if not its:
            raise ValueError(
                f"librispeech at {root}: split {split!r} would be empty; check the folder and the speaker lists"
            )
    opts.update(
        fingerprint=_fingerprint(items),
        test_speakers=sorted(test_spk, key=int),
        valid_speakers=sorted(valid_spk, key=int),
    )
    readable = (
        f"{root.name}-sr{opts['sample_rate']}-spk{len(speakers)}-v{len(valid_spk)}-t{len(test_spk)}-"
        f"{opts['store_dtype']}"
    )
    return opts, plan, readable


_MUSDB_HQ = re.compile(r"(?:^|/)(train|test)/([^/]+)/mixture\.wav$")
_MUSDB_STEM = re.compile(r"(?:^|/)(train|test)/([^/]+)\.stem\.mp4$")


def _musdb_plan(dc: Any) -> Plan:
    root = _source_path(dc, "musdb18")
    opts = _file_options(dc, "musdb18", root)
    files = _list_files(root, (".wav", ".mp4"), re.compile(r"(?:^|/)(?:train|test)/"))
    matched = [(m, it) for rel, it in files if (m := _MUSDB_HQ.search(rel))]
    layout = "hq"
    if not matched:
        layout, matched = "stem", [(m, it) for rel, it in files if (m := _MUSDB_STEM.search(rel))]
        if matched and not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
            raise ValueError(
                f"data.path={str(root)!r} holds MUSDB18 .stem.mp4 files, which need ffmpeg and ffprobe "
                "on PATH to decode; install ffmpeg, or use MUSDB18-HQ (train|test/<track>/mixture.wav)"
            )
    if not matched:
        raise ValueError(
            f"data.path={str(root)!r} does not look like MUSDB18: expected train/<track>/mixture.wav and "
            "test/<track>/mixture.wav (MUSDB18-HQ) or train|test/<track>.stem.mp4 (MUSDB18)"
        )
    items = [
        dataclasses.replace(it, id=f"{m.group(1)}/{m.group(2)}", speaker=m.group(2).split(" - ")[0])
        for m, it in matched
    ]
    opts.update(
        layout=layout,
        num_valid_clips=int(dc.get("num_valid_clips", 8)),
        fingerprint=_fingerprint(items),
    )

    def default(its):
        train, valid = _carve_valid(
            [it for it in its if it.id.startswith("train/")], opts["num_valid_clips"], "musdb18"
        )
        return {
            "train": train,
            "valid": valid,
            "test": [it for it in its if it.id.startswith("test/")],
        }

    plan = _assign_splits(items, opts["split"], f"musdb18 ({layout})", default)
    readable = (
        f"{layout}-sr{opts['sample_rate']}-{opts['split'] or 'official'}-{opts['store_dtype']}"
    )
    return opts, plan, readable


# The plan of each builder, by `data.name`.
PLANS: dict[str, Callable[[Any], Plan]] = {
    "synthetic": _synthetic_plan,
    "audio_folder": _folder_plan,
    "vctk": _vctk_plan,
    "musdb18": _musdb_plan,
    "librispeech": _librispeech_plan,
}
