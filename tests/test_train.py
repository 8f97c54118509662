"""Training: the pure step, data parallelism (8 forced CPU devices, two processes), checkpoints and resume."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxsr import checkpoints, parallel
from jaxsr.config import default_config
from jaxsr.models import model_from_config
from jaxsr.train import create_train_state, make_train_step, train_and_evaluate

REPO = pathlib.Path(__file__).resolve().parent.parent


def tiny_config(tmp_path, steps=6):
    c = default_config()
    c.dtype = "float32"
    c.model.update(width=0.0625, num_blocks=2)
    c.data.update(name="synthetic", sample_rate=8000, patch_length=512, num_train_clips=6, num_eval_clips=2,
                  clip_seconds=0.5, data_dir=str(tmp_path / "data"))
    c.train.update(batch_size=4, num_train_steps=steps, log_every=2, eval_every=1000, checkpoint_every=2,
                   learning_rate=1e-3)
    c.eval.update(num_clips=2, save_examples=0, chunk_length=1024, batch_size=2)
    return c


def _batch(seed, b=4, t=512):
    rng = np.random.default_rng(seed)
    y = (0.1 * rng.standard_normal((b, t, 1))).astype(np.float32)
    return {"x": y + (0.05 * rng.standard_normal(y.shape)).astype(np.float32), "y": y}


def test_train_step_is_pure_and_learns():
    c = default_config()
    c.dtype = "float32"
    c.model.update(width=0.0625, num_blocks=2, dropout=0.0)
    model = model_from_config(c)
    state = create_train_state(c, model, jax.random.key(0))
    step = jax.jit(make_train_step(c, model))
    batch = _batch(0)
    s1, m1 = step(state, batch, jax.random.key(1))
    s1b, m1b = step(state, batch, jax.random.key(1))  # same inputs -> same outputs: no hidden state
    assert float(m1["loss"]) == float(m1b["loss"])
    assert int(s1.step) == 1 and int(state.step) == 0
    losses = [float(m1["loss"])]
    s = s1
    for _ in range(30):
        s, m = step(s, batch, jax.random.key(1))
        losses.append(float(m["loss"]))
    assert losses[-1] < 0.5 * losses[0], f"loss did not fall on a fixed batch: {losses[0]:.3g} -> {losses[-1]:.3g}"
    # BatchNorm statistics are updated by the train step.
    bs0 = jax.tree_util.tree_leaves(state.batch_stats)
    bs1 = jax.tree_util.tree_leaves(s.batch_stats)
    assert any(not np.allclose(a, b) for a, b in zip(bs0, bs1))


def test_batch_size_must_divide_over_devices():
    mesh = parallel.make_mesh(jax.devices() * 1)
    parallel.check_batch_size(4, mesh)
    fake = type("M", (), {"devices": np.zeros(8)})()
    with pytest.raises(ValueError, match="batch_size=12 does not divide over 8 devices"):
        parallel.check_batch_size(12, fake)


EIGHT_DEVICES = r"""
import json, jax, numpy as np
from jaxsr import parallel
from jaxsr.config import default_config
from jaxsr.models import model_from_config
from jaxsr.train import create_train_state, make_train_step
assert jax.device_count() == 8, jax.devices()
c = default_config(); c.dtype = "float32"
c.model.update(width=0.0625, num_blocks=2, dropout=0.0); c.data.patch_length = 512; c.train.batch_size = 16
model = model_from_config(c)
out = {}
for n in (1, 8):
    mesh = parallel.make_mesh(jax.devices()[:n])
    state = parallel.replicate(create_train_state(c, model, jax.random.key(0)), mesh)
    step = jax.jit(make_train_step(c, model))
    rng = np.random.default_rng(0)
    losses = []
    for i in range(4):
        y = (0.1 * rng.standard_normal((16, 512, 1))).astype(np.float32)
        x = y + (0.05 * rng.standard_normal(y.shape)).astype(np.float32)
        batch = parallel.shard_batch({"x": x, "y": y}, mesh)
        assert len(batch["x"].sharding.device_set) == n
        state, m = step(state, batch, jax.random.key(1))
        losses.append(float(m["loss"]))
    out[n] = {"losses": losses, "kernel": np.asarray(state.params["down1"]["kernel"]).ravel()[:200].tolist()}
