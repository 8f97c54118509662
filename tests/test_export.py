"""Export (StableHLO, ONNX) and the runtimes behind `jaxsr.deploy.load_forward`.

The model is a tiny AudioUNet (B=2, width 1/16, no dropout) whose weights are randomised beyond their
init (non-zero biases, BatchNorm statistics away from 0 / 1, an O(1) residual), so that a wrongly
folded BatchNorm, a dropped bias or a mis-ordered subpixel shuffle shows up. The reference is
`model.apply(..., train=False)`. The StableHLO path needs only jax, so its tests always run; ONNX,
ONNX Runtime and OpenVINO are the optional `export` extra (`pip install -e '.[export]'` from a clone), which CI does
not install, so their tests skip without them.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsr.config import default_config
from jaxsr.deploy import export, load_forward
from jaxsr.deploy.folder import METADATA
from jaxsr.inference import Model
from jaxsr.models import init_variables, model_from_config

ROOT = pathlib.Path(__file__).resolve().parent.parent
ATOL = 1e-4  # float32 runtimes against model.apply
# bfloat16 keeps 8 significant bits (relative rounding 2**-9 ~ 0.2% per op); over the U-Net's 6 layers
# the residual branch f(x) = y - x came out 0.6-0.8% (RMS, relative) off float32 in OpenVINO and XLA
# for this model. 3% leaves room for other CPUs' kernels while still catching a wrong graph (~100%).
BF16_RTOL = 0.03
BATCHES = (1, 3, 4)
LENGTHS = (256, 512)  # two chunk lengths, multiples of 2**(B+1) = 8


def _config():
    c = default_config()
    c.dtype = "float32"
    c.model.update(num_blocks=2, width=0.0625, dropout=0.0)
    c.data.sample_rate = 16000
    c.task.name, c.task.ratio = "sr", 4
    return c


@pytest.fixture(scope="module")
def tiny():
    """`(config, variables, Model)` with every leaf perturbed, so that the residual is O(1)."""
    c = _config()
    v = init_variables(model_from_config(c), jax.random.key(0))
    leaves, tree = jax.tree_util.tree_flatten(v)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    v = jax.tree_util.tree_unflatten(
        tree, [a + 0.05 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys)]
    )
    v["batch_stats"] = jax.tree_util.tree_map(lambda a: jnp.abs(a) + 1.0, v["batch_stats"])
    return c, v, Model.from_variables(v, c, 0)


@pytest.fixture(scope="module")
def reference(tiny):
    c, v, _ = tiny
    net = model_from_config(c)
    apply = jax.jit(lambda x: net.apply(v, x, train=False))
    return lambda x: np.asarray(apply(x))


@pytest.fixture(scope="module")
def stablehlo_dir(tiny, tmp_path_factory):
    return export(tiny[2], tmp_path_factory.mktemp("stablehlo"), "stablehlo")


@pytest.fixture(scope="module")
def onnx_dir(tiny, tmp_path_factory):
    pytest.importorskip(
        "onnx",
        reason="ONNX export needs the optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    return export(tiny[2], tmp_path_factory.mktemp("onnx"), "onnx")


def _inputs(n, length, seed=0):
    return (
        np.random.default_rng(seed + 7 * n + length)
        .standard_normal((n, length, 1))
        .astype(np.float32)
    )


def _assert_matches(forward, reference, atol=ATOL, lengths=LENGTHS):
    """Every batch size and chunk length within `atol`; and rows independent of their batch."""
    for length in lengths:
        for n in BATCHES:
            x = _inputs(n, length)
            y, want = forward(x), reference(x)
            assert y.shape == (n, length, 1) and y.dtype == np.float32
            np.testing.assert_allclose(y, want, atol=atol, rtol=0, err_msg=f"n={n} length={length}")
        # What makes chunked == whole hold through any runtime: a row's output does not depend on the
        # other rows (or on the batch padding), within float rounding.
        x = _inputs(4, length, seed=1)
        alone = np.concatenate([forward(x[i : i + 1]) for i in range(4)])
        np.testing.assert_allclose(forward(x), alone, atol=1e-5, rtol=1e-5)


def _residual_error(forward, reference):
    """RMS error of the residual branch f(x) = y - x, relative to its RMS, over all test shapes."""
    num = den = 0.0
    for length in LENGTHS:
        for n in BATCHES:
            x = _inputs(n, length)
            want = reference(x)
            num += float(np.sum((forward(x) - want) ** 2))
            den += float(np.sum((want - x) ** 2))
    return np.sqrt(num / den)


def _one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text, text
    return text


def _openvino():
    """openvino, imported as jaxsr does (without the usage event its plain import sends), or a skip."""
    from jaxsr.deploy.runtimes import import_openvino

    try:
        return import_openvino()
    except ImportError:
        pytest.skip(
            "OpenVINO is in the optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')"
        )


# ------------------------------------------------------------------------------- StableHLO: always
def test_stablehlo_folder_holds_the_artefact_and_its_metadata(stablehlo_dir, tiny):
    c, _, model = tiny
    assert sorted(p.name for p in stablehlo_dir.iterdir()) == ["forward.stablehlo", METADATA]
    meta = json.loads((stablehlo_dir / METADATA).read_text())
    assert meta["format"] == "stablehlo" and meta["dtype"] == "float32"
    assert meta["task"] == "sr" and meta["ratio"] == 4
    assert meta["output_rate"] == 16000.0 and meta["input_rate"] == 4000.0
    assert meta["length_multiple"] == 8 and meta["chunk_lengths"] is None
    assert meta["jaxsr_version"] and meta["jax_version"] == jax.__version__
    assert meta["config"]["model"] == c.model.to_dict()
    assert meta["input"] == {"name": "x", "shape": ["batch", "time", 1], "dtype": "float32"}
    import hashlib

    info = meta["files"]["forward.stablehlo"]
    data = (stablehlo_dir / "forward.stablehlo").read_bytes()
    assert info["sha256"] == hashlib.sha256(data).hexdigest() and info["bytes"] == len(data)
    # Plain jax.export, no jaxsr: batch and time are symbolic, time a multiple of 8.
    exported = jax.export.deserialize(bytearray(data))
    assert [str(d) for d in exported.in_avals[0].shape] == ["batch", "8*t", "1"]
    assert "cpu" in exported.platforms and "cuda" in exported.platforms


def test_stablehlo_runtime_equals_the_model(stablehlo_dir, reference):
    forward = load_forward(stablehlo_dir, "stablehlo")
    assert forward.runtime == "stablehlo" and forward.chunk_lengths is None
    assert forward.output_rate == 16000.0 and forward.input_rate == 4000.0
    assert forward.config.model.num_blocks == 2 and forward.receptive_field[0] > 0
    _assert_matches(forward, reference)


def test_stablehlo_artefact_runs_without_flax_or_jaxsr_model_code(stablehlo_dir, reference):
    code = (
        "import sys, json, numpy as np\n"
        "from jaxsr.deploy import load_forward\n"
        f"f = load_forward({str(stablehlo_dir)!r}, 'stablehlo')\n"
        "y = f(np.ones((2, 64, 1), np.float32))\n"
        "print(json.dumps({'y': y.tolist(), 'rate': f.output_rate, 'task': f.config.task.name,\n"
        "                  'modules': sorted(m for m in sys.modules if m.split('.')[0] == 'flax'\n"
        "                                    or m in ('jaxsr.models', 'jaxsr.inference', 'jaxsr.train'))}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["modules"] == [] and result["rate"] == 16000.0 and result["task"] == "sr"
    np.testing.assert_allclose(
        np.asarray(result["y"], np.float32),
        reference(np.ones((2, 64, 1), np.float32)),
        atol=ATOL,
        rtol=0,
    )


def test_xla_runtime_equals_the_model(tiny, reference):
    forward = load_forward(tiny[2], "xla")
    assert forward.metadata["task"] == "sr" and forward.metadata["format"] is None
    _assert_matches(forward, reference)


def test_a_model_is_exported_on_the_fly_for_an_artefact_runtime(tiny, reference):
    _assert_matches(load_forward(tiny[2], "stablehlo"), reference, lengths=(256,))


def test_fixed_chunk_lengths_give_one_artefact_each_and_a_new_export_replaces_them(
    tiny, reference, tmp_path
):
    folder = export(tiny[2], tmp_path / "fixed", "stablehlo", chunk_lengths=[512, 256, 512])
    assert sorted(p.name for p in folder.iterdir()) == [
        "forward-256.stablehlo",
        "forward-512.stablehlo",
        METADATA,
    ]
    meta = json.loads((folder / METADATA).read_text())
    assert meta["chunk_lengths"] == [256, 512] and meta["input"]["shape"] == [
        "batch",
        "chunk_length",
        1,
    ]
    forward = load_forward(folder, "stablehlo")
    assert forward.chunk_lengths == (256, 512)
    _assert_matches(forward, reference)
    with pytest.raises(ValueError, match="chunk lengths \\[256, 512\\]; got 1024") as e:
        forward(_inputs(1, 1024))
    _one_line(e)
    export(tiny[2], folder, "stablehlo")  # the same folder, now symbolic: the fixed-length files go
    assert sorted(p.name for p in folder.iterdir()) == ["forward.stablehlo", METADATA]


def test_bfloat16_stablehlo_and_xla_stay_within_the_bf16_bound(tiny, reference, tmp_path):
    folder = export(tiny[2], tmp_path / "bf16", "stablehlo", dtype="bfloat16")
    with pytest.raises(ValueError, match="exported with dtype='bfloat16'") as e:
        load_forward(
            folder, "stablehlo"
        )  # precision defaults to float32: refused, not silently bf16
    _one_line(e)
    for forward in (
        load_forward(folder, "stablehlo", precision="bfloat16"),
        load_forward(tiny[2], "xla", precision="bfloat16"),
    ):
        err = _residual_error(forward, reference)
        assert 1e-4 < err < BF16_RTOL, (forward.runtime, err)  # > 1e-4: it really computed in bf16


def test_a_damaged_or_mismatched_artefact_is_refused_in_one_line(stablehlo_dir, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(stablehlo_dir, folder)
    data = bytearray((folder / "forward.stablehlo").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "forward.stablehlo").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256 differs") as e:
        load_forward(folder, "stablehlo")
    _one_line(e)
    with pytest.raises(ValueError, match="runtime='xla' runs the Flax model") as e:
        load_forward(stablehlo_dir, "xla")
    _one_line(e)


def test_bad_options_are_one_line_errors_naming_the_choices(tiny, tmp_path):
    model = tiny[2]
    cases = [
        (lambda: export(model, tmp_path / "a", "tflite"), "format='tflite'", "'stablehlo', 'onnx'"),
        (
            lambda: export(model, tmp_path / "a", "stablehlo", dtype="float16"),
            "dtype='float16'",
            "'bfloat16'",
        ),
        (
            lambda: export(model, tmp_path / "a", "onnx", dtype="bfloat16"),
            "float32 only",
            "openvino",
        ),
        (
            lambda: export(model, tmp_path / "a", "stablehlo", chunk_lengths=[100]),
            "100",
            "multiple of 8",
        ),
        (
            lambda: load_forward(model, "tensorrt"),
            "runtime='tensorrt'",
            "'onnxruntime', 'openvino'",
        ),
        (
            lambda: load_forward(model, "xla", precision="float16"),
            "precision='float16'",
            "'bfloat16'",
        ),
        (
            lambda: load_forward(model, "onnxruntime", precision="bfloat16"),
            "float32 only",
            "openvino",
        ),
    ]
    for call, *needles in cases:
        with pytest.raises(ValueError) as e:
            call()
        text = _one_line(e)
        assert all(n in text for n in needles), text
    assert not (tmp_path / "a").exists()  # options are checked before anything is written


@pytest.mark.parametrize(
    "module, call",
    [
        ("onnx", lambda m, p: export(m, p, "onnx")),
        ("flatbuffers", lambda m, p: export(m, p, "stablehlo")),
        ("onnxruntime", lambda m, p: load_forward(m, "onnxruntime")),
        ("openvino", lambda m, p: load_forward(m, "openvino")),
    ],
)
def test_a_missing_optional_package_is_one_line_naming_it_and_the_extra(
    tiny, tmp_path, monkeypatch, module, call
):
    monkeypatch.setitem(
        sys.modules, module, None
    )  # None in sys.modules: "import" raises ImportError
    with pytest.raises(ImportError) as e:
        call(tiny[2], tmp_path / "out")
    text = _one_line(e)
    assert (
        f"'{module}'" in text
        and 'pip install -e ".[export]"' in text
        and 'pip install "jaxsr[export]"' in text
    )


def test_forward_refuses_chunks_of_the_wrong_shape(tiny):
    forward = load_forward(tiny[2], "xla")
    for bad, needle in [
        (np.zeros((2, 64)), "[n, time, 1]"),
        (np.zeros((2, 60, 1)), "multiple of 8"),
    ]:
        with pytest.raises(ValueError, match=needle.replace("[", "\\[").replace("]", "\\]")) as e:
            forward(bad)
        _one_line(e)
    assert forward(np.zeros((0, 64, 1), np.float32)).shape == (0, 64, 1)


# ------------------------------------------------------------------------ ONNX: the optional extra
def test_onnx_graph_is_dynamic_and_uses_plain_ops(onnx_dir):
    import onnx

    assert sorted(p.name for p in onnx_dir.iterdir()) == ["forward.onnx", METADATA]
    proto = onnx.load(str(onnx_dir / "forward.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "time", 1]
    assert [
        d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim
    ] == dims
    ops = [n.op_type for n in proto.graph.node]
    # 2 down + bottleneck + 2 up + final: 6 convs, each with its bias folded in; BatchNorm folded to
    # one Sub / Mul / Add; no dropout.
    assert ops.count("Conv") == 6 and all(
        len(n.input) == 3 for n in proto.graph.node if n.op_type == "Conv"
    )
    assert ops.count("LeakyRelu") == 1 and "Dropout" not in ops
    assert set(ops) <= {
        "Conv",
        "Relu",
        "LeakyRelu",
        "Transpose",
        "Reshape",
        "Concat",
        "Add",
        "Sub",
        "Mul",
        "Identity",
    }
    assert (
        json.loads((onnx_dir / METADATA).read_text())["onnx_opset"] == proto.opset_import[0].version
    )


def test_onnxruntime_equals_the_model(onnx_dir, reference):
    pytest.importorskip(
        "onnxruntime",
        reason="optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    forward = load_forward(onnx_dir, "onnxruntime")
    assert forward.output_rate == 16000.0 and forward.metadata["format"] == "onnx"
    _assert_matches(forward, reference)


def test_onnx_with_fixed_chunk_lengths_and_a_format_mismatch(
    tiny, reference, stablehlo_dir, tmp_path
):
    pytest.importorskip(
        "onnx",
        reason="optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    pytest.importorskip(
        "onnxruntime",
        reason="optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    import onnx

    folder = export(tiny[2], tmp_path / "fixed", "onnx", chunk_lengths=[256])
    proto = onnx.load(str(folder / "forward-256.onnx"))
    assert [
        d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim
    ] == ["batch", 256, 1]
    _assert_matches(load_forward(folder, "onnxruntime"), reference, lengths=(256,))
    with pytest.raises(
        ValueError, match="holds a 'stablehlo' export; runtime='onnxruntime' needs format='onnx'"
    ) as e:
        load_forward(stablehlo_dir, "onnxruntime")
    _one_line(e)


def test_openvino_float32_equals_the_model(onnx_dir, reference):
    _openvino()
    _assert_matches(load_forward(onnx_dir, "openvino"), reference)


def test_openvino_bfloat16_stays_within_the_bf16_bound(onnx_dir, reference):
    if "BF16" not in _openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bfloat16 support in OpenVINO (needs AVX512-BF16 or AMX)")
    err = _residual_error(load_forward(onnx_dir, "openvino", precision="bfloat16"), reference)
    assert 1e-4 < err < BF16_RTOL, err


def test_openvino_is_imported_without_its_telemetry():
    _openvino()
    code = (
        "import sys\nfrom jaxsr.deploy.runtimes import import_openvino\nimport_openvino().Core()\n"
        "print(sorted(m for m in sys.modules if 'telemetry' in m or m.startswith('openvino.tools')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    "fields", [{"norm": "none"}, {"dilation": 3, "leaky_slope": 0.1, "final_kernel": 5}]
)
def test_other_architectures_lower_to_onnx(fields, tmp_path):
    pytest.importorskip(
        "onnx",
        reason="optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    pytest.importorskip(
        "onnxruntime",
        reason="optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    c = _config()
    c.model.update(**fields)
    net = model_from_config(c)
    v = init_variables(net, jax.random.key(2))
    v = jax.tree_util.tree_map(
        lambda a: a + 0.05 * jax.random.normal(jax.random.key(3), a.shape), v
    )
    if "batch_stats" in v:
        v["batch_stats"] = jax.tree_util.tree_map(lambda a: jnp.abs(a) + 1.0, v["batch_stats"])
    forward = load_forward(export(Model.from_variables(v, c), tmp_path, "onnx"), "onnxruntime")
    x = _inputs(3, 256)
    np.testing.assert_allclose(
        forward(x), np.asarray(net.apply(v, x, train=False)), atol=ATOL, rtol=0
    )


def test_a_packaged_model_exports_by_name_through_jaxsr_export_only(tmp_path):
    import jaxsr

    # Names and paths are resolved by jaxsr.load, in the public entry; deployment takes a Model.
    for call in (
        lambda: export("speech-sr-x4-16k", tmp_path / "by-name", "stablehlo"),
        lambda: load_forward("speech-sr-x4-16k", "stablehlo"),
    ):
        with pytest.raises(TypeError, match=r"jaxsr.load\('speech-sr-x4-16k'\)") as e:
            call()
        _one_line(e)
    assert not (tmp_path / "by-name").exists()
    model = jaxsr.load("speech-sr-x4-16k")
    folder = jaxsr.export("speech-sr-x4-16k", tmp_path, "stablehlo")
    meta = json.loads((folder / METADATA).read_text())
    assert meta["source"]["path"] == model.path and (meta["input_rate"], meta["output_rate"]) == (
        4000.0,
        16000.0,
    )
    x = _inputs(2, 1024) * 0.1
    want = np.asarray(
        model_from_config(model.config)
        .clone(dtype=jnp.float32)
        .apply(model.variables, x, train=False)
    )
    np.testing.assert_allclose(load_forward(folder, "stablehlo")(x), want, atol=ATOL, rtol=0)


def test_the_lowering_covers_the_generic_forms_of_its_primitives():
    """What the model's fused paths skip: an inlined where/select, powers, casts, a transpose, an
    expand_dims, a concat of differently laid-out values, under a symbolic batch; and an unsupported
    primitive is a one-line NotImplementedError naming it."""
    pytest.importorskip(
        "onnx",
        reason="optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    ort = pytest.importorskip(
        "onnxruntime",
        reason="optional 'export' extra (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    from jaxsr.deploy.onnx_lowering import lower_to_onnx

    w = np.random.default_rng(0).standard_normal((3, 1, 4)).astype(np.float32)

    def f(x):  # [b, 16, 1] -> [b, 128]
        h = jax.lax.conv_general_dilated(
            x, w, (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC")
        )  # [b, 16, 4]
        g = jnp.where(h >= 0, h, 0.3 * h) + jnp.maximum(h, 0.0) ** 2 - jnp.tanh(h) / (1.0 + h * h)
        t = jnp.transpose(
            g, (0, 2, 1)
        )  # [b, 4, 16]: stored as the conv's channels-first, no Transpose
        s = jnp.concatenate(
            [t, jnp.exp(-jnp.abs(t)).astype(jnp.bfloat16).astype(jnp.float32)], axis=1
        )
        e = jnp.expand_dims(s, 1)  # [b, 1, 8, 16]
        return (e + jax.lax.rsqrt(1.0 + e * e)).reshape(x.shape[0], 128)

    (batch,) = jax.export.symbolic_shape("batch")
    spec = jax.ShapeDtypeStruct((batch, 16, 1), jnp.float32)
    proto = lower_to_onnx(
        jax.make_jaxpr(f)(spec), input_names=["x"], output_names=["y"], dim_names={"batch": "batch"}
    )
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        x = _inputs(n, 16)
        np.testing.assert_allclose(
            session.run(None, {"x": x})[0], np.asarray(jax.jit(f)(x)), atol=1e-5, rtol=1e-5
        )

    with pytest.raises(NotImplementedError, match="primitive 'cumsum'") as e:
        lower_to_onnx(
            jax.make_jaxpr(lambda x: jnp.cumsum(x, axis=1))(spec),
            input_names=["x"],
            output_names=["y"],
        )
    _one_line(e)
