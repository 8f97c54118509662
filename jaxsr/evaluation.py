"""Evaluation on whole clips: the model against the task's classical baseline.

Used by the training loop (every `train.eval_every` steps), by `launch/evaluate.py` and by the
benchmarks. An example is a dict from `jaxsr.data.pipeline.eval_examples`:
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
# Direction of each metric, for tables: +1 higher is better, -1 lower is better.
DIRECTION = {"snr": 1, "lsd": -1, "lsd_paper": -1, "si_sdr": 1, "snr_gap": 1, "pesq": 1, "stoi": 1}


def evaluate(variables: dict, config: ml_collections.ConfigDict, examples: Sequence[dict],
             perceptual: bool = False, batch_size: int | None = None) -> dict:
    """Metrics of the model and the baseline on every example.

    Returns `{'n_files', 'model': {metric: mean}, 'baseline': {...}, 'model_ci95': {...},
    'baseline_ci95': {...}, 'per_file': [{'id', 'model': {...}, 'baseline': {...}}]}`.
    """
    from jaxsr.enhance import run_model  # the chunked, jitted inference path

    sr = config.data.sample_rate
    per_file = []
    for ex in examples:
        y_hat = run_model(variables, config, ex["x"], batch_size=batch_size)
        per_file.append({
            "id": ex["id"],
            "model": metrics_lib.all_metrics(ex["y"], y_hat, sr, ex.get("mask"), perceptual),
            "baseline": metrics_lib.all_metrics(ex["y"], ex["baseline"], sr, ex.get("mask"), perceptual),
        })
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
        keys = [k for k in per_file[0][who]] if per_file else []
        stats = {k: mean_ci95(f[who][k] for f in per_file if k in f[who]) for k in keys}
        out[who] = {k: s[0] for k, s in stats.items()}
        out[who + "_ci95"] = {k: s[1] for k, s in stats.items()}
    return out


def flat_summary(summary: dict, prefix: str = "") -> dict:
    return {f"{prefix}{who}/{k}": v for who in ("model", "baseline") for k, v in summary.get(who, {}).items()}


def one_line(summary: dict) -> str:
    m, b = summary["model"], summary["baseline"]
    return " ".join(f"{k} {m[k]:.2f} (base {b[k]:.2f})" for k in ("snr", "lsd", "si_sdr") if k in m)


def format_table(summary: dict, config: ml_collections.ConfigDict | None = None, ci: bool = False) -> str:
    """A Markdown table: one row per metric, model vs baseline (and the difference)."""
    task = config.task.name if config is not None else ""
    base_name = BASELINE_NAMES.get(task, "baseline")
    title = ""
    if config is not None:
        detail = f"r={config.task.ratio}" if task == "sr" else ""
        title = (f"{task} {detail} on {summary['n_files']} held-out {config.data.name} clips at "
                 f"{config.data.sample_rate} Hz\n\n").replace("  ", " ")
    rows = [f"| metric | {base_name} | model | change |", "|---|---|---|---|"]
    for k in summary["model"]:
        m, b = summary["model"][k], summary["baseline"][k]
        cell = (lambda v, key: f"{v:.3f} ± {summary[key][k]:.3f}") if ci else (lambda v, key: f"{v:.3f}")
        arrow = "better" if (m - b) * DIRECTION.get(k, 1) > 0 else "worse"
        rows.append(f"| {k} | {cell(b, 'baseline_ci95')} | {cell(m, 'model_ci95')} | {m - b:+.3f} ({arrow}) |")
    return title + "\n".join(rows)


def save_examples(workdir: pathlib.Path, variables: dict, config: ml_collections.ConfigDict,
                  examples: Sequence[dict], writer=None, step: int = 0) -> list[pathlib.Path]:
    """Write degraded / restored / reference WAVs and a spectrogram PNG per example into `workdir/examples`."""
    from jaxsr.audio_io import write_audio
    from jaxsr.enhance import run_model
    from jaxsr.plots import save_spectrograms

    out_dir = pathlib.Path(workdir) / "examples"
    sr = config.data.sample_rate
    written = []
    for ex in examples:
        restored = run_model(variables, config, ex["x"])
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
