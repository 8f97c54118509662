"""Command-line pieces that every jaxsr CLI and benchmark script shares, so their flags read the same.

p = argparse.ArgumentParser(...)
add_model_args(p, required=True)          # --checkpoint NAME_OR_WORKDIR, --which latest|best|STEP
args = p.parse_args(argv)
check_args(p, args, positive=("batch_size",))
"""

from __future__ import annotations

import argparse
import os

CHECKPOINT_HELP = (
    "a packaged model name (e.g. speech-sr-x4-16k; jaxsr.pretrained.available()) or a training "
    "workdir (or one of its step directories)"
)


def add_model_args(
    p: argparse.ArgumentParser, *, required: bool = True, help: str = CHECKPOINT_HELP
) -> None:
    """`--checkpoint` (a packaged name or a workdir) and `--which` (latest, best or a step number)."""
    p.add_argument("--checkpoint", required=required, metavar="NAME_OR_WORKDIR", help=help)
    p.add_argument(
        "--which", default="latest", help="checkpoint to load: latest, best or a step number"
    )


def check_args(
    p: argparse.ArgumentParser, args: argparse.Namespace, positive: tuple[str, ...] = ()
) -> None:
    """Turn `--which` into "latest", "best" or an int, and check that the named options are positive
    integers when given; a bad value exits with argparse's one-line usage error naming the flag."""
    if getattr(args, "which", "latest") not in ("latest", "best"):
        try:
            args.which = int(args.which)
        except ValueError:
            p.error(f"--which must be latest, best or a step number; got {args.which!r}")
    for name in positive:
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer; got {value}")


def setup_logging(quiet: bool = False) -> None:
    """Before a CLI's work (after its flags parsed): jaxsr's log at INFO on stderr (`quiet`: warnings and
    errors only), other libraries' from WARNING up (`jaxsr.writers.setup_cli_logging`), and no TensorFlow
    C++ start-up chatter."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from jaxsr.writers import setup_cli_logging

    setup_cli_logging(quiet)


def add_runtime_args(p) -> None:
    """`--runtime` and `--precision`: what runs the network, the same flags for enhance and evaluate."""
    p.add_argument(
        "--runtime",
        choices=("xla", "stablehlo", "onnxruntime", "openvino"),
        help="what runs the network (default: xla for a model, the artefact's own for an export folder; "
        "onnxruntime/openvino need `pip install -e '.[export]'` from a clone, or `pip install 'jaxsr[export]'`)",
    )
    p.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        default="float32",
        help="bfloat16: openvino (AVX512-BF16/AMX CPUs), xla or stablehlo; measured on the packaged models: "
        "each output sample moves by at most 0.4e-3 to 3e-3 and SNR by at most 0.005 dB (docs/inference.md)",
    )
