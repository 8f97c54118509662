"""The page's logic, plain Python a test calls without a browser: the model picker, reading an upload,
making the degraded input, the baselines, the metrics, one press of Restore (`run_page`), and the one-line
error the page shows (`error_message`). Gradio is not imported here (see `page.py`)."""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
import tempfile
import time
import warnings
from typing import Any, Callable

import numpy as np

DEFAULT_MODEL = "speech-sr-x4-16k"
# Noise kinds the page can add for denoise models: the ones that need nothing but the clean file (babble
# of other clips needs a pool of recordings, "folder" a folder of recorded noise).
NOISE_KINDS = ("white", "pink", "brown", "varying", "babble_voices")
DEFAULT_RESAMPLER = "soxr_hq"  # what most people's tools use to reach a low rate
SEED = (
    0  # the page's noise and gaps are the same on every press, so two models can be compared by ear
)
# From this much audio on, the status line warns that the restoration takes a while.
LONG_SECONDS = 60.0

Progress = Callable[[float, str], None]


# ----------------------------------------------------------------------------------------- models
def model_choices() -> list[str]:
    """The packaged models' names, for the model picker (a path may be typed in too)."""
    from jaxsr import pretrained

    return pretrained.names()


def _export_format(source: str) -> str | None:
    """ "stablehlo" / "onnx" for an export folder (`jaxsr.export`), None for anything else."""
    from jaxsr.deploy.folder import export_folder, read_metadata

    folder = export_folder(source) if pathlib.Path(source).expanduser().exists() else None
    return read_metadata(folder).get("format") if folder is not None else None


def runtime_choices(source: str) -> list[str]:
    """The runtimes that can run `source` here: an export folder runs on its format's runtimes; a
    packaged model or workdir on XLA, StableHLO, and ONNX Runtime / OpenVINO where they are installed."""
    import importlib.util

    fmt = _export_format(source)
    if fmt == "stablehlo":
        return ["stablehlo"]
    installed = [
        r
        for r, mod in (("onnxruntime", "onnxruntime"), ("openvino", "openvino"))
        if importlib.util.find_spec(mod) is not None
    ]
    if fmt == "onnx":
        return installed or ["onnxruntime"]  # loading then says what to install
    return ["xla", "stablehlo"] + installed


@functools.lru_cache(maxsize=4)
def load_model(source: str, runtime: str | None = None, precision: str = "float32") -> Any:
    """`jaxsr.load(source, runtime=..., precision=...)`, kept for the next press (loading and compiling a
    runtime takes seconds; a page is pressed many times with one model)."""
    import jaxsr

    source = str(source).strip()
    if not source:
        raise ValueError(
            "no model given: pick a packaged model or type a training workdir or export folder."
        )
    return jaxsr.load(source, runtime=runtime or None, precision=precision)


def describe_model(source: str) -> str:
    """Markdown about `source`: a packaged model's card summary, or what a workdir or export holds."""
    from jaxsr import pretrained

    source = str(source).strip()
    if pretrained.is_name(source) and not pathlib.Path(source).exists():
        m = pretrained.manifest(source)
        task = f"`{m['task']}`" + (f" x{m['ratio']}" if m.get("ratio") else "")
        return (
            f"**{m['name']}** ({task}, {m['input_rate']:g} Hz in, {m['sample_rate']} Hz out, "
            f"{m['params']:,} parameters): {m['description']}"
        )
    try:
        model = load_model(source, runtime_choices(source)[0])
    except Exception as e:  # the picker shows why, the page stays up
        return f"**Error:** {error_message(e)}"
    task = model.config.task
    kind = "export folder" if not model.variables else "checkpoint"
    return (
        f"**{source}** ({kind}, step {model.step}): `{task.name}`"
        + (f" x{task.ratio}" if task.name == "sr" else "")
        + f", {model.input_rate:g} Hz in, {model.sample_rate} Hz out."
    )


