"""benchmarks/plotting.py: the figures of paper_table.py and speed.py are valid PNGs, and --plot writes them."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from benchmarks import plotting

REPO = pathlib.Path(__file__).resolve().parent.parent


def _assert_png(path: pathlib.Path, min_width: int = 600) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > min_width, image.shape
    assert image[..., :3].std() > 0.01  # something was drawn, not a blank canvas


def _cell(
    snr: float, lsd: float, ci: float | tuple[float, float] | None
) -> tuple[dict, dict | None]:
    mean = {"snr": snr, "lsd": lsd, "lsd_paper": 1.7 * lsd, "si_sdr": snr - 1}
    return mean, (None if ci is None else {k: ci for k in mean})


def _results(with_unet: bool) -> dict:
    """`paper_table.main`'s `results`: two datasets, a U-Net only at r=4 (when `with_unet`)."""
    out = {}
    for name, n, offset in (("speech44k", 20, 0.0), ("vctk_single", 1, -2.0)):
        ratios = {}
        for r in (2, 4, 6):
            spline, spline_ci = _cell(20 - 2 * r + offset, 1 + 0.3 * r, 0.5 if n > 1 else 0.0)
            unet, unet_ci = (
                _cell(22 - 2 * r + offset, 0.8 + 0.2 * r, (0.4, 1.2))
                if with_unet and r == 4
                else (None, None)
            )
            ratios[r] = {
                "spline": spline,
                "spline_ci95": spline_ci,
                "unet": unet,
                "unet_ci95": unet_ci,
                "checkpoint": "runs/x/checkpoints/10" if unet else None,
            }
        out[name] = {"n_files": n, "ratios": ratios}
    return out


@pytest.mark.parametrize("with_unet", [True, False])
def test_quality_vs_ratio_png(tmp_path, with_unet):
    path = plotting.plot_quality_vs_ratio(
        _results(with_unet), tmp_path / "new" / "dir" / "q.png", 16000
    )
    assert path == tmp_path / "new" / "dir" / "q.png"
    _assert_png(path)
    assert [p.name for p in path.parent.iterdir()] == ["q.png"]  # no temporary file left behind


def test_quality_vs_ratio_after_a_json_round_trip(tmp_path):
    """The table's JSON line turns the ratio keys into strings; a figure drawn from it still works."""
    results = json.loads(json.dumps(_results(True)))
    _assert_png(plotting.plot_quality_vs_ratio(results, tmp_path / "q.png", 16000))


def test_half_width_accepts_what_ci95_may_hold():
    assert plotting._half_width(0.5) == 0.5
    assert plotting._half_width((1.0, 2.0)) == 0.5
    assert plotting._half_width(float("nan")) == 0.0 and plotting._half_width(None) == 0.0


def _rows() -> list:
    from benchmarks.speed import Row

    rows = []
    # the full model without forward rows leaves one panel of the models x modes grid empty
    for model, batches, modes in (
        ("quickstart", (4, 8, 16), ("train", "forward")),
        ("full", (4, 8), ("train",)),
    ):
        for mode in modes:
            for impl, dtype, ms_per_example in (
                ("jaxsr", "float32", 2.0),
                ("jaxsr", "bfloat16", 1.2),
                ("torch eager", "float32", 3.0),
                ("torch compile", "float32", 2.5),
            ):
                for b in batches:
                    t = ms_per_example * b * 1e-3 * (1 + 1 / b) * (3 if mode == "train" else 1)
                    rows.append(
                        Row(
                            model,
                            b,
                            mode,
                            impl,
                            dtype,
                            seconds=t,
                            times=[t, 1.1 * t],
                            compile_seconds=1.0,
                        )
                    )
    rows.append(
        Row("full", 8, "train", "torch compile", "bfloat16", error="RuntimeError: out of memory")
    )
    return rows


def test_throughput_png(tmp_path):
    rows = _rows()
    _assert_png(plotting.plot_throughput(rows, tmp_path / "s.png", "NVIDIA H100 80GB HBM3"))
    # speed.py's JSON rows (dicts) draw the same figure; a single batch size is fine too
    from dataclasses import asdict

    one = [
        asdict(r) for r in rows if r.model == "quickstart" and r.batch == 4 and r.mode == "train"
    ]
    _assert_png(plotting.plot_throughput(one, tmp_path / "one.png"), min_width=400)


