"""Spectrogram figures (matplotlib, headless) used by training reports and the enhance CLI."""

from __future__ import annotations

import pathlib

import numpy as np


def save_figure(fig, path: str | pathlib.Path, dpi: int = 90) -> pathlib.Path:
    """Write a matplotlib `Figure` as a PNG at `path` (parents created) through a temporary file, so
    nobody ever reads half a PNG."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    tmp.replace(path)
    return path


def save_spectrograms(path: str | pathlib.Path, signals: dict[str, np.ndarray], sample_rate: int,
                      title: str = "", n_fft: int = 1024) -> pathlib.Path:
    """Save side-by-side log spectrograms of `signals` (name -> `[time]`) on a shared colour scale."""
    # A bare Figure, not pyplot: no GUI backend is needed and a notebook's inline backend is left alone.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(signals), 3.4))
    axes = fig.subplots(1, len(signals), sharey=True, squeeze=False)
    hop = n_fft // 4
    window = np.hanning(n_fft)
    for ax, (name, x) in zip(axes[0], signals.items()):
        x = np.asarray(x, np.float64).reshape(-1)
        if len(x) < n_fft:
            x = np.pad(x, (0, n_fft - len(x)))
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * window
        spec_db = 10 * np.log10(np.abs(np.fft.rfft(frames, axis=-1)) ** 2 + 1e-10).T
        extent = (0, len(x) / sample_rate, 0, sample_rate / 2000)
        ax.imshow(spec_db, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=-100, vmax=20)
        ax.set_title(name)
        ax.set_xlabel("time (s)")
    axes[0][0].set_ylabel("frequency (kHz)")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
