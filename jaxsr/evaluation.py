"""Evaluation on whole clips: the model against the task's classical baseline.

Used by the training loop (every `train.eval_every` steps), by `jaxsr evaluate` (which adds only its
flags and output) and by the benchmarks. An example is a dict from `jaxsr.data.eval_clips.eval_examples`
or `clip_example`: `{'id', 'y': clean [time], 'x': degraded model input [time], 'baseline': [time],
'mask': [time] | None}`.

    restore, evaluate      the model's output on an example (any runtime), and the scores of a set
    summarize ... tables   means, 95% intervals, Markdown tables, JSON, CSV
    save_examples          audio and spectrograms of a few examples
    clip_example           an example from any clean clip, degraded as training's evaluation does
    list_clips, load_clips, degraded_examples
                           audio files, a folder or a dataset split -> clips at the model's rate ->
                           examples, one generator per (seed, file)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import pathlib
import re
from typing import Any, Callable, Iterable, Iterator, Sequence

import ml_collections
import numpy as np

from jaxsr import metrics as metrics_lib

log = logging.getLogger(__name__)

BASELINE_NAMES = {"sr": "spline", "denoise": "noisy input", "inpaint": "linear interp."}


def baseline_name(config: ml_collections.ConfigDict | None) -> str:
    """What the model is compared with in a table: the task's baseline, which for `sr` is its front end
    (the cubic spline, or sinc interpolation for `task.sr_frontend = "sinc"`)."""
    if config is None:
        return "baseline"
    if config.task.name == "sr" and config.task.get("sr_frontend", "spline") == "sinc":
        return "sinc"
    return BASELINE_NAMES.get(config.task.name, "baseline")


# Direction of each metric, for tables: +1 higher is better, -1 lower is better.
DIRECTION = {"snr": 1, "lsd": -1, "lsd_paper": -1, "si_sdr": 1, "snr_gap": 1, "pesq": 1, "stoi": 1}


def restore(
    variables: dict,
    config: ml_collections.ConfigDict,
    ex: dict,
    batch_size: int | None = None,
    forward: Any = None,
) -> np.ndarray:
    """The model's output `[time]` for example `ex` (`ex['x']`: `[time]`), as `jaxsr.enhance` gives it:
    for inpaint (a `mask`) only the gaps are replaced, the known samples are kept.

    `forward`: what runs the network (a `jaxsr.Model`'s `forward`: ONNX Runtime, OpenVINO, a StableHLO
    artefact); None runs `variables` through the jitted Flax model. The chunking (`run_model`'s) is the
    same either way, so runtimes differ only by their arithmetic.
    """
    from jaxsr.inference import chunking, keep_known  # the chunked inference path

    x = np.asarray(ex["x"], np.float32)
    y_hat = chunking.run_planned(
        chunking.as_device(variables),
        config,
        x[:, None],
        chunking.chunk_plan(config, None, forward=forward),
        chunking.check_inference_batch_size(batch_size, config),
        forward,
    )[:, 0]
    return y_hat if ex.get("mask") is None else keep_known(y_hat, ex["x"], ex["mask"])


def evaluate(
    variables: dict,
    config: ml_collections.ConfigDict,
    examples: Iterable[dict],
    perceptual: bool = False,
    batch_size: int | None = None,
    forward: Any = None,
) -> dict:
    """Metrics of the model and the baseline on every example (`forward`: as in `restore`).

    Returns `{'n_files', 'model': {metric: mean}, 'baseline': {...}, 'model_ci95': {...},
    'baseline_ci95': {...}, 'per_file': [{'id', 'model': {...}, 'baseline': {...}}]}`.
    """
    return score_outputs(
        config,
        ((ex, restore(variables, config, ex, batch_size, forward)) for ex in examples),
        perceptual,
    )


def score_outputs(
    config: ml_collections.ConfigDict,
    pairs: Iterable[tuple[dict, np.ndarray]],
    perceptual: bool = False,
) -> dict:
    """`evaluate`'s scores of outputs already made: `pairs` of (example, the model's output `[time]`), for a
    caller that needs the outputs as well as their scores."""
    sr = config.data.sample_rate
    per_file = [
        {
            "id": ex["id"],
            "model": metrics_lib.all_metrics(ex["y"], y_hat, sr, ex.get("mask"), perceptual),
            "baseline": metrics_lib.all_metrics(
                ex["y"], ex["baseline"], sr, ex.get("mask"), perceptual
            ),
        }
        for ex, y_hat in pairs
    ]
    return summarize(per_file)


def evaluate_baseline(
    config: ml_collections.ConfigDict, examples: Iterable[dict], perceptual: bool = False
) -> dict:
    """`evaluate` without a model: the baseline's metrics only (`summary['model']` is empty)."""
    sr = config.data.sample_rate
    per_file = [
        {
            "id": ex["id"],
            "model": {},
            "baseline": metrics_lib.all_metrics(
                ex["y"], ex["baseline"], sr, ex.get("mask"), perceptual
            ),
        }
        for ex in examples
    ]
    return summarize(per_file)


