"""Training: the train state, the pure train step, and `train_and_evaluate(config, workdir)`.

The step is a pure function `(state, batch, rng) -> (state, metrics)`, jitted once with shardings from
`jaxsr.parallel` (data-parallel over every device). The loop around it feeds batches from the grain
pipeline, logs, evaluates on whole validation clips against the task's baseline, and checkpoints with
Orbax so that re-running the same command resumes exactly where the run stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import shutil
import signal
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

from jaxsr import checkpoints, config as config_lib, files, metrics as metrics_lib, parallel
from jaxsr.config import validate
from jaxsr.models import AudioUNet, compute_dtype, model_from_config

log = logging.getLogger("jaxsr")


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
    tr = config.train
    if tr.schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(
            0.0, tr.learning_rate, max(tr.warmup_steps, 1), max(tr.num_train_steps, tr.warmup_steps + 1),
            end_value=tr.learning_rate * tr.final_lr_fraction)
    if tr.warmup_steps > 0:
        return optax.linear_schedule(0.0, tr.learning_rate, tr.warmup_steps)  # then constant at lr
    return optax.constant_schedule(tr.learning_rate)


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Adam (paper: lr 3e-4, b1 0.9, b2 0.999), with optional weight decay and global-norm clipping."""
    tr = config.train
    lr = learning_rate_schedule(config)
    opt = (optax.adamw(lr, b1=tr.b1, b2=tr.b2, weight_decay=tr.weight_decay) if tr.weight_decay
           else optax.adam(lr, b1=tr.b1, b2=tr.b2))
    return optax.chain(optax.clip_by_global_norm(tr.grad_clip), opt) if tr.grad_clip > 0 else opt


def create_train_state(config: ml_collections.ConfigDict, model: AudioUNet, rng: jax.Array,
                       tx: optax.GradientTransformation | None = None) -> TrainState:
    """Initialise params (float32), BatchNorm statistics and optimizer state (`tx` defaults to
    `make_optimizer(config)`; pass one to get states with identical tree structure)."""
    x = jnp.zeros((1, config.data.patch_length, 1), jnp.float32)
    # Jitted: eager init compiles each orthogonal initialiser's QR separately (minutes for the full model).
    variables = jax.jit(lambda r: model.init({"params": r, "dropout": r}, x, train=False))(rng)
    params, batch_stats = variables["params"], variables.get("batch_stats", {})
    # The EMAs start as copies: the jitted step donates the state, and one buffer cannot be donated twice.
    copy = lambda tree: jax.tree_util.tree_map(jnp.copy, tree) if config.train.ema_decay > 0 else None  # noqa: E731
    return TrainState.create(
        apply_fn=model.apply, params=params, tx=tx or make_optimizer(config), batch_stats=batch_stats,
        ema_params=copy(params), ema_batch_stats=copy(batch_stats))


def make_train_step(config: ml_collections.ConfigDict, model: AudioUNet) -> Callable:
    """The pure train step `(state, batch, rng) -> (state, metrics)`.

    `batch`: `{'x': [batch, time, 1] degraded, 'y': [batch, time, 1] clean}`. `rng` is the run's key;
    the step's dropout key is `fold_in(rng, state.step)` so a resumed run draws the same dropout masks.
    """
    stft_weight = float(config.train.stft_loss_weight)
    ema_decay = float(config.train.ema_decay)
    schedule = learning_rate_schedule(config)

    def loss_fn(params, batch_stats, batch, dropout_rng):
        y_hat, updates = model.apply(
            {"params": params, "batch_stats": batch_stats}, batch["x"], train=True,
            rngs={"dropout": dropout_rng}, mutable=["batch_stats"])
        mse = jnp.mean((y_hat - batch["y"]) ** 2)
        loss = mse
        if stft_weight > 0:
            loss = loss + stft_weight * metrics_lib.multires_stft_loss(batch["y"][..., 0], y_hat[..., 0])
        return loss, (mse, y_hat, updates.get("batch_stats", {}))

    def train_step(state: TrainState, batch: dict, rng: jax.Array) -> tuple[TrainState, dict]:
        dropout_rng = jax.random.fold_in(rng, state.step)
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, (mse, y_hat, batch_stats)), grads = grad_fn(state.params, state.batch_stats, batch, dropout_rng)
        new_state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
        if ema_decay > 0:  # params and BatchNorm statistics averaged alike, so that they are evaluated together
            ema = lambda e, p: ema_decay * e + (1 - ema_decay) * p  # noqa: E731
            new_state = new_state.replace(
                ema_params=jax.tree_util.tree_map(ema, state.ema_params, new_state.params),
                ema_batch_stats=jax.tree_util.tree_map(ema, state.ema_batch_stats, new_state.batch_stats))
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
        if "stop" in batch:  # multi-process: each process's stop flag, reduced over all of them (see the loop)
            out["stop"] = jnp.max(batch["stop"])
        return new_state, out

    return train_step


