"""Orbax checkpoints of a run, and how a workdir is laid out.

    <workdir>/config.json          the config of the run (written atomically before the first step)
    <workdir>/checkpoints/<step>/  the last `keep` checkpoints, saved asynchronously
    <workdir>/best/<step>/         the checkpoint with the best validation LSD
    <workdir>/log.txt, events.*    logs

A checkpoint holds three items: `model` (params, batch_stats, and ema_params when kept), `opt`
(optimizer state, the step and the RNG key) and `meta` (JSON: format version, step, the data
iterator's state, eval metrics). Inference reads only `model` and `meta`, so it does not need the
optimizer's structure. Orbax writes each step to a temporary directory and renames it when complete,
so a crash mid-save leaves the previous checkpoint intact (the atomicity the issue asks for).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp

from jaxsr.config import config_from_json, config_to_json

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_config(workdir: str | os.PathLike, config: ml_collections.ConfigDict) -> None:
    write_text_atomic(pathlib.Path(workdir) / CONFIG_FILE, config_to_json(config))


def read_config(workdir: str | os.PathLike) -> ml_collections.ConfigDict:
    path = pathlib.Path(workdir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {workdir} is not a jaxsr workdir (no saved config).")
    try:
        return config_from_json(path.read_text())
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"{path} is not a valid jaxsr config file ({e}).") from e


class Checkpointer:
    """The run's two CheckpointManagers: the latest `keep` and the best by validation LSD."""

    def __init__(self, workdir: str | os.PathLike, keep: int = 3, async_save: bool = True):
        workdir = pathlib.Path(workdir).absolute()
        opts = dict(enable_async_checkpointing=async_save, cleanup_tmp_directories=True)
        self.latest = ocp.CheckpointManager(
            workdir / "checkpoints", options=ocp.CheckpointManagerOptions(max_to_keep=keep, **opts))
        self.best = ocp.CheckpointManager(
            workdir / "best",
            options=ocp.CheckpointManagerOptions(max_to_keep=1, best_fn=lambda m: m["lsd"], best_mode="min", **opts))

    @staticmethod
    def _args(model: dict, opt: Any, meta: dict) -> ocp.args.Composite:
        return ocp.args.Composite(model=ocp.args.StandardSave(model), opt=ocp.args.StandardSave(opt),
                                  meta=ocp.args.JsonSave(meta))

    def save(self, step: int, model: dict, opt: Any, meta: dict, force: bool = False) -> None:
        """A training checkpoint into `checkpoints/` (the last `keep` are kept)."""
        meta = dict(meta, format_version=FORMAT_VERSION, step=int(step))
        self.latest.save(step, args=self._args(model, opt, meta), force=force)

    def save_best(self, step: int, model: dict, opt: Any, meta: dict, eval_lsd: float) -> None:
        """The same checkpoint into `best/`, kept only while its validation LSD is the lowest so far."""
        meta = dict(meta, format_version=FORMAT_VERSION, step=int(step))
        self.best.save(step, args=self._args(model, opt, meta), metrics={"lsd": float(eval_lsd)}, force=True)

    def latest_step(self) -> int | None:
        return self.latest.latest_step()

    def restore(self, step: int, model_target: dict, opt_target: Any) -> tuple[dict, Any, dict]:
        """Restore a training checkpoint onto abstract targets (shapes, dtypes and shardings)."""
        out = self.latest.restore(step, args=ocp.args.Composite(
            model=ocp.args.StandardRestore(model_target), opt=ocp.args.StandardRestore(opt_target),
            meta=ocp.args.JsonRestore()))
        return out["model"], out["opt"], out["meta"]

    def wait(self) -> None:
        self.latest.wait_until_finished()
        self.best.wait_until_finished()

    def close(self) -> None:
        self.latest.close()
        self.best.close()


@dataclasses.dataclass(frozen=True)
class Restored:
    config: ml_collections.ConfigDict
    variables: dict  # {'params', 'batch_stats'}; params are the EMA params when the run kept them
    step: int
    path: pathlib.Path
    meta: dict


def _step_dirs(root: pathlib.Path) -> list[int]:
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / "model").is_dir())


def load_checkpoint(path: str | os.PathLike, which: str | int = "latest", use_ema: bool = True) -> Restored:
    """Restore what inference needs from a workdir (or one of its step directories).

    `which`: "latest", "best" or a step number. Raises FileNotFoundError / ValueError naming the path
    when it is missing, holds no complete checkpoint, or was written by another format version.
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
                "save finished. Pass a workdir written by `launch/train.py`.")
        if which in ("latest", "best"):
            step = steps[-1]
        else:
            try:
                step = int(which)
            except (TypeError, ValueError):
                raise ValueError(f"which must be 'latest', 'best' or a step number; got {which!r}.") from None
            if step not in steps:
                raise FileNotFoundError(f"no checkpoint for step {step} under {root}; available steps: {steps}.")
        step_dir = root / str(step)
    config = read_config(workdir)
    try:
        meta = json.loads((step_dir / "meta" / "metadata").read_text())
    except (FileNotFoundError, json.JSONDecodeError) as e:
        raise ValueError(f"{step_dir} is half-written or not a jaxsr checkpoint (its meta item is unreadable: {e}).") from e
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{step_dir} was written with checkpoint format {meta.get('format_version')!r}; this jaxsr reads format "
            f"{FORMAT_VERSION}. Use the jaxsr version that trained it, or retrain.")
    try:
        with ocp.StandardCheckpointer() as ckptr:
            model = ckptr.restore(step_dir / "model")
    except Exception as e:  # orbax raises many types for damaged directories
        raise ValueError(f"could not read the model from {step_dir / 'model'} ({type(e).__name__}: {e}).") from e
    params = model.get("ema_params") if use_ema and model.get("ema_params") is not None else model["params"]
    variables = {"params": params, "batch_stats": model.get("batch_stats", {})}
    variables = jax.tree_util.tree_map(lambda a: jax.numpy.asarray(a), variables)
    return Restored(config=config, variables=variables, step=int(meta["step"]), path=step_dir, meta=meta)