def mean_ci95(values: Iterable[float]) -> tuple[float, float]:
    """Mean and half-width of a 95% confidence interval (Student t; 0 for a single value)."""
    v = np.asarray(list(values), np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), 0.0
    from scipy import stats

    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean()), float(half)


def summarize(per_file: list[dict]) -> dict:
    out: dict = {"n_files": len(per_file), "per_file": per_file}
    for who in ("model", "baseline"):
        # The union over files: an optional metric (PESQ) that failed on one file is still reported.
        keys = list(dict.fromkeys(k for f in per_file for k in f[who]))
        stats = {k: mean_ci95(f[who][k] for f in per_file if k in f[who]) for k in keys}
        out[who] = {k: s[0] for k, s in stats.items()}
        out[who + "_ci95"] = {k: s[1] for k, s in stats.items()}
    return out


def flat_summary(summary: dict, prefix: str = "") -> dict:
    return {
        f"{prefix}{who}/{k}": v
        for who in ("model", "baseline")
        for k, v in summary.get(who, {}).items()
    }


def one_line(summary: dict) -> str:
    m, b = summary["model"], summary["baseline"]
    return " ".join(f"{k} {m[k]:.2f} (base {b[k]:.2f})" for k in ("snr", "lsd", "si_sdr") if k in m)


def format_table(
    summary: dict,
    config: ml_collections.ConfigDict | None = None,
    ci: bool = False,
    title: str | None = None,
) -> str:
    """A Markdown table: one row per metric, model vs baseline (and the difference). `title` replaces
    the default heading line ("" for none)."""
    task = config.task.name if config is not None else ""
    base_name = baseline_name(config)
    if title is not None:
        title = f"{title}\n\n" if title else ""
    elif config is None:
        title = ""
    else:
        detail = f"r={config.task.ratio}" if task == "sr" else ""
        if (
            task == "sr" and config.task.get("sr_degradation", "paper") != "paper"
        ):  # say which resampler
            detail += f" (inputs: {config.task.sr_degradation})"
        title = (
            f"{task} {detail} on {summary['n_files']} held-out {config.data.name} clips at "
            f"{config.data.sample_rate} Hz\n\n"
        ).replace("  ", " ")
    rows = [f"| metric | {base_name} | model | change |", "|---|---|---|---|"]
    for k in summary["model"]:
        m, b = summary["model"][k], summary["baseline"][k]
        cell = (
            (lambda v, key: f"{v:.3f} ± {summary[key][k]:.3f}")
            if ci
            else (lambda v, key: f"{v:.3f}")
        )
        arrow = "better" if (m - b) * DIRECTION.get(k, 1) > 0 else "worse"
        rows.append(
            f"| {k} | {cell(b, 'baseline_ci95')} | {cell(m, 'model_ci95')} | {m - b:+.3f} ({arrow}) |"
        )
    return title + "\n".join(rows)


def save_examples(
    workdir: pathlib.Path,
    variables: dict,
    config: ml_collections.ConfigDict,
    examples: Sequence[dict],
    writer=None,
    step: int = 0,
) -> list[pathlib.Path]:
    """Write degraded / restored / reference WAVs and a spectrogram PNG per example into `workdir/examples`."""
    from jaxsr.audio_io import write_audio
    from jaxsr.plots import save_spectrograms

    out_dir = pathlib.Path(workdir) / "examples"
    sr = config.data.sample_rate
    written = []
    for ex in examples:
        restored = restore(variables, config, ex)
        name = str(ex["id"]).replace("/", "_")
        signals = {"degraded": ex["x"], "restored": restored, "reference": ex["y"]}
        for label, sig in signals.items():
            path = out_dir / f"{name}_{label}.wav"
            write_audio(path, sig, sr)
            written.append(path)
        png = out_dir / f"{name}_spectrogram.png"
        save_spectrograms(png, signals, sr, title=f"{config.task.name}: {name}")
        written.append(png)
        if writer is not None:
            writer.audio(step, f"examples/{name}", signals, sr)
            writer.image(step, f"examples/{name}_spectrogram", png)
    return written


