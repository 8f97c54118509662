"""Train an AudioUNet: `python launch/train.py --config configs/quickstart.py --workdir runs/quickstart`.

Any config field can be overridden: `--config.train.batch_size=8 --config.task.ratio=2`. Re-running the
same command resumes from the workdir's latest checkpoint. `--json` prints the final evaluation as one
JSON object on stdout (logs go to stderr).
"""

import json
import os
import pathlib
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


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from jaxsr import parallel
    from jaxsr.writers import setup_cli_logging

    setup_cli_logging()
    from jaxsr.train import train_and_evaluate

    parallel.initialize_distributed(FLAGS.distributed or None)
    try:
        summary = train_and_evaluate(FLAGS.config, FLAGS.workdir, overwrite=FLAGS.overwrite, quiet=FLAGS.quiet)
    except (ValueError, FileNotFoundError, MemoryError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if FLAGS.json:
        out = {k: summary[k] for k in ("n_files", "model", "baseline") if k in summary}
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app.run(lambda argv: sys.exit(main(argv)))
