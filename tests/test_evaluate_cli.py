"""launch/evaluate.py (jaxsr.cli.evaluate) end to end, with a tiny model trained here (sr, r=4, 8 kHz)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from conftest import train_tiny_model
import scipy.interpolate
import scipy.signal
import scipy.stats
import soundfile as sf
import soxr

from jaxsr.data import records
from jaxsr.data import eval_clips
from jaxsr.cli import conditions
from jaxsr import evaluation, metrics
from jaxsr.cli import evaluate as cli  # what launch/evaluate.py runs
from jaxsr.config import default_config
from jaxsr.data import builders
from jaxsr.inference import load, run_model

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / "launch" / "evaluate.py"
RATE, RATIO = 8000, 4


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> pathlib.Path:
    return train_tiny_model(
        tmp_path_factory.mktemp("eval_model"),
        data__sample_rate=RATE,
        data__num_eval_clips=2,
        task__ratio=RATIO,
        eval__num_clips=2,
        eval__chunk_length=1024,
    )


def _signal(n, rate, f0, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    cols = [
        0.3 * np.sin(2 * np.pi * f0 * (k + 1) * t) + 0.05 * rng.standard_normal(n)
        for k in range(channels)
    ]
    return np.stack(cols, axis=1).astype(np.float32)


@pytest.fixture
def folder(tmp_path) -> pathlib.Path:
    d = tmp_path / "audio"
    (d / "sub").mkdir(parents=True)
    sf.write(d / "a.wav", _signal(4800, 8000, 220), 8000, subtype="PCM_16")  # at the model's rate
    sf.write(
        d / "sub" / "b.flac", _signal(8000, 16000, 330, channels=2, seed=1), 16000
    )  # stereo, 2x the rate
    sf.write(
        d / "sub" / "c.wav", _signal(17640, 44100, 150, seed=2), 44100, subtype="FLOAT"
    )  # another rate
    return d


def _by_hand(folder: pathlib.Path, variables, config) -> list[dict]:
    """Per-file metrics computed without the CLI: scipy's decimate + a cubic spline, jaxsr.metrics."""
    out = []
    for rel in ("a.wav", "sub/b.flac", "sub/c.wav"):
        x, rate = sf.read(folder / rel, dtype="float32", always_2d=True)
        y = x.mean(axis=1)
        if rate != RATE:
            y = soxr.resample(y, rate, RATE, quality="HQ").astype(np.float32)
        low = scipy.signal.decimate(y.astype(np.float64), RATIO, ftype="iir", zero_phase=True)
        spline = scipy.interpolate.CubicSpline(
            np.arange(len(low)) * RATIO, low, bc_type="not-a-knot"
        )
        base = spline(np.arange(len(y))).astype(np.float32)
        y_hat = run_model(variables, config, base)
        out.append(
            {
                name: {
                    "snr": metrics.snr(y, est),
                    "lsd": metrics.lsd(y, est),
                    "lsd_paper": metrics.lsd_paper(y, est),
                    "si_sdr": metrics.si_sdr(y, est),
                }
                for name, est in (("baseline", base), ("model", y_hat))
            }
        )
    return out


