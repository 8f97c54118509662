"""An embedded speech-like corpus: source-filter synthesis that needs nothing downloaded.

Each clip is a sequence of phone-like segments (vowels, nasals, voiced and unvoiced fricatives, stops,
pauses) rendered at any rate up to 48 kHz:

* voiced source: a band-limited harmonic series of a moving f0 (declination, accents, vibrato, jitter)
  with a -6 dB/octave tilt, so its upper harmonics are determined by its lower ones, as in speech;
* vocal tract: formant resonances (F1-F6 from a vowel table, scaled per speaker) that glide between
  segment targets, applied as a time-varying spectral envelope in the STFT domain;
* unvoiced source: noise shaped like /s/, /sh/, /f/ or a stop burst, with most energy above 2.5 kHz,
  plus aspiration noise under the voiced parts;
* syllable amplitude envelopes, pauses, and a faint noise floor.

`make_clip` renders one clip, `make_corpus` a split; `voice_bank` is the set of synthetic talkers that
the denoise task's babble of voices draws from (`jaxsr.tasks.noise.voices_babble`).

Deterministic by `(base_seed, split, index)`; the train, valid and test splits draw from disjoint
seed streams. Spectral shapes are in Hz and do not depend on the sample rate, so renderings of one seed at
16 and 48 kHz share their phone plan, formants and pitch contour; they are not sample-for-sample the
same below 8 kHz, because the per-sample pitch jitter draws a different number of random values at each
rate and so shifts the later draws (noise, tilt, gain).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

SPLITS = {"train": 0, "valid": 1, "test": 2}

# Adult male formants F1, F2, F3 in Hz (Peterson & Barney 1952, rounded); F4-F6 are added per speaker.
_VOWELS = np.array(
    [
        [270, 2290, 3010],
        [390, 1990, 2550],
        [530, 1840, 2480],
        [660, 1720, 2410],
        [730, 1090, 2440],
        [570, 840, 2410],
        [440, 1020, 2240],
        [300, 870, 2240],
        [640, 1190, 2390],
        [490, 1350, 1690],
    ],
    dtype=np.float64,
)
_FORMANT_GAINS = np.array([1.0, 0.7, 0.35, 0.2, 0.12, 0.07])
_FRICATIVES = {  # centre Hz, bandwidth Hz, level
    "s": (6500.0, 2500.0, 0.5),
    "sh": (3300.0, 1500.0, 0.55),
    "f": (5000.0, 6000.0, 0.18),
    "burst": (3000.0, 5000.0, 0.6),
}


def clip_rng(split: str, index: int, base_seed: int = 0) -> np.random.Generator:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {tuple(SPLITS)}; got {split!r}")
    return np.random.default_rng([int(base_seed), SPLITS[split], int(index)])


def _plan(rng: np.random.Generator, seconds: float) -> list[dict]:
    """Phone segments covering `seconds`: dicts with kind, duration and targets."""
    segs, t = [], 0.0
    segs.append({"kind": "pause", "dur": rng.uniform(0.03, 0.15)})
    t += segs[-1]["dur"]
    while t < seconds:
        # A syllable: optional onset consonant, a vowel, optional coda; sometimes a pause after.
        if rng.random() < 0.75:
            kind = rng.choice(["s", "sh", "f", "stop", "nasal", "vfric", "stop"])
            if kind == "stop":
                segs.append({"kind": "pause", "dur": rng.uniform(0.02, 0.06)})
                segs.append({"kind": "burst", "dur": rng.uniform(0.01, 0.025)})
            elif kind == "nasal":
                segs.append({"kind": "nasal", "dur": rng.uniform(0.05, 0.1)})
            elif kind == "vfric":
                segs.append(
                    {
                        "kind": "vfric",
                        "fric": str(rng.choice(["s", "f"])),
                        "dur": rng.uniform(0.05, 0.1),
                    }
                )
            else:
                segs.append({"kind": "fric", "fric": str(kind), "dur": rng.uniform(0.06, 0.16)})
        segs.append(
            {
                "kind": "vowel",
                "vowel": int(rng.integers(len(_VOWELS))),
                "dur": rng.uniform(0.08, 0.24),
                "accent": rng.uniform(-0.05, 0.15),
            }
        )
        if rng.random() < 0.3:
            segs.append(
                {
                    "kind": "fric",
                    "fric": str(rng.choice(["s", "sh", "f"])),
                    "dur": rng.uniform(0.05, 0.12),
                }
            )
        if rng.random() < 0.2:
            segs.append({"kind": "pause", "dur": rng.uniform(0.08, 0.35)})
        t = sum(s["dur"] for s in segs)
    return segs


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    window = np.hanning(n_fft + 1)[:-1]
    n_frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    return np.fft.rfft(x[idx] * window, axis=-1)


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.fft.irfft(spec, n_fft, axis=-1) * window
    out = np.zeros(length)
    norm = np.zeros(length)
    for i, frame in enumerate(frames):  # a few hundred frames: a Python loop is fine here
        out[i * hop : i * hop + n_fft] += frame
        norm[i * hop : i * hop + n_fft] += window**2
    return out / np.maximum(norm, 1e-3)


def _smooth(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """`np.convolve(x, kernel, mode="same")` that keeps `len(x)` samples even when the kernel is longer
    (numpy's "same" then returns `len(kernel)` samples, which broke clips shorter than ~0.1 s)."""
    start = (len(kernel) - 1) // 2
    return np.convolve(x, kernel, mode="full")[start : start + len(x)]


def _resonance(f: np.ndarray, fc: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Magnitude of a second-order resonance, peak-normalised to 1. f: [bins], fc/bw: [frames, 1]."""
    half = bw / 2.0
    mag = (fc**2 + half**2) / np.sqrt(((f - fc) ** 2 + half**2) * ((f + fc) ** 2 + half**2))
    peak = (fc**2 + half**2) / np.sqrt(half**2 * (4 * fc**2 + half**2))
    return mag / peak


@dataclasses.dataclass(frozen=True)
class _Tracks:
    """What the phone plan asks of the voice, at a 5 ms control rate (`[n_ctl]` each unless noted):
    voicing and frication levels, the fricative noise's centre and bandwidth (Hz), the pitch accent, and
    the six formants and their bandwidths (`[n_ctl, 6]`, Hz)."""

    t: np.ndarray  # control times, seconds
    voice: np.ndarray
    noise: np.ndarray
    fric_fc: np.ndarray
    fric_bw: np.ndarray
    accent: np.ndarray
    formants: np.ndarray
    bandwidths: np.ndarray


_CTL_HOP = 0.005  # seconds between control points


def _control_tracks(
    rng: np.random.Generator, segs: list[dict], seconds: float, scale: float
) -> _Tracks:
    """The parameter tracks of the phone plan `segs` for a speaker of vocal-tract `scale`; formant targets
    sit at segment centres and are interpolated, so formants glide between phones."""
    n_ctl = int(np.ceil(seconds / _CTL_HOP)) + 2
    t_ctl = np.arange(n_ctl) * _CTL_HOP
    voice = np.zeros(n_ctl)
    noise = np.zeros(n_ctl)
    fric_fc = np.full(n_ctl, 5000.0)
    fric_bw = np.full(n_ctl, 3000.0)
    accent = np.zeros(n_ctl)
    centres, targets = [], []
    start = 0.0
    for s in segs:
        a, b = start, start + s["dur"]
        sel = (t_ctl >= a) & (t_ctl < b)
        k = s["kind"]
        if k in ("vowel", "nasal", "vfric"):
            voice[sel] = {"vowel": 1.0, "nasal": 0.35, "vfric": 0.4}[k]
        if k in ("fric", "vfric", "burst"):
            fc, bw, lvl = _FRICATIVES[s.get("fric", "burst")]
            noise[sel] = lvl * (0.5 if k == "vfric" else 1.0)
            fric_fc[sel] = fc * rng.uniform(0.9, 1.1)
            fric_bw[sel] = bw
        if k == "vowel":
            f123 = _VOWELS[s["vowel"]] * scale * rng.uniform(0.95, 1.05, 3)
            accent[sel] = s["accent"]
            centres.append((a + b) / 2)
            targets.append(f123)
        elif k == "nasal":
            centres.append((a + b) / 2)
            targets.append(np.array([260.0, 1100.0, 2300.0]) * scale)
        start = b
    if not centres:
        centres, targets = [0.0], [_VOWELS[4] * scale]
    targets = np.array(targets)
    formants = np.stack([np.interp(t_ctl, centres, targets[:, i]) for i in range(3)], axis=1)
    higher = np.array([3300.0, 4400.0, 5500.0]) * scale * rng.uniform(0.97, 1.03, 3)
    formants = np.concatenate([formants, np.broadcast_to(higher, (n_ctl, 3))], axis=1)  # [n_ctl, 6]

    # Smooth amplitude tracks (~20 ms) so onsets are not clicks.
    kernel = np.hanning(7)
    kernel /= kernel.sum()
    return _Tracks(
        t=t_ctl,
        voice=_smooth(voice, kernel),
        noise=_smooth(noise, kernel),
        fric_fc=fric_fc,
        fric_bw=fric_bw,
        accent=_smooth(accent, np.hanning(21) / np.hanning(21).sum()),
        formants=formants,
        bandwidths=50.0 + 0.06 * formants,
    )


def _voiced_source(
    rng: np.random.Generator, tracks: _Tracks, f0_base: float, seconds: float, rate: float, n: int
) -> np.ndarray:
    """The glottal source `[n]` at `rate`: a band-limited harmonic series of an f0 that follows
    declination, the accents, a slow wander and vibrato-like jitter, with a random spectral tilt."""
    t = np.arange(n) / rate
    wander = np.interp(t, tracks.t, np.cumsum(rng.normal(0, 0.004, len(tracks.t))))
    f0 = (
        f0_base
        * (1.0 - 0.12 * t / max(seconds, 1e-3))
        * np.exp(np.interp(t, tracks.t, tracks.accent) + wander)
    )
    f0 *= 1.0 + 0.004 * np.sin(2 * np.pi * rng.uniform(4, 7) * t) + rng.normal(0, 0.002, n)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    tilt = rng.uniform(0.85, 1.2)
    nyq = rate / 2.0
    src = np.zeros(n)
    for k in range(1, int(nyq / f0.min()) + 1):
        # Band-limited: a harmonic fades out as it approaches Nyquist instead of aliasing.
        fade = np.clip((0.98 * nyq - k * f0) / (0.02 * nyq), 0.0, 1.0)
        src += fade * np.cos(k * phase + 0.3 * k) / k**tilt
    return src


def _vocal_tract(
    rng: np.random.Generator, src: np.ndarray, tracks: _Tracks, rate: float, n: int
) -> np.ndarray:
    """`src` `[n]` through the moving vocal tract, plus frication and aspiration noise: filtered in the
    STFT domain with frame-wise envelopes. Returns `[n]` float64."""
    n_fft = int(2 ** np.ceil(np.log2(0.032 * rate)))
    hop = n_fft // 4
    padded = n + n_fft
    pad_src = np.pad(src, (n_fft // 2, padded - n - n_fft // 2 + n_fft))
    white = rng.standard_normal(len(pad_src))
    S_v = _stft(pad_src, n_fft, hop)
    S_n = _stft(white, n_fft, hop)
    frame_t = (
        np.arange(S_v.shape[0]) * hop
    ) / rate  # frame start in padded signal = centre in original
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)[None, :]

    def track(x):
        return np.interp(frame_t, tracks.t, x)[:, None]

    tract = np.zeros((len(frame_t), freqs.shape[1]))
    for i in range(6):
        fc = np.interp(frame_t, tracks.t, tracks.formants[:, i])[:, None]
        bw = np.interp(frame_t, tracks.t, tracks.bandwidths[:, i])[:, None]
        tract += _FORMANT_GAINS[i] * _resonance(freqs, fc, bw)
    fc, bw = track(tracks.fric_fc), track(tracks.fric_bw)
    fric_shape = np.exp(-0.5 * ((freqs - fc) / bw) ** 2) + 0.05 * (freqs > 1000)
    spec = (
        track(tracks.voice) * S_v * tract * 0.25
        + track(tracks.noise) * S_n * fric_shape * 0.02
        + track(tracks.voice) * S_n * tract * 0.0015
    )  # aspiration under voicing
    return _istft(spec, n_fft, hop, len(pad_src))[n_fft // 2 : n_fft // 2 + n]


def make_clip(
    rng: np.random.Generator, sample_rate: int = 16000, seconds: float = 2.0
) -> np.ndarray:
    """Render one clip. Returns float32 `[round(seconds * sample_rate)]`, peak about 0.3-0.9.

    In steps, each drawing from `rng` in turn: a speaker (vocal-tract scale, pitch), a phone plan
    (`_plan`), its parameter tracks (`_control_tracks`), the glottal source (`_voiced_source`), the
    vocal tract and noise sources (`_vocal_tract`), then a faint noise floor and the clip's level.
    """
    if not 4000 <= sample_rate <= 48000:
        raise ValueError(
            f"sample_rate must be in 4000..48000 Hz for the synthetic corpus; got {sample_rate}"
        )
    if seconds <= 0:
        raise ValueError(f"seconds must be positive; got {seconds}")
    rate = float(sample_rate)
    n = int(round(seconds * rate))
    scale = rng.uniform(0.88, 1.18)  # the speaker: vocal-tract scale and pitch range
    f0_base = rng.uniform(85.0, 220.0)
    segs = _plan(rng, seconds)
    tracks = _control_tracks(rng, segs, seconds, scale)
    src = _voiced_source(rng, tracks, f0_base, seconds, rate, n)
    y = _vocal_tract(rng, src, tracks, rate, n)
    y += rng.normal(0, 1e-4, n)  # faint noise floor: no digital silence
    peak = np.max(np.abs(y))
    y *= rng.uniform(0.3, 0.9) / max(peak, 1e-9)
    return y.astype(np.float32)


def make_corpus(
    split: str, num_clips: int, sample_rate: int = 16000, seconds: float = 2.0, base_seed: int = 0
) -> list[np.ndarray]:
    """`num_clips` clips of `split` ("train", "valid" or "test"); clip i is the same in any call."""
    return [
        make_clip(clip_rng(split, i, base_seed), sample_rate, seconds) for i in range(num_clips)
    ]


# Base seed of the synthetic voice banks: far from the synthetic corpus's default `data.corpus_seed` (0),
# so a model trained on the synthetic corpus never hears its own training clips as babble.
VOICE_BANK_SEED = 7_919
VOICE_BANK_SIZE = (
    24  # voices per bank: each is shifted anew per draw, so a few dozen base voices suffice
)
VOICE_BANK_SECONDS = 3.0


@functools.lru_cache(maxsize=8)
def voice_bank(sample_rate: int, split: str = "train") -> tuple[np.ndarray, ...]:
    """The synthetic talkers of denoise's babble of voices (`jaxsr.tasks.noise.voices_babble`):
    `VOICE_BANK_SIZE` clips `[VOICE_BANK_SECONDS * sample_rate]` float32 at `sample_rate`.

    From this corpus (random speaker scale and pitch per clip) with its own base seed. Training draws
    from the "train" bank, evaluation from the "test" bank, so evaluation babble has voices that training
    never heard. Rendered once per process (about 1-2 s at 16 kHz); above 48 kHz rendered at 48 kHz and
    resampled."""
    render_rate = min(int(sample_rate), 48_000)  # the corpus renders up to 48 kHz
    clips = make_corpus(
        split, VOICE_BANK_SIZE, render_rate, VOICE_BANK_SECONDS, base_seed=VOICE_BANK_SEED
    )
    if render_rate != sample_rate:
        import scipy.signal

        g = math.gcd(int(sample_rate), render_rate)
        clips = [scipy.signal.resample_poly(c, sample_rate // g, render_rate // g) for c in clips]
    return tuple(np.asarray(c, np.float32) for c in clips)
