"""Reading, writing and resampling audio, with errors that name the file and what was expected.

Everything returned is float32 in [-1, 1] (integer PCM scaled by its full range), shaped
`[time, channels]` by `read_audio` and `[time]` or `[time, channels]` elsewhere. Decoding goes through
libsndfile (`soundfile`: WAV, FLAC, OGG/Vorbis, AIFF and, with libsndfile >= 1.1, MP3); other formats
(M4A/AAC, ...) fall back to `audioread`, which needs a system decoder such as ffmpeg. Resampling is soxr
'HQ' everywhere so that training data and inference inputs go through the same filter.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import pathlib
import uuid
import warnings
from typing import BinaryIO, Sequence

import numpy as np
import soundfile as sf
import soxr
from absl import logging

AUDIO_EXTENSIONS = (
    ".wav",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".m4a",
    ".aac",
    ".aiff",
    ".aif",
    ".au",
    ".w64",
    ".caf",
)
_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
SUBTYPES = {"WAV": ("PCM_16", "PCM_24", "PCM_32", "FLOAT"), "FLAC": ("PCM_16", "PCM_24")}

PathLike = str | os.PathLike


def to_float32(audio: np.ndarray) -> np.ndarray:
    """Integer PCM or float samples -> float32 with full scale at 1.0 (int16 / 32768, uint8 (x-128) / 128, ...).

    Floats are only cast, not rescaled or clipped: a float array already is in full-scale units.
    """
    a = np.asarray(audio)
    if a.dtype == np.int16:
        return a.astype(np.float32) / 32768.0
    if a.dtype == np.int32:
        return (a.astype(np.float64) / 2147483648.0).astype(np.float32)
    if a.dtype == np.int8:
        return a.astype(np.float32) / 128.0
    if a.dtype == np.uint8:  # 8-bit WAV is unsigned with its zero at 128
        return (a.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32, copy=False)
    raise ValueError(
        f"audio dtype {a.dtype} is not supported; pass float samples in [-1, 1] or int16/int32/uint8/int8 PCM"
    )


def resample(x: np.ndarray, sr_in: float, sr_out: float, *, fractional: bool = False) -> np.ndarray:
    """Resample `x` (`[time]` or `[time, channels]`) from `sr_in` to `sr_out` Hz with soxr 'HQ'; float32 out.

    The output has `ceil(len(x) * sr_out / sr_in)` samples (soxr's convention). Rates must be integers
    unless `fractional=True`: a file's rate always is, so 44.1 is a kHz-for-Hz slip; inference accepts
    any positive rate (e.g. 16000 / 3, the low rate of a x3 model at 16 kHz).
    """
    for name, rate in (("sr_in", sr_in), ("sr_out", sr_out)):
        ok = np.isscalar(rate) and np.isfinite(float(rate)) and float(rate) > 0
        if not (ok and (fractional or float(rate) == int(rate))):
            kind = "positive" if fractional else "positive integer"
            raise ValueError(f"resample: {name} must be a {kind} rate in Hz; got {rate!r}")
    sr_in, sr_out = (float(sr_in), float(sr_out)) if fractional else (int(sr_in), int(sr_out))
    x = to_float32(x)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"resample: expected audio shaped [time] or [time, channels]; got shape {x.shape}"
        )
    if sr_in == sr_out:
        return x
    if x.shape[0] == 0:
        return np.zeros((0,) + x.shape[1:], np.float32)
    y = soxr.resample(np.ascontiguousarray(x), sr_in, sr_out, quality="HQ")
    return np.asarray(y, dtype=np.float32)


def _name(src: PathLike | BinaryIO) -> str:
    return (
        str(getattr(src, "name", src))
        if not isinstance(src, (str, os.PathLike))
        else os.fspath(src)
    )


def sf_path(path: PathLike) -> str | bytes:
    """`path` as soundfile takes it. libsndfile gets UTF-8 names, so a name that is not UTF-8 (bytes a
    filesystem allows, which Python keeps as surrogates) is passed as the bytes it is on disk."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text)


def _check_readable(p: pathlib.Path) -> None:
    """Say what is wrong with a path before a decoder does: libsndfile reports a missing permission or a
    symlink loop as "System error", which would read as a damaged file."""
    try:
        st = os.stat(p)  # follows links: ELOOP for a loop, ENOENT for a dangling link
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ValueError(
                f"{p} is a symbolic link that loops (it leads back to itself); fix or remove the "
                "link."
            ) from None
        if e.errno == errno.EACCES:
            raise ValueError(
                f"cannot read audio file {p}: permission denied on a folder of its path; check "
                "the folders' permissions."
            ) from None
        if p.is_symlink():
            raise FileNotFoundError(
                f"{p} is a broken symbolic link (its target {os.readlink(p)} does not exist)"
            ) from None
        raise FileNotFoundError(f"audio file not found: {p}") from None
    if os.path.isdir(p):
        raise ValueError(
            f"{p} is a directory, not an audio file; use list_audio_files() for folders"
        )
    try:
        with open(p, "rb"):
            pass
    except PermissionError:
        raise ValueError(
            f"cannot read audio file {p}: permission denied; make it readable (chmod +r) or run as a "
            "user who may read it."
        ) from None
    if st.st_size == 0:
        raise ValueError(f"{p} is empty (0 bytes); expected an audio file")


@functools.cache
def _libsndfile_extensions() -> frozenset[str]:
    """Extensions whose format this libsndfile build decodes itself (MP3 needs libsndfile >= 1.1)."""
    formats = sf.available_formats()
    exts = {
        ".wav": "WAV",
        ".flac": "FLAC",
        ".ogg": "OGG",
        ".oga": "OGG",
        ".opus": "OGG",
        ".aiff": "AIFF",
        ".aif": "AIFF",
        ".au": "AU",
        ".w64": "W64",
        ".caf": "CAF",
        ".mp3": "MP3",
    }
    return frozenset(e for e, f in exts.items() if f in formats)


def _decode_audioread(path: str) -> tuple[np.ndarray, int]:
    """Decode with audioread (ffmpeg/gstreamer/...): `[time, channels]` float32 and the file's rate."""
    # audioread imports modules that Python 3.11+ deprecates (aifc, audioop, sunau) when it picks a backend.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioread  # Lazily: only formats libsndfile lacks need it.

        with audioread.audio_open(path) as f:
            rate, channels = int(f.samplerate), int(f.channels)
            data = b"".join(f)
    x = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return x.reshape(-1, channels), rate


def read_audio(
    path: PathLike | BinaryIO, sample_rate: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """Decode an audio file (or binary file object) -> (float32 `[time, channels]`, rate).

    With `mono=True` channels are averaged to `[time, 1]`. With `sample_rate` the audio is resampled
    (soxr HQ) and the returned rate is `sample_rate`. Raises FileNotFoundError for a missing path and
    ValueError naming the file for anything that is not decodable, non-empty audio.
    """
    name = _name(path)
    if sample_rate is not None and not (
        float(sample_rate) > 0 and float(sample_rate) == int(sample_rate)
    ):
        raise ValueError(
            f"read_audio({name}): sample_rate must be a positive integer in Hz or None; got {sample_rate!r}"
        )
    if isinstance(path, (str, os.PathLike)):
        _check_readable(pathlib.Path(path))
    try:
        x, rate = sf.read(
            sf_path(path) if isinstance(path, (str, os.PathLike)) else path,
            dtype="float32",
            always_2d=True,
        )
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        is_path = isinstance(path, (str, os.PathLike))
        if not is_path or pathlib.Path(path).suffix.lower() in _libsndfile_extensions():
            # libsndfile owns this format: a failure means a damaged file, and audioread would not do better.
            raise ValueError(
                f"cannot decode audio file {name}: {str(e).rstrip('.')}. The file is damaged, truncated "
                "or not audio of the format its name says."
            ) from e
        try:
            x, rate = _decode_audioread(os.fspath(path))
        except (
            Exception
        ) as e2:  # audioread raises several unrelated types (NoBackendError, DecodeError, EOFError)
            raise ValueError(
                f"cannot decode audio file {name}: libsndfile says {e!s}; the audioread fallback says "
                f"{type(e2).__name__}{': ' + str(e2) if str(e2) else ' (no decoder such as ffmpeg installed)'}. "
                "Readable without extra tools: WAV, FLAC, OGG, AIFF, MP3; for M4A/AAC and others install "
                "ffmpeg. The file may also be truncated or not audio."
            ) from e2
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} contains no audio samples (0 frames)")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite samples; expected finite audio")
    if mono and x.shape[1] > 1:
        x = x.mean(axis=1, keepdims=True, dtype=np.float32)
    if sample_rate is not None and int(sample_rate) != int(rate):
        x, rate = resample(x, int(rate), int(sample_rate)), int(sample_rate)
    return x, int(rate)