def make_jitted_step(config: ml_collections.ConfigDict, model: AudioUNet, mesh: jax.sharding.Mesh) -> Callable:
    """The train step exactly as `train_and_evaluate` runs it: `make_train_step` jitted with the state
    (and the key) replicated over `mesh`, the batch split along its first axis over the mesh's devices
    (`jaxsr.parallel.shard_batch`), and the input state donated: its buffers become the output state's,
    so a state passed in must not be used again (keep a copy to compare)."""
    replicated, batch = parallel.replicated(mesh), parallel.data_sharded(mesh)
    return jax.jit(make_train_step(config, model), in_shardings=(replicated, batch, replicated),
                   out_shardings=(replicated, replicated), donate_argnums=(0,))


def eval_variables(state: TrainState) -> dict:
    """Variables used for evaluation and export: the EMA params with the EMA BatchNorm statistics when
    an EMA is kept, else the live params with the live statistics. (Only a hand-made state with EMA params
    but no EMA statistics gets its live statistics with them.)"""
    if state.ema_params is not None:
        stats = state.ema_batch_stats if state.ema_batch_stats is not None else state.batch_stats
        return {"params": state.ema_params, "batch_stats": stats}
    return {"params": state.params, "batch_stats": state.batch_stats}


# ------------------------------------------------------------------------------------------ the loop
# Fields that may change when a run is resumed: bookkeeping, and the learning-rate schedule (lowering
# the rate after a divergence is the usual fix). Anything that changes the model, the data, the task or
# the optimizer state's structure makes it another experiment.
_RESUMABLE_FIELDS = ("train.num_train_steps", "train.log_every", "train.eval_every", "train.checkpoint_every",
                     "train.keep_checkpoints", "train.learning_rate", "train.schedule", "train.warmup_steps",
                     "train.final_lr_fraction", "data.num_workers", "data.prefetch", "data.data_dir",
                     "data.build_workers", "eval.")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = list(v) if isinstance(v, tuple) else v
    return out


# What a run writes into its workdir; `--overwrite` moves exactly these aside (never the lock, nor
# earlier `.previous-*` folders).
_RUN_FILES = ("checkpoints", "best", "checkpoints-damaged", "tensorboard", "examples", "log.txt", checkpoints.CONFIG_FILE)


def check_workdir(config: ml_collections.ConfigDict, workdir: pathlib.Path, overwrite: bool) -> bool:
    """Refuse to mix two different experiments in one workdir; writes nothing.

    Returns whether the workdir holds files of an earlier run (which `--overwrite` moves aside once the
    new run has validated its data). A workdir whose run never committed a checkpoint (a failed start)
    holds nothing to protect or resume: it is not compared, and the new run replaces its config.
    """
    previous = any((workdir / name).exists() for name in _RUN_FILES)
    if overwrite or not checkpoints.has_checkpoint(workdir) or not (workdir / checkpoints.CONFIG_FILE).exists():
        return previous
    old_config = checkpoints.read_config(workdir)
    old, new = _flatten(old_config.to_dict()), _flatten(config.to_dict())
    diff = sorted(k for k in set(old) | set(new)
                  if old.get(k) != new.get(k) and not k.startswith(_RESUMABLE_FIELDS))
    if diff:
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:8])
        raise ValueError(
            f"{workdir} holds a run with a different config ({detail}). Use a new --workdir, "
            "or pass --overwrite to move that run aside and start again.")
    # The cosine schedule is a function of num_train_steps: resuming with another value would re-stretch
    # it, and the learning rate would jump back up mid-run. A constant schedule may be extended freely.
    old_tr, new_tr = old_config.train, config.train
    if (old_tr.schedule == new_tr.schedule == "cosine" and old_tr.num_train_steps != new_tr.num_train_steps):
        raise ValueError(
            f"config.train.num_train_steps: {workdir} was trained with a cosine schedule over {old_tr.num_train_steps} "
            f"steps; resuming with {new_tr.num_train_steps} would re-stretch it (the learning rate would jump). Resume "
            f"with --config.train.num_train_steps={old_tr.num_train_steps}, or start a new run (another --workdir, or "
            "--overwrite).")
    return previous


