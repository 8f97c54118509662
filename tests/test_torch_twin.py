"""The PyTorch twin in benchmarks/torch_unet.py computes exactly what jaxsr's AudioUNet computes.

The speed benchmark is only a fair comparison if both frameworks run the same network, so these tests
copy Flax weights into the twin and compare outputs, gradients and BatchNorm statistics.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch",
    reason="PyTorch is not installed: pip install -r requirements-bench.txt "
    "to test the PyTorch twin used by benchmarks/speed.py",
)

from benchmarks import torch_unet  # noqa: E402  (after the importorskip above)
from jaxsr import models  # noqa: E402


def _flax_variables(model: models.AudioUNet, seed: int = 0) -> dict:
    """Random variables with jaxsr's tree structure and shapes, every one of them away from its init.

    jaxsr's init (orthogonal kernels, a 1e-3 final conv, unit BN) would make `y - x` too small to compare
    and hide a mix-up of BN mean and var or scale and bias; drawing from numpy also keeps the test fast.
    """
    x = jax.ShapeDtypeStruct((1, models.length_multiple(model.num_blocks), 1), jnp.float32)
    shapes = jax.eval_shape(
        lambda r, x: model.init({"params": r, "dropout": r}, x), jax.random.key(0), x
    )
    rng = np.random.default_rng(seed)

    def draw(name: str, shape: tuple) -> np.ndarray:
        if name == "kernel":  # [k, in, out]: unit-variance outputs for unit-variance inputs
            return rng.standard_normal(shape) / np.sqrt(shape[0] * shape[1])
        if name == "scale":
            return 1.0 + 0.2 * rng.standard_normal(shape)
        if name == "var":
            return rng.uniform(0.5, 2.0, shape)
        return 0.05 * rng.standard_normal(shape)  # bias, mean

    return {
        col: {
            layer: {
                name: jnp.asarray(draw(name, s.shape), jnp.float32) for name, s in leaves.items()
            }
            for layer, leaves in tree.items()
        }
        for col, tree in shapes.items()
    }


def _input(batch: int, length: int, seed: int = 0) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal((batch, length, 1))).astype(
        np.float32
    )


def _twin(model: models.AudioUNet, variables: dict) -> torch_unet.TorchAudioUNet:
    t = torch_unet.TorchAudioUNet(
        num_blocks=model.num_blocks,
        width=model.width,
        max_filters=model.max_filters,
        dilation=model.dilation,
        norm=model.norm,
        dropout=model.dropout,
        leaky_slope=model.leaky_slope,
        final_kernel=model.final_kernel,
        polarity_equivariant=model.polarity_equivariant,
    )
    return torch_unet.load_flax_variables(t, variables)


@pytest.mark.parametrize(
    "length,kernel,stride,dilation,expected",
    [
        (8, 9, 2, 2, (7, 8)),  # out 4: (4-1)*2 + 16+1 - 8 = 15
        (64, 65, 2, 2, (63, 64)),
        (16, 9, 1, 2, (8, 8)),  # stride 1, odd kernel: symmetric
        (16, 9, 1, 1, (4, 4)),
        (3, 1, 2, 1, (0, 0)),  # never negative
    ],
)
def test_same_padding_hand_worked_and_matches_lax(length, kernel, stride, dilation, expected):
    assert torch_unet.same_padding(length, kernel, stride, dilation) == expected
    lax_pads = jax.lax.padtype_to_pads((length,), ((kernel - 1) * dilation + 1,), (stride,), "SAME")
    assert tuple(lax_pads[0]) == expected


def test_subpixel_matches_jaxsr_channel_order():
    x = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)  # [b, t, r*c] with r=2, c=3
    expected = np.asarray(models.subpixel_1d(jnp.asarray(x), 2))  # [b, 2t, c]
    got = (
        torch_unet.subpixel_1d(torch.from_numpy(x).transpose(1, 2).contiguous(), 2)
        .transpose(1, 2)
        .numpy()
    )
    np.testing.assert_array_equal(got, expected)
    # Hand-worked: output sample 2*i + j, channel k is input sample i, channel j*c + k.
    assert got[0, 2 * 1 + 1, 2] == x[0, 1, 1 * 3 + 2]


@pytest.mark.parametrize(
    "num_blocks,width,max_filters",
    [(4, 1.0, 512), (4, 0.25, 512), (3, 0.125, 512), (6, 0.0625, 256), (1, 0.5, 512)],
)
def test_param_count_equals_jaxsr(num_blocks, width, max_filters):
    model = models.AudioUNet(num_blocks=num_blocks, width=width, max_filters=max_filters)
    x = jax.ShapeDtypeStruct((1, models.length_multiple(num_blocks), 1), jnp.float32)
    shapes = jax.eval_shape(
        lambda r, x: model.init({"params": r, "dropout": r}, x), jax.random.key(0), x
    )
    with torch.device("meta"):  # shapes only: the full model's 56M floats are never allocated
        twin = torch_unet.TorchAudioUNet(
            num_blocks=num_blocks, width=width, max_filters=max_filters
        )
    assert torch_unet.count_params(twin) == models.count_params(shapes["params"])
    if (num_blocks, width) == (4, 1.0):
        assert 55e6 < torch_unet.count_params(twin) < 57e6  # the paper's network: ~56M params


@pytest.mark.parametrize(
    "num_blocks,width,dilation,norm,odd",
    [
        (3, 0.125, 2, "batch", False),
        (4, 0.25, 2, "batch", False),
        (3, 0.125, 1, "none", False),
        (3, 0.125, 1, "batch", True),
    ],
)
def test_eval_outputs_match(num_blocks, width, dilation, norm, odd):
    model = models.AudioUNet(
        num_blocks=num_blocks, width=width, dilation=dilation, norm=norm, polarity_equivariant=odd
    )
    variables = _flax_variables(model)
    x = _input(3, 1024)
    y_jax = np.asarray(jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x))
    twin = _twin(model, variables).eval()
    with torch.no_grad():
        y_torch = twin(torch.from_numpy(x)).numpy()
    residual = y_jax - x
    assert residual.std() > 0.05, (
        "test set-up: the network's contribution should be far above the tolerance"
    )
    np.testing.assert_allclose(y_torch, y_jax, atol=1e-4, rtol=0)


def test_train_mode_batchnorm_and_gradients_match():
    """One training-mode forward/backward with dropout 0: outputs, running stats and grads agree."""
    model = models.AudioUNet(num_blocks=3, width=0.125, dropout=0.0)
    variables = _flax_variables(model)
    x, y = _input(4, 512, seed=1), _input(4, 512, seed=2)

    def loss_fn(params):
        out, updates = model.apply(
            {"params": params, "batch_stats": variables["batch_stats"]},
            jnp.asarray(x),
            train=True,
            mutable=["batch_stats"],
        )
        return jnp.mean((out - y) ** 2), (out, updates["batch_stats"])

    (loss_jax, (out_jax, stats_jax)), grads_jax = jax.jit(
        jax.value_and_grad(loss_fn, has_aux=True)
    )(variables["params"])

    twin = _twin(model, variables).train()
    out_torch = twin(torch.from_numpy(x))
    loss_torch = torch.mean((out_torch - torch.from_numpy(y)) ** 2)
    loss_torch.backward()

    np.testing.assert_allclose(out_torch.detach().numpy(), np.asarray(out_jax), atol=1e-4, rtol=0)
    np.testing.assert_allclose(loss_torch.item(), float(loss_jax), rtol=1e-5)

    # Running stats: both use weight 0.1 for the new batch; PyTorch stores the unbiased batch variance
    # where Flax stores the biased one (n = batch * bottleneck length).
    bn = twin.bottleneck_bn
    old = variables["batch_stats"]["bottleneck_bn"]
    new = stats_jax["bottleneck_bn"]
    n = x.shape[0] * x.shape[1] // models.length_multiple(model.num_blocks)
    np.testing.assert_allclose(bn.running_mean.numpy(), np.asarray(new["mean"]), atol=1e-6)
    batch_var_flax = (np.asarray(new["var"]) - 0.9 * np.asarray(old["var"])) / 0.1
    batch_var_torch = (bn.running_var.numpy() - 0.9 * np.asarray(old["var"])) / 0.1
    assert not np.allclose(np.asarray(new["mean"]), np.asarray(old["mean"])), (
        "the batch must move the stats"
    )
    np.testing.assert_allclose(batch_var_torch, batch_var_flax * n / (n - 1), rtol=1e-4, atol=1e-6)

    # Gradients, layer by layer (Flax kernel [k, in, out] is torch weight [out, in, k]).
    checks = {
        "down1": twin.down[0],
        "bottleneck": twin.bottleneck,
        "up3": twin.up[0],
        "up1": twin.up[2],
        "final": twin.final,
    }
    for name, conv in checks.items():
        g_jax = np.asarray(grads_jax[name]["kernel"]).transpose(2, 1, 0)
        scale = np.abs(g_jax).max()
        assert scale > 0, name
        np.testing.assert_allclose(
            conv.weight.grad.numpy(), g_jax, atol=1e-4 * scale, rtol=0, err_msg=name
        )
    np.testing.assert_allclose(
        bn.weight.grad.numpy(),
        np.asarray(grads_jax["bottleneck_bn"]["scale"]),
        atol=1e-4 * np.abs(bn.weight.grad.numpy()).max(),
        rtol=0,
    )


def test_load_rejects_mismatched_config():
    model = models.AudioUNet(num_blocks=2, width=0.125)
    variables = _flax_variables(model)
    twin = torch_unet.TorchAudioUNet(num_blocks=2, width=0.25)
    with pytest.raises(ValueError, match="down1.kernel"):
        torch_unet.load_flax_variables(twin, variables)


def test_bad_input_shape_is_a_value_error():
    twin = torch_unet.TorchAudioUNet(num_blocks=2, width=0.0625)
    with pytest.raises(ValueError, match="multiple of 8"):
        twin(torch.zeros(1, 100, 1))


# ------------------------------------------------------------------------------ benchmarks/speed.py
def test_speed_summary_ratios_hand_worked():
    from benchmarks import speed

    rows = [
        speed.Row("quickstart", 4, "train", "jaxsr", "float32", seconds=0.5),
        speed.Row("quickstart", 4, "train", "torch eager", "float32", seconds=1.0),
        speed.Row("quickstart", 4, "train", "torch compile", "float32", seconds=0.8),
        speed.Row("quickstart", 4, "train", "torch compile", "float32", error="failed"),
    ]
    assert speed.summarise(rows) == {
        "quickstart/b4/train": {"jaxsr_vs_torch_eager": 2.0, "jaxsr_vs_best_torch": 1.6}
    }
    assert speed.peak_tflops("NVIDIA H100 80GB HBM3", "bfloat16", None) == pytest.approx(989.4)
    assert speed.peak_tflops("cpu", "float32", None) is None
    assert speed.peak_tflops("cpu", "float32", 2.0) == 2.0


def test_speed_rejects_bad_flags():
    from benchmarks import speed

    for argv in (
        ["--models", "huge"],
        ["--batch-sizes", "4,x"],
        ["--patch-length", "100"],
        ["--modes", "eval"],
    ):
        with pytest.raises(SystemExit):
            speed.parse_args(argv)


def test_speed_smoke_run(capsys):
    """The whole driver on a tiny patch: one row per implementation, finite times, ratios present."""
    from benchmarks import speed

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
            "--no-torch-compile",
            "--json",
        ]
    )
    rows = result["rows"]
    assert [(r["mode"], r["impl"]) for r in rows] == [
        ("train", "jaxsr"),
        ("train", "torch eager"),
        ("forward", "jaxsr"),
        ("forward", "torch eager"),
    ]
    assert all(r["error"] is None and r["seconds"] > 0 for r in rows), rows
    assert all(r["xla_flops"] > 0 for r in rows)
    assert set(result["ratios"]) == {"tiny/b2/train", "tiny/b2/forward"}
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith('{"device"')
