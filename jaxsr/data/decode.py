"""Decoding one source recording into mono float32 samples at the dataset's rate.

`load_file(item, options)` reads a planned item (`jaxsr.data.sources.SourceItem`: a file, or a member of a
zip; `.stem.mp4` through ffmpeg), downmixes it, resamples it to `options["sample_rate"]` (soxr HQ, via
`audio_io.resample`), optionally trims leading/trailing silence, and says why it skipped a source it
could not use (corrupt, empty or silent). `split_segments` cuts the result into clips and `encode_clip` turns a
clip into the stored dtype. Threads may call these concurrently (builders decode with a thread pool).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
import threading
import zipfile

import numpy as np

from jaxsr import audio_io
from jaxsr.data import synthetic
from jaxsr.data.sources import SourceItem

# Peak below one int16 step: the clip is digital silence after quantisation.
_SILENT_PEAK = 1.0 / 32768.0


_zip_local = threading.local()


def _read_member(item: SourceItem) -> bytes:
    """Member bytes; one ZipFile per thread since ZipFile reads are not meant to be shared."""
    cache = _zip_local.__dict__.setdefault("zips", {})
    zf = cache.get(item.file)
    if zf is None:
        zf = cache[item.file] = zipfile.ZipFile(item.file)
    return zf.read(item.member)


def _decode_stem(path: str, stream: int = 0) -> tuple[np.ndarray, int]:
    """Audio stream `stream` of a .stem.mp4 (0 = the mixture) via ffmpeg -> float32 [time, channels]."""
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            f"a:{stream}",
            "-show_entries",
            "stream=sample_rate,channels",
            "-of",
            "json",
            path,
        ],
        capture_output=True,
        text=True,
    )
    streams = json.loads(probe.stdout or "{}").get("streams") if probe.returncode == 0 else None
    if not streams:
        raise ValueError(
            f"ffprobe cannot read audio stream {stream} of {path}: {probe.stderr.strip()[-300:]}"
        )
    rate, channels = int(streams[0]["sample_rate"]), int(streams[0]["channels"])
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            path,
            "-map",
            f"0:a:{stream}",
            "-f",
            "f32le",
            "-acodec",
            "pcm_f32le",
            "-",
        ],
        capture_output=True,
    )
    if out.returncode != 0 or not out.stdout:
        raise ValueError(
            f"ffmpeg cannot decode {path}: {out.stderr.decode(errors='replace').strip()[-300:]}"
        )
    return np.frombuffer(out.stdout, dtype="<f4").reshape(-1, channels).copy(), rate


def _read_item(item: SourceItem) -> tuple[np.ndarray, int]:
    """(float32 `[time, channels]`, sample rate) of an item, as stored in its file or zip member."""
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
class Loaded:
    """One decoded item, or why it was skipped (the build summary counts both)."""

    item: SourceItem
    audio: np.ndarray | None = None  # float32 [time] at the target rate, or None if skipped
    skip: str = ""  # "corrupt" | "empty" | "silent" | "band_limited"
    error: str = ""
    channels: int = 1
    source_rate: int = 0
    clipped: bool = False
    top_band_db: float | None = None  # measured when data.min_top_band_db is set


def top_band_db(y: np.ndarray, rate: int) -> float:
    """Energy of `y` (`[time]`) in 0.5-0.975 of its Nyquist relative to 0-0.125 of it, in dB (Welch's
    periodogram): about -20 dB for full-band speech at 16 kHz (4-7.8 kHz against 0-1 kHz), -40 dB and
    below for a recording that was band-limited before it reached the corpus."""
    import scipy.signal

    freqs, psd = scipy.signal.welch(np.asarray(y, np.float64), rate, nperseg=min(1024, len(y)))
    nyq = rate / 2
    top = psd[(freqs >= 0.5 * nyq) & (freqs <= 0.975 * nyq)].sum()
    ref = psd[freqs <= 0.125 * nyq].sum()
    return float(10 * np.log10(max(top, 1e-30) / max(ref, 1e-30)))


def load_file(item: SourceItem, opts: dict) -> Loaded:
    """Decode `item` to mono float32 `[time]` at `opts["sample_rate"]`, clipped to [-1, 1] (see the module
    docstring); a source that cannot be used comes back with `skip` set instead of raising, so one bad
    file in a corpus of thousands does not stop the build."""
    try:
        x, rate = _read_item(item)
    except (ValueError, OSError, RuntimeError, EOFError, zipfile.BadZipFile) as e:
        return Loaded(
            item,
            skip="empty" if "no audio samples" in str(e) or "(0 bytes)" in str(e) else "corrupt",
            error=str(e),
        )
    out = Loaded(item, channels=x.shape[1], source_rate=rate)
    y = audio_io.resample(x.mean(axis=1), rate, opts["sample_rate"])
    if y.size == 0:
        out.skip = "empty"
        return out
    if np.max(np.abs(y)) < _SILENT_PEAK:
        out.skip = "silent"
        return out
    if opts.get("min_top_band_db") is not None:
        out.top_band_db = top_band_db(y, opts["sample_rate"])
        if out.top_band_db < opts["min_top_band_db"]:
            out.skip, out.error = "band_limited", f"top band {out.top_band_db:.1f} dB"
            return out
    if opts.get("trim_silence"):
        import librosa  # Lazily: librosa's import is slow and only trimming needs it.

        frame = _trim_frame(opts["sample_rate"])
        y, _ = librosa.effects.trim(
            y, top_db=opts["trim_top_db"], frame_length=frame, hop_length=frame // 4
        )
    out.clipped = bool(np.max(np.abs(y)) > 1.0)
    out.audio = np.clip(y, -1.0, 1.0)
    return out


def _trim_frame(rate: int) -> int:
    """About 32 ms: librosa's default 2048 samples is 128 ms at 16 kHz and would keep most of a pause."""
    return int(2 ** np.ceil(np.log2(0.032 * rate)))


def load_synthetic(item: SourceItem, opts: dict) -> Loaded:
    """Render a synthetic-corpus item: `item.file.name` is its split and `item.stamp[0]` its index."""
    split, index = item.file.name, item.stamp[0]
    y = synthetic.make_clip(
        synthetic.clip_rng(split, index, opts["corpus_seed"]),
        opts["sample_rate"],
        opts["clip_seconds"],
    )
    return Loaded(item, audio=y, source_rate=opts["sample_rate"])


def encode_clip(y: np.ndarray, store_dtype: str) -> np.ndarray:
    """`[time]` float32 in [-1, 1] -> the stored dtype (int16 or float32) `[time]`."""
    if store_dtype == "int16":  # the inverse of audio_io.to_float32: int16 / 32768
        return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
    return y.astype(np.float32)


def split_segments(y: np.ndarray, rate: int, seconds: float) -> list[np.ndarray]:
    """Near-equal consecutive pieces of about `seconds` (whole clip if 0 or shorter)."""
    if seconds <= 0:
        return [y]
    n = max(1, int(round(len(y) / (seconds * rate))))
    return np.array_split(y, n)
