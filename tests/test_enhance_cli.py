"""launch/enhance.py end to end, with a tiny model trained here (sr, r=4, 8 kHz target, 2 kHz input)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from conftest import train_tiny_model
import soundfile as sf

from jaxsr import inference as E
from jaxsr.audio_io import read_audio

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / "launch" / "enhance.py"


def _load_cli():
    spec = importlib.util.spec_from_file_location("enhance_cli", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cli = _load_cli()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> pathlib.Path:
    return train_tiny_model(tmp_path_factory.mktemp("cli_model"))


def _tone(n, rate, f, channels=1):
    t = np.arange(n) / rate
    x = np.stack([0.3 * np.sin(2 * np.pi * f * (k + 1) * t) for k in range(channels)], axis=1)
    return x.astype(np.float32)


@pytest.fixture
def inputs(tmp_path) -> pathlib.Path:
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    sf.write(
        d / "a.wav", _tone(3000, 2000, 300), 2000, subtype="PCM_16"
    )  # mono int16 at the low rate
    sf.write(d / "sub" / "b.flac", _tone(2001, 2000, 200, channels=2), 2000)  # stereo FLAC
    sf.write(d / "sub" / "c.wav", _tone(22050, 44100, 250), 44100, subtype="FLOAT")  # another rate
    return d


def _hashes(folder: pathlib.Path) -> dict:
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_end_to_end_with_a_corrupt_file(workdir, inputs, tmp_path):
    (inputs / "sub" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    before = _hashes(inputs)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--checkpoint",
            str(workdir),
            str(inputs),
            "-o",
            str(out),
            "--json",
            "--spectrogram",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # one file failed, the others were restored
    summary = json.loads(proc.stdout)  # stdout is exactly one JSON object
    assert summary["files_ok"] == 3 and summary["files_failed"] == 1
    assert summary["failed"][0]["input"].endswith("broken.wav") and "broken.wav" in proc.stderr
    assert summary["task"] == "sr" and summary["ratio"] == 4 and summary["output_rate"] == 8000
    assert _hashes(inputs) == before  # inputs untouched

    model = E.load(workdir)
    expect = {"a.wav": (12000, 1), "sub/b.flac": (8004, 2), "sub/c.wav": (4000, 1)}
    for rel, (frames, channels) in expect.items():
        info = sf.info(out / rel)
        assert (info.samplerate, info.frames, info.channels) == (8000, frames, channels), rel
        assert (out / rel).with_suffix(".png").stat().st_size > 1000
        # The file holds what the library returns (up to 16-bit quantisation).
        x, rate = read_audio(inputs / rel)
        y, _ = read_audio(out / rel)
        np.testing.assert_allclose(
            y,
            np.clip(E.enhance(model, x, sample_rate=rate), -1, 1).reshape(y.shape),
            atol=2 / 32768,
        )
    resampled = {pathlib.Path(r["input"]).name: r["resampled"] for r in summary["outputs"]}
    assert resampled == {"a.wav": False, "b.flac": False, "c.wav": True}
    assert "resampling input from 44100 Hz to 2000 Hz" in proc.stderr


def test_existing_outputs_need_overwrite(workdir, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "--checkpoint",
        str(workdir),
        str(inputs / "a.wav"),
        str(inputs / "sub"),
        "-o",
        str(out),
        "--quiet",
    ]
    assert cli.main(args) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        "a.wav",
        "b.flac",
        "c.wav",
    ]
    first = {p: p.stat().st_mtime_ns for p in out.rglob("*.*")}
    hashes = _hashes(out)
    assert cli.main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.*")} == first  # nothing rewritten
    assert (
        cli.main(args + ["--overwrite", "--format", "wav"]) == 0
    )  # --format wav: b.flac -> b.wav is new
    assert cli.main(args + ["--overwrite"]) == 0
    assert (
        all(p.stat().st_mtime_ns > t for p, t in first.items())
        and _hashes(out).keys() >= hashes.keys()
    )


def test_never_writes_over_an_input(workdir, inputs, capsys):
    before = _hashes(inputs)
    assert cli.main(["--checkpoint", str(workdir), str(inputs), "-o", str(inputs), "--quiet"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    # --format flac turns a.wav into a.flac (new) but sub/b.flac onto itself: refused before writing anything.
    assert (
        cli.main(
            [
                "--checkpoint",
                str(workdir),
                str(inputs),
                "-o",
                str(inputs),
                "--format",
                "flac",
                "--overwrite",
                "--quiet",
            ]
        )
        == 2
    )
    assert _hashes(inputs) == before


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--task", "denoise"], "trained for task 'sr'"),
        (["--ratio", "2"], "ratio 4"),
        (["--which", "999"], "step 999"),
        (["--chunk-length", "1001"], "multiple of 8"),
        (["--chunk-length", "1000"], "too short"),
        (["--gaps-from-zeros", "5"], "only applies to inpaint"),
    ],
)
def test_usage_errors(workdir, inputs, tmp_path, capsys, extra, match):
    assert (
        cli.main(["--checkpoint", str(workdir), str(inputs), "-o", str(tmp_path / "o")] + extra)
        == 2
    )
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_paths_and_flags(workdir, inputs, tmp_path, capsys):
    assert (
        cli.main(["--checkpoint", str(tmp_path / "nope"), str(inputs), "-o", str(tmp_path / "o")])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert (
        cli.main(
            ["--checkpoint", str(workdir), str(tmp_path / "missing.wav"), "-o", str(tmp_path / "o")]
        )
        == 2
    )
    assert "not found" in capsys.readouterr().err
    # Two inputs with the same name would collide in the output folder.
    assert (
        cli.main(
            [
                "--checkpoint",
                str(workdir),
                str(inputs / "a.wav"),
                str(inputs / "a.wav"),
                "-o",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "both be written" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(
            [
                "--checkpoint",
                str(workdir),
                str(inputs),
                "-o",
                str(tmp_path / "o"),
                "--batch-size",
                "0",
            ]
        )
    assert e.value.code == 2


def test_zero_gaps_marks_long_zero_runs_only():
    x = np.ones((20, 2), np.float32)
    x[2:4, 0] = 0  # 2 samples: too short at 1 kHz for 3 ms
    x[6:11, 0] = 0  # 5 samples: a gap
    x[17:, 0] = 0  # 3 samples at the end: a gap
    x[0:3, 1] = 0  # 3 samples at the start of channel 1: a gap
    m = E.zero_gaps(x, 1000, 3.0)
    expected = np.zeros((20, 2), bool)
    expected[6:11, 0] = expected[17:, 0] = expected[0:3, 1] = True
    np.testing.assert_array_equal(m, expected)
    assert E.zero_gaps(x[:, 0], 1000, 3.0).shape == (20,)
    with pytest.raises(ValueError, match="min_ms"):
        E.zero_gaps(x, 1000, 0)


def test_inpaint_with_gaps_from_zeros(tmp_path):
    workdir = train_tiny_model(
        tmp_path / "inp",
        task__name="inpaint",
        data__sample_rate=8000,
        task__num_gaps=1,
        task__gap_ms=(5.0, 20.0),
    )
    rng = np.random.default_rng(0)
    x = (
        0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 8000) + 0.01 * rng.standard_normal(8000)
    ).astype(np.float32)
    x[3000:3080] = 0.0  # a 10 ms dropout
    src = tmp_path / "in" / "dropout.wav"
    src.parent.mkdir()
    sf.write(src, x, 8000, subtype="FLOAT")
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "--checkpoint",
                str(workdir),
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
    y, rate = sf.read(out / "dropout.wav", dtype="float32")
    mask = np.zeros(8000, bool)
    mask[3000:3080] = True
    lsb = 1 / 32768  # the output is 16-bit PCM
    np.testing.assert_allclose(
        y[~mask], x[~mask], atol=lsb
    )  # everything outside the dropout is kept
    expected = E.enhance(E.load(workdir), x, sample_rate=8000, mask=mask)
    np.testing.assert_allclose(y, expected, atol=lsb)
    assert np.abs(y[mask]).max() > 0  # the dropout was filled


def test_unreadable_inputs_are_skipped_and_reported(workdir, tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    sf.write(d / "good.wav", _tone(3000, 2000, 300), 2000)
    (d / "loop.wav").symlink_to(
        d / "loop.wav"
    )  # a symlink to itself: used to crash before any file ran
    sf.write(
        d / "many.wav", _tone(500, 2000, 300, channels=12), 2000
    )  # more channels than a model restores
    out = tmp_path / "out"
    assert (
        cli.main(["--checkpoint", str(workdir), str(d), "-o", str(out), "--json", "--quiet"]) == 1
    )
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["files_ok"] == 1 and (out / "good.wav").is_file()
    errors = {pathlib.Path(f["input"]).name: f["error"] for f in summary["failed"]}
    assert "symbolic link that loops" in errors["loop.wav"]
    assert "12 channels" in errors["many.wav"] and "Split it into files" in errors["many.wav"]
    assert "transpose" not in errors["many.wav"]
    # Named on the command line, the looping link is reported the same way (not a usage error).
    assert (
        cli.main(
            [
                "--checkpoint",
                str(workdir),
                str(d / "loop.wav"),
                "-o",
                str(tmp_path / "o2"),
                "--quiet",
            ]
        )
        == 1
    )
    assert "symbolic link that loops" in capsys.readouterr().err


def test_a_header_claiming_an_implausible_rate_is_refused(workdir, tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    sf.write(
        d / "seven_hz.wav", _tone(200, 2000, 300), 7
    )  # 200 samples "at 7 Hz": 29 s of output at 8 kHz
    out = tmp_path / "out"
    assert (
        cli.main(["--checkpoint", str(workdir), str(d), "-o", str(out), "--json", "--quiet"]) == 1
    )
    (failed,) = json.loads(capsys.readouterr().out)["failed"]
    assert (
        "sample_rate=7 Hz is outside the plausible range" in failed["error"]
        and "--any-rate" in failed["error"]
    )
    assert (
        cli.main(["--checkpoint", str(workdir), str(d), "-o", str(out), "--any-rate", "--quiet"])
        == 0
    )
    assert sf.info(out / "seven_hz.wav").frames == round(200 * 8000 / 7)