def task_of(source: str) -> str | None:
    """The task ("sr", "denoise", "inpaint") of `source`, None when it cannot be loaded (yet)."""
    from jaxsr import pretrained

    source = str(source).strip()
    if pretrained.is_name(source) and not pathlib.Path(source).exists():
        return pretrained.manifest(source)["task"]
    try:
        return load_model(source, runtime_choices(source)[0]).config.task.name
    except Exception:
        return None


# ---------------------------------------------------------------------------------------- the input
def error_message(exc: BaseException) -> str:
    """The one line the page shows for a failure: the library's own message (its errors say what to do);
    the exception's type as well where it is not one of the expected kinds."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (ValueError, FileNotFoundError, MemoryError, ImportError)):
        return text
    return f"{type(exc).__name__}: {text}"


def read_input(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """An uploaded or recorded file -> (float32 `[time, channels]`, rate), by `jaxsr.audio_io.read_audio`.

    Its errors name the file by its own name, not by the server's temporary folder it was uploaded to."""
    from jaxsr.audio_io import read_audio
    from jaxsr.inference import MAX_CHANNELS

    if path is None or not str(path):
        raise ValueError("no audio: upload a file or record from the microphone first.")
    p = pathlib.Path(path)
    try:
        x, rate = read_audio(p)
    except (ValueError, FileNotFoundError) as e:
        raise type(e)(str(e).replace(str(p), p.name)) from None
    if x.shape[1] > MAX_CHANNELS:
        raise ValueError(
            f"{p.name} has {x.shape[1]} channels; at most {MAX_CHANNELS} are restored per file."
        )
    return x, rate


@dataclasses.dataclass
class Prepared:
    """What the model is given, and what it is judged against.

    `audio` `[time, ch]` at `rate` goes to `jaxsr.enhance` with `mask` (inpaint: True = missing, `[time]`
    or `[time, ch]`); `reference` `[time, ch]` at the model's output rate is the clean file when the page
    made the degraded input itself (None for a real recording); `note` says what was done."""

    audio: np.ndarray
    rate: float
    reference: np.ndarray | None = None
    mask: np.ndarray | None = None
    note: str = ""


def check_rate_and_memory(model: Any, n: int, channels: int, rate: float) -> None:
    """The library's checks on an input's rate and on the memory its restoration needs, before the page
    spends time making a degraded input from it (they raise the library's one-line ValueError /
    MemoryError; `jaxsr.enhance` makes the same checks on what it is given)."""
    from jaxsr.inference.checks import check_plausible, check_rate

    rate = check_rate(rate)
    target = model.sample_rate
    check_plausible(rate, model.input_rate, False, int(round(n * target / rate)), channels, target)


