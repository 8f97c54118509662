"""Orbax checkpoints of a run, and how a workdir is laid out.

    <workdir>/config.json          the config of the run (written atomically before the first step)
    <workdir>/checkpoints/<step>/  the last `keep` checkpoints, saved asynchronously
    <workdir>/best/<step>/         the checkpoint with the best validation LSD
    <workdir>/log.txt, events.*    logs

A checkpoint holds three items: `model` (params, batch_stats, and ema_params with ema_batch_stats when kept), `opt`
(optimizer state, the step and the RNG key) and `meta` (JSON: format version, step, the data
iterator's state, eval metrics). Inference reads only `model` and `meta`, so it does not need the
optimizer's structure. Orbax writes each step to a temporary directory and renames it when complete,
so a crash mid-save leaves the previous checkpoint intact (a checkpoint is there whole or not at all).

A step directory can still be damaged afterwards (a disk error, a truncated copy). Resuming and
`load_checkpoint(which="latest")` then fall back to the newest step that restores, with a warning naming
the damaged one; resuming also moves it to `<workdir>/checkpoints-damaged/` so the run does not collide
with it. An explicitly requested step (or "best") is never replaced by another: it errors instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import gc
import json
import logging
import os
import pathlib
import sys
import threading
import time
import warnings
from typing import Any, Callable

import jax
import ml_collections
import orbax.checkpoint as ocp

from jaxsr.config import config_from_json, config_to_json
from jaxsr.files import os_errno, write_atomic

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, text)


def save_config(workdir: str | os.PathLike, config: ml_collections.ConfigDict) -> None:
    write_text_atomic(pathlib.Path(workdir) / CONFIG_FILE, config_to_json(config))


def read_config(workdir: str | os.PathLike) -> ml_collections.ConfigDict:
    path = pathlib.Path(workdir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {workdir} is not a jaxsr workdir (no saved config)."
        )
    try:
        return config_from_json(path.read_text())
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"{path} is not a valid jaxsr config file ({e}).") from e


def _one_line(e: BaseException, limit: int = 240) -> str:
    """`Type: first line of the message` of the innermost cause, shortened. Orbax wraps the real reason
    (e.g. TensorStore's "OUT_OF_RANGE: ... byte range ... not valid") in a 150-line generic error."""
    seen = {id(e)}
    while (e.__cause__ or e.__context__) is not None and id(
        e.__cause__ or e.__context__
    ) not in seen:
        e = e.__cause__ or e.__context__
        seen.add(id(e))
    text = next((line.strip() for line in str(e).splitlines() if line.strip()), "")
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _is_failed_io_noise(exc: BaseException | None) -> bool:
    return (
        isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"
    ) or "Encountered error while reading array index" in str(exc)


def _wrap_hook(owner: Any, attr: str, mark: str, passes: Callable[[Any], bool]) -> None:
    """Put a filter in front of the hook `owner.attr` (sys.unraisablehook, threading.excepthook): what
    `passes` lets through reaches the hook installed before; `mark` keeps it from being installed twice."""
    previous = getattr(owner, attr)
    if getattr(previous, mark, False):
        return

    def hook(arg) -> None:
        if passes(arg):
            previous(arg)

    setattr(hook, mark, True)
    setattr(owner, attr, hook)


def _drop_failed_io_noise() -> None:
    """Silence what a failed Orbax read or write leaves behind. It reads and writes arrays concurrently;
    when one fails, the others' coroutines are dropped and late TensorStore callbacks find their event
    loop closed, each printing "Event loop is closed" with a traceback (dozens, some after the call has
    returned, none about the failure). A filter on sys.unraisablehook drops exactly those messages and
    passes every other unraisable exception on; it stays installed, as the stragglers come late."""
    _wrap_hook(
        sys,
        "unraisablehook",
        "_jaxsr_drops_failed_io",
        lambda u: not _is_failed_io_noise(u.exc_value),
    )


@contextlib.contextmanager
def _quiet_failed_read():
    """A read whose failure leaves no noise behind (`_drop_failed_io_noise`)."""
    _drop_failed_io_noise()
    try:
        yield
    except Exception:
        gc.collect()  # finalise the dropped coroutines now, while the filter is surely in place
        raise


def is_full_disk(e: BaseException | None) -> bool:
    """Whether `e` (or what it was raised from) is a full disk or an exhausted quota."""
    return os_errno(e) in (errno.ENOSPC, errno.EDQUOT)


class _DropFullDiskReports(logging.Filter):
    """On a full disk every Orbax thread of the failed save logs the error with its traceback, and asyncio
    each of its failed write tasks ("Task exception was never retrieved"): hundreds of lines, before the
    training loop sees the error once, from `CheckpointManager.save` or `wait_until_finished`, and reports
    it in one line. This filter, on absl's logger (which Orbax logs through) and asyncio's, drops exactly
    those reports; every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (is_full_disk(exc) or "No space left on device" in record.getMessage())


def _drop_orbax_full_disk_reports() -> None:
    for logger in map(logging.getLogger, ("absl", "asyncio")):
        if not any(isinstance(f, _DropFullDiskReports) for f in logger.filters):
            logger.addFilter(_DropFullDiskReports())


def quiet_full_disk_aftermath() -> None:
    """Once a full disk has been reported, drop the same news from whatever still writes in the background:
    TensorBoard's event writer flushing at exit ("Exception ignored in atexit callback"), its worker thread,
    an Orbax thread finishing late. Other exceptions reach the hooks that were installed before."""
    _wrap_hook(
        sys, "unraisablehook", "_jaxsr_drops_full_disk", lambda u: not is_full_disk(u.exc_value)
    )
    _wrap_hook(
        threading, "excepthook", "_jaxsr_drops_full_disk", lambda a: not is_full_disk(a.exc_value)
    )


def checkpoint_steps(workdir: str | os.PathLike, which: str = "checkpoints") -> list[int]:
    """Steps with a complete-looking directory under `workdir/<which>` ("checkpoints" or "best"), ascending."""
    return _step_dirs(pathlib.Path(workdir) / which)


def has_checkpoint(workdir: str | os.PathLike) -> bool:
    """Whether the workdir's run committed any checkpoint (latest or best): a run worth protecting."""
    return bool(checkpoint_steps(workdir) or checkpoint_steps(workdir, "best"))


def move_damaged(workdir: str | os.PathLike, steps: list[int]) -> pathlib.Path:
    """Move damaged step directories out of `checkpoints/` into `checkpoints-damaged/<step>-<time>`."""
    workdir = pathlib.Path(workdir)
    dest = workdir / "checkpoints-damaged"
    dest.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for step in steps:
        src = workdir / "checkpoints" / str(step)
        if src.exists():
            os.replace(src, dest / f"{step}-{stamp}")
    return dest


@dataclasses.dataclass(frozen=True)
class LatestRestore:
    """What `Checkpointer.restore_latest` found: the newest step that restores (None: none did) and the
    newer steps skipped as damaged, `(step, reason)`, newest first."""

    step: int | None
    model: dict | None
    opt: Any
    meta: dict | None
    damaged: list[tuple[int, str]]


class Checkpointer:
    """The run's two CheckpointManagers: the latest `keep` and the best by validation LSD."""

    def __init__(self, workdir: str | os.PathLike, keep: int = 3, async_save: bool = True):
        workdir = pathlib.Path(workdir).absolute()
        _drop_orbax_full_disk_reports()
        _drop_failed_io_noise()
        # The step of the newest save handed to Orbax. Saves run in the background, so a failure surfaces
        # in the next `save` or `wait`, and belongs to this step, not to the one being saved then.
        self.writing: int | None = None
        opts = dict(enable_async_checkpointing=async_save, cleanup_tmp_directories=True)
        self.latest = ocp.CheckpointManager(
            workdir / "checkpoints", options=ocp.CheckpointManagerOptions(max_to_keep=keep, **opts)
        )
        self.best = ocp.CheckpointManager(
            workdir / "best",
            options=ocp.CheckpointManagerOptions(
                max_to_keep=1, best_fn=lambda m: m["lsd"], best_mode="min", **opts
            ),
        )

    @staticmethod
    def _args(model: dict, opt: Any, meta: dict) -> ocp.args.Composite:
        return ocp.args.Composite(
            model=ocp.args.StandardSave(model),
            opt=ocp.args.StandardSave(opt),
            meta=ocp.args.JsonSave(meta),
        )

    def save(self, step: int, model: dict, opt: Any, meta: dict, force: bool = False) -> None:
        """A training checkpoint into `checkpoints/` (the last `keep` are kept)."""
        meta = dict(meta, format_version=FORMAT_VERSION, step=int(step))
        self.wait()  # a failure of the previous save is raised here, while `writing` still names its step
        self.writing = int(step)
        self.latest.save(step, args=self._args(model, opt, meta), force=force)

    def save_best(self, step: int, model: dict, opt: Any, meta: dict, eval_lsd: float) -> None:
        """The same checkpoint into `best/`, kept only while its validation LSD is the lowest so far."""
        meta = dict(meta, format_version=FORMAT_VERSION, step=int(step))
        self.wait()
        self.writing = int(step)
        self.best.save(
            step, args=self._args(model, opt, meta), metrics={"lsd": float(eval_lsd)}, force=True
        )

    def latest_step(self) -> int | None:
        return self.latest.latest_step()

    def restore(self, step: int, model_target: dict, opt_target: Any) -> tuple[dict, Any, dict]:
        """Restore a training checkpoint onto abstract targets (shapes, dtypes and shardings)."""
        out = self.latest.restore(
            step,
            args=ocp.args.Composite(
                model=ocp.args.StandardRestore(model_target),
                opt=ocp.args.StandardRestore(opt_target),
                meta=ocp.args.JsonRestore(),
            ),
        )
        return out["model"], out["opt"], out["meta"]

    def restore_latest(self, model_target: dict, opt_target: Any) -> LatestRestore:
        """Restore the newest step that reads back, newest first; damaged steps are reported, not fatal.

        Raises ValueError (one line per step) when steps exist but none restores.
        """
        damaged: list[tuple[int, str]] = []
        for step in sorted(self.latest.all_steps(), reverse=True):
            try:
                with _quiet_failed_read():
                    model, opt, meta = self.restore(step, model_target, opt_target)
            except Exception as e:  # orbax / tensorstore raise many types for a damaged directory
                damaged.append((step, _one_line(e)))
                continue
            return LatestRestore(step, model, opt, meta, damaged)
        if damaged:
            detail = "; ".join(f"step {s}: {r}" for s, r in damaged[:3])
            raise ValueError(
                f"no checkpoint under {self.latest.directory} restores ({detail}). Move that folder away to "
                "start afresh, or pass --overwrite."
            )
        return LatestRestore(None, None, None, None, [])

    def wait(self) -> None:
        self.latest.wait_until_finished()
        self.best.wait_until_finished()

    def close(self) -> None:
        self.latest.close()
        self.best.close()

    def abandon(self, timeout: float = 10.0) -> None:
        """After a failed save: wait up to `timeout` seconds for Orbax's background threads to end, so that
        none is still writing (and failing, with a traceback) while the interpreter shuts down. Their error
        was raised once already; nothing here raises."""
        deadline = time.monotonic() + timeout
        for t in threading.enumerate():
            if t is not threading.current_thread() and type(t).__module__.startswith("orbax."):
                with contextlib.suppress(Exception):  # Orbax's threads re-raise their error on join
                    t.join(max(0.0, deadline - time.monotonic()))


@dataclasses.dataclass(frozen=True)
class Restored:
    config: ml_collections.ConfigDict
    variables: (
        dict  # {'params', 'batch_stats'}: the EMA params and EMA statistics when the run kept them
    )
    step: int
    path: pathlib.Path
    meta: dict


def _step_dirs(root: pathlib.Path) -> list[int]:
    if not root.is_dir():
        return []
    return sorted(
        int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / "model").is_dir()
    )


