"""PNG figures of benchmark results (matplotlib, headless): quality vs ratio and throughput vs batch size."""

from __future__ import annotations

import math
import pathlib
from typing import Any, Mapping, Sequence

DPI = 120


def _save(fig, path: str | pathlib.Path) -> pathlib.Path:
    from jaxsr.plots import save_figure

    return save_figure(fig, path, DPI)


def _half_width(ci: Any) -> float:
    """Error-bar half-width from a ci95 entry: `jaxsr.evaluation.mean_ci95` gives a half-width; a (lo, hi)
    pair is also accepted. NaN (no spread known) becomes 0 so that errorbar still draws the point."""
    if isinstance(ci, (list, tuple)):
        ci = (ci[1] - ci[0]) / 2
    return 0.0 if ci is None or not math.isfinite(ci) else float(ci)


def plot_quality_vs_ratio(
    results: dict,
    path: str | pathlib.Path,
    sample_rate: int,
    titles: Mapping[str, str] | None = None,
) -> pathlib.Path:
    """SNR and LSD (log10) against the ratio r, one line per (dataset, method), with 95% CI error bars.

    `results` is `benchmarks.paper_table`'s: `{dataset: {"n_files": N, "ratios": {r: {"spline": {...},
    "spline_ci95": {...}, "unet": {...} | None, "unet_ci95": {...} | None}}}}`; `titles` names the datasets
    in the legend (`paper_table.TITLES`; default: their keys). Spline lines are dashed, U-Net lines solid
    in the dataset's colour; a U-Net line has points only where a model was given.
    """
    # A bare Figure, not pyplot: no GUI backend, safe in threads, a notebook's backend is left alone.
    from matplotlib.figure import Figure

    titles = titles or {}
    fig = Figure(figsize=(10, 4.6))
    axes = fig.subplots(1, 2)
    panels = (("snr", "SNR (dB), higher is better"), ("lsd", "LSD (log10), lower is better"))
    colours = [f"C{i}" for i in range(10)]
    for i, (name, res) in enumerate(results.items()):
        # Spline and U-Net points sit a little either side of r so that their error bars do not overlap.
        for method, style, label, dx in (
            ("spline", "--", "spline", -0.04),
            ("unet", "-", "U-Net", 0.04),
        ):
            cells = [
                (r, c)
                for r, c in sorted(res["ratios"].items(), key=lambda kv: int(kv[0]))
                if c.get(method)
            ]
            if not cells:
                continue
            for ax, (metric, _) in zip(axes, panels):
                ci = [_half_width((c.get(f"{method}_ci95") or {}).get(metric)) for _, c in cells]
                ax.errorbar(
                    [int(r) + dx for r, _ in cells],
                    [c[method][metric] for _, c in cells],
                    yerr=ci,
                    linestyle=style,
                    marker="o",
                    capsize=3,
                    color=colours[i % len(colours)],
                    label=f"{titles.get(name, name)} {label}",
                )
    ratios = sorted({int(r) for res in results.values() for r in res["ratios"]})
    for ax, (_, ylabel) in zip(axes, panels):
        ax.set_xlabel("downsampling ratio r")
        ax.set_ylabel(ylabel)
        ax.set_xticks(ratios)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    counts = ", ".join(
        f"{titles.get(n, n)}: {res['n_files']} clip{'s' * (res['n_files'] != 1)}"
        for n, res in results.items()
    )
    fig.suptitle(
        f"Super-resolution quality at {sample_rate} Hz; bars: 95% CI of the mean\n{counts}",
        fontsize=11,
    )
    return _save(fig, path)


def plot_throughput(
    rows: Sequence[Any], path: str | pathlib.Path, device: str | None = None
) -> pathlib.Path:
    """Examples (patches) per second = batch / median step time against batch size (log2 axis): one panel per
    (model, mode), a row of panels per model, one line per implementation (colour) and dtype (f32 solid, bf16
    dashed). `rows` are `benchmarks.speed.Row`s or their `asdict` dicts; failed rows (no time) are left out."""
    from matplotlib.figure import Figure

    def get(r, k):
        return r[k] if isinstance(r, dict) else getattr(r, k)

    points: dict[
        tuple[str, str], dict[tuple[str, str], list[tuple[int, float]]]
    ] = {}  # panel -> line -> xy
    for r in rows:
        if get(r, "seconds"):
            panel = points.setdefault((get(r, "model"), get(r, "mode")), {})
            batch = get(r, "batch")
            panel.setdefault((get(r, "impl"), get(r, "dtype")), []).append(
                (batch, batch / get(r, "seconds"))
            )
    if not points:
        raise ValueError("no timed rows to plot")
    models = list(dict.fromkeys(m for m, _ in points))
    modes = list(dict.fromkeys(mode for _, mode in points))
    # A fixed colour per implementation, so that a line missing from one panel (a failed run) shifts no other.
    impls = list(dict.fromkeys(impl for lines in points.values() for impl, _ in lines))
    colour = {impl: f"C{i % 10}" for i, impl in enumerate(impls)}
    fig = Figure(figsize=(5 * len(modes), 3.8 * len(models) + 0.4))
    axes = fig.subplots(len(models), len(modes), squeeze=False)
    for i, model in enumerate(models):
        for j, mode in enumerate(modes):
            ax, lines = axes[i][j], points.get((model, mode))
            if not lines:
                ax.set_axis_off()
                continue
            for (impl, dtype), xy in lines.items():
                batches, rates = zip(*sorted(xy))
                ax.plot(
                    batches,
                    rates,
                    marker="o",
                    color=colour[impl],
                    linestyle="--" if dtype == "bfloat16" else "-",
                    label=f"{impl} {'bf16' if dtype == 'bfloat16' else 'f32'}",
                )
            batches = sorted({b for xy in lines.values() for b, _ in xy})
            ax.set_xscale("log", base=2)
            ax.set_xticks(batches, [str(b) for b in batches])
            ax.minorticks_off()
            ax.set_ylim(bottom=0)
            ax.set_title(f"{model}, {mode}")
            ax.set_xlabel("batch size")
            ax.set_ylabel("examples (patches) / s")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(
        "Throughput" + (f" on {device}" if device else "") + " (median step time), higher is better"
    )
    return _save(fig, path)