def move_previous_run(workdir: pathlib.Path) -> pathlib.Path | None:
    """Move an earlier run's files into `workdir/.previous-<time>/` (nothing is deleted here).

    Called only once the new run has validated its config and data, so a failed start leaves the old
    run where it was; the caller deletes the moved run once the new one has committed a checkpoint.
    """
    names = [name for name in _RUN_FILES if (workdir / name).exists() or (workdir / name).is_symlink()]
    if not names:
        return None
    dest = workdir / time.strftime(".previous-%Y%m%d-%H%M%S")
    while dest.exists():  # two overwrites within a second
        dest = dest.with_name(dest.name + "x")
    dest.mkdir()
    for name in names:
        os.replace(workdir / name, dest / name)  # same filesystem: a rename, atomic per entry
    return dest


class _StopFlag:
    """Turns SIGTERM/SIGINT into a flag the loop checks, so it can save a checkpoint before exiting."""

    def __init__(self):
        self.signal = None
        self._old = {}

    def __enter__(self):
        for s in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread (e.g. a notebook worker): leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        if self.signal is not None:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.signal = signum
        log.warning("received %s: saving a checkpoint and stopping after this step", signal.Signals(signum).name)

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


class Interrupted(Exception):
    """Training stopped by SIGTERM / SIGINT after saving a checkpoint at `step`.

    Raised (rather than returning a summary) so that no caller mistakes an interrupted run for a finished
    one; `launch/train.py` exits with `exit_code`, 128 + the signal number, as shells report a killed process.
    """

    def __init__(self, signum: int, step: int, workdir: pathlib.Path):
        self.signum, self.step, self.workdir = int(signum), int(step), workdir
        self.exit_code = 128 + self.signum
        super().__init__(f"stopped by {signal.Signals(self.signum).name} at step {self.step}; the checkpoint of that "
                         f"step is saved in {workdir}. Re-run the same command to resume.")


# Every quantity that must be finite before a state is logged or saved: the loss (of the params before
# the update), the gradient, and the params after the update (the state that would be saved).
_FINITE_METRICS = ("loss", "grad_norm", "param_norm")


def _check_finite(metrics: dict, step: int) -> None:
    for name in _FINITE_METRICS:
        value = metrics.get(name)
        if value is not None and not np.isfinite(value):
            raise FloatingPointError(
                f"{name} became {value} at step {step}. The run stopped without saving this state; the last good "
                "checkpoint is kept. Try a lower config.train.learning_rate or config.train.grad_clip=1.0.")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *, overwrite: bool = False,
                       quiet: bool = False) -> dict:
    """Train per `config`, writing checkpoints and logs to `workdir`; returns the final eval summary.

    Re-running with the same workdir resumes from its latest checkpoint. (The data and evaluation
    modules are imported inside, so that `import jaxsr.train` stays light for users of the step alone.)
    """
    validate(config)
    workdir = pathlib.Path(workdir).expanduser().absolute()
    is_main = jax.process_index() == 0
    with _workdir_lock(workdir, enabled=is_main):
        return _train_and_evaluate(config, workdir, overwrite, quiet, is_main)


@contextlib.contextmanager
def _workdir_lock(workdir: pathlib.Path, enabled: bool = True):
    """Refuse a second run in the same workdir while one is running (it would write over its checkpoints)."""
    if not enabled:
        yield
        return
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with files.file_lock(workdir / ".lock", blocking=False) as f:
            f.truncate(0)
            f.write(f"pid {os.getpid()}")
            f.flush()
            yield
    except files.LockBusy:
        holder = (workdir / ".lock").read_text().strip()
        raise ValueError(f"{workdir} is in use by another training run ({holder or 'unknown pid'}); "
                         "wait for it to stop, or use another --workdir.") from None


