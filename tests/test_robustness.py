"""`sr`: robustness to the resampler that made the low-rate input.

The `task.sr_*` config fields, the input pipeline's random resampling chains, `launch/evaluate.py
--degradation` and `benchmarks/robustness.py` end to end, on a tiny model trained here for a few steps
with `task.sr_degradation="random"` (so training with random chains is exercised too). The by-hand
references use scipy / soxr / jaxsr.metrics directly, not the code under test.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.interpolate
import scipy.signal
import soundfile as sf
import soxr
from conftest import train_tiny_model

from jaxsr.data import records
from jaxsr.data import eval_clips
from jaxsr.cli import conditions

from benchmarks import robustness
from jaxsr import config as config_lib
from jaxsr import metrics
from jaxsr.cli import evaluate as cli  # what launch/evaluate.py runs
from jaxsr.data import pipeline
from jaxsr.data.synthetic import make_corpus
from jaxsr.inference import load, run_model
from jaxsr.tasks import codecs, resampling
from jaxsr.tasks import degrade as D

REPO = pathlib.Path(__file__).resolve().parent.parent
# The section a run on a --data folder writes (benchmarks.robustness.section_suffix).
BEGIN, END = "<!-- robustness-x4-8k-data:begin -->", "<!-- robustness-x4-8k-data:end -->"
RATE, RATIO = 8000, 4


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> pathlib.Path:
    return train_tiny_model(tmp_path_factory.mktemp("robust_model"), task__sr_degradation="random")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> pathlib.Path:
    """Three speech-like float WAVs at the model's rate (no resampling, no quantisation on reading)."""
    d = tmp_path_factory.mktemp("robust_audio")
    for i, clip in enumerate(make_corpus("test", 3, RATE, 0.6, base_seed=5)):
        sf.write(d / f"{'abc'[i]}.wav", clip, RATE, subtype="FLOAT")
    return d


def _wav(folder: pathlib.Path, name: str) -> np.ndarray:
    return sf.read(folder / name, dtype="float32")[0]


def _spline(low: np.ndarray, n: int) -> np.ndarray:
    tck = scipy.interpolate.splrep(np.arange(len(low)) * RATIO, np.asarray(low, np.float64), s=0)
    return scipy.interpolate.splev(np.arange(n), tck)


# -------------------------------------------------------------------------------------------- config
def test_config_defaults_and_validation():
    c = config_lib.default_config()
    assert c.task.sr_degradation == "paper"  # the paper's decimator stays the default
    for mode in ("random", "soxr_hq", "decimate_nofilter"):
        c.task.sr_degradation = mode
        config_lib.validate(c)
    bad = [
        (
            "sr_degradation",
            "soxr_max",
            r"config\.task\.sr_degradation: got 'soxr_max'; use 'paper'.*soxr_hq",
        ),
        ("sr_cutoff", (0.5, 1.2), r"config\.task\.sr_cutoff: got \(0\.5, 1\.2\)"),
        (
            "sr_iir_families",
            ("butter", "kaiser"),
            r"config\.task\.sr_iir_families: .*subset of \('butter'",
        ),
        ("sr_iir_order", (6, 2), r"config\.task\.sr_iir_order"),
        ("sr_soxr_qualities", (), r"config\.task\.sr_soxr_qualities"),
        ("sr_gain_db", (0.0, -6.0), r"config\.task\.sr_gain_db"),
    ]
    for field, value, message in bad:
        c = config_lib.default_config()
        c.task.sr_degradation = "random"
        c.task[field] = value
        with pytest.raises(ValueError, match=message) as e:
            config_lib.validate(c)
        assert "\n" not in str(e.value)
    c = config_lib.default_config()
    c.task.sr_degradation = "random"
    c.task.sr_chain_weights.update(iir=0.0, fir=0.0, soxr=0.0, causal=0.0, nofilter=0.0)
    with pytest.raises(
        ValueError, match=r"config\.task\.sr_chain_weights: .*at least one weight must be positive"
    ):
        config_lib.validate(c)