def make_input(
    model: Any,
    x: np.ndarray,
    rate: float,
    *,
    degrade: bool = False,
    resampler: str = DEFAULT_RESAMPLER,
    noise: str = "pink",
    snr_db: float = 5.0,
    num_gaps: int = 3,
    gap_ms: float = 30.0,
    zero_gap_ms: float = 5.0,
    seed: int = SEED,
) -> Prepared:
    """The model's input from a file `x` `[time, ch]` at `rate`.

    `degrade=False`: the file as it is (inpaint: its runs of exact zeros at least `zero_gap_ms` long are
    the gaps, `jaxsr.inference.zero_gaps`). `degrade=True`: `x` is a clean file, brought to the model's
    output rate (soxr) and degraded as the task's training does, with the library's functions: sr, the
    low-rate signal of the named `resampler` (`jaxsr.tasks.resampling.sr_lowrate`); denoise, noise of
    kind `noise` at `snr_db` (`jaxsr.tasks.degrade.degrade_denoise`, without a room); inpaint, `num_gaps`
    gaps of `gap_ms` zeroed (`jaxsr.tasks.gaps.gap_mask`). The clean file is then the `reference`.
    """
    from jaxsr.audio_io import resample
    from jaxsr.data.synthetic import voice_bank
    from jaxsr.inference import zero_gaps
    from jaxsr.tasks import resampling
    from jaxsr.tasks.degrade import degrade_denoise
    from jaxsr.tasks.gaps import gap_mask

    task = model.config.task.name
    n, ch = x.shape
    check_rate_and_memory(model, n, ch, rate)
    if not degrade:
        if task == "inpaint":
            mask = zero_gaps(x, rate, zero_gap_ms)
            gaps = int(
                np.count_nonzero(
                    np.diff(np.concatenate([[False], mask.any(axis=1)]).astype(np.int8)) == 1
                )
            )
            return Prepared(
                x,
                rate,
                mask=mask,
                note=f"{gaps} gap(s) found: runs of zeros of {zero_gap_ms:g} ms or more.",
            )
        return Prepared(x, rate)
    target = model.sample_rate
    y = resample(x, rate, target) if rate != target else x
    rng = np.random.default_rng(seed)
    if task == "sr":
        ratio = int(model.config.task.ratio)
        y = y[
            : len(y) // ratio * ratio
        ]  # whole low-rate samples: the output is exactly as long as the reference
        if len(y) == 0:
            raise ValueError(
                f"the file is shorter than one sample at the low rate {target / ratio:g} Hz."
            )
        low = np.stack(
            [
                resampling.sr_lowrate(y[:, c], ratio, resampling.resampler_chain(resampler))
                for c in range(ch)
            ],
            axis=1,
        )
        return Prepared(
            low,
            target / ratio,
            reference=y,
            note=f"made the {target / ratio:g} Hz input with the resampler `{resampler}` "
            f"({resampling.describe_chain(resampler)}).",
        )
    if task == "denoise":
        # The model's own noise options (babble talkers, drift ranges), but no room and never a clean draw:
        # the page adds exactly the noise asked for.
        options = dict(model.config.task.to_dict(), reverb_prob=0.0, clean_prob=0.0)
        voices = voice_bank(int(target), "test") if noise == "babble_voices" else ()
        noisy = np.stack(
            [
                degrade_denoise(
                    y[:, c],
                    rng,
                    float(snr_db),
                    (noise,),
                    target_rate=target,
                    voices=voices,
                    options=options,
                ).x
                for c in range(ch)
            ],
            axis=1,
        )
        return Prepared(
            noisy, target, reference=y, note=f"added {noise} noise at {float(snr_db):g} dB SNR."
        )
    if task == "inpaint":
        mask = gap_mask(rng, len(y), target, int(num_gaps), (float(gap_ms), float(gap_ms)))
        cut = np.where(mask[:, None], 0.0, y).astype(np.float32)
        return Prepared(
            cut,
            target,
            reference=y,
            mask=mask,
            note=f"cut {int(num_gaps)} gap(s) of {float(gap_ms):g} ms ({int(mask.sum())} samples).",
        )
    raise ValueError(f"unknown task {task!r}")


# ---------------------------------------------------------------------------- baselines and metrics
def baselines(model: Any, prepared: Prepared, n_out: int) -> dict[str, np.ndarray]:
    """The classical methods the model is heard against, each `[n_out, ch]` at the model's output rate:
    sr, the cubic spline (the paper's) and windowed sinc (`jaxsr.tasks.upsampling.spline_upsample` /
    `sinc_upsample`) from the model's input rate; denoise, the noisy input; inpaint, the linear fill."""
    from jaxsr.audio_io import resample
    from jaxsr.tasks.gaps import linear_fill
    from jaxsr.tasks.upsampling import sinc_upsample, spline_upsample

    task = model.config.task.name
    x, rate = prepared.audio, prepared.rate

    def fit(a: np.ndarray) -> np.ndarray:
        a = a[:n_out]
        return (
            np.concatenate([a, np.zeros((n_out - len(a),) + a.shape[1:], np.float32)])
            if len(a) < n_out
            else a
        )

    if task == "sr":
        ratio = int(model.config.task.ratio)
        want = model.input_rate
        low = resample(x, rate, want, fractional=True) if abs(rate - want) > 1e-6 * want else x
        return {
            name: np.stack([f(low[:, c], ratio, n_out) for c in range(low.shape[1])], axis=1)
            for name, f in (("cubic spline", spline_upsample), ("sinc", sinc_upsample))
        }
    target = model.sample_rate
    given = resample(x, rate, target, fractional=True) if rate != target else x
    if task == "denoise":
        return {"noisy input": fit(given)}
    mask = prepared.mask
    if mask is None:
        return {"input": fit(given)}
    mask = np.broadcast_to(mask if mask.ndim == 2 else mask[:, None], given.shape)
    return {
        "linear fill": fit(
            np.stack(
                [
                    linear_fill(np.where(mask[:, c], 0.0, given[:, c]), mask[:, c])
                    for c in range(given.shape[1])
                ],
                axis=1,
            )
        )
    }