# ------------------------------------------------------------------ examples from arbitrary audio
def clip_example(
    y: np.ndarray,
    config: ml_collections.ConfigDict,
    index: int,
    seed: int | None = None,
    noise_pool: Sequence[np.ndarray] = (),
    noise_files: Sequence[np.ndarray] = (),
    clip_id: str | None = None,
    exclude: int | None = None,
) -> dict:
    """A whole-clip example from clean `y` (`[time]` at `config.data.sample_rate`).

    Degraded exactly as `jaxsr.data.eval_clips.eval_examples` degrades clip `index` of a source: generator
    `example_rng(seed, index, EVAL)` (seed defaults to `config.seed`), and for inpaint the training gap
    density (`task.num_gaps` per `data.patch_length` samples). `noise_pool` is the babble pool (denoise)
    and `exclude` the index of `y` in it, never used for babble (None: the pool does not hold `y`).
    Returns `{'id', 'y', 'x', 'baseline', 'mask'}` like `eval_examples`.
    """
    from jaxsr.data.eval_clips import degrade_clip

    y = np.asarray(y, np.float32)
    seed = int(config.seed if seed is None else seed)
    d = degrade_clip(
        y,
        config.task.to_dict(),
        index,
        seed,
        int(config.data.sample_rate),
        int(config.data.patch_length),
        noise_pool,
        noise_files,
        exclude=exclude,
    )
    return {
        "id": str(index) if clip_id is None else clip_id,
        "y": y if d.y is None else d.y,
        "x": d.x,
        "baseline": d.baseline,
        "mask": d.mask,
    }


def json_summary(summary: dict) -> dict:
    """`summary` without its per-file records, NaN as None: ready for `json.dumps` (strict JSON)."""

    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return clean({k: v for k, v in summary.items() if k != "per_file"})


def write_per_file_csv(
    path: str | pathlib.Path, per_file: Sequence[dict], extra: Sequence[dict] | None = None
) -> None:
    """One row per file: `id`, any `extra` columns (one dict per file), then `model_<metric>`, `baseline_<metric>`."""
    import csv

    metrics = list(
        dict.fromkeys(k for f in per_file for who in ("model", "baseline") for k in f[who])
    )
    extra = list(extra) if extra is not None else [{} for _ in per_file]
    extra_keys = list(dict.fromkeys(k for e in extra for k in e))
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["id", *extra_keys, *(f"{who}_{k}" for who in ("model", "baseline") for k in metrics)]
        )
        for f, e in zip(per_file, extra):
            w.writerow(
                [
                    f["id"],
                    *(e.get(k, "") for k in extra_keys),
                    *(f[who].get(k, "") for who in ("model", "baseline") for k in metrics),
                ]
            )


# ------------------------------------------------------------- clips from audio files or a split
# `NAME:SPLIT`: a split of the dataset a model trained on (e.g. synthetic:valid).
SPLIT_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_]+):(?P<split>train|valid|test)$")


@dataclasses.dataclass
class ClipSource:
    """One input to score: its index (which fixes its degradation), id, where it comes from, and how
    to read it: `load() -> (mono audio [time] at its own rate, that rate)`."""

    index: int
    id: str
    origin: str
    load: Callable[[], tuple[np.ndarray, int]]


def list_clips(data: str, config: ml_collections.ConfigDict) -> list[ClipSource]:
    """The inputs `data` names, in a fixed order: an audio file, a folder of them (searched
    recursively, hidden files skipped), or `NAME:SPLIT` of the dataset `config` trained on.

    Raises ValueError starting with `data` when there are none or `data` names nothing.
    """
    from jaxsr.audio_io import list_audio_files, read_audio

    path = pathlib.Path(data).expanduser()
    spec = SPLIT_SPEC.match(data)
    if not path.exists() and spec:
        return _split_clips(spec["name"], spec["split"], config)
    try:
        files = list_audio_files(path)
    except (FileNotFoundError, ValueError) as e:
        hint = "" if path.exists() else " (neither a path nor NAME:SPLIT such as synthetic:valid)"
        raise ValueError(f"{data}: {e}{hint}") from None
    root = path if path.is_dir() else path.parent

    def loader(f: pathlib.Path) -> Callable[[], tuple[np.ndarray, int]]:
        def load() -> tuple[np.ndarray, int]:
            x, rate = read_audio(f, mono=True)
            return x[:, 0], rate

        return load

    return [
        ClipSource(i, f.relative_to(root).as_posix(), str(f), loader(f))
        for i, f in enumerate(files)
    ]


