"""What a new user meets first: clipping reported, sample formats kept, models suggested by meaning, a short
repr, a quiet command line."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import jaxsr
from jaxsr import pretrained
from jaxsr.cli import enhance as enhance_cli
from conftest import train_tiny_model


@pytest.fixture(scope="module")
def inpaint_workdir(tmp_path_factory):
    return train_tiny_model(tmp_path_factory.mktemp("inpaint"), task__name="inpaint")


def test_enhance_reports_output_past_full_scale(inpaint_workdir):
    model = jaxsr.load(str(inpaint_workdir))
    # A constant offset on the network's last layer: every restored sample moves up by 0.05.
    params = dict(model.variables["params"])
    params["final"] = {**params["final"], "bias": np.full_like(params["final"]["bias"], 0.05)}
    loud = jaxsr.inference.Model.from_variables({**model.variables, "params": params}, model.config)
    x = (0.99 * np.sin(np.arange(4096) / 7.0)).astype(np.float32)
    y, info = jaxsr.enhance(loud, x, sample_rate=8000, return_info=True)
    past = int(np.count_nonzero(np.abs(y) > 1.0))  # by hand: what an integer PCM file would clip
    assert past > 0 and info["output_clipped_samples"] >= past
    assert info["clipped_samples"] == int(np.count_nonzero(np.abs(x) >= 0.999))


@pytest.mark.parametrize("fmt,subtype", [("flac", "PCM_24"), ("wav", "FLOAT"), ("wav", "PCM_16")])
def test_gap_filling_keeps_the_given_samples_bit_exact_in_the_inputs_format(
    inpaint_workdir, tmp_path, fmt, subtype
):
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(6000)).astype(np.float32)
    x = np.round(x * 2**15) / 2**15 if subtype == "PCM_16" else x
    x[2000:2200] = 0.0  # a 25 ms dropout at 8 kHz
    src = tmp_path / f"in.{fmt}"
    sf.write(src, x, 8000, subtype=subtype)
    out = tmp_path / "out"
    assert (
        enhance_cli.main(
            [
                "--checkpoint",
                str(inpaint_workdir),
                str(src),
                "-o",
                str(out),
                "--gaps-from-zeros",
                "5",
                "--quiet",
            ]
        )
        == 0
    )
    dst = out / f"in.{fmt}"
    assert sf.info(dst).subtype == subtype
    kind = "float32" if subtype == "FLOAT" else "int32"
    given, restored = sf.read(src, dtype=kind)[0], sf.read(dst, dtype=kind)[0]
    keep = np.ones(len(x), bool)
    keep[2000:2200] = False
    np.testing.assert_array_equal(restored[keep], given[keep])
    assert np.any(restored[~keep] != 0)  # the gap was filled


def test_subtype_flag_chooses_the_output_format(inpaint_workdir, tmp_path):
    x = (0.1 * np.sin(np.arange(4000) / 5.0)).astype(np.float32)
    sf.write(tmp_path / "in.flac", x, 8000, subtype="PCM_24")
    assert (
        enhance_cli.main(
            [
                "--checkpoint",
                str(inpaint_workdir),
                str(tmp_path / "in.flac"),
                "-o",
                str(tmp_path / "o"),
                "--subtype",
                "PCM_16",
                "--quiet",
            ]
        )
        == 0
    )
    assert sf.info(tmp_path / "o" / "in.flac").subtype == "PCM_16"


def test_quiet_prints_no_per_file_lines(inpaint_workdir, tmp_path, capfd):
    x = (0.1 * np.sin(np.arange(4000) / 5.0)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 8000)
    assert (
        enhance_cli.main(
            [
                "--checkpoint",
                str(inpaint_workdir),
                str(tmp_path / "a.wav"),
                "-o",
                str(tmp_path / "o"),
                "--quiet",
            ]
        )
        == 0
    )
    err = capfd.readouterr().err
    assert "restoring" not in err and "restored" not in err


@pytest.mark.parametrize(
    "typed,meant",
    [
        ("speech-sr-4x-16k", "speech-sr-x4-16k"),
        ("sr-x8", "speech-sr-x8-16k"),
        ("denoise", "speech-denoise-16k"),
        ("48k-sr", "speech-sr-x3-48k"),
    ],
)
def test_a_mistyped_model_name_suggests_the_model_it_means(typed, meant):
    assert f"did you mean {meant!r}?" in str(pretrained.unknown_name_error(typed))


def test_a_model_prints_as_one_short_line():
    text = repr(jaxsr.load("speech-sr-x4-16k"))
    assert "\n" not in text and len(text) < 200 and "sr x4" in text and "16000 Hz" in text
