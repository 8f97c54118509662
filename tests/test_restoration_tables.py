"""benchmarks/restoration_tables.py end to end on two held-out speech files, with tiny models trained here."""

from __future__ import annotations

import contextlib
import io
import json

import ml_collections
import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import train_tiny_model

from benchmarks import restoration_tables as rt
from jaxsr import evaluation, metrics
from jaxsr.inference import load
from jaxsr.models import length_multiple, model_from_config


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("restoration")
    common = dict(data__sample_rate=16000, data__patch_length=2048)
    return {
        "denoise": train_tiny_model(
            root / "den",
            task__name="denoise",
            task__snr_db=(0.0, 10.0),
            task__noise_types=("white", "pink"),
            **common,
        ),
        "inpaint": train_tiny_model(
            root / "inp",
            task__name="inpaint",
            task__num_gaps=1,
            task__gap_ms=(10.0, 50.0),
            **common,
        ),
    }


@pytest.fixture(scope="module")
def report(models, speech44k_dir) -> tuple[list[str], dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = rt.main(
            [
                "--quick",
                "--data",
                str(speech44k_dir),
                "--denoise-checkpoint",
                str(models["denoise"]),
                "--inpaint-checkpoint",
                str(models["inpaint"]),
            ]
        )
    assert code == 0
    lines = out.getvalue().strip().splitlines()
    return lines, json.loads(lines[-1])


def test_every_condition_is_reported_with_an_exact_input_snr(report):
    _, result = report
    assert result["n_files"] == 2 and result["sample_rate"] == 16000
    conditions = {(r["noise"], r["snr_db"]) for r in result["denoise"]}
    assert conditions == {(n, s) for n in rt.NOISES for s in rt.INPUT_SNRS}
    for r in result["denoise"]:
        # the mixture is scaled to the exact SNR; noise is independent of speech, so SI-SDR of the input ~= SNR
        assert r["baseline"]["snr"] == pytest.approx(r["snr_db"], abs=1e-3)
        assert r["baseline"]["si_sdr"] == pytest.approx(r["snr_db"], abs=0.3)
        assert np.isfinite(r["model"]["si_sdr"])
    assert [r["gap_ms"] for r in result["inpaint"]] == list(rt.GAPS_MS)
    for r in result["inpaint"]:
        assert r["baseline"]["snr_gap"] < r["baseline"]["snr"]  # the gaps are where the damage is


def test_goals_are_the_table_differences(report):
    lines, result = report
    g = result["goals"]
    at5 = {
        r["noise"]: r["model"]["si_sdr"] - r["baseline"]["si_sdr"]
        for r in result["denoise"]
        if r["snr_db"] == 5
    }
    assert g["denoise_si_sdr_gain_at_5db"] == pytest.approx(at5)
    assert g["denoise_si_sdr_gain_at_5db_mean"] == pytest.approx(np.mean(list(at5.values())))
    assert g["denoise_goal_met"] == (np.mean(list(at5.values())) >= 8.0)
    (r20,) = [r for r in result["inpaint"] if r["gap_ms"] == 20]
    assert g["inpaint_gain_20ms"] == pytest.approx(
        r20["model"]["snr_gap"] - r20["baseline"]["snr_gap"]
    )
    text = "\n".join(lines)
    assert (
        "Goal, SI-SDR improvement at 5 dB input" in text and "Goal, SNR inside 20 ms gaps" in text
    )


def _whole_signal(model, x: np.ndarray) -> np.ndarray:
    """The model applied once to the whole signal (zero-padded to a valid length): no chunking."""
    m = length_multiple(model.config.model.num_blocks)
    xp = np.zeros((1, -(-len(x) // m) * m, 1), np.float32)
    xp[0, : len(x), 0] = x
    return np.asarray(model_from_config(model.config).apply(model.variables, xp, train=False))[
        0, : len(x), 0
    ]


def test_model_column_matches_running_the_model_by_hand(report, models, speech44k_dir):
    """White noise at 5 dB, recomputed without the script's helpers: the 2 first of the 20 files that sort
    last, read with soundfile and resampled with soxr, noised with the documented per-file generator
    (seed 0, file index), checked to be at exactly 5 dB, restored by the model on the whole signal, and
    scored with jaxsr.metrics."""
    _, result = report
    model = load(models["denoise"])
    config = ml_collections.ConfigDict(model.config.to_dict())
    config.task.update(noise_types=("white",), snr_db=(5.0, 5.0))
    scores, inputs = [], []
    for k, path in enumerate(sorted(speech44k_dir.glob("*.flac"))[-20:][:2]):
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        y = soxr.resample(audio.mean(axis=1), rate, 16000, quality="HQ").astype(np.float32)
        x = evaluation.clip_example(y, config, k, 0)["x"]
        noise = x.astype(np.float64) - y
        assert 10 * np.log10(np.sum(y.astype(np.float64) ** 2) / np.sum(noise**2)) == pytest.approx(
            5.0, abs=1e-3
        )
        scores.append(metrics.si_sdr(y, _whole_signal(model, x)))
        inputs.append(metrics.si_sdr(y, x))
    (row,) = [r for r in result["denoise"] if r["noise"] == "white" and r["snr_db"] == 5]
    assert row["model"]["si_sdr"] == pytest.approx(np.mean(scores), abs=1e-3)
    assert row["baseline"]["si_sdr"] == pytest.approx(np.mean(inputs), abs=1e-4)


def test_a_checkpoint_of_another_task_is_a_usage_error(models, speech44k_dir, capsys):
    code = rt.main(
        ["--quick", "--data", str(speech44k_dir), "--denoise-checkpoint", str(models["inpaint"])]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert "--denoise-checkpoint" in captured.err and "inpaint" in captured.err
