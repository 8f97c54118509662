"""Metrics, against hand-worked values and librosa re-implementations of the reference code."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from jaxsr import metrics as M


def _noise(shape, seed: int = 0, scale: float = 0.2) -> np.ndarray:
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


# --------------------------------------------------------------------------------------------- snr
def test_snr_hand_worked():
    # signal energy 4, error energy 1: 10 log10(4) = 6.0206 dB
    assert M.snr([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]) == pytest.approx(6.0206, abs=1e-4)


def test_snr_of_identical_signals_is_very_large():
    x = _noise(1000)
    assert M.snr(x, x) > 150.0


def test_snr_masked_uses_only_masked_samples():
    ref = np.ones(8)
    est = np.array([1, 1, 1, 0, 5, 5, 5, 5], float)  # error outside the mask is ignored
    mask = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    assert M.snr_masked(ref, est, mask) == pytest.approx(10 * np.log10(4), abs=1e-6)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"same shape; got \(10,\) and \(9,\)"):
        M.snr(np.zeros(10), np.zeros(9))


# ------------------------------------------------------------------------------------------ si-sdr
def test_si_sdr_ignores_scale():
    ref = _noise(4000)
    assert M.si_sdr(ref, 3.0 * ref) > 150.0
    assert M.si_sdr(ref, -0.1 * ref) > 150.0


def test_si_sdr_with_orthogonal_noise_is_analytic():
    # sin and cos over whole periods are zero-mean and orthogonal: the projection of est onto ref is ref
    # itself, so SI-SDR = 10 log10(|ref|^2 / |noise|^2) = 10 log10(1 / 0.5**2) = 6.0206 dB, at any scale.
    t = np.arange(16000) / 16000.0
    ref = np.sin(2 * np.pi * 50 * t)
    noise = 0.5 * np.cos(2 * np.pi * 50 * t)
    assert M.si_sdr(ref, ref + noise) == pytest.approx(20 * np.log10(2), abs=1e-6)
    assert M.si_sdr(ref, 4.0 * (ref + noise)) == pytest.approx(20 * np.log10(2), abs=1e-6)


# --------------------------------------------------------------------------------------------- lsd
def test_stft_power_matches_librosa():
    x = _noise(10000, 1)
    want = (
        np.abs(
            librosa.stft(
                x.astype(np.float64), n_fft=2048, hop_length=512, center=True, pad_mode="constant"
            )
        )
        ** 2
    )
    got = M.stft_power(x)
    assert got.shape == want.T.shape == (1 + 10000 // 512, 1025)
    np.testing.assert_allclose(got, want.T, rtol=1e-9, atol=1e-9 * want.max())


def test_lsd_of_identical_signals_is_zero():
    x = _noise(8000)
    assert M.lsd(x, x) == 0.0
    assert M.lsd_paper(x, x) == pytest.approx(1e-4, abs=1e-9)  # sqrt of the reference code's 1e-8


def test_lsd_of_tenfold_amplitude_is_two():
    # |10 X|^2 = 100 |X|^2: log10 power differs by exactly 2 in every bin, so the per-frame RMS is 2.
    x = _noise(8000, 2)
    assert M.lsd(x, 10.0 * x) == pytest.approx(2.0, abs=1e-9)


def _lsd_reference_code(x_hr: np.ndarray, x_pr: np.ndarray) -> float:
    """`get_power` + `compute_log_distortion` from kuleshov/audio-super-res, on librosa's [freq, time].

    Written with today's librosa: `n_fft` is keyword-only and frames are zero-padded (`pad_mode="constant"`,
    the default since librosa 0.10). The original ran on an older librosa that reflect-padded; on 3 s of
    real speech that moves the value by about 0.3%.
    """

    def get_power(x):
        S = librosa.stft(x, n_fft=2048)
        return np.log(np.abs(S) ** 2 + 1e-8)

    S1, S2 = get_power(x_hr), get_power(x_pr)
    lsd = np.mean(np.sqrt(np.mean((S1 - S2) ** 2 + 1e-8, axis=1)), axis=0)
    return min(lsd, 10.0)


@pytest.mark.parametrize("noise_scale", [0.01, 0.1, 1.0])
def test_lsd_paper_matches_reference_code(noise_scale):
    ref = _noise(12000, 3).astype(np.float64)
    est = ref + noise_scale * _noise(12000, 4)
    want = _lsd_reference_code(ref, est)
    assert M.lsd_paper(ref, est) == pytest.approx(want, rel=1e-9)


def test_lsd_paper_is_clipped_at_ten():
    ref = _noise(8000, 5)
    est = np.zeros_like(ref)
    est[::997] = 1e-3  # nearly silent: ln-power differences far above 10
    assert _lsd_reference_code(ref.astype(np.float64), est.astype(np.float64)) == 10.0
    assert M.lsd_paper(ref, est) == 10.0


def test_lsd_paper_differs_from_standard_lsd():
    ref = _noise(8000, 6)
    est = ref + _noise(8000, 7, 0.05)
    assert M.lsd_paper(ref, est) != pytest.approx(M.lsd(ref, est), rel=0.05), (
        "the two LSDs should not coincide"
    )


def test_all_metrics_keys():
    ref = _noise(4000, 8)
    mask = np.zeros(4000, bool)
    mask[100:200] = True
    out = M.all_metrics(ref, ref + _noise(4000, 9, 0.01), 16000, mask=mask)
    assert set(out) == {"snr", "lsd", "lsd_paper", "si_sdr", "snr_gap"}
    assert all(np.isfinite(v) for v in out.values())


# ------------------------------------------------------------------------------------ pesq / stoi
def _speechlike(seconds: float = 3.0, sr: int = 16000) -> np.ndarray:
    """Harmonics of a gliding 140 Hz pitch under a syllable-rate envelope: enough structure for PESQ's
    voice activity detection and STOI's silent-frame removal."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(140 + 20 * np.sin(2 * np.pi * 0.7 * t)) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    return (0.3 * voiced * np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 2).astype(np.float32)