def test_config_json_round_trip_and_old_files():
    c = config_lib.default_config()
    c.task.sr_degradation = "random"
    c.task.sr_chain_weights.nofilter = 0.0
    back = config_lib.config_from_json(config_lib.config_to_json(c))
    assert back.task.to_dict() == c.task.to_dict()
    old = json.loads(config_lib.config_to_json(config_lib.default_config()))
    for k in [k for k in old["task"] if k.startswith("sr_")]:
        del old["task"][k]  # a config.json written before these fields existed
    assert config_lib.config_from_json(json.dumps(old)).task.sr_degradation == "paper"


# ------------------------------------------------------------------------------------------ pipeline
def _pipeline_config(mode: str):
    c = config_lib.default_config()
    c.data.update(sample_rate=16000, patch_length=2048, num_workers=0, prefetch=0)
    c.train.batch_size = 6
    c.task.update(name="sr", ratio=RATIO, sr_degradation=mode)
    c.seed = 3
    config_lib.validate(c)
    return c


def test_training_batches_draw_a_chain_per_example_from_its_generator():
    c = _pipeline_config("random")
    source = records.records_from_clips(make_corpus("train", 4, 16000, 1.0), 16000)
    with pipeline.train_loader(c, source) as it:
        batches = [next(it) for _ in range(2)]
    for b, batch in enumerate(batches):
        for i in range(6):
            g = b * 6 + i  # global example index
            chain = resampling.draw_sr_chain(
                records.example_rng(c.seed, g, records.DEGRADE), c.task
            )
            gain = 10 ** (chain["gain_db"] / 20)
            clean = batch["y"][i, :, 0] / gain  # the target carries the chain's gain
            # Re-degrading the clean patch with that chain gives the batch's input.
            np.testing.assert_allclose(
                batch["x"][i, :, 0], D.degrade_sr(clean, RATIO, chain).x, rtol=0, atol=2e-6
            )
    kinds = {
        resampling.draw_sr_chain(records.example_rng(c.seed, g, records.DEGRADE), c.task)["kind"]
        for g in range(12)
    }
    assert len(kinds) >= 2  # chains vary within a run
    with pipeline.train_loader(
        c, source
    ) as it:  # reproducible: the same run gives the same batches
        np.testing.assert_array_equal(next(it)["x"], batches[0]["x"])


def test_paper_mode_batches_are_unchanged():
    c = _pipeline_config("paper")
    source = records.records_from_clips(make_corpus("train", 4, 16000, 1.0), 16000)
    with pipeline.train_loader(c, source) as it:
        batch = next(it)
    np.testing.assert_array_equal(
        batch["x"][..., 0], D.sr_baseline_batch(batch["y"][..., 0], RATIO)
    )


def test_eval_examples_random_chain_from_the_eval_generator():
    c = _pipeline_config("random")
    clips = make_corpus("valid", 3, 16000, 0.5)
    examples = eval_clips.eval_examples(c, records.records_from_clips(clips, 16000))
    for k, clean in enumerate(clips):
        chain = resampling.draw_sr_chain(records.example_rng(c.seed, k, records.EVAL), c.task)
        expected = D.degrade_sr(clean, RATIO, chain)
        np.testing.assert_array_equal(examples[k]["x"], expected.x)
        np.testing.assert_allclose(
            examples[k]["y"], clean * 10 ** (chain["gain_db"] / 20), rtol=1e-6
        )


# ------------------------------------------------------------------------------------- evaluate CLI
def _evaluate(capsys, workdir, folder, *extra) -> tuple[int, dict | None, str]:
    rc = cli.main(
        ["--checkpoint", str(workdir), "--data", str(folder), "--json", "--quiet", *extra]
    )
    captured = capsys.readouterr()
    return rc, (json.loads(captured.out) if captured.out else None), captured.err


def test_evaluate_degradation_changes_the_input(workdir, folder, capsys):
    rc, default, _ = _evaluate(capsys, workdir, folder)
    assert (
        rc == 0 and default["degradation"] == "random"
    )  # the checkpoint trained with random chains
    names = ("a.wav", "b.wav", "c.wav")
    by_hand = {
        "paper": lambda y: scipy.signal.decimate(
            y.astype(np.float64), RATIO, ftype="iir", zero_phase=True
        ),
        "decimate_nofilter": lambda y: y[::RATIO],
    }
    out = {}
    for name, low in by_hand.items():
        rc, out[name], _ = _evaluate(capsys, workdir, folder, "--degradation", name)
        assert rc == 0 and out[name]["degradation"] == name and out[name]["n_files"] == 3
        want = np.mean(
            [metrics.snr(y, _spline(low(y), len(y))) for y in (_wav(folder, n) for n in names)]
        )
        assert out[name]["baseline"]["snr"] == pytest.approx(want, abs=1e-3), name
    # Aliasing makes a different (worse) input: the baseline differs clearly.
    assert out["paper"]["baseline"]["snr"] - out["decimate_nofilter"]["baseline"]["snr"] > 0.5


