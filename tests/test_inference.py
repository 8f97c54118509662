"""Inference: chunked application, enhance() front ends, Streamer, loading, and bad input.

The model is a tiny AudioUNet (B=2, width 1/16) whose weights are randomised beyond their init, so
that its residual is large and every test could fail; whole-signal `model.apply` is the reference.
"""

from __future__ import annotations

import logging
import pathlib
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.interpolate

from jaxsr import checkpoints, inference as E
from jaxsr.inference import chunking
from jaxsr.config import default_config
from jaxsr.tasks.gaps import linear_fill
from jaxsr.tasks.upsampling import spline_upsample
from jaxsr.models import init_variables, length_multiple, model_from_config


def _config(task="sr", num_blocks=2):
    c = default_config()
    c.dtype = "float32"
    c.model.update(num_blocks=num_blocks, width=0.0625)
    c.data.update(sample_rate=16000, patch_length=512)
    c.task.name = task
    c.eval.update(batch_size=4, chunk_length=0)
    return c


def _random_variables(config, seed=0):
    """Init, then perturb every leaf so that biases are non-zero and the residual is O(1)."""
    v = init_variables(model_from_config(config), jax.random.key(seed))
    leaves, tree = jax.tree_util.tree_flatten(v)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    v = jax.tree_util.tree_unflatten(
        tree, [a + 0.05 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys)]
    )
    v["batch_stats"] = jax.tree_util.tree_map(lambda a: jnp.abs(a) + 1.0, v["batch_stats"])
    return v


@pytest.fixture(scope="module")
def setup():
    c = _config()
    v = _random_variables(c)
    return c, v, E.Model.from_variables(v, c)