def test_pesq_and_stoi_rank_noisy_below_clean():
    """Optional metrics (packages `pesq`, `pystoi`): clean scores at the top of each scale (wideband PESQ
    at most 4.64, STOI at most 1), and more noise scores lower."""
    y = _speechlike()
    available = [fn for fn in (M.pesq, M.stoi) if fn(y, y, 16000) is not None]
    if not available:
        pytest.skip("neither `pesq` nor `pystoi` is installed (optional: pip install pesq pystoi)")
    n = np.random.default_rng(0).standard_normal(len(y)).astype(np.float32)
    n *= np.sqrt(np.mean(y**2) / np.mean(n**2))
    mild, harsh = y + 0.1 * n, y + n  # 20 dB and 0 dB SNR
    for fn, top in ((M.pesq, 4.65), (M.stoi, 1.0 + 1e-6)):
        if fn in available:
            clean, a, b = fn(y, y, 16000), fn(y, mild, 16000), fn(y, harsh, 16000)
            assert top >= clean > a > b, (fn.__name__, clean, a, b)
    if M.pesq in available:
        assert M.pesq(y, y, 44100) is None  # PESQ is defined at 8 and 16 kHz only


# -------------------------------------------------------------------------------------- jnp forms
def test_snr_jnp_matches_numpy_batched():
    ref = _noise((3, 2, 5000), 10)
    est = ref + _noise((3, 2, 5000), 11, 0.05)
    got = np.asarray(M.snr_jnp(jnp.asarray(ref), jnp.asarray(est)))
    want = np.array([[M.snr(r, e) for r, e in zip(rr, ee)] for rr, ee in zip(ref, est)])
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_lsd_jnp_matches_numpy_batched():
    ref = _noise((3, 6000), 12)
    est = ref + _noise((3, 6000), 13, 0.05)
    got = np.asarray(M.lsd_jnp(jnp.asarray(ref), jnp.asarray(est)))
    want = np.array([M.lsd(r, e) for r, e in zip(ref, est)])
    assert got.shape == (3,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_multires_stft_loss_zero_for_identical_positive_otherwise():
    ref = jnp.asarray(_noise((2, 4096), 14))
    est = ref + jnp.asarray(_noise((2, 4096), 15, 0.05))
    loss = jax.jit(M.multires_stft_loss)  # compiled once for the four calls
    assert float(loss(ref, ref)) < 1e-6
    assert float(loss(ref, est)) > 0.01
    assert float(loss(ref, 0.5 * ref)) > float(loss(ref, 0.9 * ref)) > 0


def test_snr_loss_hand_worked_and_weighs_examples_alike():
    # ref = 1, est = 0.9 over 100 samples: signal 100, error 1, floor 100 * 1e-4 = 0.01, so
    # 10 log10(1.01 / 100) = -19.957 dB. A quiet example with the same relative error scores the same
    # (the MSE would weigh it 1e-4 times as much), and a perfect one sits at the 40 dB floor.
    ref = np.ones((3, 100), np.float32)
    ref[1] *= 0.01
    est = ref * 0.9
    est[2] = ref[2]
    per_example = [10 * np.log10(1.01 / 100), 10 * np.log10(1.01e-4 / 1e-2), -40.0]
    got = float(M.snr_loss(jnp.asarray(ref), jnp.asarray(est)))
    np.testing.assert_allclose(got, np.mean(per_example), atol=1e-3)
    one = float(M.snr_loss(jnp.asarray(ref[:1]), jnp.asarray(est[:1])))
    quiet = float(M.snr_loss(jnp.asarray(ref[1:2]), jnp.asarray(est[1:2])))
    np.testing.assert_allclose([one, quiet], [-19.957, -19.957], atol=2e-3)
    grads = jax.grad(lambda e: M.snr_loss(jnp.asarray(ref), e))(jnp.asarray(ref))
    assert np.all(np.isfinite(np.asarray(grads)))
