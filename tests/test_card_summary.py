"""benchmarks/card_summary.py: what a model card says, from a benchmark's JSON written out by hand here."""

from __future__ import annotations

from benchmarks import card_summary


def _denoise_result(with_rumble: bool) -> dict:
    speakers = [
        {"speaker": "A", "n_files": 2, "gain": 1.0, "clean": 9.0},
        {"speaker": "B", "n_files": 3, "gain": 5.5, "clean": 30.0},
    ]
    if with_rumble:
        speakers[0].update(clean_above_rumble=27.0, below_rumble_db=-7.0)
        speakers[1].update(clean_above_rumble=30.5, below_rumble_db=-40.0)
    cell = {"noise": "white", "snr_db": 0.0, "noisy": 0.0, "model": 8.0, "gain_db": 8.0}
    clean = {
        "noise": "clean",
        "snr_db": float("inf"),
        "noisy": None,
        "model": 19.5,
        "gain_db": None,
    }
    return {
        "benchmark": "denoise_robustness",
        "n_files": 5,
        "cells": [cell, clean],
        "goals": {
            "mean_gain": {"gain_db": 8.0},
            "worst_cell": {"gain_db": 8.0},
            "clean_in": {"si_sdr_db": 19.5, **({"above_rumble_db": 28.75} if with_rumble else {})},
        },
        "per_speaker": speakers,
    }


def test_denoise_card_shows_clean_speech_above_60_hz_and_the_rumble_share():
    head, text = card_summary.summarize(_denoise_result(True))
    assert "clean speech in: 19.5 dB out" in head
    assert "above 60 Hz: 28.75 dB" in text
    assert "| A | 2 | +1.00 | 9.00 | 27.00 | -7.00 |" in text
    assert "| B | 3 | +5.50 | 30.00 | 30.50 | -40.00 |" in text


def test_denoise_card_of_an_older_benchmark_has_no_rumble_columns():
    _, text = card_summary.summarize(_denoise_result(False))
    assert "60 Hz" not in text
    assert "| A | 2 | +1.00 | 9.00 |" in text
