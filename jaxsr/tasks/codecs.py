"""The `sr` task's codecs: the low-rate signal encoded and decoded again, as a telephone line, a VoIP call
or a compressed file does to it (libsndfile, in memory, host side).

A codec runs after the resampler (`jaxsr.tasks.resampling`), on the low-rate signal, so its rate is the
low rate: MP3 and Opus carry only some rates (`check_codec`, `carried_codecs`). `draw_sr_codec` picks an
example's codec from the task's `sr_codec*` fields; `apply_codec` applies it.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from jaxsr.tasks.options import SR_CODECS, TaskOptions, task_option

# task.sr_codec -> (libsndfile format, subtype, the sample rates it carries or None for any). libsndfile trims
# the codecs' encoder delay and padding on reading: the decoded signal is aligned with the input, sample for
# sample, and as long (checked in tests/test_robustness.py), so a codec adds only its own distortion.
_CODEC_FORMATS = {
    "pcm8": ("WAV", "PCM_U8", None),
    "ulaw": ("WAV", "ULAW", None),  # G.711 mu-law: North American and Japanese telephony
    "alaw": ("WAV", "ALAW", None),  # G.711 A-law: European telephony
    "mp3": (
        "MP3",
        "MPEG_LAYER_III",
        (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
    ),
    "vorbis": ("OGG", "VORBIS", None),
    "opus": ("OGG", "OPUS", (8000, 12000, 16000, 24000, 48000)),
}
assert tuple(_CODEC_FORMATS) == SR_CODECS


def _carries(codec: str, low_rate: float) -> bool:
    rates = _CODEC_FORMATS[codec][2]
    return rates is None or low_rate in rates


def check_codec(codec: str, low_rate: float) -> None:
    """ValueError unless `codec` (a name of `SR_CODECS`) can carry audio at `low_rate` Hz."""
    if codec not in _CODEC_FORMATS:
        raise ValueError(f"unknown codec {codec!r}; use one of: {', '.join(SR_CODECS)}")
    if not _carries(codec, low_rate):
        rates = _CODEC_FORMATS[codec][2]
        raise ValueError(
            f"codec {codec} carries only {', '.join(f'{r / 1000:g}' for r in rates)} kHz audio; the "
            f"low rate here is {low_rate:g} Hz. Pick another codec (e.g. ulaw, vorbis) for this ratio."
        )


def carried_codecs(codecs: Sequence[str], low_rate: float) -> tuple[str, ...]:
    """The names of `codecs` that can carry audio at `low_rate` Hz, in order."""
    return tuple(c for c in codecs if _carries(c, low_rate))


def draw_sr_codec(rng: np.random.Generator, task: TaskOptions, low_rate: float) -> str:
    """The codec of one example ("" for none): `task.sr_codec` when set; otherwise, with probability
    `task.sr_codec_prob`, one of `task.sr_random_codecs` that carries `low_rate`, uniformly. Draws from `rng`
    only when `sr_codec_prob` > 0, after the example's chain, so runs without random codecs are unchanged."""
    fixed, prob = task_option(task, "sr_codec"), float(task_option(task, "sr_codec_prob"))
    if fixed or prob <= 0.0:
        return fixed
    options = carried_codecs(task_option(task, "sr_random_codecs"), low_rate)
    if rng.random() >= prob or not options:
        return ""
    return options[int(rng.integers(len(options)))]


@functools.lru_cache(maxsize=None)
def _libsndfile_writes(fmt: str, subtype: str) -> bool:
    """Asked once per codec: `apply_codec` runs per training example."""
    import soundfile as sf

    return subtype in sf.available_subtypes(fmt)


def apply_codec(x: np.ndarray, low_rate: float, codec: str) -> np.ndarray:
    """`x` `[time]` at `low_rate` (the sr low-rate signal) encoded with `codec` and decoded again (in memory, libsndfile): float32
    `[time]`, aligned with `x`. Samples beyond [-1, 1] are clipped first, as a fixed-point codec must."""
    import io

    import soundfile as sf

    check_codec(codec, low_rate)
    fmt, subtype, _ = _CODEC_FORMATS[codec]
    if not _libsndfile_writes(fmt, subtype):
        raise ValueError(
            f"codec {codec}: this libsndfile ({sf.__libsndfile_version__}) cannot write {fmt}/{subtype}; "
            "install a newer soundfile (pip install -U soundfile) or pick another codec"
        )
    buf = io.BytesIO()
    sf.write(
        buf,
        np.clip(np.asarray(x, np.float32), -1.0, 1.0),
        int(low_rate),
        format=fmt,
        subtype=subtype,
    )
    buf.seek(0)
    out, _ = sf.read(buf, dtype="float32")
    out = out[
        : len(x)
    ]  # libsndfile returns the input's length; cut or pad defensively all the same
    return np.pad(out, (0, len(x) - len(out))) if len(out) < len(x) else out
