"""Evaluation on whole clips: the model against the task's classical baseline.

Used by the training loop (every `train.eval_every` steps), by `launch/evaluate.py` and by the
benchmarks. An example is a dict from `jaxsr.data.eval_clips.eval_examples`:
`{'id', 'y': clean [time], 'x': degraded model input [time], 'baseline': [time], 'mask': [time] | None}`.
"""

from __future__ import annotations

import math
import pathlib
from typing import Iterable, Sequence

import ml_collections
import numpy as np

from jaxsr import metrics as metrics_lib

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
    variables: dict, config: ml_collections.ConfigDict, ex: dict, batch_size: int | None = None
) -> np.ndarray:
    """The model's output `[time]` for example `ex`, as `jaxsr.enhance` gives it: for inpaint (a `mask`)
    only the gaps are replaced, the known samples are kept."""
    from jaxsr.inference import keep_known, run_model  # the chunked, jitted inference path

    y_hat = run_model(variables, config, ex["x"], batch_size=batch_size)
    return y_hat if ex.get("mask") is None else keep_known(y_hat, ex["x"], ex["mask"])


def evaluate(
    variables: dict,
    config: ml_collections.ConfigDict,
    examples: Sequence[dict],
    perceptual: bool = False,
    batch_size: int | None = None,
) -> dict:
    """Metrics of the model and the baseline on every example.

    Returns `{'n_files', 'model': {metric: mean}, 'baseline': {...}, 'model_ci95': {...},
    'baseline_ci95': {...}, 'per_file': [{'id', 'model': {...}, 'baseline': {...}}]}`.
    """
    sr = config.data.sample_rate
    per_file = []
    for ex in examples:
        y_hat = restore(variables, config, ex, batch_size)
        per_file.append(
            {
                "id": ex["id"],
                "model": metrics_lib.all_metrics(ex["y"], y_hat, sr, ex.get("mask"), perceptual),
                "baseline": metrics_lib.all_metrics(
                    ex["y"], ex["baseline"], sr, ex.get("mask"), perceptual
                ),
            }
        )
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
