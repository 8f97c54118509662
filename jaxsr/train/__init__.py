"""Training, one job per file (in the manner of the Flax examples):

    state.py    the pure parts: TrainState, the optimizer and its learning-rate schedule, the train step
                `(state, batch, rng) -> (state, metrics)` and `make_jitted_step` (jitted once, sharded)
    loop.py     `train_and_evaluate(config, workdir)`: data, resume, logging, evaluation, checkpoints;
                and fine-tuning from `config.train.init_from`
    workdir.py  what a run may do to its workdir: refuse another experiment's, move an earlier run aside
                for `--overwrite`, the workdir lock
    signals.py  stopping on SIGTERM / SIGINT after saving, and the `Interrupted` exception it raises

The package's public API is here: `from jaxsr.train import train_and_evaluate` and the like. (The data and
evaluation modules are imported only when a loop runs.)
"""

from jaxsr.train.loop import load_init_variables, train_and_evaluate
from jaxsr.train.signals import Interrupted
from jaxsr.train.state import (
    TrainState,
    create_train_state,
    eval_variables,
    learning_rate_schedule,
    make_jitted_step,
    make_optimizer,
    make_train_step,
    resolve_dtype,
)
from jaxsr.train.workdir import check_workdir, move_previous_run, workdir_lock

__all__ = [
    "Interrupted",
    "TrainState",
    "check_workdir",
    "create_train_state",
    "eval_variables",
    "learning_rate_schedule",
    "load_init_variables",
    "make_jitted_step",
    "make_optimizer",
    "make_train_step",
    "move_previous_run",
    "resolve_dtype",
    "train_and_evaluate",
    "workdir_lock",
]