def test_json_matches_an_independent_computation(workdir, folder, tmp_path):
    csv_path = tmp_path / "per_file.csv"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--checkpoint",
            str(workdir),
            "--data",
            str(folder),
            "--json",
            "--per-file",
            str(csv_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and proc.stdout.endswith(
        "}\n"
    )  # stdout is one JSON line, nothing else
    out = json.loads(proc.stdout)
    assert out["n_files"] == 3 and out["n_failed"] == 0 and out["n_padded"] == 0
    assert out["task"] == "sr" and out["ratio"] == RATIO and out["sample_rate"] == RATE
    keys = {"snr", "lsd", "lsd_paper", "si_sdr"}
    for who in ("model", "baseline", "model_ci95", "baseline_ci95"):
        assert set(out[who]) == keys, who

    model = load(workdir)
    ref = _by_hand(folder, model.variables, model.config)
    for who in ("model", "baseline"):
        for k in keys:
            values = [r[who][k] for r in ref]
            assert out[who][k] == pytest.approx(np.mean(values), rel=1e-4, abs=1e-4), (who, k)
            half = scipy.stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
            assert out[who + "_ci95"][k] == pytest.approx(half, rel=1e-3, abs=1e-4), (who, k)
    # The spline restores little of the top octave: its LSD is clearly worse than a perfect 0.
    assert out["baseline"]["lsd"] > 0.5

    rows = csv_path.read_text().strip().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 4 and header[0] == "id"
    first = dict(zip(header, rows[1].split(",")))
    assert first["id"] == "a.wav" and int(first["input_rate"]) == 8000
    assert float(first["baseline_snr"]) == pytest.approx(ref[0]["baseline"]["snr"], rel=1e-4)


def test_bad_and_short_files_are_reported_counted_and_skipped(workdir, folder):
    (folder / "sub" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    sf.write(
        folder / "tiny.wav", _signal(5, 8000, 200), 8000
    )  # below the 8-sample minimum of a 2-block U-Net
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--checkpoint",
            str(workdir),
            "--data",
            str(folder),
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # some inputs failed; the rest were scored
    out = json.loads(proc.stdout)
    assert out["n_files"] == 4 and out["n_failed"] == 1 and out["n_padded"] == 1
    assert out["failed"][0]["file"].endswith("broken.wav")
    assert (
        "broken.wav" in proc.stderr and "tiny.wav" in proc.stderr and "zero-padded" in proc.stderr
    )


def test_split_spec_reproduces_training_evaluation(workdir, capsys):
    assert (
        cli.main(["--checkpoint", str(workdir), "--data", "synthetic:valid", "--json", "--quiet"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    model = load(workdir)
    source = builders.load_split(model.config.data, "valid", model.config.data.data_dir)
    expected = evaluation.evaluate(
        model.variables, model.config, eval_clips.eval_examples(model.config, source)
    )
    assert out["n_files"] == expected["n_files"] == 2
    for who in ("model", "baseline"):
        for k, v in expected[who].items():
            assert out[who][k] == pytest.approx(v, rel=1e-5), (who, k)


@pytest.fixture(scope="module")
def denoise_workdir(tmp_path_factory) -> pathlib.Path:
    return train_tiny_model(
        tmp_path_factory.mktemp("denoise_model"),
        data__sample_rate=RATE,
        data__num_eval_clips=3,
        task__name="denoise",
        task__noise_types=("babble", "babble_voices", "varying"),
        task__reverb_prob=0.5,
        eval__num_clips=3,
        eval__chunk_length=1024,
        train__num_train_steps=2,
        train__checkpoint_every=2,
    )


def test_split_spec_reproduces_training_evaluation_with_babble(denoise_workdir, capsys):
    # The same agreement for a denoise model whose noise includes both kinds of babble (and reverb): the
    # CLI draws babble from the other clips of the split exactly as training's evaluation does.
    assert (
        cli.main(
            ["--checkpoint", str(denoise_workdir), "--data", "synthetic:valid", "--json", "--quiet"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    model = load(denoise_workdir)
    source = builders.load_split(model.config.data, "valid", model.config.data.data_dir)
    expected = evaluation.evaluate(
        model.variables, model.config, eval_clips.eval_examples(model.config, source)
    )
    assert out["n_files"] == expected["n_files"] == 3
    assert (
        out["noise_types"] == ["babble", "babble_voices", "varying"] and out["reverb_prob"] == 0.5
    )
    for who in ("model", "baseline"):
        for k, v in expected[who].items():
            assert out[who][k] == pytest.approx(v, rel=1e-5), (who, k)
    # One condition: --noise / --snr-db fix the type and the input SNR (the noisy input's SI-SDR is the SNR).
    assert (
        cli.main(
            [
                "--checkpoint",
                str(denoise_workdir),
                "--data",
                "synthetic:valid",
                "--json",
                "--quiet",
                "--noise",
                "babble_voices",
                "--snr-db",
                "5",
                "--reverb-prob",
                "0",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert (
        out["noise_types"] == ["babble_voices"]
        and out["snr_db"] == [5.0, 5.0]
        and out["reverb_prob"] == 0.0
    )
    assert out["baseline"]["snr"] == pytest.approx(5.0, abs=1e-3)


@pytest.mark.parametrize(
    "task",
    [
        dict(name="inpaint", num_gaps=2, gap_ms=(5.0, 20.0)),
        dict(name="denoise", noise_types=("white", "pink"), snr_db=(0.0, 10.0)),
        dict(name="denoise", noise_types=("babble",), snr_db=(0.0, 10.0)),
        dict(
            name="denoise",
            noise_types=("babble_voices", "varying"),
            snr_db=(0.0, 10.0),
            reverb_prob=0.5,
        ),
    ],
)
def test_cli_degrades_like_training_evaluation(task):
    # The CLI's degradation of file k (`degraded_examples`, what --data FOLDER scores) is eval_examples'
    # degradation of clip k, seeded by (seed, k), babble included: both draw it from every clip but the
    # clean one (as training's evaluation draws it).
    c = default_config()
    c.data.update(sample_rate=RATE, patch_length=512)
    c.task.update(**task)
    c.seed = 3
    clips = [
        _signal(n, RATE, 200 + 50 * i, seed=i)[:, 0] for i, n in enumerate((3000, 4100, 2500, 3600))
    ]
    expected = eval_clips.eval_examples(c, records.records_from_clips(clips, RATE))
    loaded = [
        {
            "item": evaluation.ClipSource(k, f"f{k}.wav", f"f{k}.wav", None),
            "y": y,
            "rate": RATE,
            "samples": len(y),
            "padded": False,
        }
        for k, y in enumerate(clips)
    ]
    got = list(evaluation.degraded_examples(loaded, c, c.seed))
    assert len(got) == len(expected) == len(clips)
    for k in range(len(clips)):
        for key in ("x", "baseline", "y"):  # "y": the target, reverberant when the clip drew reverb
            np.testing.assert_array_equal(got[k][key], expected[k][key], err_msg=f"clip {k} {key}")
        if task["name"] == "inpaint":
            np.testing.assert_array_equal(got[k]["mask"], expected[k]["mask"])
            assert got[k]["mask"].sum() > 0
        else:
            assert not np.array_equal(got[k]["x"], got[k]["y"])  # noise was added
    other = list(
        evaluation.degraded_examples(loaded, c, seed=4)
    )  # another seed: another degradation
    assert not np.array_equal(other[0]["x"], expected[0]["x"])


def test_cli_babble_from_a_single_file_is_refused_and_noise_flags_set_the_condition():
    c = default_config()
    c.task.update(name="denoise", noise_types=("white", "babble"))
    one = [
        {"item": evaluation.ClipSource(0, "a.wav", "a.wav", None), "y": np.ones(100, np.float32)}
    ]
    with pytest.raises(ValueError, match="at least two"):
        evaluation.check_babble(one, c)
    conditions.apply_noise(c, "varying", 5.0, 0.25)
    assert tuple(c.task.noise_types) == ("varying",) and tuple(c.task.snr_db) == (5.0, 5.0)
    assert c.task.reverb_prob == 0.25
    evaluation.check_babble(one, c)  # no babble now: fine
    with pytest.raises(conditions.UsageError, match="not a noise type"):
        conditions.apply_noise(c, "purple", None, None)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--task", "denoise"], "trained for task 'sr'"),
        (["--ratio", "2"], "ratio 4"),
        (["--sample-rate", "16000"], "works at 8000 Hz"),
        (["--noise", "white"], "sets the noise of denoise inputs"),
        (["--snr-db", "5"], "sets the noise of denoise inputs"),
    ],
)
def test_a_mismatched_task_is_a_usage_error(workdir, folder, capsys, extra, message):
    assert cli.main(["--checkpoint", str(workdir), "--data", str(folder), "--json", *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_no_audio_is_a_usage_error(workdir, tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "nested").mkdir(parents=True)
    (empty / "notes.txt").write_text("not audio")
    assert cli.main(["--checkpoint", str(workdir), "--data", str(empty), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no audio files" in captured.err
    assert (
        cli.main(["--checkpoint", str(workdir), "--data", "vctk:test", "--json"]) == 2
    )  # not its dataset
    captured = capsys.readouterr()
    assert captured.out == "" and "trained on 'synthetic'" in captured.err


def test_denoise_robustness_benchmark_scores_what_the_cli_scores(
    denoise_workdir, speech44k_dir, tmp_path, capsys
):
    # benchmarks/denoise_robustness.py on 2 held-out files: a cell is what `launch/evaluate.py --noise TYPE
    # --snr-db DB --reverb-prob 0` gives on a folder of the same files, and --write-results fills its section.
    from benchmarks import denoise_robustness as bench
    from benchmarks.common import speech44k_split

    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nkept\n")
    argv = [
        "--checkpoint",
        str(denoise_workdir),
        "--data",
        str(speech44k_dir),
        "--max-files",
        "2",
        "--noises",
        "white,babble_voices",
        "--snrs",
        "0",
        "--json",
        "--write-results",
        str(results),
    ]
    assert bench.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_files"] == 2 and [(c["noise"], c["snr_db"]) for c in out["cells"]] == [
        ("white", 0.0),
        ("babble_voices", 0.0),
    ]
    assert out["goals"]["mean_gain"]["met"] is None  # its cells were not run
    assert out["goals"]["clean_in"]["met"] is None
    text = results.read_text()
    assert text.startswith("# Results\n\nkept\n") and "denoise-robustness-" in text
    assert "babble_voices" in text and "python -m benchmarks.denoise_robustness" in text
    assert "Per speaker" not in text  # one speaker (speech-44k): its row would repeat the table

    # The clean cell alone: clean speech's score over the whole band and above 60 Hz, and no gain (nothing
    # noisy ran) rather than a column of NaN.
    assert bench.main([*argv[:6], "--noises", "clean", "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    files = alone["cells"][0]["per_file"]
    assert len(files) == 2 and all(np.isfinite(f["model_above_rumble"]) for f in files)
    assert all(f["below_rumble_db"] < 0 for f in files)
    assert "gain" not in alone["per_speaker"][0]
    assert alone["goals"]["clean_in"]["above_rumble_db"] == pytest.approx(
        np.mean([f["model_above_rumble"] for f in files])
    )

    folder = tmp_path / "held_out"
    folder.mkdir()
    for f in speech44k_split(speech44k_dir)[1][:2]:
        (folder / f.name).symlink_to(f)
    for cell in out["cells"]:
        assert (
            cli.main(
                [
                    "--checkpoint",
                    str(denoise_workdir),
                    "--data",
                    str(folder),
                    "--json",
                    "--quiet",
                    "--noise",
                    cell["noise"],
                    "--snr-db",
                    "0",
                    "--reverb-prob",
                    "0",
                    "--seed",
                    "0",
                ]
            )
            == 0
        )
        ref = json.loads(capsys.readouterr().out)
        assert cell["noisy"] == pytest.approx(ref["baseline"]["si_sdr"], abs=1e-3)
        assert cell["model"] == pytest.approx(ref["model"]["si_sdr"], abs=1e-3)


# ------------------------------------------------------------------------- --runtime / --precision
def test_runtime_stablehlo_scores_like_xla_and_is_recorded(workdir, folder, tmp_path, capsys):
    # The same files through a jax.export artefact (exported on the fly, and from an export folder):
    # the same baseline exactly, the model's scores within float32 rounding, the runtime in the JSON.
    import jaxsr

    outs = {}
    for name, checkpoint, extra in [
        ("xla", workdir, []),
        ("stablehlo", workdir, ["--runtime", "stablehlo"]),
    ]:
        assert (
            cli.main(
                [
                    "--checkpoint",
                    str(checkpoint),
                    "--data",
                    str(folder),
                    "--json",
                    "--quiet",
                    *extra,
                ]
            )
            == 0
        )
        outs[name] = json.loads(capsys.readouterr().out)
    exported = tmp_path / "exported"
    jaxsr.export(load(workdir), exported, format="stablehlo")
    assert (
        cli.main(["--checkpoint", str(exported), "--data", str(folder), "--json", "--quiet"]) == 0
    )
    outs["folder"] = json.loads(capsys.readouterr().out)
    assert (outs["xla"]["runtime"], outs["xla"]["precision"]) == ("xla", "float32")
    for name in ("stablehlo", "folder"):
        out = outs[name]
        assert (out["runtime"], out["precision"]) == ("stablehlo", "float32"), name
        assert out["n_files"] == outs["xla"]["n_files"] == 3
        assert out["baseline"] == outs["xla"]["baseline"]
        for k, v in outs["xla"]["model"].items():
            assert out["model"][k] == pytest.approx(v, rel=1e-5, abs=1e-5), (name, k)


def test_runtime_restore_matches_run_model(workdir, folder):
    # evaluation.restore through a runtime is run_model's chunked path with another network: outputs within 1e-5.
    model = load(workdir)
    clips, _ = evaluation.load_clips(evaluation.list_clips(str(folder), model.config), RATE, 8)
    ex = next(evaluation.degraded_examples(clips, model.config, 0))
    ref = run_model(model.variables, model.config, ex["x"])
    np.testing.assert_array_equal(evaluation.restore(model.variables, model.config, ex), ref)
    stablehlo = model.with_runtime("stablehlo")
    y = evaluation.restore(stablehlo.variables, model.config, ex, forward=stablehlo.forward)
    assert y.shape == ref.shape and np.max(np.abs(y - ref)) < 1e-5


def test_runtime_not_installed_is_a_one_line_usage_error(workdir, folder, capsys, monkeypatch):
    monkeypatch.setitem(
        sys.modules, "onnxruntime", None
    )  # as if the export extra were not installed
    assert (
        cli.main(
            [
                "--checkpoint",
                str(workdir),
                "--data",
                str(folder),
                "--json",
                "--runtime",
                "onnxruntime",
            ]
        )
        == 2
    )
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1, captured.err
    assert (
        lines[0].startswith("error: ") and "onnxruntime" in lines[0] and "not installed" in lines[0]
    )


def test_bad_runtime_or_precision_is_a_usage_error(workdir, folder, capsys):
    # A runtime that cannot run the precision: one line, exit 2 (before any export).
    assert (
        cli.main(
            [
                "--checkpoint",
                str(workdir),
                "--data",
                str(folder),
                "--json",
                "--runtime",
                "onnxruntime",
                "--precision",
                "bfloat16",
            ]
        )
        == 2
    )
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and "float32 only" in lines[0], captured.err
    # An unknown name: argparse's usage error (exit 2), naming the choices.
    for flag, value in (("--runtime", "tensorrt"), ("--precision", "float16")):
        with pytest.raises(SystemExit) as e:
            cli.main(["--checkpoint", str(workdir), "--data", str(folder), flag, value])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: invalid choice: '{value}'" in err.strip().splitlines()[-1]
