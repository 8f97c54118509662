"""`jaxsr export`: write a trained model as a StableHLO or ONNX artefact that runs without jaxsr's Flax code.

    jaxsr export --checkpoint speech-sr-x4-16k --format onnx -o exported/sr-x4
    jaxsr enhance --checkpoint exported/sr-x4 --runtime openvino --precision bfloat16 in.wav -o out/

The folder holds the graph (`forward.stablehlo` or `forward.onnx`; one file per length with
`--chunk-length`) and `jaxsr-export.json` (config, rates, receptive field, checksums), which
`jaxsr.load(folder)` and `jaxsr enhance --checkpoint FOLDER` read. Exit status: 0 written; 2 bad usage
(unknown model, format, a missing optional package, an output folder holding other files, a workdir or a
file, one that cannot be written: permission denied, no space left).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from jaxsr.cli import common


def parse_args(argv: list[str] | None, prog: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    common.add_model_args(p, required=True)
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="folder to write (created; a previous export there is replaced, other files are refused)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder that holds files no export wrote (they stay, unless an artefact replaces one)",
    )
    p.add_argument(
        "--format",
        choices=("stablehlo", "onnx"),
        default="stablehlo",
        help="stablehlo: a jax.export artefact (needs only jax); onnx: an ONNX graph (pip install -e '.[export]' from a clone, or pip install 'jaxsr[export]')",
    )
    p.add_argument(
        "--chunk-length",
        type=int,
        action="append",
        metavar="SAMPLES",
        help="export fixed time lengths (repeat for several) instead of one shape-dynamic graph",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="compute dtype baked into a stablehlo artefact (onnx: float32 only)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the written metadata as one JSON object on stdout",
    )
    args = p.parse_args(argv)
    common.check_args(p, args)
    return args


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    common.setup_logging()
    from jaxsr.deploy.export import check_target, export
    from jaxsr.deploy.folder import METADATA
    from jaxsr.files import describe_os_error
    from jaxsr.inference import load

    out = pathlib.Path(args.output).expanduser()
    try:
        check_target(out, args.overwrite)  # before loading: a refused folder costs nothing
        model = load(args.checkpoint, args.which)
        folder = export(
            model,
            out,
            args.format,
            chunk_lengths=args.chunk_length,
            dtype=args.dtype,
            overwrite=args.overwrite,
        )
    except (ValueError, FileNotFoundError, ImportError, NotImplementedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # permission denied, no space left: the folder, not the model
        print(f"error: cannot write the export to {out}: {describe_os_error(e)}", file=sys.stderr)
        return 2
    meta = json.loads((folder / METADATA).read_text())
    files = ", ".join(
        f"{name} ({info['bytes'] / 1e6:.1f} MB)" for name, info in meta.get("files", {}).items()
    )
    print(
        f"exported {model.path} ({meta.get('task')}) as {args.format} to {folder}: {files}",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