def _split_clips(name: str, split: str, config: ml_collections.ConfigDict) -> list[ClipSource]:
    from jaxsr.data import builders

    if name != config.data.name:
        raise ValueError(
            f"{name}:{split}: this checkpoint was trained on {config.data.name!r}; NAME:SPLIT only "
            f"names splits of that dataset (e.g. {config.data.name}:valid). Evaluate other audio by "
            "passing its folder."
        )
    try:
        source = builders.load_split(config.data, split, config.data.data_dir or None)
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(f"{name}:{split}: {e}") from None
    if len(source) == 0:
        raise ValueError(f"{name}:{split}: the split holds no clips.")
    rate = int(config.data.sample_rate)

    def loader(i: int) -> Callable[[], tuple[np.ndarray, int]]:
        return lambda: (np.asarray(source[i]["audio"], np.float32), rate)

    return [
        ClipSource(i, str(source[i]["id"]), f"{name}:{split}[{i}]", loader(i))
        for i in range(len(source))
    ]


def load_clips(
    sources: Sequence[ClipSource], sample_rate: int, min_length: int, allow_any_rate: bool = False
) -> tuple[list[dict], list[dict]]:
    """Read every source at `sample_rate` (soxr HQ). Returns `(clips, failures)`: clips
    `{'item': ClipSource, 'y': [time] float32, 'rate': its own rate, 'samples': length before
    padding, 'padded': bool}`, failures `{'file', 'error'}`, each logged.

    A clip shorter than `min_length` is zero-padded at the end (with a warning). A file at an
    implausible rate (unless `allow_any_rate`), or one whose resampled audio would not fit in memory,
    is a failure, found before resampling it (`enhance`'s checks); so is any file that cannot be read.
    """
    from jaxsr.audio_io import resample
    from jaxsr.inference.checks import check_plausible

    clips, failed = [], []
    for item in sources:
        try:
            x, rate = item.load()
            check_plausible(
                float(rate),
                float(sample_rate),
                allow_any_rate,
                int(round(len(x) * sample_rate / rate)),
                1,
                sample_rate,
            )
            y = resample(x, rate, sample_rate) if rate != sample_rate else np.asarray(x, np.float32)
        except Exception as e:  # one unreadable file must not stop the others
            msg = (
                str(e)
                if isinstance(e, (ValueError, FileNotFoundError, MemoryError))
                else f"{type(e).__name__}: {e}"
            )
            log.error("skipped %s: %s", item.origin, msg)
            failed.append({"file": item.origin, "error": msg})
            continue
        n = len(y)
        if n < min_length:
            log.warning(
                "warning: %s has %d samples at %d Hz, fewer than the model's minimum input of %d; zero-padded "
                "at the end to %d samples (its metrics include the padding).",
                item.origin,
                n,
                sample_rate,
                min_length,
                min_length,
            )
            y = np.pad(y, (0, min_length - n))
        clips.append({"item": item, "y": y, "rate": rate, "samples": n, "padded": n < min_length})
    return clips, failed


def check_babble(clips: Sequence[dict], config: ml_collections.ConfigDict) -> None:
    """ValueError when babble must be made from other clips and there is only one; a warning for
    babble_voices, which then uses synthetic voices alone."""
    types = config.task.noise_types if config.task.name == "denoise" else ()
    if len(clips) > 1:
        return
    if "babble" in types:
        raise ValueError(
            "babble noise is made from the other files (never the file itself), and there is only one "
            "readable file; give at least two, or pick another type with --noise."
        )
    if "babble_voices" in types:
        log.warning(
            "warning: babble_voices is made from the other files and synthetic voices; with one file it uses "
            "synthetic voices only."
        )


def degraded_examples(
    clips: Sequence[dict], config: ml_collections.ConfigDict, seed: int
) -> Iterator[dict]:
    """Clip k of `clips` (from `load_clips`) degraded with the generator of (seed, its source's index),
    as `clip_example` does: `{'id', 'y', 'x', 'baseline', 'mask'}`, each `[time]`.

    Babble pool: every clip, with clip k itself excluded, the way training's evaluation draws from its
    split (`jaxsr.data.eval_clips.eval_examples`), so a split's clips give its examples exactly."""
    from jaxsr.data.records import BABBLE_TYPES

    babble = config.task.name == "denoise" and any(
        t in config.task.noise_types for t in BABBLE_TYPES
    )
    pool = [c["y"] for c in clips] if babble else ()
    for k, clip in enumerate(clips):
        yield clip_example(
            clip["y"],
            config,
            clip["item"].index,
            seed,
            noise_pool=pool,
            clip_id=clip["item"].id,
            exclude=k if babble else None,
        )