def _train_and_evaluate(config, workdir: pathlib.Path, overwrite: bool, quiet: bool, is_main: bool) -> dict:
    from jaxsr import evaluation, writers
    from jaxsr.data import builders, pipeline

    # Nothing in the workdir changes until the config and the data have been checked: a failed start
    # (a bad data.path, an empty folder) leaves an earlier run, its config and its logs as they were.
    previous = check_workdir(config, workdir, overwrite) if is_main else False
    user_config = config  # what config.json records ("auto" dtype and all)
    config = ml_collections.ConfigDict(config.to_dict())  # a private copy: dtype "auto" is resolved below
    config.dtype = resolve_dtype(config)

    mesh = parallel.make_mesh()
    parallel.check_batch_size(config.train.batch_size, mesh)
    model = model_from_config(config)
    rng = jax.random.key(config.seed)

    # Data.
    data_dir = config.data.data_dir or None
    train_source = builders.load_split(config.data, "train", data_dir)
    valid_source = builders.load_split(config.data, "valid", data_dir)
    loader = pipeline.train_loader(config, train_source, shard_index=jax.process_index(),
                                   shard_count=jax.process_count())
    examples = pipeline.eval_examples(config, valid_source, config.eval.num_clips or None)
    # A fresh run draws its first batch now, as the last check that the data really yields patches; a
    # resumed run's first batch comes from the restored iterator state instead.
    resuming = not overwrite and bool(checkpoints.checkpoint_steps(workdir))
    first_batch = None
    if not resuming:
        try:
            first_batch = next(loader)
        except BaseException:
            loader.close()
            raise

    # The run really starts: move an overwritten run aside (deleted once this run has saved a
    # checkpoint), and only now record this run's config.
    moved = None
    if is_main:
        if overwrite and previous:
            moved = move_previous_run(workdir)
        checkpoints.save_config(workdir, user_config)
    writer = writers.MetricWriter(workdir, enabled=is_main, quiet=quiet)
    if moved is not None:
        writer.text(f"--overwrite: moved the previous run to {moved}; it is deleted once this run has saved its first "
                    "checkpoint (should this run fail before that, move its files back to restore it)")
    parallel.barrier("jaxsr-workdir-ready")  # other processes open the workdir's checkpoints only now
    writer.text(f"data: {config.data.name} train={len(train_source)} clips, valid={len(valid_source)} clips; "
                f"{jax.device_count()} device(s) [{jax.default_backend()}], global batch {config.train.batch_size}, "
                f"compute {config.dtype}")

    # State, replicated over the mesh; the step is jitted once with explicit shardings.
    tx = make_optimizer(config)
    init = lambda: create_train_state(config, model, rng, tx)  # noqa: E731
    state_shapes = jax.eval_shape(init)
    state_sharding = jax.tree_util.tree_map(lambda _: parallel.replicated(mesh), state_shapes)
    state = jax.jit(init, out_shardings=state_sharding)()
    step_fn = make_jitted_step(config, model, mesh)

    ckpt = checkpoints.Checkpointer(workdir, keep=config.train.keep_checkpoints)
    start = None
    if resuming:
        target = jax.tree_util.tree_map(lambda a, sh: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sh),
                                        state_shapes, state_sharding)
        model_target = _model_item(target)
        if "ema_batch_stats" in model_target and not checkpoints.latest_has_model_key(workdir, "ema_batch_stats"):
            del model_target["ema_batch_stats"]  # an EMA run saved by an older jaxsr: restored, then started below
        restored = ckpt.restore_latest(model_target, _opt_item(target))
        if restored.damaged:
            # A damaged newer step is moved out of checkpoints/ (not deleted: it may be worth a look), or
            # the resumed run would collide with it when it reaches that step again.
            for bad_step, reason in restored.damaged:
                log.warning("checkpoint %s is damaged and was skipped (%s)", workdir / "checkpoints" / str(bad_step),
                            reason)
            if is_main:
                aside = checkpoints.move_damaged(workdir, [s for s, _ in restored.damaged])
                writer.text(f"moved the damaged checkpoint(s) {[s for s, _ in restored.damaged]} to {aside}")
            parallel.barrier("jaxsr-damaged-moved")
            ckpt.latest.reload()
        if restored.step is not None:
            start, model_vars, opt, meta = restored.step, restored.model, restored.opt, restored.meta
            state = state.replace(params=model_vars["params"], batch_stats=model_vars["batch_stats"],
                                  ema_params=model_vars.get("ema_params"), opt_state=opt["opt_state"], step=opt["step"])
            if state.ema_params is not None and "ema_batch_stats" not in model_vars:
                # Saved before EMA statistics were kept: they start from the live ones (a copy, for donation).
                log.warning("%s holds no EMA of the BatchNorm statistics (saved by an older jaxsr); starting it from "
                            "the live statistics", workdir / "checkpoints" / str(start))
                state = state.replace(ema_batch_stats=jax.tree_util.tree_map(jnp.copy, model_vars["batch_stats"]))
            elif state.ema_params is not None:
                state = state.replace(ema_batch_stats=model_vars["ema_batch_stats"])
            pipeline.set_iterator_state(loader, meta["data_state"])
            writer.text(f"resumed from {workdir / 'checkpoints' / str(start)} at step {start}")
    if start is None and config.train.init_from:
        state = _init_from(state, config, config.train.init_from)
        writer.text(f"fine-tuning: params and BatchNorm statistics from {config.train.init_from}")
    start = start or 0

    num_steps = config.train.num_train_steps
    tr = config.train
    summary: dict = {}
    last_metrics: dict = {}
    t_window, n_window = time.perf_counter(), 0

    def meta() -> dict:
        return {"data_state": pipeline.get_iterator_state(loader), "metrics": last_metrics}

    committed = False  # this process has waited for the run's first checkpoint to be on disk
    # Stopping on a signal. One process stops as soon as it sees its own flag. Several must stop after
    # the same step, or one would wait forever in the next step's all-reduce (or checkpoint) while the
    # other has left: each process puts its flag (the signal number, or 0) into its rows of the batch,
    # the step all-reduces their max with the gradients, and every process reads that agreed value one
    # step behind (so reading it does not stall dispatch). A preemption notice to any one host thus
    # stops all of them after the same step, which all of them save.
    multi_process = jax.process_count() > 1
    agreed_flag = None  # the previous step's all-reduced stop flag (multi-process only)
    stopping = None  # the signal this run stops for, once every process agrees
    with _StopFlag() as stop, writer.progress(start, num_steps) as bar, _closing(loader, ckpt):
        step = start
        while step < num_steps:
            host_batch, first_batch = (first_batch, None) if first_batch is not None else (next(loader), None)
            if multi_process:
                rows = len(host_batch["x"])
                host_batch = dict(host_batch, stop=np.full((rows,), stop.signal or 0, np.int32))
            batch = parallel.shard_batch(host_batch, mesh)
            try:
                state, m = step_fn(state, batch, rng)
            except Exception as e:  # out of memory at start-up: name the knob to turn
                if "RESOURCE_EXHAUSTED" in str(e) or "Out of memory" in str(e):
                    raise MemoryError(
                        f"out of device memory with config.train.batch_size={tr.batch_size} and "
                        f"data.patch_length={config.data.patch_length}; try --config.train.batch_size="
                        f"{max(tr.batch_size // 2, jax.device_count())}.") from e
                raise
            step += 1
            n_window += 1
            if multi_process:
                if agreed_flag is not None:
                    stopping = int(np.asarray(agreed_flag.addressable_data(0))) or None
                agreed_flag = m.pop("stop")
            else:
                stopping = stop.signal
            logged = False
            if step % tr.log_every == 0 or step == num_steps or stopping:
                last_metrics = {k: float(v) for k, v in jax.device_get(m).items()}
                _check_finite(last_metrics, step)
                logged = True
                dt = time.perf_counter() - t_window
                patches = n_window * tr.batch_size / max(dt, 1e-9)
                last_metrics.update(patches_per_s=patches,
                                    audio_s_per_s=patches * config.data.patch_length / config.data.sample_rate)
                writer.scalars(step, {f"train/{k}": v for k, v in last_metrics.items()})
                bar.set_postfix(loss=f"{last_metrics['loss']:.2e}", snr=f"{last_metrics['snr']:.1f}",
                                pps=f"{patches:.0f}")
                t_window, n_window = time.perf_counter(), 0
            bar.update(1)
            eval_now = step % tr.eval_every == 0 or step == num_steps
            if eval_now or step % tr.checkpoint_every == 0 or stopping:
                if not logged:  # the metrics of *this* step vouch for the state about to be saved
                    last_metrics = {**last_metrics, **{k: float(v) for k, v in jax.device_get(m).items()}}
                    _check_finite(last_metrics, step)
                # Saved before evaluating, so that a failure during evaluation loses no training.
                ckpt.save(step, _model_item(state), _opt_item(state), meta(), force=True)
                if overwrite and not committed:  # once, on every process: the new run now has a checkpoint
                    ckpt.wait()
                    committed = True
                    if moved is not None:
                        shutil.rmtree(moved, ignore_errors=True)
                        writer.text(f"deleted the previous run ({moved}): this run has saved step {step}")
                        moved = None
            if eval_now:
                summary = evaluation.evaluate(eval_variables(state), config, examples)
                writer.scalars(step, evaluation.flat_summary(summary, prefix="eval/"))
                writer.text(f"step {step}: " + evaluation.one_line(summary))
                ckpt.save_best(step, _model_item(state), _opt_item(state), meta(), summary["model"]["lsd"])
            if stopping:
                writer.text(f"stopped by signal at step {step}; checkpoint saved. Re-run the same command to resume.")
                break
    ckpt.close()

    # A signal during the last step's evaluation also ends the run early (a single process only: several
    # act on the agreed flag alone, so that they all take the same path).
    stopping = stopping or (None if multi_process else stop.signal)
    if stopping:  # the last evaluation is stale: report nothing rather than an old table
        writer.close()
        raise Interrupted(stopping, step, workdir)
    if not summary and examples:  # resumed at the end: evaluate once so there is something to report
        summary = evaluation.evaluate(eval_variables(state), config, examples)
    if is_main and summary:
        writer.text(evaluation.format_table(summary, config))
        if config.eval.save_examples and examples:
            evaluation.save_examples(workdir, eval_variables(state), config, examples[: config.eval.save_examples],
                                     writer=writer, step=step)
    writer.close()
    return summary


