"""Quality metrics: SNR, LSD (standard and the reference code's variant), SI-SDR, PESQ/STOI wrappers.

Conventions: `ref` is the clean target, `est` the estimate, both `[time]` (numpy) or `[..., time]`
(the jnp forms, batched over leading axes). Higher is better for SNR, SI-SDR, PESQ and STOI; lower is
better for LSD.

LSD, two definitions (compare like with like):

* `lsd` — the standard per-frame definition (Kuleshov et al. 2017 eq. 4; NU-Wave, NVSR, ...):
  `X = log10 |STFT|^2`, per frame the root-mean-square over frequency of `X_ref - X_est`, then the
  mean over frames. STFT: 2048-point Hann window, hop 512, frames centred with zero padding (as
  `librosa.stft(center=True, pad_mode="constant")`), power floored at 1e-10 before the log.
* `lsd_paper` — what the reference code (`compute_log_distortion` in kuleshov/audio-super-res)
  actually computes, used for the paper's published tables: `X = ln(|STFT|^2 + 1e-8)` with the same
  2048/512 STFT, then `mean_f sqrt(mean_t (X_ref - X_est)^2 + 1e-8)` — mean over *time* inside the
  square root, over frequency outside — clipped at 10. Natural log makes it about 2.3x the log10 form.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

N_FFT = 2048
HOP = 512
_EPS = 1e-20


def _pair(ref, est):
    ref = np.asarray(ref, np.float64)
    est = np.asarray(est, np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"ref and est must have the same shape; got {ref.shape} and {est.shape}")
    if ref.size == 0:
        raise ValueError("ref and est are empty")
    return ref, est


def snr(ref: np.ndarray, est: np.ndarray) -> float:
    """Signal-to-noise ratio in dB: `10 log10(sum ref^2 / sum (ref - est)^2)`."""
    ref, est = _pair(ref, est)
    return float(10.0 * np.log10((np.sum(ref**2) + _EPS) / (np.sum((ref - est) ** 2) + _EPS)))


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019), both signals made zero-mean first."""
    ref, est = _pair(ref, est)
    ref = ref - ref.mean()
    est = est - est.mean()
    alpha = np.dot(est, ref) / (np.dot(ref, ref) + _EPS)
    target = alpha * ref
    return float(10.0 * np.log10((np.sum(target**2) + _EPS) / (np.sum((est - target) ** 2) + _EPS)))


