"""AudioUNet and subpixel_1d, against numpy references and hand-worked layer shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsr import models

TINY = dict(num_blocks=2, width=0.0625)  # 8 and 16 filters: milliseconds per call on a CPU


# ------------------------------------------------------------------------------------- references
def subpixel_loop_reference(x: np.ndarray, r: int) -> np.ndarray:
    """out[b, r*i + j, k] = in[b, i, j*c + k], written as plain loops."""
    b, t, rc = x.shape
    c = rc // r
    out = np.zeros((b, t * r, c), x.dtype)
    for n in range(b):
        for i in range(t):
            for j in range(r):
                for k in range(c):
                    out[n, r * i + j, k] = x[n, i, j * c + k]
    return out


def batch_to_space_1d(x: np.ndarray, block: int) -> np.ndarray:
    """numpy form of `tf.batch_to_space_nd(x, [block], [[0, 0]])` for `x` of shape [batch, width, depth].

    TF's definition: reshape to [block, batch/block, width, depth], permute to
    [batch/block, width, block, depth], reshape to [batch/block, width*block, depth].
    """
    n, w, d = x.shape
    y = x.reshape(block, n // block, w, d)
    y = y.transpose(1, 2, 0, 3)
    return y.reshape(n // block, w * block, d)


def subpixel_tf_reference(x: np.ndarray, r: int) -> np.ndarray:
    """The reference code's SubPixel1D (kuleshov/audio-super-res, models/layers/subpixel.py):
    transpose [b, w, rc] -> [rc, w, b], batch_to_space_nd by r, transpose back."""
    y = np.transpose(x, (2, 1, 0))
    y = batch_to_space_1d(y, r)
    return np.transpose(y, (2, 1, 0))


def _tiny_model(**overrides) -> models.AudioUNet:
    return models.AudioUNet(**{**TINY, **overrides})


def _signal(batch: int, length: int = 64, seed: int = 0) -> jnp.ndarray:
    return jnp.asarray(
        0.3 * np.random.default_rng(seed).standard_normal((batch, length, 1)), jnp.float32
    )


# One model, initialised and compiled once per module: compiling is most of the cost on a CPU.
@pytest.fixture(scope="module")
def tiny():
    model = _tiny_model()
    variables = models.init_variables(model, jax.random.key(0), 64)
    apply_eval = jax.jit(lambda v, x: model.apply(v, x, train=False))
    apply_train = jax.jit(
        lambda v, x, key: model.apply(
            v, x, train=True, rngs={"dropout": key}, mutable=["batch_stats"]
        )
    )
    return model, variables, apply_eval, apply_train


# ------------------------------------------------------------------------------------- subpixel_1d
@pytest.mark.parametrize(
    "shape,r", [((2, 5, 6), 2), ((1, 3, 8), 4), ((3, 4, 2), 2), ((2, 2, 9), 3)]
)
def test_subpixel_matches_loop_reference(shape, r):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got = np.asarray(models.subpixel_1d(jnp.asarray(x), r))
    np.testing.assert_array_equal(got, subpixel_loop_reference(x, r))


@pytest.mark.parametrize("shape,r", [((2, 5, 6), 2), ((1, 3, 8), 4), ((4, 7, 4), 2)])
def test_subpixel_matches_tf_batch_to_space_semantics(shape, r):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    got = np.asarray(models.subpixel_1d(jnp.asarray(x), r))
    np.testing.assert_array_equal(got, subpixel_tf_reference(x, r))


def test_subpixel_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="not divisible by r=2"):
        models.subpixel_1d(jnp.zeros((1, 4, 3)), 2)


# ------------------------------------------------------------------------------------- structure
def test_block_table_for_paper_model():
    filters = models.block_filters(4)
    kernels = models.block_kernels(4)
    assert list(zip(filters, kernels)) == [(128, 65), (256, 33), (512, 17), (512, 9)]


def test_block_filters_scale_with_width():
    assert models.block_filters(4, width=0.25) == [32, 64, 128, 128]


def test_length_multiple():
    assert [models.length_multiple(b) for b in (1, 2, 4)] == [4, 8, 32]


# Layer shapes of the paper's B=4 network, written out by hand from the architecture
# (down: stride-2 convs; up: conv to 2*nf, subpixel halves channels, concat with the skip doubles them).
# name: (kernel, in_channels, out_channels)
PAPER_LAYERS = {
    "down1": (65, 1, 128),
    "down2": (33, 128, 256),
    "down3": (17, 256, 512),
    "down4": (9, 512, 512),
    "bottleneck": (9, 512, 512),
    "up4": (9, 512, 1024),  # bottleneck output 512 channels
    "up3": (17, 1024, 1024),  # 1024/2 after subpixel + 512 skip from down4
    "up2": (33, 1024, 512),  # 1024/2 + 512 skip from down3
    "up1": (65, 512, 256),  # 512/2 + 256 skip from down2
    "final": (9, 256, 2),  # 256/2 + 128 skip from down1
}


def _paper_param_shapes():
    model = models.AudioUNet(num_blocks=4, width=1.0)
    x = jax.ShapeDtypeStruct((1, 64, 1), jnp.float32)
    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
    return jax.eval_shape(lambda: model.init(rngs, jnp.zeros(x.shape, x.dtype)))


def test_paper_model_layer_shapes_by_hand():
    variables = _paper_param_shapes()
    params = variables["params"]
    for name, (k, cin, cout) in PAPER_LAYERS.items():
        assert params[name]["kernel"].shape == (k, cin, cout), f"{name} kernel"
        assert params[name]["bias"].shape == (cout,), f"{name} bias"
    assert params["bottleneck_bn"]["scale"].shape == (512,)
    assert set(params) == set(PAPER_LAYERS) | {"bottleneck_bn"}, "unexpected or missing layers"
    assert variables["batch_stats"]["bottleneck_bn"]["mean"].shape == (512,)


def test_paper_model_param_count_by_hand():
    convs = sum(k * cin * cout + cout for k, cin, cout in PAPER_LAYERS.values())
    batchnorm = 2 * 512  # scale and bias; running mean/var are batch_stats, not params
    expected = convs + batchnorm
    # 8,448 + 1,081,600 + 2,228,736 + 2,359,808 (down) + 2,359,808 + 1,024 (bottleneck + BN)
    # + 4,719,616 + 17,826,816 + 17,302,016 + 8,519,936 (up) + 4,610 (final)
    assert expected == 56_412_418
    assert models.count_params(_paper_param_shapes()["params"]) == expected


@pytest.mark.parametrize("num_blocks", [1, 2, 3, 4])
@pytest.mark.parametrize("batch", [1, 3])
def test_output_shape_for_each_depth(num_blocks, batch):
    # Shapes only: eval_shape traces init and apply without running (or compiling) them.
    model = models.AudioUNet(num_blocks=num_blocks, width=0.0625)
    length = models.length_multiple(num_blocks) * 4
    x = jax.ShapeDtypeStruct((batch, length, 1), jnp.float32)
    variables = jax.eval_shape(lambda x: model.init({"params": jax.random.key(0)}, x), x)
    y = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
    assert (y.shape, y.dtype) == ((batch, length, 1), jnp.float32)


def test_tiny_model_runs_and_is_finite(tiny):
    _, variables, apply_eval, _ = tiny
    y = apply_eval(variables, _signal(3))
    assert y.shape == (3, 64, 1) and np.all(np.isfinite(np.asarray(y)))


# ------------------------------------------------------------------------------------- behaviour
def test_residual_output_equals_input_when_final_conv_is_zero(tiny):
    _, variables, apply_eval, _ = tiny
    x = _signal(3)
    y = apply_eval(variables, x)
    assert not np.array_equal(np.asarray(y), np.asarray(x)), (
        "with the random final conv the output should differ"
    )

    params = dict(variables["params"])
    params["final"] = jax.tree_util.tree_map(jnp.zeros_like, params["final"])
    y0 = apply_eval({**variables, "params": params}, x)
    np.testing.assert_array_equal(np.asarray(y0), np.asarray(x))


def test_train_mode_updates_batch_stats(tiny):
    _, variables, _, apply_train = tiny
    _, updates = apply_train(variables, _signal(4), jax.random.key(1))
    before = variables["batch_stats"]["bottleneck_bn"]
    after = updates["batch_stats"]["bottleneck_bn"]
    assert not np.allclose(after["mean"], before["mean"]), "running mean did not move"
    assert not np.allclose(after["var"], before["var"]), "running variance did not move"


def test_polarity_equivariant_is_the_odd_part_of_the_same_network(tiny):
    # Same parameters; by hand from the plain network: y_eq(x) = x + (f(x) - f(-x)) / 2 with f(x) = y(x) - x,
    # which is (y(x) - y(-x)) / 2. Hence y_eq(-x) = -y_eq(x) exactly, whatever the weights.
    model, variables, apply_eval, _ = tiny
    odd = model.clone(polarity_equivariant=True)
    x = _signal(4)
    y = np.asarray(apply_eval(variables, x), np.float64)
    y_neg = np.asarray(apply_eval(variables, -x), np.float64)
    y_odd = np.asarray(odd.apply(variables, x, train=False))
    np.testing.assert_allclose(y_odd, (y - y_neg) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(odd.apply(variables, -x, train=False)), -y_odd)
    assert not np.allclose(y_odd, y, atol=1e-4)  # a different function from the plain network's
    assert jax.tree_util.tree_map(
        np.shape, odd.init(jax.random.key(0), x)
    ) == jax.tree_util.tree_map(np.shape, dict(variables))


def test_polarity_equivariant_trains(tiny):
    # Training mode: each pass normalises with its own batch statistics (those of x, then of -x: for the
    # input -x the same two, swapped); without dropout (masks differ per pass) the output is odd there too.
    model, variables, _, _ = tiny
    odd = model.clone(polarity_equivariant=True, dropout=0.0)
    x = _signal(4)

    def train(v):
        return odd.apply(
            variables, v, train=True, rngs={"dropout": jax.random.key(1)}, mutable=["batch_stats"]
        )

    (y, updates), (y_neg, _) = train(x), train(-x)
    np.testing.assert_allclose(np.asarray(y_neg), -np.asarray(y), rtol=1e-5, atol=1e-6)
    assert not np.allclose(
        updates["batch_stats"]["bottleneck_bn"]["var"],
        variables["batch_stats"]["bottleneck_bn"]["var"],
    ), "running variance did not move"


def test_eval_mode_is_deterministic(tiny):
    _, variables, apply_eval, _ = tiny
    x = _signal(4)
    np.testing.assert_array_equal(
        np.asarray(apply_eval(variables, x)), np.asarray(apply_eval(variables, x))
    )


def test_eval_mode_output_does_not_depend_on_batch_mates(tiny):
    # Running averages, not batch statistics: an example's output is the same alone or in a batch.
    _, variables, apply_eval, _ = tiny
    x = _signal(4)
    together = np.asarray(apply_eval(variables, x))
    alone = np.asarray(apply_eval(variables, jnp.concatenate([x[:1], jnp.zeros_like(x[1:])])))
    np.testing.assert_allclose(alone[0], together[0], rtol=1e-5, atol=1e-6)


def test_eval_mode_reads_running_averages(tiny):
    _, variables, apply_eval, _ = tiny
    x = _signal(4)
    stats = {"bottleneck_bn": dict(variables["batch_stats"]["bottleneck_bn"])}
    stats["bottleneck_bn"]["mean"] = stats["bottleneck_bn"]["mean"] + 1.0
    y = apply_eval(variables, x)
    y_shifted = apply_eval({**variables, "batch_stats": stats}, x)
    assert not np.allclose(np.asarray(y), np.asarray(y_shifted)), "eval output ignored batch_stats"


def test_train_mode_dropout_depends_on_rng(tiny):
    _, variables, _, apply_train = tiny
    x = _signal(4)

    def run(seed):
        return np.asarray(apply_train(variables, x, jax.random.key(seed))[0])

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.allclose(run(1), run(2)), "different dropout keys gave the same output"


def test_bfloat16_compute_keeps_float32_params_and_output(tiny):
    _, variables, apply_f32, _ = tiny
    x = _signal(4)
    bf16 = _tiny_model(dtype=jnp.bfloat16)
    shapes = jax.eval_shape(lambda: bf16.init({"params": jax.random.key(0)}, x))
    dtypes = {p.dtype for p in jax.tree_util.tree_leaves(shapes)}
    assert dtypes == {jnp.dtype(jnp.float32)}, f"params/batch_stats must stay float32, got {dtypes}"

    # Same float32 params in both; make the residual branch large enough that bfloat16 error would show.
    params = dict(variables["params"])
    params["final"] = jax.tree_util.tree_map(lambda p: p * 300.0, params["final"])
    variables = {**variables, "params": params}
    y16 = jax.jit(lambda v, x: bf16.apply(v, x, train=False))(variables, x)
    y32 = apply_f32(variables, x)
    assert y16.dtype == jnp.float32
    branch = np.asarray(y32 - x)
    assert np.max(np.abs(branch)) > 1e-2, "residual branch too small to compare"
    err = np.max(np.abs(np.asarray(y16 - y32)))
    assert err < 0.05 * np.max(np.abs(branch)), f"bfloat16 output off by {err}"
    assert not np.array_equal(np.asarray(y16), np.asarray(y32)), (
        "bfloat16 model did not compute in bfloat16"
    )


def test_model_from_config(tiny_config):
    tiny_config.dtype = "bfloat16"
    model = models.model_from_config(tiny_config)
    assert (model.num_blocks, model.width, model.dtype) == (2, 0.0625, jnp.bfloat16)


def test_auto_dtype_is_float32_on_cpu():
    expected = jnp.float32 if jax.default_backend() == "cpu" else jnp.bfloat16
    assert models.compute_dtype("auto") == expected
    assert models.compute_dtype("float32") == jnp.float32


# ------------------------------------------------------------------------------------- bad input
def test_length_not_multiple_names_working_lengths(tiny):
    model, variables, _, _ = tiny  # lengths must be a multiple of 2**(2+1) = 8
    with pytest.raises(ValueError, match="multiple of 8; got 100") as e:
        model.apply(variables, jnp.zeros((1, 100, 1)), train=False)
    assert "96" in str(e.value) and "104" in str(e.value), str(e.value)


def test_2d_input_is_rejected(tiny):
    model, variables, _, _ = tiny
    with pytest.raises(ValueError, match=r"\[batch, time, 1\]"):
        model.apply(variables, jnp.zeros((1, 64)), train=False)


def test_stereo_input_is_rejected(tiny):
    model, variables, _, _ = tiny
    with pytest.raises(ValueError, match="mono"):
        model.apply(variables, jnp.zeros((1, 64, 2)), train=False)


def test_check_input_shape_accepts_valid_shape():
    models.check_input_shape((3, 64, 1), 2)  # no exception


@pytest.mark.parametrize(
    "width,num_blocks,length,equivariant",
    [
        (0.25, 4, 8192, False),
        (0.125, 3, 8192, False),
        (0.0625, 2, 8192, False),
        (0.125, 3, 8192, True),
    ],
)
def test_forward_flops_matches_xla_cpu_count(width, num_blocks, length, equivariant):
    # XLA's CPU cost analysis counts every convolution (on GPU it omits those handed to cuDNN, which is
    # why MFU uses the architecture's count); the two agree up to elementwise ops and the padded edges
    # (which XLA skips: at 8192 samples they are under 1% of the work).
    from jaxsr import config as config_lib

    c = config_lib.default_config()
    c.model.width, c.model.num_blocks, c.dtype = width, num_blocks, "float32"
    c.model.polarity_equivariant = equivariant  # the network runs on x and -x: twice the work
    model = models.model_from_config(c)
    variables = models.init_variables(model, jax.random.key(0))
    compiled = (
        jax.jit(lambda v, x: model.apply(v, x, train=False))
        .lower(variables, jnp.zeros((1, length, 1), jnp.float32))
        .compile()
    )
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    assert models.forward_flops(c, length) == pytest.approx(cost["flops"], rel=0.02)


def test_forward_flops_by_hand_for_one_block():
    # B=1, width 1/64 (filters 2), kernels: down 65, final 9. Length 16:
    # down1 8x2x65x1, bottleneck 4x2x65x2, up1 4x4x65x2, final 8x2x9x4 multiply-adds; 2 FLOPs each.
    from jaxsr import config as config_lib

    c = config_lib.default_config()
    c.model.width, c.model.num_blocks = 1 / 64, 1
    macs = 8 * 2 * 65 * 1 + 4 * 2 * 65 * 2 + 4 * 4 * 65 * 2 + 8 * 2 * 9 * 4
    assert models.forward_flops(c, 16) == 2 * macs