def test_evaluate_rejects_an_unknown_degradation(workdir, folder, capsys):
    rc, out, err = _evaluate(capsys, workdir, folder, "--degradation", "soxr_max")
    assert rc == 2 and out is None
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--degradation 'soxr_max'" in lines[0]
    for name in (*resampling.RESAMPLERS, "random"):
        assert name in lines[0]


def test_evaluate_degradation_needs_an_sr_model():
    c = config_lib.default_config()
    c.task.name = "denoise"
    with pytest.raises(conditions.UsageError, match="this checkpoint's model does denoise"):
        conditions.apply_degradation(c, "soxr_hq")


# --------------------------------------------------------------------------------------- robustness
def test_robustness_end_to_end(workdir, folder, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Results\n\nintro\n\n{BEGIN}\nstale table\n{END}\n\n## Later section\n")
    argv = [
        "--checkpoint",
        str(workdir),
        "--data",
        str(folder),
        "--held-out",
        "2",
        "--resamplers",
        "paper,soxr_hq,decimate_nofilter",
        "--json",
        "--write-results",
        str(results),
    ]
    assert robustness.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    # the files that sort last, named with the folder they sit in (their speaker)
    assert [f.split("/")[-1] for f in out["files"]] == ["b.wav", "c.wav"] and out["n_files"] == 2
    assert [r["resampler"] for r in out["rows"]] == ["paper", "soxr_hq", "decimate_nofilter"]
    assert out["trained_with"] == "random" and out["ratio"] == RATIO and out["sample_rate"] == RATE

    model = load(workdir)
    clean = [_wav(folder, n) for n in ("b.wav", "c.wav")]
    lows = {
        "paper": lambda y: scipy.signal.decimate(
            y.astype(np.float64), RATIO, ftype="iir", zero_phase=True
        ),
        "soxr_hq": lambda y: soxr.resample(y.astype(np.float64), RATE, RATE // RATIO, quality="HQ"),
        "decimate_nofilter": lambda y: y[::RATIO].astype(np.float64),
    }
    for row in out["rows"]:
        low = [lows[row["resampler"]](y) for y in clean]
        spline = [_spline(lo, len(y)).astype(np.float32) for lo, y in zip(low, clean)]
        up = [
            soxr.resample(lo, RATE // RATIO, RATE, quality="VHQ")[: len(y)]
            for lo, y in zip(low, clean)
        ]
        restored = [run_model(model.variables, model.config, s) for s in spline]
        for who, est in (("spline", spline), ("sinc", up), ("model", restored)):
            assert row[who]["snr"] == pytest.approx(
                np.mean([metrics.snr(y, e) for y, e in zip(clean, est)]), abs=2e-3
            ), (row["resampler"], who)
            assert row[who]["lsd"] == pytest.approx(
                np.mean([metrics.lsd(y, e) for y, e in zip(clean, est)]), abs=2e-3
            ), (row["resampler"], who)
        best = max(
            row["spline"]["snr"], row["sinc"]["snr"]
        )  # the model is judged against the stronger
        assert row["snr_gain_db"] == pytest.approx(row["model"]["snr"] - best)
        assert row["spline_gain_db"] == pytest.approx(row["model"]["snr"] - row["spline"]["snr"])
        assert row["lsd_change"] == pytest.approx(row["model"]["lsd"] / row["spline"]["lsd"] - 1)
    gains = [r["snr_gain_db"] for r in out["rows"]]
    g = out["goals"]
    assert g["never_below_best_baseline"]["worst_gain_db"] == pytest.approx(min(gains))
    assert g["never_below_best_baseline"]["met"] == (min(gains) >= 0)
    spline_gains = [r["spline_gain_db"] for r in out["rows"]]
    assert g["mean_spline_gain_1db"]["mean_gain_db"] == pytest.approx(np.mean(spline_gains))

    text = results.read_text()
    assert "stale table" not in text
    assert text.startswith("# Results\n\nintro\n\n") and text.endswith("## Later section\n")
    assert (
        text.count(BEGIN) == 1
        and "| `soxr_hq` |" in text
        and "python -m benchmarks.robustness" in text
    )
    # Again, as Markdown: the section is replaced, not appended a second time.
    assert robustness.main(argv[:-3] + ["--write-results", str(results)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("sr r=4 at 8000 Hz") and "| resampler | SNR spline |" in printed
    assert results.read_text().count(BEGIN) == 1
    # One folder is one speaker: the JSON keeps its row, the report does not repeat the table in it; a
    # second speaker brings the per-speaker table.
    (only,) = out["per_speaker"]
    assert only["n_files"] == 2 and "Per speaker" not in printed
    two = {**out, "per_speaker": [only, {**only, "speaker": "other"}]}
    assert "Per speaker" in robustness.report(two) and "| other | 2 |" in robustness.report(two)


def test_robustness_inverted_polarity_scores_the_negated_files_into_its_own_section(
    workdir, folder, tmp_path, capsys
):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Results\n\n{BEGIN}\nas stored\n{END}\n")
    argv = [
        "--checkpoint",
        str(workdir),
        "--data",
        str(folder),
        "--held-out",
        "2",
        "--resamplers",
        "soxr_hq",
        "--json",
        "--invert-polarity",
        "--write-results",
        str(results),
    ]
    assert robustness.main(argv) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    model = load(workdir)
    clean = [-_wav(folder, n) for n in ("b.wav", "c.wav")]  # by hand: the files' samples, negated
    low = [soxr.resample(y.astype(np.float64), RATE, RATE // RATIO, quality="HQ") for y in clean]
    spline = [_spline(lo, len(y)).astype(np.float32) for lo, y in zip(low, clean)]
    restored = [run_model(model.variables, model.config, s) for s in spline]
    for who, est in (("spline", spline), ("model", restored)):
        assert row[who]["snr"] == pytest.approx(
            np.mean([metrics.snr(y, e) for y, e in zip(clean, est)]), abs=2e-3
        )
    text = results.read_text()
    assert "\nas stored\n" in text  # the section of the files as stored is left alone
    begin = BEGIN.replace(":begin", "-inverted:begin")
    assert (
        text.count(begin) == 1
        and "polarity inverted" in text
        and "each with its sign inverted" in text
    )


def test_robustness_usage_errors(workdir, folder, capsys):
    for argv, message in (
        (["--resamplers", "paper,soxr_max"], "unknown resampler 'soxr_max'; use names from: paper"),
        (["--held-out", "3"], "holding out the last 3 leaves none"),
        (["--checkpoint", str(folder / "nowhere")], "--checkpoint"),
    ):
        assert (
            robustness.main(["--data", str(folder), "--held-out", "2", "--ratio", "4", *argv]) == 2
        )
        captured = capsys.readouterr()
        assert captured.out == "" and message in captured.err, captured.err


def test_robustness_runs_as_a_script_and_as_a_module(folder):
    script = subprocess.run(
        [
            sys.executable,
            "benchmarks/robustness.py",
            "--data",
            str(folder),
            "--held-out",
            "1",
            "--ratio",
            "4",
            "--sample-rate",
            str(RATE),
            "--resamplers",
            "butter4",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert script.returncode == 0, script.stderr
    out = json.loads(script.stdout)  # no model: spline and soxr rows only
    assert (
        out["rows"][0]["model"] is None
        and out["goals"] is None
        and out["files"][0].endswith("/c.wav")
    )
    y = _wav(folder, "c.wav")
    low = scipy.signal.sosfiltfilt(
        scipy.signal.butter(4, 1 / RATIO, output="sos"), y.astype(np.float64)
    )[::RATIO]
    assert out["rows"][0]["spline"]["snr"] == pytest.approx(
        metrics.snr(y, _spline(low, len(y))), abs=1e-3
    )
    module = subprocess.run(
        [sys.executable, "-m", "benchmarks.robustness", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        module.returncode == 0
        and "--checkpoint NAME_OR_WORKDIR" in module.stdout
        and "--write-results" in module.stdout
    )


# ------------------------------------------------------------------------------------------- codecs
def _g711_reference(x: np.ndarray, codec: str) -> np.ndarray:
    """G.711 by the standard library's independent implementation (audioop, Python <= 3.12)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    enc, dec = {
        "ulaw": (audioop.lin2ulaw, audioop.ulaw2lin),
        "alaw": (audioop.lin2alaw, audioop.alaw2lin),
    }[codec]
    pcm = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()
    return np.frombuffer(dec(enc(pcm, 2), 2), "<i2").astype(np.float32) / 32768


@pytest.mark.parametrize("codec", ["ulaw", "alaw"])
def test_g711_codecs_match_an_independent_implementation(codec):
    x = np.clip(0.2 * np.random.default_rng(0).standard_normal(8000), -1, 1).astype(np.float32)
    y, ref = codecs.apply_codec(x, 8000, codec), _g711_reference(x, codec)
    assert y.shape == x.shape and y.dtype == np.float32
    # The two round float -> 16 bit differently at a few segment edges: equal almost everywhere, and never
    # more than one step of G.711's coarsest segment (512 / 32768) apart.
    assert np.mean(y == ref) > 0.9 and np.abs(y - ref).max() <= 512 / 32768 + 1e-7
    assert metrics.snr(x, y) == pytest.approx(metrics.snr(x, ref), abs=0.3)
    assert 30 < metrics.snr(x, y) < 45  # G.711's ~38 dB on a loud signal, far from transparent


def test_pcm8_is_within_one_8_bit_step():
    x = np.clip(0.3 * np.random.default_rng(1).standard_normal(4000), -1, 1).astype(np.float32)
    y = codecs.apply_codec(x, 4000, "pcm8")
    assert np.abs(y - x).max() <= 1 / 128 + 1e-6 and np.abs(y - x).max() > 1 / 1024
    assert len(np.unique(y)) <= 256


@pytest.mark.parametrize("codec,rate", [("mp3", 8000), ("vorbis", 4000), ("opus", 16000)])
def test_lossy_codecs_return_aligned_audio_of_the_same_length(codec, rate):
    # Speech-like, not noise: a lossy codec keeps what is audible of it.
    x = make_corpus("test", 1, rate, 1.0, base_seed=2)[0].astype(np.float32)
    y = codecs.apply_codec(x, rate, codec)
    assert y.shape == x.shape
    lag = int(np.argmax(scipy.signal.correlate(y, x, mode="full"))) - (len(x) - 1)
    assert lag == 0, f"{codec} shifted the signal by {lag} samples"
    assert metrics.snr(x, y) > 3.0


def test_codec_errors_name_the_codec_and_the_rates():
    x = np.zeros(400, np.float32)
    with pytest.raises(
        ValueError, match=r"codec mp3 carries only 8, 11.025.*the low rate here is 4000 Hz"
    ):
        codecs.apply_codec(x, 4000, "mp3")
    with pytest.raises(ValueError, match="unknown codec 'gsm'; use one of: pcm8, ulaw"):
        codecs.apply_codec(x, 8000, "gsm")
    with pytest.raises(ValueError, match="needs the sample rate"):
        D.degrade_sr(x + 0.1, 4, "soxr_hq", codec="ulaw")
    c = config_lib.default_config()
    c.task.sr_codec = "opus"  # 16 kHz / 4 = 4 kHz: no Opus mode carries that
    with pytest.raises(ValueError, match=r"config.task.sr_codec: codec opus carries only"):
        config_lib.validate(c)
    c.task.sr_codec = "amr"
    with pytest.raises(ValueError, match=r"config.task.sr_codec: got 'amr'"):
        config_lib.validate(c)
    c.task.sr_codec = "ulaw"
    config_lib.validate(c)


def test_a_codec_acts_on_the_low_rate_signal_in_training_and_evaluation():
    y = np.stack([make_corpus("test", 1, 16000, 0.5, base_seed=s)[0] for s in range(3)]).astype(
        np.float32
    )
    chains = ["soxr_hq", "paper", {"kind": "nofilter", "gain_db": -3.0}]
    x, target = D.sr_batch(y, 2, chains, codec="ulaw", target_rate=16000)
    for i, chain in enumerate(chains):
        d = D.degrade_sr(y[i], 2, chain, codec="ulaw", target_rate=16000)
        np.testing.assert_array_equal(x[i], d.x)
        # By hand: the resampler's low-rate signal through libsndfile's mu-law at 8 kHz, then the spline.
        t = y[i] if d.y is None else d.y
        low = resampling.sr_lowrate(t, 2, chain)
        buf = __import__("io").BytesIO()
        sf.write(buf, low, 8000, format="WAV", subtype="ULAW")
        buf.seek(0)
        coded = sf.read(buf, dtype="float32")[0]
        tck = scipy.interpolate.splrep(np.arange(len(coded)) * 2, coded.astype(np.float64), s=0)
        np.testing.assert_allclose(d.x, scipy.interpolate.splev(np.arange(len(t)), tck), atol=1e-5)
        np.testing.assert_array_equal(target[i], t)
    assert D.degrade_sr(y[0], 2, "paper", codec="ulaw", target_rate=16000).info["codec"] == "ulaw"
    # The training pipeline's batches take the codec from the config: each row is its chain, then mu-law.
    c = _pipeline_config("random")
    c.task.sr_codec = "ulaw"
    config_lib.validate(c)
    source = records.records_from_clips(make_corpus("train", 4, 16000, 1.0), 16000)
    with pipeline.train_loader(c, source) as it:
        batch = next(it)
    for i in range(3):
        chain = resampling.draw_sr_chain(records.example_rng(c.seed, i, records.DEGRADE), c.task)
        clean = batch["y"][i, :, 0] / 10 ** (chain["gain_db"] / 20)
        want = D.degrade_sr(clean, RATIO, chain, codec="ulaw", target_rate=16000).x
        # Dividing out the gain moves a sample by an ulp, which can cross a mu-law decision level: compare the
        # errors, not the samples.
        assert metrics.snr(want, batch["x"][i, :, 0]) > 40
        assert (
            metrics.snr(D.degrade_sr(clean, RATIO, chain).x, batch["x"][i, :, 0]) < 40
        )  # the codec acted


def test_evaluate_codec_and_its_usage_errors(workdir, folder, capsys):
    rc, out, _ = _evaluate(capsys, workdir, folder, "--degradation", "soxr_hq", "--codec", "ulaw")
    assert rc == 0 and out["codec"] == "ulaw" and out["degradation"] == "soxr_hq"
    want = []
    for n in ("a.wav", "b.wav", "c.wav"):
        y = _wav(folder, n)
        low = soxr.resample(y.astype(np.float64), RATE, RATE // RATIO, quality="HQ").astype(
            np.float32
        )
        want.append(metrics.snr(y, _spline(_g711_reference(low, "ulaw"), len(y))))
    # audioop's mu-law differs from libsndfile's at a few segment edges: a small tolerance.
    assert out["baseline"]["snr"] == pytest.approx(np.mean(want), abs=0.05)
    for args, message in (
        (["--codec", "mp3"], "--codec mp3 carries only"),
        (["--codec", "gsm"], "--codec 'gsm' is not a known codec; use one of: pcm8"),
    ):
        rc, out, err = _evaluate(capsys, workdir, folder, *args)
        assert rc == 2 and out is None and message in err, err
    c = config_lib.default_config()
    c.task.name = "denoise"
    with pytest.raises(conditions.UsageError, match="this checkpoint's model does denoise"):
        conditions.apply_codec(c, "ulaw")


def test_robustness_codecs_rows_and_section(workdir, folder, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Results\n\n{BEGIN}\nthe sweep\n{END}\n")
    argv = [
        "--checkpoint",
        str(workdir),
        "--data",
        str(folder),
        "--held-out",
        "2",
        "--resamplers",
        "soxr_hq,paper",
        "--codecs",
        "none,pcm8",
        "--json",
        "--write-results",
        str(results),
    ]
    assert robustness.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["resampler"], r["codec"]) for r in out["rows"]] == [
        ("soxr_hq", None),
        ("paper", None),
        ("soxr_hq", "pcm8"),
        ("paper", "pcm8"),
    ]
    clean = [_wav(folder, n) for n in ("b.wav", "c.wav")]
    row = out["rows"][2]
    low = [
        codecs.apply_codec(
            soxr.resample(y.astype(np.float64), RATE, RATE // RATIO, quality="HQ").astype(
                np.float32
            ),
            RATE // RATIO,
            "pcm8",
        )
        for y in clean
    ]
    up = [
        soxr.resample(lo, RATE // RATIO, RATE, quality="VHQ")[: len(y)] for lo, y in zip(low, clean)
    ]
    spline = [_spline(lo, len(y)) for lo, y in zip(low, clean)]
    assert row["sinc"]["snr"] == pytest.approx(
        np.mean([metrics.snr(y, e) for y, e in zip(clean, up)]), abs=2e-3
    )
    assert row["spline"]["snr"] == pytest.approx(
        np.mean([metrics.snr(y, e) for y, e in zip(clean, spline)]), abs=2e-3
    )
    assert out["rows"][0]["spline"]["snr"] - row["spline"]["snr"] > 0.1  # 8 bits cost something
    text = results.read_text()
    assert (
        "\nthe sweep\n" in text and text.count("<!-- robustness-codecs-x4-8k-data:begin -->") == 1
    )
    assert "| `soxr_hq` → `pcm8` |" in text
    assert (
        robustness.main(
            [
                "--checkpoint",
                str(workdir),
                "--data",
                str(folder),
                "--held-out",
                "2",
                "--codecs",
                "opus",
            ]
        )
        == 2
    )
    assert "--codecs: codec opus carries only" in capsys.readouterr().err


def test_random_codecs_are_drawn_after_the_chain_and_only_when_asked():
    task = config_lib.default_config().task
    task.sr_degradation = "random"
    rng, fresh = np.random.default_rng(7), np.random.default_rng(7)
    assert codecs.draw_sr_codec(rng, task, 4000) == ""  # sr_codec_prob 0: nothing drawn ...
    assert rng.random() == fresh.random()  # ... so the generator is where it was
    task.sr_codec_prob = 0.5
    draws = [codecs.draw_sr_codec(np.random.default_rng([3, i]), task, 4000) for i in range(4000)]
    none = sum(d == "" for d in draws)
    assert abs(none / len(draws) - 0.5) < 0.03
    counts = {c: draws.count(c) for c in set(draws) - {""}}
    assert set(counts) == {"pcm8", "ulaw", "alaw", "vorbis"}  # MP3 and Opus cannot carry 4 kHz
    assert all(abs(n / (len(draws) - none) - 0.25) < 0.04 for n in counts.values()), counts
    assert {codecs.draw_sr_codec(np.random.default_rng(i), task, 16000) for i in range(300)} >= {
        "mp3",
        "opus",
    }
    task.sr_codec = "alaw"  # a fixed codec wins
    assert {codecs.draw_sr_codec(np.random.default_rng(i), task, 4000) for i in range(20)} == {
        "alaw"
    }


def test_training_batches_through_random_codecs_equal_their_rows_degraded_one_by_one():
    c = _pipeline_config("random")
    c.task.sr_codec_prob = 1.0
    c.task.sr_random_codecs = ("ulaw", "pcm8", "vorbis")
    config_lib.validate(c)
    source = records.records_from_clips(make_corpus("train", 4, 16000, 1.0), 16000)
    with pipeline.train_loader(c, source) as it:
        batch = next(it)
    seen = set()
    for i in range(6):
        rng = records.example_rng(c.seed, i, records.DEGRADE)
        chain = resampling.draw_sr_chain(rng, c.task)
        codec = codecs.draw_sr_codec(rng, c.task, 16000 / RATIO)
        seen.add(codec)
        # The row's input equals the target's low-rate signal through that chain and codec: degrade_sr on the
        # target (which carries the gain) with the gain left out of the chain.
        no_gain = {k: v for k, v in chain.items() if k != "gain_db"}
        want = D.degrade_sr(batch["y"][i, :, 0], RATIO, no_gain, codec=codec, target_rate=16000).x
        assert metrics.snr(want, batch["x"][i, :, 0]) > 35, (chain, codec)
    assert (
        len(seen) >= 2 and "" not in seen
    )  # probability 1: every row through one, and not all the same


def test_evaluate_codec_none_turns_random_codecs_off():
    c = config_lib.default_config()
    c.task.sr_codec_prob = 0.8
    conditions.apply_codec(c, "none")
    assert c.task.sr_codec == "" and c.task.sr_codec_prob == 0.0
    c.task.ratio = 2
    conditions.apply_codec(c, "opus")  # 8 kHz: Opus carries it
    assert c.task.sr_codec == "opus"