def write_audio(
    path: PathLike, audio: np.ndarray, sample_rate: int, subtype: str | None = None
) -> pathlib.Path:
    """Write `audio` (`[time]` or `[time, channels]`, float in [-1, 1]) to a .wav or .flac file.

    `subtype` is "PCM_16" (default), "PCM_24", "PCM_32" or (WAV only) "FLOAT". Samples outside [-1, 1]
    are clipped with a warning, except in FLOAT, which holds them. The file appears atomically (written beside it, then renamed), and
    missing parent directories are created. Returns the path written.
    """
    p = pathlib.Path(path)
    fmt = _WRITE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"write_audio({p}): unsupported extension {p.suffix!r}; use one of {tuple(_WRITE_FORMATS)}"
        )
    subtype = (subtype or "PCM_16").upper()
    if subtype not in SUBTYPES[fmt]:
        raise ValueError(
            f"write_audio({p}): subtype {subtype!r} is not available for {fmt}; use one of {SUBTYPES[fmt]}"
        )
    if not (
        np.isscalar(sample_rate)
        and float(sample_rate) > 0
        and float(sample_rate) == int(sample_rate)
    ):
        raise ValueError(
            f"write_audio({p}): sample_rate must be a positive integer in Hz; got {sample_rate!r}"
        )
    x = to_float32(audio)
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise ValueError(
            f"write_audio({p}): expected non-empty audio shaped [time] or [time, channels]; got shape {x.shape}"
        )
    if x.ndim == 2 and x.shape[1] > 64:
        raise ValueError(
            f"write_audio({p}): got shape {x.shape}, which reads as {x.shape[1]} channels; "
            "audio must be [time, channels] (transpose a [channels, time] array)"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"write_audio({p}): audio contains NaN or infinite samples")
    over = np.abs(x) > 1.0
    if over.any() and subtype != "FLOAT":  # a float file holds them; integer PCM cannot
        logging.warning(
            "write_audio(%s): clipped %d of %d samples (%.3f%%) outside [-1, 1]; peak was %.3f",
            p,
            int(over.sum()),
            x.size,
            100.0 * over.mean(),
            float(np.abs(x).max()),
        )
        x = np.clip(x, -1.0, 1.0)
    p.parent.mkdir(parents=True, exist_ok=True)
    # Same directory so os.replace is an atomic rename; a unique name so concurrent writers do not collide.
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        sf.write(sf_path(tmp), x, int(sample_rate), subtype=subtype, format=fmt)
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def list_audio_files(
    root: PathLike, extensions: Sequence[str] = AUDIO_EXTENSIONS, *, allow_empty: bool = False
) -> list[pathlib.Path]:
    """Audio files under `root` (recursive), sorted by relative path; extensions match case-insensitively.

    The one listing of audio files in jaxsr (CLIs, the dataset builders, recorded noise folders).
    Hidden files and folders (names starting with ".", e.g. macOS "._x.wav" resource forks) are skipped.
    A file path is returned as `[root]`, as is a broken or looping symbolic link (reading it says which).
    Raises FileNotFoundError if `root` does not exist and ValueError if it holds no audio files, unless
    `allow_empty` (then `[]`: for callers that say in their own terms what they expected to find).
    """
    root = pathlib.Path(root).expanduser()
    if (
        root.is_symlink() and not root.exists()
    ):  # a looping or dangling link named as a file: read_audio says which
        return [root]
    if not root.exists():
        raise FileNotFoundError(f"audio path not found: {root}")
    if root.is_file():
        return [root]
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    found, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop: do not walk the same folder twice
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [
            pathlib.Path(dirpath, f)
            for f in filenames
            if not f.startswith(".") and f.lower().endswith(exts)
        ]
    if not found and not allow_empty:
        raise ValueError(f"no audio files under {root}: looked recursively for extensions {exts}")
    return sorted(found, key=lambda f: f.relative_to(root).as_posix())


def read_audio_bytes(
    data: bytes, name: str, sample_rate: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """`read_audio` for an in-memory file (e.g. a zip member); `name` is used in error messages."""
    if not data:
        raise ValueError(f"{name} is empty (0 bytes); expected an audio file")
    buf = io.BytesIO(data)
    buf.name = name
    return read_audio(buf, sample_rate=sample_rate, mono=mono)