print(json.dumps(out))
"""


def test_eight_devices_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", EIGHT_DEVICES], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(out["8"]["losses"], out["1"]["losses"], rtol=1e-4)
    np.testing.assert_allclose(out["8"]["kernel"], out["1"]["kernel"], rtol=1e-3, atol=1e-5)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_agree_on_params():
    port = _free_port()
    worker = str(REPO / "tests" / "distributed_worker.py")
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, worker, str(i), str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert {o["process"] for o in outs} == {0, 1} and all(o["devices"] == 2 for o in outs)
    assert outs[0]["digest"] == outs[1]["digest"], "the two processes ended with different params"
    ref = subprocess.run([sys.executable, worker, "0", "0", "single"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert ref.returncode == 0, ref.stderr[-3000:]
    single = json.loads(ref.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(outs[0]["loss"], single["loss"], rtol=1e-4)
    np.testing.assert_allclose(outs[0]["params"], single["params"], rtol=1e-3, atol=1e-5)


def _params(workdir, which="latest"):
    restored = checkpoints.load_checkpoint(workdir, which)
    return restored.step, jax.tree_util.tree_leaves(restored.variables)


def test_interrupted_and_resumed_run_is_bit_exact(tmp_path):
    c = tiny_config(tmp_path, steps=6)
    train_and_evaluate(c, tmp_path / "full", quiet=True)
    # The same run, stopped after 2 steps (as if killed right after a checkpoint), then resumed.
    c_short = tiny_config(tmp_path, steps=2)
    train_and_evaluate(c_short, tmp_path / "resumed", quiet=True)
    assert _params(tmp_path / "resumed")[0] == 2
    train_and_evaluate(c, tmp_path / "resumed", quiet=True)
    step_a, full = _params(tmp_path / "full")
    step_b, resumed = _params(tmp_path / "resumed")
    assert step_a == step_b == 6
    for a, b in zip(full, resumed):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The workdir is self-describing: config saved, best checkpoint by LSD kept, logs written.
    assert (tmp_path / "full" / "config.json").is_file()
    assert (tmp_path / "full" / "log.txt").read_text().count("step") > 0
    assert _params(tmp_path / "full", "best")[0] == 6
    assert list((tmp_path / "full" / "tensorboard").glob("events.*"))


def test_workdir_with_other_config_is_refused(tmp_path):
    c = tiny_config(tmp_path, steps=2)
    train_and_evaluate(c, tmp_path / "run", quiet=True)
    other = tiny_config(tmp_path, steps=2)
    other.task.ratio = 2
    with pytest.raises(ValueError, match="task.ratio: 4 -> 2"):
        train_and_evaluate(other, tmp_path / "run", quiet=True)
    assert checkpoints.read_config(tmp_path / "run").task.ratio == 4  # nothing written over
    train_and_evaluate(other, tmp_path / "run", overwrite=True, quiet=True)
    assert checkpoints.read_config(tmp_path / "run").task.ratio == 2


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    c = tiny_config(tmp_path, steps=2)
    train_and_evaluate(c, tmp_path / "run", quiet=True)
    good_step, good = _params(tmp_path / "run")
    bad = tiny_config(tmp_path, steps=8)
    bad.train.learning_rate = 1e30  # diverges at once
    with pytest.raises(FloatingPointError, match="loss became"):
        train_and_evaluate(bad, tmp_path / "run", quiet=True)
    step, kept = _params(tmp_path / "run")
    assert all(np.all(np.isfinite(np.asarray(p))) for p in kept)
    assert step <= 2


def test_sigterm_saves_a_checkpoint_and_resume_continues(tmp_path):
    workdir = tmp_path / "run"
    args = [sys.executable, str(REPO / "launch" / "train.py"), "--config", str(REPO / "configs" / "quickstart.py"),
            "--workdir", str(workdir), "--quiet",
            f"--config.data.data_dir={tmp_path / 'data'}", "--config.data.sample_rate=8000",
            "--config.data.num_train_clips=6", "--config.data.num_eval_clips=2", "--config.data.clip_seconds=0.5",
            "--config.data.patch_length=512", "--config.model.width=0.0625", "--config.model.num_blocks=2",
            "--config.train.batch_size=4", "--config.train.num_train_steps=100000",
            "--config.train.checkpoint_every=100000", "--config.train.eval_every=100000", "--config.eval.num_clips=2",
            "--config.eval.chunk_length=1024", "--config.eval.save_examples=0"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = workdir / "log.txt"
    deadline = time.time() + 240
    while time.time() < deadline and not (log.exists() and "step 20:" in log.read_text()):
        time.sleep(0.5)
    assert p.poll() is None, p.communicate()[1][-3000:]
    p.send_signal(signal.SIGTERM)
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr[-3000:]
    step, _ = _params(workdir)
    assert 20 <= step < 100000
    assert "stopped by signal" in log.read_text()


def test_second_run_in_a_busy_workdir_is_refused(tmp_path):
    from jaxsr.train import _workdir_lock

    c = tiny_config(tmp_path, steps=2)
    with _workdir_lock(tmp_path / "run"):  # as if another process were training there
        with pytest.raises(ValueError, match="in use by another training run"):
            train_and_evaluate(c, tmp_path / "run", quiet=True)
    train_and_evaluate(c, tmp_path / "run", quiet=True)  # free again once that run has stopped
    assert _params(tmp_path / "run")[0] == 2
