"""The pure parts of training: the train state, the optimizer and its schedule, and the train step.

Nothing here touches files, signals or data. The step is a pure function `(state, batch, rng) -> (state,
metrics)`, jitted once by `make_jitted_step` with shardings from `jaxsr.parallel`, so the same step runs
in `train_and_evaluate`, in the benchmarks and in the tests.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax.training import train_state

from jaxsr import metrics as metrics_lib, parallel
from jaxsr.models import AudioUNet, compute_dtype, init_variables


class TrainState(train_state.TrainState):
    """Flax's TrainState plus BatchNorm statistics and, when `train.ema_decay > 0`, an EMA of the params
    and an EMA of the BatchNorm statistics (with the same decay), which are evaluated together."""

    batch_stats: Any = None
    ema_params: Any = None
    ema_batch_stats: Any = None


def resolve_dtype(config: ml_collections.ConfigDict) -> str:
    """`config.dtype` with "auto" resolved: bfloat16 on GPU/TPU, float32 on CPU."""
    return compute_dtype(config.dtype).name


def learning_rate_schedule(config: ml_collections.ConfigDict) -> optax.Schedule:
    """The learning rate per step: warmup then cosine decay, or warmup (if any) then constant."""
    tr = config.train
    if tr.schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(
            0.0,
            tr.learning_rate,
            max(tr.warmup_steps, 1),
            max(tr.num_train_steps, tr.warmup_steps + 1),
            end_value=tr.learning_rate * tr.final_lr_fraction,
        )
    if tr.warmup_steps > 0:
        return optax.linear_schedule(0.0, tr.learning_rate, tr.warmup_steps)  # then constant at lr
    return optax.constant_schedule(tr.learning_rate)


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Adam (paper: lr 3e-4, b1 0.9, b2 0.999), with optional weight decay and global-norm clipping."""
    tr = config.train
    lr = learning_rate_schedule(config)
    opt = (
        optax.adamw(lr, b1=tr.b1, b2=tr.b2, weight_decay=tr.weight_decay)
        if tr.weight_decay
        else optax.adam(lr, b1=tr.b1, b2=tr.b2)
    )
    return optax.chain(optax.clip_by_global_norm(tr.grad_clip), opt) if tr.grad_clip > 0 else opt


def create_train_state(
    config: ml_collections.ConfigDict,
    model: AudioUNet,
    rng: jax.Array,
    tx: optax.GradientTransformation | None = None,
) -> TrainState:
    """Initialise params (float32), BatchNorm statistics and optimizer state (`tx` defaults to
    `make_optimizer(config)`; pass one to get states with identical tree structure)."""
    variables = init_variables(model, rng, config.data.patch_length)
    params, batch_stats = variables["params"], variables.get("batch_stats", {})

    # The EMAs start as copies: the jitted step donates the state, and one buffer cannot be donated twice.
    def copy(tree):
        return jax.tree_util.tree_map(jnp.copy, tree) if config.train.ema_decay > 0 else None

    return TrainState.create(
        apply_fn=model.apply,
        params=params,
        tx=tx or make_optimizer(config),
        batch_stats=batch_stats,
        ema_params=copy(params),
        ema_batch_stats=copy(batch_stats),
    )


def make_train_step(config: ml_collections.ConfigDict, model: AudioUNet) -> Callable:
    """The pure train step `(state, batch, rng) -> (state, metrics)`.

    `batch`: `{'x': [batch, time, 1] degraded, 'y': [batch, time, 1] clean}`. `rng` is the run's key;
    the step's dropout key is `fold_in(rng, state.step)` so a resumed run draws the same dropout masks.
    """
    stft_weight = float(config.train.stft_loss_weight)
    snr_loss = config.train.loss == "snr"
    ema_decay = float(config.train.ema_decay)
    schedule = learning_rate_schedule(config)

    def loss_fn(params, batch_stats, batch, dropout_rng):
        y_hat, updates = model.apply(
            {"params": params, "batch_stats": batch_stats},
            batch["x"],
            train=True,
            rngs={"dropout": dropout_rng},
            mutable=["batch_stats"],
        )
        mse = jnp.mean((y_hat - batch["y"]) ** 2)
        loss = metrics_lib.snr_loss(batch["y"][..., 0], y_hat[..., 0]) if snr_loss else mse
        if stft_weight > 0:
            loss = loss + stft_weight * metrics_lib.multires_stft_loss(
                batch["y"][..., 0], y_hat[..., 0]
            )
        return loss, (mse, y_hat, updates.get("batch_stats", {}))

    def train_step(state: TrainState, batch: dict, rng: jax.Array) -> tuple[TrainState, dict]:
        dropout_rng = jax.random.fold_in(rng, state.step)
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, (mse, y_hat, batch_stats)), grads = grad_fn(
            state.params, state.batch_stats, batch, dropout_rng
        )
        new_state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
        if (
            ema_decay > 0
        ):  # params and BatchNorm statistics averaged alike, so that they are evaluated together
            ema = lambda e, p: ema_decay * e + (1 - ema_decay) * p  # noqa: E731
            new_state = new_state.replace(
                ema_params=jax.tree_util.tree_map(ema, state.ema_params, new_state.params),
                ema_batch_stats=jax.tree_util.tree_map(
                    ema, state.ema_batch_stats, new_state.batch_stats
                ),
            )
        out = {
            "loss": loss,
            "mse": mse,
            "snr": jnp.mean(metrics_lib.snr_jnp(batch["y"][..., 0], y_hat[..., 0])),
            "baseline_snr": jnp.mean(metrics_lib.snr_jnp(batch["y"][..., 0], batch["x"][..., 0])),
            "grad_norm": optax.tree.norm(grads),
            # The loss is computed with the params *before* this update: only the updated params' norm
            # shows an update that overflowed (an inf gradient, a huge learning rate). Checked before saving.
            "param_norm": optax.tree.norm(new_state.params),
            "learning_rate": schedule(state.step),
        }
        if (
            "stop" in batch
        ):  # multi-process: each process's stop flag, reduced over all of them (see the loop)
            out["stop"] = jnp.max(batch["stop"])
        return new_state, out

    return train_step


def make_jitted_step(
    config: ml_collections.ConfigDict, model: AudioUNet, mesh: jax.sharding.Mesh
) -> Callable:
    """The train step exactly as `train_and_evaluate` runs it: `make_train_step` jitted with the state
    (and the key) replicated over `mesh`, the batch split along its first axis over the mesh's devices
    (`jaxsr.parallel.shard_batch`), and the input state donated: its buffers become the output state's,
    so a state passed in must not be used again (keep a copy to compare)."""
    replicated, batch = parallel.replicated(mesh), parallel.data_sharded(mesh)
    return jax.jit(
        make_train_step(config, model),
        in_shardings=(replicated, batch, replicated),
        out_shardings=(replicated, replicated),
        donate_argnums=(0,),
    )


def eval_variables(state: TrainState) -> dict:
    """Variables used for evaluation and export: the EMA params with the EMA BatchNorm statistics when
    an EMA is kept, else the live params with the live statistics. (Only a hand-made state with EMA params
    but no EMA statistics gets its live statistics with them.)"""
    if state.ema_params is not None:
        stats = state.ema_batch_stats if state.ema_batch_stats is not None else state.batch_stats
        return {"params": state.ema_params, "batch_stats": stats}
    return {"params": state.params, "batch_stats": state.batch_stats}