def load_init_variables(source: str) -> tuple[dict, ml_collections.ConfigDict]:
    """`({'params', 'batch_stats'}, config)` of `train.init_from`: a packaged model name, a workdir or a
    step directory (its EMA params when it kept them, as inference uses them)."""
    from jaxsr import pretrained

    if pretrained.is_name(source):
        m = pretrained.manifest(source)
        return pretrained.read_variables(source), config_lib.config_from_json(json.dumps(m["config"]))
    path = pathlib.Path(source).expanduser()
    if not path.exists():
        raise ValueError(f"config.train.init_from: {source!r} is neither a workdir nor a packaged model "
                         f"(packaged: {', '.join(pretrained.names())}); pass one, or \"\" to train from scratch.")
    restored = checkpoints.load_checkpoint(path)
    return restored.variables, restored.config


def _init_from(state: TrainState, config: ml_collections.ConfigDict, source: str) -> TrainState:
    """`state` with params and BatchNorm statistics (and their EMAs) taken from `source`; shapes must match."""
    variables, source_config = load_init_variables(source)
    want = {"params": state.params, "batch_stats": state.batch_stats}
    got = {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}
    want_shapes = {k: tuple(np.shape(v)) for k, v in _flatten(want).items()}
    got_shapes = {k: tuple(np.shape(v)) for k, v in _flatten(got).items()}
    if want_shapes != got_shapes:
        differ = [f"model.{f}={source_config.model[f]!r} there, {config.model[f]!r} here"
                  for f in ("num_blocks", "width", "max_filters", "dilation", "norm", "final_kernel") if f in config.model and
                  f in source_config.model and source_config.model[f] != config.model[f]]
        raise ValueError(f"config.train.init_from: {source} holds a network of another shape than this config's"
                         f" ({'; '.join(differ) or 'parameter shapes differ'}); use the same model fields.")
    # Placed like the state's own leaves (replicated over the mesh), as float32 copies.
    put = lambda new, old: jax.device_put(jnp.asarray(new, old.dtype), old.sharding)  # noqa: E731
    params = jax.tree_util.tree_map(put, got["params"], state.params)
    stats = jax.tree_util.tree_map(put, got["batch_stats"], state.batch_stats)
    copy = lambda tree: jax.tree_util.tree_map(jnp.copy, tree) if state.ema_params is not None else None  # noqa: E731
    return state.replace(params=params, batch_stats=stats, ema_params=copy(params),
                         ema_batch_stats=copy(stats) if state.ema_params is not None else state.ema_batch_stats)


@contextlib.contextmanager
def _closing(loader, ckpt):
    """However the loop ends, stop the data workers and let pending checkpoint writes finish."""
    try:
        yield
    finally:
        loader.close()
        ckpt.wait()


def _model_item(state) -> dict:
    item = {"params": state.params, "batch_stats": state.batch_stats}
    if state.ema_params is not None:
        item["ema_params"] = state.ema_params
    if state.ema_batch_stats is not None:
        item["ema_batch_stats"] = state.ema_batch_stats
    return item


def _opt_item(state) -> dict:
    return {"opt_state": state.opt_state, "step": state.step}
