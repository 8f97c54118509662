"""Train an AudioUNet: `jaxsr train --config quickstart --workdir runs/quickstart`
(or `python launch/train.py --config configs/quickstart.py --workdir runs/quickstart`).

`--config` is a config file (`configs/quickstart.py`, or any file with a `get_config()`) or the name of a
config in jaxsr/configs/ (`quickstart`, `pretrained/speech_sr_x4_16k`). Any config field can be
overridden: `--config.train.batch_size=8 --config.task.ratio=2` (or `--config.task.ratio 2`); the value
takes the field's type (tuples: `--config.task.snr_db=0,15`; booleans: `=true` / `=false`). Re-running the
same command resumes from the workdir's latest checkpoint. `--json` prints the final evaluation as one
JSON object on stdout (logs go to stderr).

Exit status: 0 the run finished; 1 it failed (bad data or train.init_from, diverged, out of memory, no
space left on the disk); 2 bad usage (unknown flag or config key, a value out of its field's range); 128 + N
stopped by signal N after saving a checkpoint (143 for SIGTERM, 130 for Ctrl-C), so a scheduler can tell an
interrupted run from a finished one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import sys

from jaxsr.cli import common
from jaxsr.cli.overrides import OverrideError, apply_overrides, split_overrides
from jaxsr.config import validate


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s --config FILE_OR_NAME --workdir DIR [--config.SECTION.FIELD=VALUE ...] [options]",
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    p.add_argument(
        "--config",
        required=True,
        metavar="FILE_OR_NAME",
        help="a config file (configs/*.py) or a config name of jaxsr/configs/ (quickstart, vctk, "
        "pretrained/speech_sr_x4_16k, ...)",
    )
    p.add_argument(
        "--workdir",
        required=True,
        metavar="DIR",
        help="directory for checkpoints, logs and examples",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="delete a previous run in --workdir whose config differs, and start again",
    )
    p.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() (multi-host); also JAXSR_DISTRIBUTED=1",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the final evaluation summary as one JSON object on stdout",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar or console log (the workdir log is still written)",
    )
    return p


def load_config(spec: str):
    """The config `--config` names: a file's `get_config()`, else the config of that name in jaxsr/configs/
    (a missing `configs/NAME.py` also resolves to it, so the repository's paths work from anywhere).
    ValueError naming the configs if neither exists; a file that fails to load is a ValueError too."""
    from jaxsr import configs

    spec, _, arg = spec.partition(":") if not pathlib.Path(spec).exists() else (spec, "", "")
    args = (arg,) if arg else ()  # FILE_OR_NAME:ARG calls get_config(ARG): a recipe's stage, say
    path = pathlib.Path(spec).expanduser()
    if path.is_file():
        try:
            module_spec = importlib.util.spec_from_file_location(
                f"jaxsr_config_file_{path.stem}", path
            )
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            return module.get_config(*args)
        except (
            Exception
        ) as e:  # a broken config file: one line naming it, not a traceback from its import
            hint = (
                "; the configs are the package jaxsr.configs now: import jaxsr.configs.NAME (`from jaxsr.configs "
                "import speech`)"
                if isinstance(e, ModuleNotFoundError) and e.name == "configs"
                else ""
            )
            raise ValueError(
                f"--config {spec}: cannot load it: {type(e).__name__}: {e}{hint}"
            ) from None
    if configs.module_name(spec) is not None:
        return configs.load(spec, *args)
    raise ValueError(
        f"--config {spec}: no such file, and no config of that name in jaxsr/configs/; use a file or "
        f"one of: {', '.join(configs.names())}"
    )


def parse(argv: list[str], prog: str | None = None) -> tuple[argparse.Namespace, object]:
    """(flags, config with the overrides applied and locked). Exits with status 2 on bad usage: argparse's
    usage message for a bad flag, one `error:` line for a bad config or override."""
    try:
        rest, overrides = split_overrides(argv)
    except OverrideError as e:
        _usage_error(str(e))
    args = parser(prog).parse_args(rest)  # --help exits here, before any config is loaded
    try:
        config = load_config(args.config)
        apply_overrides(config, overrides)
        validate(config)  # every field's type and range, before anything is written
    except ValueError as e:
        _usage_error(str(e))
    config.lock()  # no field can be added by mistake later (a misspelt one is already refused above)
    return args, config


def _usage_error(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args, config = parse(sys.argv[1:] if argv is None else list(argv), prog)
    common.setup_logging(args.quiet)
    from jaxsr import parallel
    from jaxsr.train import Interrupted, train_and_evaluate
    from jaxsr.train.loop import NoSpaceLeft

    parallel.initialize_distributed(args.distributed or None)
    try:
        summary = train_and_evaluate(
            config, args.workdir, overwrite=args.overwrite, quiet=args.quiet
        )
    except (
        Interrupted
    ) as e:  # the checkpoint is saved; 128 + N tells a scheduler the run did not finish
        print(f"interrupted: {e}", file=sys.stderr)
        return e.exit_code
    except (ValueError, FileNotFoundError, MemoryError, FloatingPointError, NoSpaceLeft) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        out = {k: summary[k] for k in ("n_files", "model", "baseline") if k in summary}
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
