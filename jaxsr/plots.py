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


def save_spectrograms(
    path: str | pathlib.Path,
    signals: dict[str, np.ndarray],
    sample_rate: int,
    title: str = "",
    n_fft: int = 1024,
) -> pathlib.Path:
    """Save side-by-side log spectrograms of `signals` (name -> `[time]`) on a shared colour scale
    (`n_fft`-point frames, hop `n_fft // 4`); returns the PNG's path."""
    # A bare Figure, not pyplot: no GUI backend is needed and a notebook's inline backend is left alone.
    from matplotlib.figure import Figure

    from jaxsr.metrics import stft_power  # the one STFT of jaxsr (Hann window, centred frames)

    fig = Figure(figsize=(4.2 * len(signals), 3.4))
    axes = fig.subplots(1, len(signals), sharey=True, squeeze=False)
    hop, pad = n_fft // 4, n_fft // 2
    for ax, (name, x) in zip(axes[0], signals.items()):
        x = np.asarray(x, np.float64).reshape(-1)
        power = stft_power(x, n_fft, hop)  # [frames, bins], frame k centred on sample k * hop
        if len(x) >= n_fft:
            # Only the frames wholly inside the signal: the zero padding of the centred end frames would
            # paint a broadband onset stripe at both edges that is not in the audio.
            power = power[-(-pad // hop) : (len(x) - n_fft + pad) // hop + 1]
        spec_db = 10 * np.log10(power + 1e-10).T
        extent = (0, max(len(x), n_fft) / sample_rate, 0, sample_rate / 2000)
        ax.imshow(
            spec_db, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=-100, vmax=20
        )
        ax.set_title(name)
        ax.set_xlabel("time (s)")
    axes[0][0].set_ylabel("frequency (kHz)")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
