"""benchmarks/sr_headroom.py: band energies against Parseval and a hand-worked two-tone signal."""

from __future__ import annotations

import json
import subprocess
import sys
import pathlib

import numpy as np
import pytest
import soundfile as sf

from benchmarks import sr_headroom

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("n", [4000, 4001])
def test_band_energies_sum_to_the_signal_energy(n):
    y = np.random.default_rng(n).standard_normal(n)
    bands = sr_headroom.band_energies(y, 16000, sr_headroom.octave_edges(16000, 4))
    assert len(bands) == 3  # 0-2 kHz, 2-4 kHz, 4-8 kHz
    np.testing.assert_allclose(bands.sum(), np.sum(y**2), rtol=1e-9)


def test_two_tones_split_as_worked_by_hand():
    # 1 s at 16 kHz: 500 Hz at amplitude 0.5 (kept at 4 kHz) and 3 kHz at 0.1 (lost): energies A^2 N / 2.
    rate, n = 16000, 16000
    t = np.arange(n) / rate
    y = 0.5 * np.sin(2 * np.pi * 500 * t) + 0.1 * np.sin(2 * np.pi * 3000 * t)
    bands = sr_headroom.band_energies(y, rate, sr_headroom.octave_edges(rate, 4))
    np.testing.assert_allclose(bands, [0.25 * n / 2, 0.01 * n / 2, 0.0], atol=1e-6)
    row = sr_headroom.file_row(y.astype(np.float32), rate, 4, ["soxr_hq"])
    assert row["oracle_snr"] == pytest.approx(10 * np.log10(0.26 / 0.01), abs=1e-4)  # 14.15 dB
    assert row["octaves_db"][0] == pytest.approx(10 * np.log10(0.01 / 0.26), abs=1e-4)
    # The spline cannot beat the oracle: everything above 2 kHz is gone from its input.
    assert row["spline_snr"] <= row["oracle_snr"] + 1e-6


def test_the_script_writes_its_section(tmp_path):
    data = tmp_path / "speech"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(data / f"f{i}.wav", 0.1 * rng.standard_normal(8000).astype(np.float32), 16000)
    results = tmp_path / "RESULTS.md"
    results.write_text("# results\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.sr_headroom",
            "--data",
            str(data),
            "--held-out",
            "2",
            "--ratios",
            "2,4",
            "--json",
            "--write-results",
            str(results),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert [row["ratio"] for row in out["rows"]] == [2, 4] and out["n_files"] == 2
    # White noise: the missing band holds (1 - 1/r) of the energy, so the oracle's SNR is -10 log10(1 - 1/r).
    for row in out["rows"]:
        assert row["oracle_snr"] == pytest.approx(-10 * np.log10(1 - 1 / row["ratio"]), abs=0.3)
    text = results.read_text()
    assert "<!-- sr-headroom-data:begin -->" in text and "| 4 | 4000 Hz |" in text
    # Both files sit in one folder, one "speaker": its row is the mean of the two files.
    for row in out["rows"]:
        (spk,) = row["per_speaker"]
        assert spk["n_files"] == 2 and spk["spline_snr"] == pytest.approx(row["spline_snr"])
    assert (
        "Per speaker" not in text
    )  # one speaker: the JSON keeps its row, the report does not repeat it
    bad = subprocess.run(
        [sys.executable, "-m", "benchmarks.sr_headroom", "--data", str(data), "--ratios", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "--ratios" in bad.stderr