def load_checkpoint(
    path: str | os.PathLike, which: str | int = "latest", use_ema: bool = True
) -> Restored:
    """Restore what inference needs from a workdir (or one of its step directories).

    `which`: "latest" (the newest step that reads back: a damaged newer step is skipped with a warning
    naming it), "best" or a step number (an error if that step is damaged). `use_ema`: for a run that kept
    an EMA (`train.ema_decay > 0`), its EMA params with its EMA BatchNorm statistics (as training's
    evaluation uses them); False, the live params with the live statistics. Raises FileNotFoundError /
    ValueError naming the path when it is missing, holds no readable checkpoint, or was written by
    another format version.
    """
    path = pathlib.Path(path).expanduser().absolute()
    if not path.exists():
        raise FileNotFoundError(f"checkpoint path {path} does not exist.")
    # A step directory (<workdir>/checkpoints/<step>) may be given directly.
    if path.name.isdigit() and path.parent.name in ("checkpoints", "best"):
        workdir, step_dir = path.parent.parent, path
    else:
        workdir = path
        if which == "best":
            steps = _step_dirs(workdir / "best")
            root = workdir / "best"
        else:
            steps = _step_dirs(workdir / "checkpoints")
            root = workdir / "checkpoints"
        if not steps:
            raise FileNotFoundError(
                f"no complete checkpoint under {root}: the run saved none yet, or was interrupted before the first "
                "save finished. Pass a workdir written by `launch/train.py`."
            )
        if which == "latest":
            # The newest step that restores: a damaged newer one is skipped with a warning naming it.
            config = read_config(workdir)
            skipped = []
            for step in reversed(steps):
                try:
                    meta, model = _read_step(root / str(step))
                except _Damaged as e:
                    skipped.append(f"{root / str(step)} ({e})")
                    continue
                if skipped:
                    warnings.warn(
                        f"damaged checkpoint(s) skipped: {'; '.join(skipped)}; loaded step {step} instead.",
                        stacklevel=2,
                    )
                return _restored(config, model, meta, root / str(step), use_ema)
            raise ValueError(
                f"no checkpoint under {root} can be read (damaged or half-written): {'; '.join(skipped[:3])}. "
                "Retrain, or restore the workdir from a backup."
            )
        if which == "best":
            step = steps[-1]
        else:
            try:
                step = int(which)
            except (TypeError, ValueError):
                raise ValueError(
                    f"which must be 'latest', 'best' or a step number; got {which!r}."
                ) from None
            if step not in steps:
                raise FileNotFoundError(
                    f"no checkpoint for step {step} under {root}; available steps: {steps}."
                )
        step_dir = root / str(step)
    config = read_config(workdir)
    try:
        meta, model = _read_step(step_dir)
    except _Damaged as e:  # an explicit choice is never swapped for another step
        raise ValueError(
            f"checkpoint {step_dir} is damaged or half-written ({e}); pick another step with which=STEP "
            "(--which), or which='latest' to load the newest one that reads."
        ) from None
    return _restored(config, model, meta, step_dir, use_ema)