def test_throughput_without_timed_rows_is_a_value_error(tmp_path):
    from benchmarks.speed import Row

    with pytest.raises(ValueError, match="no timed rows"):
        plotting.plot_throughput(
            [Row("tiny", 2, "train", "jaxsr", "float32", error="boom")], tmp_path / "s.png"
        )
    assert not (tmp_path / "s.png").exists()


def test_paper_table_quick_plot(speech44k_dir, tmp_path):
    """`python -m benchmarks.paper_table --quick --plot` end to end (spline only, 2 clips: a few seconds)."""
    png = tmp_path / "sub" / "x.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.paper_table",
            "--quick",
            "--speech44k",
            str(speech44k_dir),
            "--plot",
            str(png),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # `--speech44k DIR` is `--data DIR`: its column is keyed "speech44k" for the shared folder, else "data".
    (held,) = out["datasets"].values()
    assert out["benchmark"] == "paper_table" and held["n_files"] == 2
    assert f"wrote {png}" in proc.stderr
    _assert_png(png)


def test_speed_plot_keeps_stdout_json_only(tmp_path, capsys):
    """`speed --json --plot`: jaxsr only on a tiny patch; stdout stays one JSON line."""
    from benchmarks import speed

    png = tmp_path / "s.png"
    result = speed.main(
        [
            "--models",
            "tiny",
            "--batch-sizes",
            "2",
            "--patch-length",
            "64",
            "--reps",
            "1",
            "--modes",
            "forward",
            "--no-torch",
            "--json",
            "--plot",
            str(png),
        ]
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out) == json.loads(json.dumps(result))
    assert f"wrote {png}" in captured.err
    assert np.isfinite(result["rows"][0]["seconds"])
    _assert_png(png, min_width=400)


def test_paper_table_spline_column_is_the_papers_spline_whatever_the_model(tiny_config):
    """A model trained with the sinc front end and random chains still gets the paper's decimator, and the
    baseline column stays the paper's cubic spline (checked against scipy's decimate + CubicSpline)."""
    import jax
    import scipy.interpolate
    import scipy.signal

    from benchmarks import paper_table
    from jaxsr import metrics
    from jaxsr.inference import Model
    from jaxsr.models import init_variables, model_from_config

    c = tiny_config
    c.task.update(name="sr", ratio=4, sr_frontend="sinc", sr_degradation="random")
    model = Model.from_variables(init_variables(model_from_config(c), jax.random.key(0)), c)
    t = np.arange(4096) / 16000
    y = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    out = paper_table.score([("a/x.wav", y)], 4, 16000, model)
    # The paper's low-pass: order-8 Chebyshev type I IIR, zero phase (scipy.signal.decimate's default).
    low = scipy.signal.decimate(y.astype(np.float64), 4)
    knots = np.arange(len(low)) * 4
    spline = scipy.interpolate.CubicSpline(knots, low, bc_type="not-a-knot")(np.arange(len(y)))
    assert out["baseline"]["snr"] == pytest.approx(
        metrics.snr(y, spline.astype(np.float32)), abs=1e-3
    )
    assert out["model"] and np.isfinite(out["model"]["snr"])
    (spk,) = paper_table.per_speaker(
        out
    )  # one clip of speaker "a": its means are the clip's scores
    assert spk["speaker"] == "a" and spk["spline"] == pytest.approx(out["baseline"]["snr"])
    assert spk["unet"] == pytest.approx(out["model"]["snr"])
    # One speaker: the per-speaker table would repeat the table above, so none is printed; two: one row each.
    one = {"voices": {"ratios": {"4": {"unet": out["model"], "per_speaker": [spk]}}}}
    assert paper_table.speaker_markdown(one) == ""
    two = {
        "voices": {
            "ratios": {"4": {"unet": out["model"], "per_speaker": [spk, {**spk, "speaker": "b"}]}}
        }
    }
    text = paper_table.speaker_markdown(two)
    assert "Per speaker" in text and "| a | 1 |" in text and "| b | 1 |" in text
