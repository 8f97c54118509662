"""What a training run may do to its workdir: refuse a second experiment in it, move an earlier run aside
for `--overwrite`, and hold the workdir's lock so that two runs never write over each other.

Every check here runs before the run writes anything, so a failed start leaves an earlier run, its config
and its logs as they were.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import time
from typing import Iterator

import ml_collections

from jaxsr import checkpoints, files

# Fields that may change when a run is resumed: bookkeeping, and the learning-rate schedule (lowering
# the rate after a divergence is the usual fix). Anything that changes the model, the data, the task or
# the optimizer state's structure makes it another experiment.
_RESUMABLE_FIELDS = (
    "train.num_train_steps",
    "train.log_every",
    "train.eval_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.learning_rate",
    "train.schedule",
    "train.warmup_steps",
    "train.final_lr_fraction",
    "data.num_workers",
    "data.prefetch",
    "data.data_dir",
    "data.build_workers",
    "eval.",
)

# What a run writes into its workdir; `--overwrite` moves exactly these aside (never the lock, nor
# earlier `.previous-*` folders).
_RUN_FILES = (
    "checkpoints",
    "best",
    "checkpoints-damaged",
    "tensorboard",
    "examples",
    "log.txt",
    checkpoints.CONFIG_FILE,
)


def flat_dict(d: dict, prefix: str = "") -> dict:
    """A nested dict as `{'a.b': leaf}`; tuples become lists, so that a config compares equal to its
    JSON round trip."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_dict(v, prefix + k + "."))
        else:
            out[prefix + k] = list(v) if isinstance(v, tuple) else v
    return out


def check_workdir(
    config: ml_collections.ConfigDict, workdir: pathlib.Path, overwrite: bool
) -> bool:
    """Refuse to mix two different experiments in one workdir; writes nothing.

    Returns whether the workdir holds files of an earlier run (which `--overwrite` moves aside once the
    new run has validated its data). A workdir whose run never committed a checkpoint (a failed start)
    holds nothing to protect or resume: it is not compared, and the new run replaces its config.
    """
    previous = any((workdir / name).exists() for name in _RUN_FILES)
    if (
        overwrite
        or not checkpoints.has_checkpoint(workdir)
        or not (workdir / checkpoints.CONFIG_FILE).exists()
    ):
        return previous
    old_config = checkpoints.read_config(workdir)
    old, new = flat_dict(old_config.to_dict()), flat_dict(config.to_dict())
    diff = sorted(
        k
        for k in set(old) | set(new)
        if old.get(k) != new.get(k) and not k.startswith(_RESUMABLE_FIELDS)
    )
    if diff:
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff[:8])
        raise ValueError(
            f"{workdir} holds a run with a different config ({detail}). Use a new --workdir, "
            "or pass --overwrite to move that run aside and start again."
        )
    # The cosine schedule is a function of num_train_steps: resuming with another value would re-stretch
    # it, and the learning rate would jump back up mid-run. A constant schedule may be extended freely.
    old_tr, new_tr = old_config.train, config.train
    if (
        old_tr.schedule == new_tr.schedule == "cosine"
        and old_tr.num_train_steps != new_tr.num_train_steps
    ):
        raise ValueError(
            f"config.train.num_train_steps: {workdir} was trained with a cosine schedule over {old_tr.num_train_steps} "
            f"steps; resuming with {new_tr.num_train_steps} would re-stretch it (the learning rate would jump). Resume "
            f"with --config.train.num_train_steps={old_tr.num_train_steps}, or start a new run (another --workdir, or "
            "--overwrite)."
        )
    return previous


def move_previous_run(workdir: pathlib.Path) -> pathlib.Path | None:
    """Move an earlier run's files into `workdir/.previous-<time>/` (nothing is deleted here).

    Called only once the new run has validated its config and data, so a failed start leaves the old
    run where it was; the caller deletes the moved run once the new one has committed a checkpoint.
    """
    names = [
        name for name in _RUN_FILES if (workdir / name).exists() or (workdir / name).is_symlink()
    ]
    if not names:
        return None
    dest = workdir / time.strftime(".previous-%Y%m%d-%H%M%S")
    while dest.exists():  # two overwrites within a second
        dest = dest.with_name(dest.name + "x")
    dest.mkdir()
    for name in names:
        os.replace(workdir / name, dest / name)  # same filesystem: a rename, atomic per entry
    return dest


@contextlib.contextmanager
def workdir_lock(workdir: pathlib.Path, enabled: bool = True) -> Iterator[None]:
    """Refuse a second run in the same workdir while one is running (it would write over its checkpoints).

    `enabled=False` (every process but the first of a multi-process run) holds nothing: the workdir is
    one run's, and only the first process writes its files.
    """
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
        raise ValueError(
            f"{workdir} is in use by another training run ({holder or 'unknown pid'}); "
            "wait for it to stop, or use another --workdir."
        ) from None