class _Damaged(Exception):
    """A step directory that cannot be read back (its message is one line)."""


def _read_step(step_dir: pathlib.Path) -> tuple[dict, dict]:
    """`(meta, model)` of one step directory. Raises _Damaged when it cannot be read, ValueError for a
    readable checkpoint of another format version (not damage: falling back would hide it)."""
    try:
        meta = json.loads((step_dir / "meta" / "metadata").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _Damaged(f"its meta item is unreadable: {_one_line(e)}") from None
    if not isinstance(meta, dict) or "step" not in meta:
        raise _Damaged("its meta item is not a jaxsr checkpoint's")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{step_dir} was written with checkpoint format {meta.get('format_version')!r}; this jaxsr reads format "
            f"{FORMAT_VERSION}. Use the jaxsr version that trained it, or retrain."
        )
    try:
        with _quiet_failed_read(), ocp.StandardCheckpointer() as ckptr:
            model = ckptr.restore(step_dir / "model", _local_target(step_dir / "model"))
    except Exception as e:  # orbax / tensorstore raise many types for damaged directories
        raise _Damaged(f"its model item is unreadable: {_one_line(e)}") from None
    if not isinstance(model, dict) or "params" not in model:
        raise _Damaged("its model item holds no params")
    return meta, model


def _local_target(item_dir: pathlib.Path) -> dict:
    """The saved arrays' shapes and dtypes, placed on this process's first device. Without a target Orbax
    restores onto the devices that saved them, which fails for a run trained on several hosts."""
    metadata = ocp.StandardCheckpointHandler().metadata(item_dir)
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree_util.tree_map(
        lambda m: jax.ShapeDtypeStruct(tuple(m.shape), m.dtype, sharding=device), dict(metadata)
    )


def _restored(
    config: ml_collections.ConfigDict,
    model: dict,
    meta: dict,
    step_dir: pathlib.Path,
    use_ema: bool,
) -> Restored:
    if use_ema and model.get("ema_params") is not None:
        stats = model.get("ema_batch_stats")
        if stats is None:  # saved by an older jaxsr, which kept no EMA of the statistics
            warnings.warn(
                f"{step_dir} holds EMA params but no EMA BatchNorm statistics (saved by an older jaxsr); "
                "using its live statistics with them",
                stacklevel=3,
            )
            stats = model.get("batch_stats", {})
        variables = {"params": model["ema_params"], "batch_stats": stats}
    else:
        variables = {"params": model["params"], "batch_stats": model.get("batch_stats", {})}
    variables = jax.tree_util.tree_map(lambda a: jax.numpy.asarray(a), variables)
    return Restored(
        config=config, variables=variables, step=int(meta["step"]), path=step_dir, meta=meta
    )
