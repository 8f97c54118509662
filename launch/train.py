"""Train an AudioUNet: `python launch/train.py --config configs/quickstart.py --workdir runs/quickstart`.

Any config field can be overridden: `--config.train.batch_size=8 --config.task.ratio=2`. Re-running the
same command resumes from the workdir's latest checkpoint. `--json` prints the final evaluation as one
JSON object on stdout (logs go to stderr).

Exit status: 0 the run finished; 1 it failed (bad config or data, diverged, out of memory); 2 bad
usage (unknown flag or config key); 128 + N stopped by signal N after saving a checkpoint (143 for
SIGTERM, 130 for Ctrl-C), so a scheduler can tell an interrupted run from a finished one.
"""

import difflib
import json
import os
import pathlib
import re
import sys

# Config files import each other as `configs.<name>`; make the repository root importable.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

config_flags.DEFINE_config_file("config", None, "Path to a config file (configs/*.py).", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and examples.")
flags.DEFINE_bool("overwrite", False, "Delete a previous run in --workdir whose config differs, and start again.")
flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() (multi-host); also JAXSR_DISTRIBUTED=1.")
flags.DEFINE_bool("json", False, "Print the final evaluation summary as one JSON object on stdout.")
flags.DEFINE_bool("quiet", False, "No progress bar or console log (the workdir log is still written).")
flags.mark_flags_as_required(["config", "workdir"])
FLAGS = flags.FLAGS


def _config_keys(config, prefix: str = "") -> list[str]:
    """Every dotted field path of a ConfigDict, sections included (`train`, `train.batch_size`, ...)."""
    keys = []
    for k, v in config.items():
        keys.append(prefix + k)
        if hasattr(v, "items"):
            keys += _config_keys(v, prefix + k + ".")
    return keys


def _load_config_file(argv: list[str]):
    """The config that --config names, loaded as ml_collections does (None if that fails too)."""
    import importlib.util

    for i, arg in enumerate(argv):
        m = re.match(r"^--?config(?:=(.*))?$", arg)
        if m:
            path = m.group(1) if m.group(1) is not None else (argv[i + 1] if i + 1 < len(argv) else "")
            path, _, config_arg = path.partition(":")
            try:
                spec = importlib.util.spec_from_file_location("_jaxsr_config_file", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module.get_config(config_arg) if config_arg else module.get_config()
            except Exception:  # the caller falls back to the default config's fields
                return None
    return None


def unknown_config_key(argv: list[str]) -> str | None:
    """One line naming the first `--config.KEY` override that is not a field, and the nearest fields."""
    from jaxsr.config import default_config

    config = _load_config_file(argv) or default_config()
    valid = _config_keys(config)
    for arg in argv[1:]:
        m = re.match(r"^--?(?:no)?config\.([^=]+)", arg)
        if not m or m.group(1) in valid:
            continue
        key = m.group(1)
        parent = key.rpartition(".")[0]
        siblings = [k for k in valid if k.rpartition(".")[0] == parent]
        # Close matches over every field first (a misspelt section too), else the nearest in the same section.
        near = difflib.get_close_matches(key, valid, n=3, cutoff=0.75) or \
            difflib.get_close_matches(key, siblings, n=3, cutoff=0.0)
        hint = f"; nearest valid names: {', '.join('config.' + k for k in near)}" if near else ""
        what = (f"config.{parent} has no field {key.rpartition('.')[2]!r}" if parent in valid
                else f"there is no config field config.{key}")
        return f"unknown config key --config.{key}: {what}{hint}."
    return None


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing, except that a bad `--config.KEY` override is one line and exit status 2, not
    ml_collections' 50-line traceback."""
    try:
        return app.parse_flags_with_usage(argv)
    except SystemExit:
        raise
    except Exception as e:  # ml_collections raises AttributeError / KeyError for an unknown override
        message = unknown_config_key(argv)
        if message is None:
            lines = [line for line in str(e).splitlines() if line.strip()]
            message = f"cannot parse the command line: {lines[0] if lines else type(e).__name__}"
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from jaxsr import parallel
    from jaxsr.writers import setup_cli_logging

    setup_cli_logging()
    from jaxsr.train import Interrupted, train_and_evaluate

    parallel.initialize_distributed(FLAGS.distributed or None)
    try:
        summary = train_and_evaluate(FLAGS.config, FLAGS.workdir, overwrite=FLAGS.overwrite, quiet=FLAGS.quiet)
    except Interrupted as e:  # the checkpoint is saved; 128 + N tells a scheduler the run did not finish
        print(f"interrupted: {e}", file=sys.stderr)
        return e.exit_code
    except (ValueError, FileNotFoundError, MemoryError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if FLAGS.json:
        out = {k: summary[k] for k in ("n_files", "model", "baseline") if k in summary}
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app.run(lambda argv: sys.exit(main(argv)), flags_parser=parse_flags)