def _whole(config, variables, x):
    """Reference: the model on the whole signal at once, zero-padded to a valid length. `[n] -> [n]`."""
    m = length_multiple(config.model.num_blocks)
    n = len(x)
    xp = np.zeros((1, -(-n // m) * m, 1), np.float32)
    xp[0, :n, 0] = x
    return np.asarray(model_from_config(config).apply(variables, xp, train=False))[0, :n, 0]


def _signal(n, seed=0, channels=None):
    rng = np.random.default_rng(seed)
    shape = (n,) if channels is None else (n, channels)
    t = np.arange(n)[:, None] if channels else np.arange(n)
    return (0.3 * np.sin(2 * np.pi * 0.013 * t) + 0.1 * rng.standard_normal(shape)).astype(
        np.float32
    )


# ------------------------------------------------------------------------------- chunked inference
@pytest.mark.parametrize("num_blocks", [2, 3])
def test_receptive_field_bounds_the_measured_dependence(num_blocks):
    c = _config(num_blocks=num_blocks)
    v = _random_variables(c)
    left, right = E.receptive_field(c)
    x = _signal(6144)
    q0, q1 = 3000, 3064  # a block covers every phase of the strided layers
    x2 = x.copy()
    x2[q0:q1] += np.random.default_rng(1).standard_normal(q1 - q0).astype(np.float32)
    d = _whole(c, v, x2) - _whole(c, v, x)
    d[q0:q1] -= x2[q0:q1] - x[q0:q1]  # the residual connection
    hit = np.flatnonzero(d != 0)
    # Output p reads inputs [p - left, p + right], so changes lie in [q0 - right, q1 - 1 + left] ...
    assert hit.min() >= q0 - right and hit.max() <= q1 - 1 + left
    # ... and the bound is tight (a loose bound would only cost speed, a short one exactness).
    assert hit.min() <= q0 - right + 8 and hit.max() >= q1 - 1 + left - 8


def test_chunked_equals_whole_signal_away_from_the_end(setup):
    c, v, _ = setup
    plan = E.chunk_plan(c, None)
    n = 5 * plan.length + 123
    x = _signal(n)
    y = E.run_model(v, c, x, chunk_length=plan.length, batch_size=3)  # 3: a partial last batch too
    ref = _whole(c, v, x)
    left, right = E.receptive_field(c)
    interior = n - (left + right + plan.length)  # the end is padded differently from the reference
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.abs(ref).max() > 0.3 and np.abs(ref - x).max() > 0.05  # a model that does something
    np.testing.assert_allclose(y[:interior], ref[:interior], atol=2e-5)

    # Error around the seams (crossfades) is no larger than elsewhere.
    err = np.abs(y - ref)[:interior]
    seams = np.zeros(interior, bool)
    for k in range(1, plan.num_chunks(n)):
        s = k * plan.hop
        seams[max(0, s - 64) : min(interior, s + plan.overlap + 64)] = True
    assert err[seams].mean() <= 2 * err[~seams].mean() + 1e-6

    # The same check has teeth: chunks without overlap leave visible seams.
    naive = np.concatenate([_whole(c, v, x[i : i + plan.length]) for i in range(0, n, plan.length)])
    naive_err = np.abs(naive - ref)[:interior]
    edges = np.zeros(interior, bool)
    for s in range(plan.length, interior, plan.length):
        edges[s - 64 : s + 64] = True
    assert naive_err[edges].mean() > 100 * (err[seams].mean() + 1e-7)


def test_short_signals_and_channels(setup):
    c, v, _ = setup
    for n in (1, 37, 1000):  # shorter than a chunk: one bucketed chunk
        x = _signal(n)
        y = E.run_model(v, c, x)
        assert y.shape == (n,)
        # Near the end the reference pads differently; 1 sample has no interior, so check finiteness only.
        assert np.all(np.isfinite(y))
    x = _signal(9000, channels=3)
    y = E.run_model(v, c, x)
    assert y.shape == (9000, 3)
    for ch in range(3):  # channels are independent
        np.testing.assert_allclose(y[:, ch], E.run_model(v, c, x[:, ch]), atol=1e-6)


def test_nothing_recompiles_per_file(setup):
    c, v, _ = setup
    L = E.chunk_plan(c).length
    fn = chunking.xla_apply(c)
    before = fn._cache_size()
    lengths = np.random.default_rng(0).integers(L // 2, 9 * L, size=10)
    for n in lengths:
        E.run_model(v, c, _signal(int(n)), batch_size=4)
    # Full chunks come in batches of 1, 2 or 4; the last chunk is one of 4 bucketed lengths (batch 1).
    assert fn._cache_size() - before <= 3 + 4
    seen = fn._cache_size()
    for n in lengths + 1:  # other files of similar lengths: all shapes are already compiled
        E.run_model(v, c, _signal(int(n)), batch_size=4)
    assert fn._cache_size() == seen


def test_chunk_length_validation(setup):
    c, v, _ = setup
    with pytest.raises(ValueError, match="multiple of 8"):
        E.run_model(v, c, _signal(100), chunk_length=1001)
    with pytest.raises(ValueError, match="too short"):
        E.run_model(v, c, _signal(100), chunk_length=512)
    # The config's default (4 x patch_length = 2048) is raised to the minimum instead of failing.
    assert E.chunk_plan(c).length >= 2 * E.chunk_plan(c).overlap


# ----------------------------------------------------------------------------------------- enhance
def test_sr_from_the_low_rate_is_spline_then_model(setup):
    c, v, model = setup
    x_lr = _signal(3001)[::1] * 0.8
    y, info = E.enhance(model, x_lr, sample_rate=4000, return_info=True)
    by_hand = E.run_model(v, c, spline_upsample(x_lr, 4))
    assert y.shape == (3001 * 4,) and y.dtype == np.float32
    np.testing.assert_allclose(y, by_hand, atol=1e-6)
    assert (
        info["output_rate"] == 16000 and not info["resampled"] and info["output_samples"] == 12004
    )
    # band_limited: already at the target rate, no spline.
    x_hr = spline_upsample(x_lr, 4)
    np.testing.assert_allclose(
        E.enhance(model, x_hr, sample_rate=16000, band_limited=True), by_hand, atol=1e-6
    )
    # A raw params pytree + config gives the same as the Model.
    np.testing.assert_allclose(E.enhance(v, x_lr, sample_rate=4000, config=c), y, atol=1e-6)


def test_layouts_dtypes_and_durations(setup):
    c, v, model = setup
    mono = _signal(2000)
    stereo = _signal(2000, seed=3, channels=2)
    y = E.enhance(model, stereo, sample_rate=4000)
    assert y.shape == (8000, 2)
    np.testing.assert_allclose(y[:, 1], E.enhance(model, stereo[:, 1], sample_rate=4000), atol=1e-6)
    # int16 is scaled by 1/32768; jax arrays are accepted.
    pcm = np.round(mono * 32767).astype(np.int16)
    np.testing.assert_allclose(
        E.enhance(model, pcm, sample_rate=4000),
        E.enhance(model, pcm.astype(np.float32) / 32768, sample_rate=4000),
        atol=1e-6,
    )
    assert E.enhance(model, jnp.asarray(mono), sample_rate=4000).shape == (8000,)
    # [time, 1] stays [time, 1].
    assert E.enhance(model, mono[:, None], sample_rate=4000).shape == (8000, 1)


def test_other_rates_are_resampled_and_reported(setup, caplog):
    c, v, model = setup
    x = _signal(4410, channels=2)  # 0.1 s at 44.1 kHz
    with caplog.at_level(logging.INFO, logger="jaxsr.inference"):
        y, info = E.enhance(model, x, sample_rate=44100, return_info=True)
    assert info["resampled"] and info["resampled_from"] == 44100 and info["resampled_to"] == 4000
    assert "resampling input from 44100 Hz to 4000 Hz" in caplog.text
    assert y.shape == (1600, 2) and info["seconds"] == pytest.approx(0.1)
    # denoise at another rate: resampled to the target rate, same duration.
    cd = _config("denoise")
    yd, info = E.enhance(v, x, sample_rate=44100, config=cd, return_info=True)
    assert yd.shape == (1600, 2) and info["resampled_to"] == 16000
    # A band-limited call above the target rate is resampled down; at the target rate it is not.
    _, info = E.enhance(model, x, sample_rate=44100, band_limited=True, return_info=True)
    assert info["resampled_to"] == 16000
    _, info = E.enhance(model, x[:1600], sample_rate=16000, band_limited=True, return_info=True)
    assert not info["resampled"]


def _tone(y: np.ndarray, rate: float, hz: float) -> float:
    """Amplitude of the `hz` sinusoid in `y` (least squares on sin and cos), by hand."""
    t = np.arange(len(y)) / rate
    basis = np.stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)], axis=1)
    coef = np.linalg.lstsq(basis, y.astype(np.float64), rcond=None)[0]
    return float(np.hypot(*coef))


def test_input_between_the_rates_keeps_its_own_band(setup):
    from jaxsr.audio_io import resample

    c, v, model = setup  # sr r=4 at 16 kHz: the model's input rate is 4 kHz
    rate, n = 8000, 8000
    t = np.arange(n) / rate
    # 500 Hz inside the model's 2 kHz input band; 3 kHz above it, which reducing to 4 kHz would remove.
    x = (0.3 * np.sin(2 * np.pi * 500 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    y, info = E.enhance(model, x, sample_rate=rate, return_info=True)
    assert y.shape == (2 * n,) and info["kept_input_band_hz"] == pytest.approx(3800.0)
    mid = slice(
        2000, 2 * n - 2000
    )  # away from the ends (the crossover filter's and the resampler's edges)
    assert _tone(y[mid], 16000, 3000) == pytest.approx(0.2, rel=0.01)  # the input's own 3 kHz, kept
    assert _tone(y[mid], 16000, 500) == pytest.approx(0.3, rel=0.01)
    # Above the crossover (0.95 x 4 kHz) the output is the model's, as it restores the 4 kHz version.
    low = resample(x, rate, 4000)
    model_only = E.enhance(model, low, sample_rate=4000)[: 2 * n]
    spec_y, spec_m = np.fft.rfft(y[mid]), np.fft.rfft(model_only[mid])
    f = np.fft.rfftfreq(len(y[mid]), 1 / 16000)
    top = f > 3900
    assert np.abs(spec_y[top] - spec_m[top]).max() < 2e-3 * np.abs(spec_m[top]).max() + 1e-3
    assert (
        _tone(model_only[mid], 16000, 3000) < 0.02
    )  # what the old path returned: the 3 kHz tone gone


def test_an_empty_band_is_not_kept_and_full_band_files_are_unchanged(setup):
    from jaxsr.audio_io import resample

    _, _, model = setup
    x4 = _signal(4000)
    up = resample(x4, 4000, 8000)  # 8 kHz file made from 4 kHz audio: nothing above 2 kHz to keep
    _, info = E.enhance(model, up, sample_rate=8000, return_info=True)
    assert info["kept_input_band_hz"] is None and info["resampled_to"] == 4000
    _, info = E.enhance(
        model, _signal(4410), sample_rate=44100, return_info=True
    )  # above the target rate
    assert info["kept_input_band_hz"] is None


def test_inpaint_fills_masked_samples_first(setup):
    _, v, _ = setup
    c = _config("inpaint")
    x = _signal(5000)
    mask = np.zeros(5000, bool)
    mask[1200:1500] = True
    mask[4900:] = True
    holed = np.where(mask, np.nan, x).astype(
        np.float32
    )  # NaN is allowed where the mask says missing
    y = E.enhance(v, holed, sample_rate=16000, config=c, mask=mask)
    model_out = E.run_model(v, c, linear_fill(np.where(mask, 0, x), mask))
    np.testing.assert_allclose(y[mask], model_out[mask], atol=1e-6)  # the model fills the gaps ...
    np.testing.assert_array_equal(y[~mask], x[~mask])  # ... and the known samples come back exactly
    assert (
        np.abs(model_out[~mask] - x[~mask]).max() > 1e-4
    )  # (which the model alone would have changed)
    with pytest.raises(ValueError, match="NaN"):
        E.enhance(v, holed, sample_rate=16000, config=c)  # without the mask the NaNs are an error


def test_silent_and_clipped_audio(setup):
    _, _, model = setup
    c = _config("denoise")
    v = init_variables(
        model_from_config(c), jax.random.key(0)
    )  # an untrained-scale model: near identity
    y = E.enhance(v, np.zeros(3000, np.float32), sample_rate=16000, config=c)
    assert np.all(np.isfinite(y)) and np.abs(y).max() < 1e-3
    clipped = np.clip(3 * _signal(3000), -1, 1)
    with pytest.warns(UserWarning, match="clipped"):
        y = E.enhance(v, clipped, sample_rate=16000, config=c)
    assert y.shape == (3000,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a normal signal does not warn
        E.enhance(v, 0.5 * _signal(3000), sample_rate=16000, config=c)


@pytest.mark.parametrize(
    "kwargs, audio, match",
    [
        ({}, np.zeros(0, np.float32), "empty"),
        ({}, np.array([0.1, np.nan, 0.2] * 10, np.float32), "NaN"),
        ({}, np.array([0.1, np.inf] * 10, np.float32), "NaN or infinite"),
        ({}, np.zeros((100, 9), np.float32), "9 channels"),
        ({}, np.zeros((2, 4000), np.float32), "transpose"),
        ({}, np.zeros((10, 2, 2), np.float32), r"\[time\] or \[time, channels\]"),
        ({}, np.array(["a"] * 10), "not audio"),
        ({"sample_rate": 0}, np.zeros(100, np.float32), "sample_rate"),
        ({"sample_rate": -16000}, np.zeros(100, np.float32), "sample_rate"),
        ({"sample_rate": "fast"}, np.zeros(100, np.float32), "sample_rate"),
        ({"sample_rate": 4000, "band_limited": True}, np.zeros(100, np.float32), "band_limited"),
        ({"task": "denoise"}, np.zeros(100, np.float32), "trained for task 'sr'"),
        ({"ratio": 2}, np.zeros(100, np.float32), "ratio 4"),
        ({"ratio": 5}, np.zeros(100, np.float32), "ratio must be one of"),
        ({"mask": np.zeros(100, bool)}, np.zeros(100, np.float32), "inpaint"),
        ({"batch_size": 0}, np.zeros(100, np.float32), "batch_size"),
    ],
)
def test_bad_input_errors(setup, kwargs, audio, match):
    _, _, model = setup
    kwargs = {"sample_rate": 4000, **kwargs}
    with pytest.raises(ValueError, match=match):
        E.enhance(model, audio, **kwargs)


def test_bad_params_errors(setup):
    c, v, _ = setup
    x = np.zeros(100, np.float32)
    with pytest.raises(ValueError, match="config is required"):
        E.enhance(v, x, sample_rate=4000)
    wide = _config()
    wide.model.width = 0.125
    with pytest.raises(ValueError, match="do not match config.model"):
        E.enhance(v, x, sample_rate=4000, config=wide)
    with pytest.raises(ValueError, match="batch_stats"):
        E.enhance(v["params"], x, sample_rate=4000, config=c)
    with pytest.raises(ValueError, match="mask has shape"):
        E.enhance(v, x, sample_rate=16000, config=_config("inpaint"), mask=np.zeros(50, bool))


# ---------------------------------------------------------------------------------------- streaming
@pytest.mark.parametrize(
    "task, band_limited, rate, n",
    [
        ("sr", False, 4000, 9001),
        ("sr", True, 16000, 21000),
        ("denoise", False, 16000, 20011),
        ("inpaint", False, 16000, 14000),
        ("sr", False, 4000, 500),
    ],
)
def test_streamer_equals_whole_signal_model_and_offline(setup, task, band_limited, rate, n):
    _, v, _ = setup
    c = _config(task)
    model = E.Model.from_variables(v, c)
    x = _signal(n, seed=5, channels=2)
    mask = None
    if task == "inpaint":
        mask = np.zeros(n, bool)
        mask[3000:3400] = True
        mask[-30:] = True
    # The independent reference, with no chunking: the front end done by scipy / numpy on the whole
    # signal, then `model.apply` once on the whole zero-padded signal (`_whole`), per channel.
    reference, inputs = [], []
    for ch in range(x.shape[1]):
        xc = x[:, ch].astype(np.float64)
        if (
            task == "sr" and not band_limited
        ):  # the cubic spline through the low-rate samples (not-a-knot)
            xc = scipy.interpolate.splev(
                np.arange(4 * n), scipy.interpolate.splrep(np.arange(n) * 4, xc, s=0)
            )
        if mask is not None:  # masked samples linearly interpolated from the known ones
            xc[mask] = np.interp(np.flatnonzero(mask), np.flatnonzero(~mask), xc[~mask])
        inputs.append(xc.astype(np.float32))
        y = _whole(c, v, inputs[-1])
        reference.append(np.where(mask, y, x[:, ch]) if mask is not None else y)
    reference, inputs = np.stack(reference, axis=1), np.stack(inputs, axis=1)
    offline = E.enhance(model, x, sample_rate=rate, band_limited=band_limited, mask=mask)
    s = E.Streamer(model, sample_rate=rate, band_limited=band_limited)
    rng = np.random.default_rng(0)
    outs, i, scale = [], 0, offline.shape[0] // n
    while i < n:
        b = int(rng.integers(1, 2500))
        outs.append(s.process(x[i : i + b], mask=None if mask is None else mask[i : i + b]))
        i += b
        if task != "inpaint":  # the documented fixed latency
            assert sum(len(o) for o in outs) == max(0, min(i, n) * scale - s.latency)
    outs.append(s.flush())
    online = np.concatenate(outs)
    assert online.shape == offline.shape == reference.shape
    # Equal to the whole-signal model except within the receptive field of the end, where the reference's
    # zero padding (to a multiple of 8) differs from the last chunk's; there, equal to enhance().
    interior = len(reference) - E.receptive_field(c)[1]
    assert interior > len(reference) // 2
    assert np.abs(reference - inputs).max() > 0.05  # a model that does something
    np.testing.assert_allclose(online[:interior], reference[:interior], atol=2e-5)
    np.testing.assert_allclose(online, offline, atol=1e-5)
    if mask is not None:  # known samples pass through unchanged, streamed as offline
        np.testing.assert_array_equal(online[~mask], x[~mask])


def test_streamer_layout_and_errors(setup):
    _, _, model = setup
    s = E.Streamer(model, sample_rate=4000)
    assert s.latency == s.plan.length + (E.SPLINE_CONTEXT + 2) * 4
    assert s.latency_seconds == pytest.approx(s.latency / 16000)
    out = s.process(_signal(3000))
    assert out.ndim == 1
    with pytest.raises(ValueError, match="2 channels but this stream has 1"):
        s.process(np.zeros((10, 2), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        s.process(np.full(10, np.nan, np.float32))
    assert len(out) + len(s.flush()) == 12000
    with pytest.raises(ValueError, match="does not resample"):
        E.Streamer(model, sample_rate=44100)
    with pytest.raises(ValueError, match="nothing to restore"):
        E.Streamer(model, sample_rate=4000).flush()


# ------------------------------------------------------------------------------------------ loading
def _save_workdir(workdir: pathlib.Path, config, variables, step=7):
    checkpoints.save_config(workdir, config)
    ckpt = checkpoints.Checkpointer(workdir, keep=2, async_save=False)
    ckpt.save(step, dict(variables), {"step": np.int32(step)}, {})
    ckpt.save_best(step, dict(variables), {"step": np.int32(step)}, {}, eval_lsd=1.0)
    ckpt.wait()
    ckpt.close()


def test_load_round_trip_and_errors(setup, tmp_path):
    c, v, model = setup
    _save_workdir(tmp_path / "run", c, v)
    loaded = E.load(tmp_path / "run")
    assert loaded.step == 7 and loaded.sample_rate == 16000 and loaded.task["ratio"] == 4
    x = _signal(1000)
    np.testing.assert_allclose(
        E.enhance(loaded, x, sample_rate=4000), E.enhance(model, x, sample_rate=4000), atol=1e-6
    )
    assert E.load(tmp_path / "run", which="best").step == 7
    assert E.load(tmp_path / "run" / "checkpoints" / "7").step == 7

    with pytest.raises(FileNotFoundError, match="does not exist"):
        E.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        E.load(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="step 3"):
        E.load(tmp_path / "run", which=3)
    meta = tmp_path / "run" / "checkpoints" / "7" / "meta" / "metadata"
    text = meta.read_text()
    meta.write_text(text.replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(ValueError, match="format"):
        E.load(tmp_path / "run")
    meta.unlink()  # half-written
    with pytest.raises(ValueError, match="half-written"):
        E.load(tmp_path / "run")


def test_top_level_enhance_stays_the_function_after_submodule_imports():
    import importlib

    import jaxsr

    importlib.import_module("jaxsr.inference")
    importlib.import_module("jaxsr.evaluation")  # imports from jaxsr.inference inside
    from jaxsr import inference

    assert callable(jaxsr.enhance) and jaxsr.enhance is inference.enhance
    assert jaxsr.load is inference.load and jaxsr.Streamer is inference.Streamer


@pytest.mark.parametrize("task, rate", [("sr", 4000), ("denoise", 16000)])
def test_digital_silence_stays_silent(setup, task, rate):
    _, v, _ = setup
    c = _config(task)
    model = E.Model.from_variables(v, c)
    # An all-zero input: without the gate the model's biases return a constant (~1e-4 when trained).
    y = E.enhance(model, np.zeros(3000, np.float32), sample_rate=rate)
    assert y.shape == (3000 * 16000 // rate,) and np.all(y == 0), np.abs(y).max()
    raw = E.apply_chunks(v, c, np.zeros((1, 1024), np.float32), 1)
    assert np.all(raw == 0)
    # A silent lead-in and pause inside speech-like audio: exact zeros wherever the model's whole
    # receptive field is silent, the model's output elsewhere; chunked, streamed and whole agree.
    left, right = E.receptive_field(c)
    x = _signal(20000, seed=3)
    x[:6000] = 0.0
    x[11000:15000] = 0.0
    y = E.enhance(model, x, sample_rate=16000, band_limited=task == "sr", chunk_length=2048)
    assert np.all(y[: 6000 - right] == 0) and np.all(y[11000 + left : 15000 - right] == 0)
    assert np.all(y[6000 + left : 11000 - right] != 0)
    gate = E.silence_gate(x[None], left, right)[0]
    interior = len(x) - (
        left + right + 2048
    )  # the end is padded differently from the whole-signal reference
    np.testing.assert_allclose(
        y[:interior], np.where(gate, 0.0, _whole(c, v, x))[:interior], atol=2e-5
    )
    s = E.Streamer(model, sample_rate=16000, band_limited=task == "sr", chunk_length=2048)
    online = np.concatenate(
        [s.process(x[i : i + 777]) for i in range(0, len(x), 777)] + [s.flush()]
    )
    np.testing.assert_allclose(online, y, atol=1e-5)


def test_implausible_rates_and_huge_outputs_are_refused(setup, monkeypatch):
    _, _, model = setup  # sr r=4 at 16 kHz: expects 4 kHz
    x = _signal(16000)
    # sample_rate=4 for 4 s of audio would be "resampled" into 64 M output samples: refused at once.
    with pytest.raises(
        ValueError, match=r"sample_rate=4 Hz is outside the plausible range .*allow_any_rate=True"
    ):
        E.enhance(model, x, sample_rate=4)
    with pytest.raises(ValueError, match="plausible range"):
        E.enhance(model, x, sample_rate=2_000_000)
    # With the override a short input at a strange rate runs (7 samples at 7 Hz is one second).
    y = E.enhance(model, x[:7], sample_rate=7, allow_any_rate=True)
    assert y.shape == (16000,)
    # An output whose working set exceeds half the machine's memory is refused before any work.
    monkeypatch.setattr(E.checks, "_physical_memory_bytes", lambda: 64 * 2**20)
    with pytest.raises(
        MemoryError, match=r"needs about .* GiB, more than half of this machine's 0.1 GiB"
    ):
        E.enhance(model, np.zeros(600_000, np.float32), sample_rate=4000)
    E.enhance(model, x[:1000], sample_rate=4000)  # small outputs still run


def test_ambiguous_layout_and_int16_range_int32_warn(tiny_config):
    # (2, 8) reads as 2 samples x 8 channels, and int16-range values stored as int32 come
    # out 1/65536 as loud: both are legal, so both run, but each says what it was read as.
    from jaxsr.inference.checks import check_audio_array

    with pytest.warns(UserWarning, match=r"shape \(2, 8\).*2 samples of 8 channels.*audio\.T"):
        a, _ = check_audio_array(np.zeros((2, 8), np.float32))
    assert a.shape == (2, 8)
    pcm16 = (np.sin(np.arange(1000) / 10) * 20000).astype(np.int32)
    with pytest.warns(UserWarning, match=r"int16 range.*astype\(np\.int16\)"):
        a, _ = check_audio_array(pcm16)
    np.testing.assert_allclose(
        a[:, 0], pcm16 / 2**31, rtol=1e-6
    )  # read as 32-bit PCM, as documented
    import warnings as w

    with w.catch_warnings():
        w.simplefilter("error")  # unambiguous input: no warning
        check_audio_array(np.zeros((100, 2), np.float32))
        check_audio_array((pcm16.astype(np.int64) * 65536).astype(np.int32))