def stft_power(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Power spectrogram `[frames, n_fft // 2 + 1]`: periodic Hann window, centred frames with zero
    padding of `n_fft // 2` on both sides (librosa's `center=True, pad_mode="constant"`)."""
    x = np.asarray(x, np.float64)
    pad = n_fft // 2
    xp = np.pad(x, (pad, pad))
    n_frames = 1 + (len(xp) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(xp[idx] * window, axis=-1)) ** 2


def lsd(ref: np.ndarray, est: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> float:
    """Standard log-spectral distance (log10 power; RMS over frequency per frame; mean over frames)."""
    ref, est = _pair(ref, est)
    a = np.log10(np.maximum(stft_power(ref, n_fft, hop), 1e-10))
    b = np.log10(np.maximum(stft_power(est, n_fft, hop), 1e-10))
    return float(np.mean(np.sqrt(np.mean((a - b) ** 2, axis=-1))))


def lsd_paper(ref: np.ndarray, est: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> float:
    """The reference code's LSD (see module docstring): ln power, time inside the root, clipped at 10."""
    ref, est = _pair(ref, est)
    a = np.log(stft_power(ref, n_fft, hop) + 1e-8)
    b = np.log(stft_power(est, n_fft, hop) + 1e-8)
    value = np.mean(np.sqrt(np.mean((a - b) ** 2 + 1e-8, axis=0)))  # axis 0 is time here
    return float(min(value, 10.0))


def band_snr(
    ref: np.ndarray, est: np.ndarray, sample_rate: float, low_hz: float, high_hz: float
) -> float:
    """SNR in dB inside the band `[low_hz, high_hz)`: both signals' whole-clip spectra (one real FFT each),
    the error's energy in the band against the reference's there. Where a band-limited input's own band
    ends, this tells what a restorer did to the band it was given apart from what it added above."""
    ref, est = _pair(ref, est)
    freqs = np.fft.rfftfreq(ref.shape[-1], 1.0 / sample_rate)
    band = (freqs >= low_hz) & (freqs < high_hz)
    r = np.fft.rfft(ref, axis=-1)[..., band]
    e = np.fft.rfft(ref - est, axis=-1)[..., band]
    return float(10.0 * np.log10((np.sum(np.abs(r) ** 2) + _EPS) / (np.sum(np.abs(e) ** 2) + _EPS)))


def snr_masked(ref: np.ndarray, est: np.ndarray, mask: np.ndarray) -> float:
    """SNR restricted to the samples where `mask` is True (e.g. inside inpainting gaps)."""
    ref, est = _pair(ref, est)
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("mask selects no samples")
    return snr(ref[mask], est[mask])


def pesq(ref: np.ndarray, est: np.ndarray, sample_rate: int) -> float | None:
    """Wideband PESQ (16 kHz) or narrowband (8 kHz) when the `pesq` package is installed, else None."""
    try:
        from pesq import pesq as _pesq  # optional dependency
    except ImportError:
        return None
    if sample_rate not in (8000, 16000):
        return None
    mode = "wb" if sample_rate == 16000 else "nb"
    try:
        return float(
            _pesq(sample_rate, np.asarray(ref, np.float32), np.asarray(est, np.float32), mode)
        )
    except Exception:  # PESQ refuses silent or very short signals; the metric is optional
        return None


def stoi(ref: np.ndarray, est: np.ndarray, sample_rate: int) -> float | None:
    """STOI when the `pystoi` package is installed, else None."""
    try:
        from pystoi import stoi as _stoi  # optional dependency
    except ImportError:
        return None
    return float(
        _stoi(np.asarray(ref, np.float64), np.asarray(est, np.float64), sample_rate, extended=False)
    )


def all_metrics(
    ref: np.ndarray,
    est: np.ndarray,
    sample_rate: int,
    mask: np.ndarray | None = None,
    perceptual: bool = False,
) -> dict[str, float]:
    """Every metric that applies, as a dict (`snr`, `lsd`, `lsd_paper`, `si_sdr`, [`snr_gap`, `pesq`, `stoi`])."""
    out = {
        "snr": snr(ref, est),
        "lsd": lsd(ref, est),
        "lsd_paper": lsd_paper(ref, est),
        "si_sdr": si_sdr(ref, est),
    }
    if mask is not None and np.any(mask):
        out["snr_gap"] = snr_masked(ref, est, mask)
    if perceptual:
        for name, fn in (("pesq", pesq), ("stoi", stoi)):
            v = fn(ref, est, sample_rate)
            if v is not None:
                out[name] = v
    return out


# ------------------------------------------------------------------------------------- jnp forms
def snr_jnp(ref: jax.Array, est: jax.Array) -> jax.Array:
    """Batched SNR in dB over the last axis: `[..., time] -> [...]`."""
    ref = ref.astype(jnp.float32)
    est = est.astype(jnp.float32)
    num = jnp.sum(ref**2, axis=-1) + 1e-12
    den = jnp.sum((ref - est) ** 2, axis=-1) + 1e-12
    return 10.0 * jnp.log10(num / den)


def snr_loss(ref: jax.Array, est: jax.Array, max_snr_db: float = 40.0) -> jax.Array:
    """Negative SNR in dB, averaged over examples: `[batch, time]` pairs -> a scalar.

    Unlike the MSE it is the same for an error 20 dB under a quiet example as under a loud one, so every
    example counts alike. The error's energy is floored at `max_snr_db` under the reference's, so an example
    already restored that well (clean speech passed through) stops pulling and its gradient stays finite.
    """
    ref = ref.astype(jnp.float32)
    est = est.astype(jnp.float32)
    signal = jnp.sum(ref**2, axis=-1) + 1e-9
    error = jnp.sum((ref - est) ** 2, axis=-1) + signal * 10.0 ** (-max_snr_db / 10.0)
    return jnp.mean(10.0 * jnp.log10(error / signal))


def _stft_jnp(x: jax.Array, n_fft: int, hop: int) -> jax.Array:
    """Magnitude STFT `[..., time] -> [..., frames, n_fft // 2 + 1]`, centred, Hann window."""
    pad = n_fft // 2
    xp = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)])
    n_frames = 1 + (xp.shape[-1] - n_fft) // hop
    idx = jnp.arange(n_fft)[None, :] + hop * jnp.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * jnp.cos(2 * jnp.pi * jnp.arange(n_fft) / n_fft)
    return jnp.abs(jnp.fft.rfft(xp[..., idx] * window, axis=-1))


def lsd_jnp(ref: jax.Array, est: jax.Array, n_fft: int = N_FFT, hop: int = HOP) -> jax.Array:
    """Batched standard LSD: `[..., time] -> [...]` (same definition as `lsd`)."""
    a = jnp.log10(jnp.maximum(_stft_jnp(ref.astype(jnp.float32), n_fft, hop) ** 2, 1e-10))
    b = jnp.log10(jnp.maximum(_stft_jnp(est.astype(jnp.float32), n_fft, hop) ** 2, 1e-10))
    return jnp.mean(jnp.sqrt(jnp.mean((a - b) ** 2, axis=-1)), axis=-1)


def multires_stft_loss(
    ref: jax.Array,
    est: jax.Array,
    resolutions: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512)),
) -> jax.Array:
    """Multi-resolution STFT loss (Yamamoto et al. 2020): spectral convergence + log-magnitude L1,
    averaged over resolutions. `[batch, time] -> scalar`."""
    total = 0.0
    for n_fft, hop in resolutions:
        a = _stft_jnp(ref.astype(jnp.float32), n_fft, hop)
        b = _stft_jnp(est.astype(jnp.float32), n_fft, hop)
        sc = jnp.sqrt(jnp.sum((a - b) ** 2) + 1e-12) / jnp.sqrt(jnp.sum(a**2) + 1e-12)
        mag = jnp.mean(jnp.abs(jnp.log(a + 1e-5) - jnp.log(b + 1e-5)))
        total = total + sc + mag
    return total / len(resolutions)
