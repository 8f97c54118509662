"""The training loop: `train_and_evaluate(config, workdir)`, and fine-tuning from `train.init_from`.

The loop feeds batches from the grain pipeline to the jitted step of `jaxsr.train.state`, logs, evaluates
on whole validation clips against the task's baseline, and checkpoints with Orbax so that re-running the
same command resumes exactly where the run stopped. What it may do to the workdir is decided in
`jaxsr.train.workdir`; stopping on a signal in `jaxsr.train.signals`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import pathlib
import shutil
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxsr import checkpoints, parallel
from jaxsr.config import validate
from jaxsr.models import model_from_config
from jaxsr.train.signals import Interrupted, StopFlag
from jaxsr.train.state import (
    TrainState,
    create_train_state,
    eval_variables,
    make_jitted_step,
    make_optimizer,
    resolve_dtype,
)
from jaxsr.train.workdir import check_workdir, flat_dict, move_previous_run, workdir_lock

log = logging.getLogger("jaxsr")

# Every quantity that must be finite before a state is logged or saved: the loss (of the params before
# the update), the gradient, and the params after the update (the state that would be saved).
_FINITE_METRICS = ("loss", "grad_norm", "param_norm")


class NoSpaceLeft(OSError):
    """The disk filled up while the run saved a checkpoint; the last complete one is kept."""


def _no_space(e: BaseException, workdir: pathlib.Path, step: int) -> NoSpaceLeft | None:
    """A one-line NoSpaceLeft if `e` (or what it was raised from: Orbax wraps it several times) is a full
    disk or quota, else None."""
    from jaxsr.files import os_errno

    code = os_errno(e)
    if code not in (errno.ENOSPC, errno.EDQUOT):
        return None
    kept = checkpoints.checkpoint_steps(workdir)
    full = NoSpaceLeft(
        f"no space left on device while saving step {step} in {workdir}; freed space lets you resume: "
        f"re-run the same command (from step {kept[-1] if kept else 0})"
    )
    full.errno = code  # set after: OSError(code, text) would print as "[Errno 28] text"
    return full


def _check_finite(metrics: dict, step: int) -> None:
    for name in _FINITE_METRICS:
        value = metrics.get(name)
        if value is not None and not np.isfinite(value):
            raise FloatingPointError(
                f"{name} became {value} at step {step}. The run stopped without saving this state; the last good "
                "checkpoint is kept. Try a lower config.train.learning_rate or config.train.grad_clip=1.0."
            )


def train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: str | pathlib.Path,
    *,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict:
    """Train per `config`, writing checkpoints and logs to `workdir`; returns the final eval summary.

    Re-running with the same workdir resumes from its latest checkpoint. (The data and evaluation
    modules are imported inside, so that `import jaxsr.train` stays light for users of the step alone.)
    """
    validate(config)
    workdir = pathlib.Path(workdir).expanduser().absolute()
    is_main = jax.process_index() == 0
    with workdir_lock(workdir, enabled=is_main):
        return _train_and_evaluate(config, workdir, overwrite, quiet, is_main)


@dataclasses.dataclass
class _Run:
    """What the jobs of one training run share: set up by `_prepare`, stepped by `_run`, reported by
    `_report`."""

    config: ml_collections.ConfigDict  # the working copy (dtype resolved)
    workdir: pathlib.Path
    overwrite: bool
    is_main: bool
    mesh: Any
    model: Any
    rng: jax.Array
    loader: Any
    examples: list
    writer: Any
    moved: pathlib.Path | None  # an overwritten run, deleted once this run has saved a checkpoint
    first_batch: dict | None = None  # a fresh run's first batch, drawn early as a check of the data


def _train_and_evaluate(
    config: ml_collections.ConfigDict,
    workdir: pathlib.Path,
    overwrite: bool,
    quiet: bool,
    is_main: bool,
) -> dict:
    run, resuming, init_variables = _prepare(config, workdir, overwrite, quiet, is_main)
    state, step_fn, ckpt, start = _restore_or_init(run, resuming, init_variables)
    state, summary, step, stopping = _run(run, state, step_fn, ckpt, start)
    return _report(run, state, summary, step, stopping)


def _prepare(
    user_config: ml_collections.ConfigDict,
    workdir: pathlib.Path,
    overwrite: bool,
    quiet: bool,
    is_main: bool,
) -> tuple[_Run, bool, dict | None]:
    """Check the config, `train.init_from`, the workdir and the data, then claim the workdir.

    Returns `(run, resuming, init_variables)`. Nothing in the workdir changes until every check has
    passed: a failed start (a bad data.path, an empty folder, an init_from of another shape) leaves an
    earlier run, its config and its logs as they were.
    """
    from jaxsr import writers
    from jaxsr.data import builders, eval_clips, pipeline

    # A private copy: dtype "auto" is resolved here; config.json records the user's ("auto" and all).
    config = ml_collections.ConfigDict(user_config.to_dict())
    config.dtype = resolve_dtype(config)
    resuming = not overwrite and bool(checkpoints.checkpoint_steps(workdir))
    init_variables = check_init_from(config) if config.train.init_from and not resuming else None
    previous = check_workdir(user_config, workdir, overwrite) if is_main else False

    mesh = parallel.make_mesh()
    parallel.check_batch_size(config.train.batch_size, mesh)
    data_dir = config.data.data_dir or None
    train_source = builders.load_split(config.data, "train", data_dir)
    valid_source = builders.load_split(config.data, "valid", data_dir)
    loader = pipeline.train_loader(
        config, train_source, shard_index=jax.process_index(), shard_count=jax.process_count()
    )
    examples = eval_clips.eval_examples(config, valid_source, config.eval.num_clips or None)
    # A fresh run draws its first batch now, as the last check that the data really yields patches; a
    # resumed run's first batch comes from the restored iterator state instead.
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
        writer.text(
            f"--overwrite: moved the previous run to {moved}; it is deleted once this run has saved its first "
            "checkpoint (should this run fail before that, move its files back to restore it)"
        )
    parallel.barrier(
        "jaxsr-workdir-ready"
    )  # other processes open the workdir's checkpoints only now
    writer.text(
        f"data: {config.data.name} train={len(train_source)} clips, valid={len(valid_source)} clips; "
        f"{jax.device_count()} device(s) [{jax.default_backend()}], global batch {config.train.batch_size}, "
        f"compute {config.dtype}"
    )
    run = _Run(
        config=config,
        workdir=workdir,
        overwrite=overwrite,
        is_main=is_main,
        mesh=mesh,
        model=model_from_config(config),
        rng=jax.random.key(config.seed),
        loader=loader,
        examples=examples,
        writer=writer,
        moved=moved,
        first_batch=first_batch,
    )
    return run, resuming, init_variables


def _restore_or_init(
    run: _Run, resuming: bool, init_variables: dict | None
) -> tuple[TrainState, Callable, checkpoints.Checkpointer, int]:
    """The train state, replicated over the mesh: restored from the workdir's latest checkpoint that
    reads back (with the data iterator's position), else initialised, from `train.init_from` when set.

    Returns `(state, jitted step, checkpointer, first step)`.
    """
    from jaxsr.data import pipeline

    config, workdir, writer = run.config, run.workdir, run.writer
    tx = make_optimizer(config)
    init = lambda: create_train_state(config, run.model, run.rng, tx)  # noqa: E731
    state_shapes = jax.eval_shape(init)
    state_sharding = jax.tree_util.tree_map(lambda _: parallel.replicated(run.mesh), state_shapes)
    state = jax.jit(init, out_shardings=state_sharding)()
    step_fn = make_jitted_step(config, run.model, run.mesh)

    ckpt = checkpoints.Checkpointer(workdir, keep=config.train.keep_checkpoints)
    if resuming:
        target = jax.tree_util.tree_map(
            lambda a, sh: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sh),
            state_shapes,
            state_sharding,
        )
        restored = ckpt.restore_latest(_model_item(target), _opt_item(target))
        if restored.damaged:
            _set_damaged_aside(run, ckpt, restored.damaged)
        if restored.step is not None:
            model_vars, opt = restored.model, restored.opt
            state = state.replace(
                params=model_vars["params"],
                batch_stats=model_vars["batch_stats"],
                ema_params=model_vars.get("ema_params"),
                ema_batch_stats=model_vars.get("ema_batch_stats"),
                opt_state=opt["opt_state"],
                step=opt["step"],
            )
            pipeline.set_iterator_state(run.loader, restored.meta["data_state"])
            writer.text(
                f"resumed from {workdir / 'checkpoints' / str(restored.step)} at step {restored.step}"
            )
            return state, step_fn, ckpt, restored.step
    if config.train.init_from:
        state = _init_from(state, init_variables or check_init_from(config))
        writer.text(f"fine-tuning: params and BatchNorm statistics from {config.train.init_from}")
    return state, step_fn, ckpt, 0


def _set_damaged_aside(run: _Run, ckpt: checkpoints.Checkpointer, damaged: list) -> None:
    """Move damaged newer steps (`[(step, reason)]`) out of checkpoints/ (not deleted: they may be worth
    a look), or the resumed run would collide with them when it reaches those steps again."""
    for bad_step, reason in damaged:
        log.warning(
            "checkpoint %s is damaged and was skipped (%s)",
            run.workdir / "checkpoints" / str(bad_step),
            reason,
        )
    if run.is_main:
        aside = checkpoints.move_damaged(run.workdir, [s for s, _ in damaged])
        run.writer.text(f"moved the damaged checkpoint(s) {[s for s, _ in damaged]} to {aside}")
    parallel.barrier("jaxsr-damaged-moved")
    ckpt.latest.reload()


def _run(
    run: _Run,
    state: TrainState,
    step_fn: Callable,
    ckpt: checkpoints.Checkpointer,
    start: int,
) -> tuple[TrainState, dict, int, int | None]:
    """Train from step `start` to `train.num_train_steps`, logging, checkpointing and evaluating on the
    way, or until a signal. Returns `(state, last evaluation summary, step, the signal or None)`."""
    from jaxsr import evaluation
    from jaxsr.data import pipeline

    config, writer, loader, workdir = run.config, run.writer, run.loader, run.workdir
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
    step = start
    first_batch, run.first_batch = run.first_batch, None
    try:
        with StopFlag() as stop, writer.progress(start, num_steps) as bar, _closing(loader, ckpt):
            while step < num_steps:
                host_batch, first_batch = (
                    (first_batch, None) if first_batch is not None else (next(loader), None)
                )
                if multi_process:
                    rows = len(host_batch["x"])
                    host_batch = dict(host_batch, stop=np.full((rows,), stop.signal or 0, np.int32))
                batch = parallel.shard_batch(host_batch, run.mesh)
                state, m = _step(step_fn, state, batch, run.rng, config)
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
                    last_metrics.update(
                        patches_per_s=patches,
                        audio_s_per_s=patches * config.data.patch_length / config.data.sample_rate,
                    )
                    writer.scalars(step, {f"train/{k}": v for k, v in last_metrics.items()})
                    bar.set_postfix(
                        loss=f"{last_metrics['loss']:.2e}",
                        snr=f"{last_metrics['snr']:.1f}",
                        pps=f"{patches:.0f}",
                    )
                    t_window, n_window = time.perf_counter(), 0
                bar.update(1)
                eval_now = step % tr.eval_every == 0 or step == num_steps
                if eval_now or step % tr.checkpoint_every == 0 or stopping:
                    if (
                        not logged
                    ):  # the metrics of *this* step vouch for the state about to be saved
                        last_metrics = {
                            **last_metrics,
                            **{k: float(v) for k, v in jax.device_get(m).items()},
                        }
                        _check_finite(last_metrics, step)
                    # Saved before evaluating, so that a failure during evaluation loses no training.
                    ckpt.save(step, _model_item(state), _opt_item(state), meta(), force=True)
                    if (
                        run.overwrite and not committed
                    ):  # once, on every process: the new run now has a checkpoint
                        ckpt.wait()
                        committed = True
                        if run.moved is not None:
                            shutil.rmtree(run.moved, ignore_errors=True)
                            writer.text(
                                f"deleted the previous run ({run.moved}): this run has saved step {step}"
                            )
                            run.moved = None
                if eval_now:
                    summary = evaluation.evaluate(eval_variables(state), config, run.examples)
                    writer.scalars(step, evaluation.flat_summary(summary, prefix="eval/"))
                    writer.text(f"step {step}: " + evaluation.one_line(summary))
                    ckpt.save_best(
                        step, _model_item(state), _opt_item(state), meta(), summary["model"]["lsd"]
                    )
                if stopping:
                    writer.text(
                        f"stopped by signal at step {step}; checkpoint saved. Re-run the same command to resume."
                    )
                    break
        ckpt.close()
    except Exception as e:
        if (full := _no_space(e, workdir, ckpt.writing or step)) is not None:
            # One line says it all: Orbax's threads end first, and what still writes at exit (TensorBoard's
            # events) fails on the same full disk without a traceback.
            ckpt.abandon()
            checkpoints.quiet_full_disk_aftermath()
            with contextlib.suppress(OSError):  # the log is on the same full disk
                writer.text(str(full), echo=False)  # the exception carries it to the console
            with contextlib.suppress(OSError):
                writer.close()
            raise full from None
        raise

    # A signal during the last step's evaluation also ends the run early (a single process only: several
    # act on the agreed flag alone, so that they all take the same path).
    stopping = stopping or (None if multi_process else stop.signal)
    return state, summary, step, stopping


def _step(
    step_fn: Callable,
    state: TrainState,
    batch: dict,
    rng: jax.Array,
    config: ml_collections.ConfigDict,
) -> tuple[TrainState, dict]:
    """One jitted train step; running out of device memory (at start-up) names the knob to turn."""
    try:
        return step_fn(state, batch, rng)
    except Exception as e:
        if "RESOURCE_EXHAUSTED" in str(e) or "Out of memory" in str(e):
            bs = config.train.batch_size
            raise MemoryError(
                f"out of device memory with config.train.batch_size={bs} and "
                f"data.patch_length={config.data.patch_length}; try --config.train.batch_size="
                f"{max(bs // 2, jax.device_count())}."
            ) from e
        raise


def _report(run: _Run, state: TrainState, summary: dict, step: int, stopping: int | None) -> dict:
    """End the run: raise `Interrupted` after a signal; else log the final evaluation table (and save
    example audio) and return the summary."""
    from jaxsr import evaluation

    config, writer, examples = run.config, run.writer, run.examples
    if stopping:  # the last evaluation is stale: report nothing rather than an old table
        writer.close()
        raise Interrupted(stopping, step, run.workdir)
    if (
        not summary and examples
    ):  # resumed at the end: evaluate once so there is something to report
        summary = evaluation.evaluate(eval_variables(state), config, examples)
    if run.is_main and summary:
        writer.text(evaluation.format_table(summary, config))
        if config.eval.save_examples and examples:
            evaluation.save_examples(
                run.workdir,
                eval_variables(state),
                config,
                examples[: config.eval.save_examples],
                writer=writer,
                step=step,
            )
    writer.close()
    return summary


def load_init_variables(source: str) -> tuple[dict, ml_collections.ConfigDict]:
    """`({'params', 'batch_stats'}, config)` of `train.init_from`: a packaged model name (`pretrained:NAME`
    when a local folder has that name), a workdir or a step directory (its EMA params when it kept them,
    as inference uses them). ValueError naming the field for anything else."""
    from jaxsr import pretrained
    from jaxsr.deploy.folder import export_folder
    from jaxsr.inference.model import check_not_a_workdir_lookalike

    path = pathlib.Path(source).expanduser()
    if pretrained.is_name(source) and (source.startswith(pretrained.PREFIX) or not path.exists()):
        packaged = pretrained.read(source)
        return packaged.variables, packaged.config
    if not path.exists():
        raise ValueError(
            f"config.train.init_from: {source!r} is neither a workdir nor a packaged model "
            f'(packaged: {", ".join(pretrained.names())}); pass one, or "" to train from scratch.'
        )
    if export_folder(path) is not None:
        raise ValueError(
            f"config.train.init_from: {source} is an exported model (jaxsr-export.json), whose weights are "
            "baked into its graph; pass the workdir or packaged model it was exported from."
        )
    try:
        check_not_a_workdir_lookalike(path, source)
        restored = checkpoints.load_checkpoint(path)
    except FileNotFoundError as e:
        raise ValueError(f"config.train.init_from: {e}") from None
    return restored.variables, restored.config


def check_init_from(config: ml_collections.ConfigDict) -> dict:
    """The variables `{'params', 'batch_stats'}` of `config.train.init_from`, checked against the shapes
    of `config`'s network; ValueError naming the field when it cannot be read or does not fit. Run
    before the workdir or the data are touched, so that a bad source costs nothing."""
    from jaxsr.models import variable_shapes

    source = config.train.init_from
    variables, source_config = load_init_variables(source)
    shapes = variable_shapes(model_from_config(config))
    want = {"params": shapes["params"], "batch_stats": shapes.get("batch_stats", {})}
    got = {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}
    want_shapes = {k: tuple(np.shape(v)) for k, v in flat_dict(want).items()}
    got_shapes = {k: tuple(np.shape(v)) for k, v in flat_dict(got).items()}
    if want_shapes != got_shapes:
        differ = [
            f"model.{f}={source_config.model[f]!r} there, {config.model[f]!r} here"
            for f in ("num_blocks", "width", "max_filters", "dilation", "norm", "final_kernel")
            if f in config.model
            and f in source_config.model
            and source_config.model[f] != config.model[f]
        ]
        raise ValueError(
            f"config.train.init_from: {source} holds a network of another shape than this config's"
            f" ({'; '.join(differ) or 'parameter shapes differ'}); use the same model fields."
        )
    return got


def _init_from(state: TrainState, got: dict) -> TrainState:
    """`state` with params and BatchNorm statistics (and their EMAs) taken from `got` (`check_init_from`)."""
    # Placed like the state's own leaves (replicated over the mesh), as float32 copies.
    put = lambda new, old: jax.device_put(jnp.asarray(new, old.dtype), old.sharding)  # noqa: E731
    params = jax.tree_util.tree_map(put, got["params"], state.params)
    stats = jax.tree_util.tree_map(put, got["batch_stats"], state.batch_stats)

    def copy(tree):
        return jax.tree_util.tree_map(jnp.copy, tree) if state.ema_params is not None else None

    return state.replace(
        params=params,
        batch_stats=stats,
        ema_params=copy(params),
        ema_batch_stats=copy(stats) if state.ema_params is not None else state.ema_batch_stats,
    )


@contextlib.contextmanager
def _closing(loader, ckpt):
    """However the loop ends, stop the data workers and let pending checkpoint writes finish."""
    try:
        yield
    finally:
        loader.close()
        ckpt.wait()


# The checkpoint's `model` and `opt` items are kept apart so that inference and `init_from` read the
# model without needing the optimizer's structure (see jaxsr.checkpoints).
def _model_item(state: TrainState) -> dict:
    item = {"params": state.params, "batch_stats": state.batch_stats}
    if state.ema_params is not None:
        item["ema_params"] = state.ema_params
    if state.ema_batch_stats is not None:
        item["ema_batch_stats"] = state.ema_batch_stats
    return item


def _opt_item(state: TrainState) -> dict:
    return {"opt_state": state.opt_state, "step": state.step}
