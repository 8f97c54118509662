"""The `jaxsr` command, and the flags every jaxsr CLI and benchmark shares (`add_model_args`, `check_args`).

    jaxsr train --config quickstart --workdir runs/quickstart           # python launch/train.py ...
    jaxsr enhance --checkpoint speech-sr-x4-16k in.wav -o restored/     # python launch/enhance.py ...
    jaxsr evaluate --checkpoint runs/speech --data audio_folder:test    # python launch/evaluate.py ...
    jaxsr export --checkpoint speech-sr-x4-16k --format onnx -o exported/ # StableHLO or ONNX (jaxsr.deploy)
    jaxsr models                                                        # the packaged models, as a table
    jaxsr demo --port 7860                                              # a local web page (jaxsr.demo)

The subcommands are also installed alone as `jaxsr-train`, `jaxsr-enhance`, `jaxsr-evaluate` and `jaxsr-export`, and
`launch/*.py` call the same code. One flag style everywhere (argparse): GNU long options with dashes,
`--flag value` and `--flag=value` alike. Importing this package does not import JAX.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from jaxsr.cli.common import CHECKPOINT_HELP, add_model_args, check_args

__all__ = ["CHECKPOINT_HELP", "COMMANDS", "add_model_args", "check_args", "main"]

# subcommand -> (module with main(argv, prog), one line of help)
COMMANDS = {
    "train": (
        "jaxsr.cli.train",
        "train a model from a config (also: jaxsr-train, python launch/train.py)",
    ),
    "enhance": (
        "jaxsr.cli.enhance",
        "restore audio files with a model (also: jaxsr-enhance, python launch/enhance.py)",
    ),
    "evaluate": (
        "jaxsr.cli.evaluate",
        "score a model against its task's baseline on audio files (also: jaxsr-evaluate, "
        "python launch/evaluate.py)",
    ),
    "export": (
        "jaxsr.cli.export",
        "write a model as a StableHLO or ONNX artefact (also: jaxsr-export, "
        "python launch/export.py)",
    ),
    "models": (
        "jaxsr.cli.models",
        "list the packaged pretrained models (jaxsr.pretrained.available())",
    ),
    "demo": (
        "jaxsr.demo",
        "a local web page to hear and see a restoration (needs the demo extra: "
        'pip install "jaxsr[demo]")',
    ),
}


def _parser() -> argparse.ArgumentParser:
    from jaxsr import __version__

    p = argparse.ArgumentParser(
        prog="jaxsr",
        description="Audio restoration with a waveform U-Net: train a model, "
        "restore audio files, score a model, list the packaged models.",
        epilog="Run `jaxsr COMMAND --help` for the flags of a command.",
    )
    p.add_argument("--version", action="version", version=f"jaxsr {__version__}")
    sub = p.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    for name, (_, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    """`jaxsr COMMAND ...`: runs the subcommand's `main` with the rest of the command line; its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        module = importlib.import_module(COMMANDS[argv[0]][0])
        return module.main(argv[1:], prog=f"jaxsr {argv[0]}")
    _parser().parse_args(argv)  # --help, --version, or a missing / unknown command: exits
    return 2  # not reached
