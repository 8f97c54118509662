"""benchmarks/between_rates.py: a tiny `sr` model (r=4 at 8 kHz, trained here for a few steps) on input at
rates between its own, on synthetic speech in a flat folder (one "speaker") and in one folder per speaker.

The references are computed by hand: soxr and jaxsr.metrics for the scores, numpy and scipy.stats for the
means, the 95% intervals and the per-speaker grouping of the per-file values.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import scipy.stats
import soundfile as sf
import soxr
from conftest import train_tiny_model

from benchmarks import between_rates
from jaxsr import metrics
from jaxsr.data.synthetic import make_corpus

RATE = 8000  # the tiny model's output rate; it takes 2 kHz
WAYS = ("soxr", "reduced", "enhance")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> pathlib.Path:
    return train_tiny_model(tmp_path_factory.mktemp("between_model"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> pathlib.Path:
    """Three speech-like float WAVs at the model's rate (no resampling, no quantisation on reading)."""
    d = tmp_path_factory.mktemp("between_audio")
    for i, clip in enumerate(make_corpus("test", 3, RATE, 0.6, base_seed=5)):
        sf.write(d / f"{'abc'[i]}.wav", clip, RATE, subtype="FLOAT")
    return d


@pytest.fixture(scope="module")
def speakers(tmp_path_factory) -> pathlib.Path:
    """Three "speakers" (s1, s2, s3), two float WAVs each: with `--held-out 5` s1 keeps one file."""
    d = tmp_path_factory.mktemp("between_speakers")
    clips = make_corpus("test", 6, RATE, 0.5, base_seed=7)
    for i, clip in enumerate(clips):
        (d / f"s{i // 2 + 1}").mkdir(exist_ok=True)
        sf.write(d / f"s{i // 2 + 1}" / f"{'ab'[i % 2]}.wav", clip, RATE, subtype="FLOAT")
    return d


def _ci95_half(values: list[float]) -> float:
    """Half the width of the 95% Student t interval of the mean of `values`."""
    lo, hi = scipy.stats.t.interval(
        0.95, len(values) - 1, loc=np.mean(values), scale=scipy.stats.sem(values)
    )
    return (hi - lo) / 2


def test_between_rates_benchmark_scores_the_three_ways(workdir, folder, capsys):
    argv = [
        "--models",
        str(workdir),
        "--data",
        str(folder),
        "--held-out",
        "2",
        "--rates",
        "1000,4000,8000",
        "--json",
    ]
    assert between_rates.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    # The model (sr r=4 at 8 kHz) takes 2 kHz: only 4 kHz lies strictly between.
    (row,) = out["rows"]
    assert row["rate"] == 4000 and row["kept_input_band_hz"] == pytest.approx(1900.0)
    clean = [sf.read(folder / n, dtype="float32")[0] for n in ("b.wav", "c.wav")]
    up = [
        soxr.resample(soxr.resample(y, RATE, 4000, quality="HQ"), 4000, RATE, quality="HQ")[
            : len(y)
        ]
        for y in clean
    ]
    by_hand = [metrics.snr(y, u) for y, u in zip(clean, up)]
    assert [f["id"] for f in row["per_file"]] == [f"{folder.name}/b.wav", f"{folder.name}/c.wav"]
    assert [f["soxr"]["snr"] for f in row["per_file"]] == pytest.approx(by_hand, abs=2e-3)
    assert row["soxr"]["snr"] == pytest.approx(np.mean(by_hand), abs=2e-3)
    # One folder, one speaker: the JSON has its row (the means over all files), the report no table.
    (spk,) = row["per_speaker"]
    assert spk["speaker"] == folder.name and spk["n_files"] == 2
    assert spk["enhance"] == pytest.approx(row["enhance"]["snr"])
    text = between_rates.report(out)
    assert "Per speaker" not in text and "± " in text
    assert between_rates.main(["--models", "no-such-model", "--data", str(folder)]) == 2
    assert "--models no-such-model" in capsys.readouterr().err


def test_intervals_and_per_speaker_rows_match_the_per_file_scores(workdir, speakers, capsys):
    argv = ["--models", str(workdir), "--data", str(speakers), "--held-out", "5"]
    assert between_rates.main(argv + ["--rates", "4000,6000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["rate"] for r in out["rows"]] == [4000, 6000] and out["n_files"] == 5
    ids = ["s1/b.wav", "s2/a.wav", "s2/b.wav", "s3/a.wav", "s3/b.wav"]
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(ids):
        groups.setdefault(name.split("/")[0], []).append(i)
    for row in out["rows"]:
        files = row["per_file"]
        assert [f["id"] for f in files] == ids
        for k in WAYS:
            for m in ("snr", "lsd"):
                v = [f[k][m] for f in files]
                assert row[k][m] == pytest.approx(np.mean(v), abs=1e-9), (k, m)
                assert row["ci95"][k][m] == pytest.approx(_ci95_half(v), rel=1e-9), (k, m)
                assert row["ci95"][k][m] > 0
        gain = [f["enhance"]["snr"] - max(f["soxr"]["snr"], f["reduced"]["snr"]) for f in files]
        assert [s["speaker"] for s in row["per_speaker"]] == ["s1", "s2", "s3"]
        for s in row["per_speaker"]:
            idx = groups[s["speaker"]]
            assert s["n_files"] == len(idx)
            assert s["enhance"] == pytest.approx(np.mean([files[i]["enhance"]["snr"] for i in idx]))
            assert s["gain"] == pytest.approx(np.mean([gain[i] for i in idx]))
    # The report: the intervals in the table, and a row per speaker with each rate's gain.
    text = between_rates.report(out)
    r4, r6 = out["rows"]
    assert f"**{r4['enhance']['snr']:.2f} ± {r4['ci95']['enhance']['snr']:.2f}**" in text
    assert "Per speaker" in text and "| speaker | files |" in text
    for j, spk in enumerate(("s1", "s2", "s3")):
        gains = " | ".join(f"{r['per_speaker'][j]['gain']:+.2f}" for r in (r4, r6))
        assert f"| {spk} | {len(groups[spk])} | {gains} |" in text