def score(reference: np.ndarray, signals: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """name -> {"SNR", "LSD", "SI-SDR"} of each `[time, ch]` signal against `reference` (`jaxsr.metrics`:
    SNR and SI-SDR in dB, higher is better; LSD log10, lower is better), averaged over channels, on the
    samples both have."""
    from jaxsr import metrics

    out = {}
    for name, s in signals.items():
        n = min(len(reference), len(s))
        per = [
            (
                metrics.snr(reference[:n, c], s[:n, c]),
                metrics.lsd(reference[:n, c], s[:n, c]),
                metrics.si_sdr(reference[:n, c], s[:n, c]),
            )
            for c in range(reference.shape[1])
        ]
        out[name] = dict(zip(("SNR", "LSD", "SI-SDR"), (float(v) for v in np.mean(per, axis=0))))
    return out


def metrics_table(scores: dict[str, dict[str, float]]) -> str:
    """`score`'s result as a Markdown table."""
    if not scores:
        return ""
    rows = ["| | SNR (dB) ↑ | LSD ↓ | SI-SDR (dB) ↑ |", "|---|---:|---:|---:|"]
    rows += [
        f"| {name} | {s['SNR']:.2f} | {s['LSD']:.2f} | {s['SI-SDR']:.2f} |"
        for name, s in scores.items()
    ]
    return "\n".join(rows)


# ------------------------------------------------------------------------------------------ a press
@dataclasses.dataclass
class PageResult:
    """What one press of Restore shows. Audio files are float WAV (the players play the exact samples);
    `download` is the result in the input's format. `players`: label -> WAV path, in page order."""

    restored: np.ndarray
    info: dict
    players: dict[str, str]
    download: str
    spectrogram: str
    metrics: str
    status: str


def _float_wav(path: pathlib.Path, audio: np.ndarray, rate: float) -> str:
    """Write `audio` as 32-bit float WAV without clipping: what the player plays is the result itself."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, int(round(rate)), subtype="FLOAT", format="WAV")
    return str(path)


def download_format(path: str | os.PathLike) -> tuple[str, str]:
    """(extension, subtype) to give the result back in the input's format: WAV or FLAC at the input's
    sample format where `jaxsr.audio_io.write_audio` writes it (else 16-bit), other containers as WAV."""
    import soundfile as sf

    from jaxsr.audio_io import SUBTYPES

    ext = pathlib.Path(path).suffix.lower()
    ext = ext if ext in (".wav", ".flac") else ".wav"
    try:
        subtype = sf.info(str(path)).subtype
    except Exception:  # decoded by audioread (mp3, m4a): no libsndfile subtype
        subtype = "PCM_16"
    return ext, subtype if subtype in SUBTYPES["FLAC" if ext == ".flac" else "WAV"] else "PCM_16"


def run_page(
    source: str,
    path: str | os.PathLike | None,
    *,
    runtime: str | None = None,
    precision: str = "float32",
    degrade: bool = False,
    resampler: str = DEFAULT_RESAMPLER,
    noise: str = "pink",
    snr_db: float = 5.0,
    num_gaps: int = 3,
    gap_ms: float = 30.0,
    zero_gap_ms: float = 5.0,
    outdir: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> PageResult:
    """One press of Restore: read the file, make the input, restore it with `jaxsr.enhance`, make the
    baselines, spectrograms (`jaxsr.plots`) and metrics; write the players' files under `outdir` (a new
    temporary folder by default). Raises the library's exceptions; the page shows `error_message`."""
    from jaxsr.audio_io import write_audio
    from jaxsr.inference import enhance
    from jaxsr.plots import save_spectrograms

    progress = progress or (lambda frac, text: None)
    t0 = time.perf_counter()
    progress(0.0, "loading the model")
    model = load_model(source, runtime, precision)
    progress(0.1, "reading the file")
    x, rate = read_input(path)
    prepared = make_input(
        model,
        x,
        rate,
        degrade=degrade,
        resampler=resampler,
        noise=noise,
        snr_db=snr_db,
        num_gaps=num_gaps,
        gap_ms=gap_ms,
        zero_gap_ms=zero_gap_ms,
    )
    seconds = len(prepared.audio) / prepared.rate
    progress(
        0.2,
        f"restoring {seconds:.1f} s of audio"
        + (" (a long file: this takes a while)" if seconds >= LONG_SECONDS else ""),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored, info = enhance(
            model, prepared.audio, sample_rate=prepared.rate, mask=prepared.mask, return_info=True
        )
    y = restored.reshape(len(restored), -1)
    progress(0.7, "baselines and spectrograms")
    base = baselines(model, prepared, len(y))
    out = (
        pathlib.Path(outdir)
        if outdir is not None
        else pathlib.Path(tempfile.mkdtemp(prefix="jaxsr-demo-"))
    )
    target = model.sample_rate
    players = {
        f"input ({prepared.rate:g} Hz)": _float_wav(
            out / "input.wav", prepared.audio, prepared.rate
        )
    }
    if prepared.reference is not None:
        players["original"] = _float_wav(out / "original.wav", prepared.reference, target)
    for i, (name, b) in enumerate(base.items()):
        players[f"baseline: {name}"] = _float_wav(out / f"baseline{i}.wav", b, target)
    players["restored"] = _float_wav(out / "restored.wav", y, target)
    ext, subtype = download_format(path)
    download = str(
        write_audio(
            out / f"{pathlib.Path(path).stem}-restored{ext}", restored, target, subtype=subtype
        )
    )
    spectra = {"original": prepared.reference[:, 0]} if prepared.reference is not None else {}
    spectra.update({name: b[:, 0] for name, b in base.items()})
    spectra["restored"] = y[:, 0]
    png = str(
        save_spectrograms(
            out / "spectrograms.png", spectra, target, n_fft=512 if target <= 16000 else 1024
        )
    )
    progress(0.9, "metrics")
    table = ""
    if prepared.reference is not None:
        table = metrics_table(score(prepared.reference, {**base, "restored": y}))
    elapsed = time.perf_counter() - t0
    notes = [prepared.note] if prepared.note else []
    if info.get("resampled"):
        notes.append(
            f"the input was resampled from {info['resampled_from']:g} Hz to the model's {info['resampled_to']:g} Hz."
        )
    if info.get("kept_input_band_hz"):
        notes.append(f"the input's own band up to {info['kept_input_band_hz']:g} Hz is kept.")
    notes += [str(w.message) for w in caught]
    status = (
        f"Restored {info['seconds']:.2f} s of audio ({info['channels']} channel(s), {target} Hz) in "
        f"{elapsed:.2f} s (the model: {info['elapsed_s']:.2f} s, {info['runtime']} {info['precision']})."
        + "".join(f" {n[0].upper()}{n[1:]}" for n in notes)
    )
    progress(1.0, "done")
    return PageResult(
        restored=restored,
        info=info,
        players=players,
        download=download,
        spectrogram=png,
        metrics=table,
        status=status,
    )
