"""Inference through every runtime: `enhance`, `Streamer` and `keep_known` run the same chunking over an
exported network (StableHLO; ONNX Runtime and OpenVINO when the optional `export` extra is installed).

Each runtime's chunked `enhance` is checked against an independent whole-signal `model.apply` of the
Flax model on the spline-upsampled input (scipy's cubic spline, not jaxsr's), the stream against the
offline result, and gap filling against the samples it must leave untouched.
"""

from __future__ import annotations

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.interpolate

import jaxsr
from jaxsr.config import default_config
from jaxsr.inference import Model, receptive_field
from jaxsr.models import init_variables, model_from_config


def _needs(module: str):
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f"{module} is in the optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )


RUNTIMES = [
    "stablehlo",
    pytest.param("onnxruntime", marks=_needs("onnxruntime")),
    pytest.param("openvino", marks=_needs("openvino")),
]
CHUNK = 2048


def _model(task: str = "sr") -> Model:
    c = default_config()
    c.dtype = "float32"
    c.model.update(num_blocks=2, width=0.0625, dropout=0.0)
    c.data.sample_rate = 16000
    c.task.name, c.task.ratio = task, 4
    v = init_variables(model_from_config(c), jax.random.key(0))
    leaves, tree = jax.tree_util.tree_flatten(v)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    v = jax.tree_util.tree_unflatten(
        tree, [a + 0.05 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys)]
    )
    v["batch_stats"] = jax.tree_util.tree_map(lambda a: jnp.abs(a) + 1.0, v["batch_stats"])
    return Model.from_variables(v, c, 0)


@pytest.fixture(scope="module")
def sr_model() -> Model:
    return _model("sr")


def _low_rate_audio(n: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 4000
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_chunked_enhance_through_each_runtime_equals_the_whole_signal_model(sr_model, runtime):
    x = _low_rate_audio()
    n_out = 4 * len(x)
    # Independent reference: scipy's not-a-knot cubic spline at the high-rate positions, then the Flax
    # model on the whole signal at once (no chunks, no runtime).
    up = scipy.interpolate.CubicSpline(np.arange(len(x)) * 4, x)(np.arange(n_out)).astype(
        np.float32
    )
    net = model_from_config(sr_model.config)
    whole = np.asarray(net.apply(sr_model.variables, jnp.asarray(up)[None, :, None], train=False))[
        0, :, 0
    ]
    model = sr_model.with_runtime(runtime)
    assert (
        model.runtime == runtime and model.with_runtime(runtime) is model
    )  # cached: exported once
    y, info = jaxsr.enhance(model, x, sample_rate=4000, chunk_length=CHUNK, return_info=True)
    assert info["runtime"] == runtime and y.shape == (n_out,)
    left, right = receptive_field(sr_model.config)
    inner = slice(
        left + 8, n_out - right - 8
    )  # the ends see SAME padding differently in a whole pass
    np.testing.assert_allclose(y[inner], whole[inner], atol=2e-4)
    assert np.abs(y[inner] - up[inner]).max() > 1e-2  # the network really ran (not the bare spline)
    # The keyword form gives the same as the switched Model.
    np.testing.assert_array_equal(
        jaxsr.enhance(sr_model, x, sample_rate=4000, chunk_length=CHUNK, runtime=runtime), y
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_streamed_equals_offline_through_each_runtime(sr_model, runtime):
    x = _low_rate_audio(5000, seed=1)
    model = sr_model.with_runtime(runtime)
    offline = jaxsr.enhance(model, x, sample_rate=4000, chunk_length=CHUNK)
    s = jaxsr.Streamer(model, sample_rate=4000, chunk_length=CHUNK)
    rng = np.random.default_rng(2)
    cuts = np.sort(rng.choice(np.arange(1, len(x)), 12, replace=False))
    parts = [s.process(b) for b in np.split(x, cuts)] + [s.flush()]
    streamed = np.concatenate([p for p in parts if p is not None])
    np.testing.assert_allclose(streamed, offline, atol=1e-5)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_gap_filling_keeps_every_known_sample_through_each_runtime(runtime):
    model = _model("inpaint").with_runtime(runtime)
    rng = np.random.default_rng(3)
    x = (0.2 * rng.standard_normal(9000)).astype(np.float32)
    mask = np.zeros(len(x), bool)
    mask[1000:1320] = mask[6000:6160] = True
    y = jaxsr.enhance(
        model, np.where(mask, np.nan, x), sample_rate=16000, mask=mask, chunk_length=CHUNK
    )
    np.testing.assert_array_equal(y[~mask], x[~mask])
    assert np.all(np.isfinite(y[mask])) and np.abs(y[mask]).max() > 0


def test_an_export_folder_loads_as_a_model_and_restores_like_the_flax_model(sr_model, tmp_path):
    folder = jaxsr.export(sr_model, tmp_path / "exported", format="stablehlo")
    loaded = jaxsr.load(folder)
    assert loaded.runtime == "stablehlo" and not loaded.variables and loaded.sample_rate == 16000
    x = _low_rate_audio(2500, seed=4)
    np.testing.assert_allclose(
        jaxsr.enhance(loaded, x, sample_rate=4000, chunk_length=CHUNK),
        jaxsr.enhance(sr_model, x, sample_rate=4000, chunk_length=CHUNK),
        atol=2e-4,
    )
    with pytest.raises(ValueError, match="runtime='xla'.*exported artefact"):
        jaxsr.load(folder, runtime="xla")
    with pytest.raises(ValueError, match="runtime"):
        jaxsr.enhance(sr_model, x, sample_rate=4000, runtime="tensorrt")


def test_export_cli_then_enhance_cli_on_the_folder_matches_the_packaged_model(tmp_path):
    import pathlib
    import subprocess
    import sys

    import soundfile as sf

    root = pathlib.Path(__file__).resolve().parent.parent
    x = _low_rate_audio(4000, seed=5)
    sf.write(tmp_path / "in.wav", x, 4000, subtype="FLOAT")

    def run(*a):
        return subprocess.run(
            [sys.executable, *a], cwd=root, capture_output=True, text=True, timeout=600
        )

    out = run(
        "launch/export.py",
        "--checkpoint",
        "speech-sr-x4-16k",
        "--format",
        "stablehlo",
        "-o",
        str(tmp_path / "exp"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "exp" / "jaxsr-export.json").is_file() and "exported" in out.stderr
    out = run(
        "launch/enhance.py",
        "--checkpoint",
        str(tmp_path / "exp"),
        str(tmp_path / "in.wav"),
        "-o",
        str(tmp_path / "o"),
        "--quiet",
        "--json",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    summary = json.loads(out.stdout)
    assert summary["runtime"] == "stablehlo" and summary["files_ok"] == 1
    y, rate = sf.read(tmp_path / "o" / "in.wav", dtype="float32")
    want = jaxsr.enhance(jaxsr.load("speech-sr-x4-16k"), x, sample_rate=4000)
    assert rate == 16000
    np.testing.assert_allclose(
        y, want, atol=1e-4
    )  # float32 WAV: the runtimes agree to float rounding
    bad = run(
        "launch/export.py",
        "--checkpoint",
        "speech-sr-x4-16k",
        "--format",
        "tflite",
        "-o",
        str(tmp_path / "x"),
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
