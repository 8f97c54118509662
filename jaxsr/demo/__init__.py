"""A local web page to hear and see a restoration: `jaxsr demo` (or `python -m jaxsr.demo`).

    pip install -e ".[demo]"        # from a clone (or: pip install "jaxsr[demo]")
    jaxsr demo                      # then open http://127.0.0.1:7860

Pick a packaged model (or give a training workdir or an export folder), upload a file or record one,
optionally make the degraded input from a clean file (sr: a named resampler; denoise: noise of a kind at
an SNR; inpaint: cut gaps), and press Restore: the page plays the input, the classical baselines and
the restored audio, shows their spectrograms on one colour scale, scores them against the clean file
when there is one, and offers the result for download in the input's format.

The page is served on 127.0.0.1 only, never shared, with Gradio's analytics off and no font, script or
image fetched from outside. Gradio is an optional extra imported by this module alone, and only when
the page is built, so everything up to `build_page` (the page's logic) is plain Python that tests call
without a browser.
"""

from __future__ import annotations

import argparse
import logging
import sys

from jaxsr.demo.logic import (
    DEFAULT_MODEL,
    DEFAULT_RESAMPLER,
    NOISE_KINDS,
    PageResult,
    Prepared,
    baselines,
    check_rate_and_memory,
    describe_model,
    download_format,
    error_message,
    load_model,
    make_input,
    metrics_table,
    model_choices,
    read_input,
    run_page,
    runtime_choices,
    score,
    task_of,
)

# page.py imports Gradio inside its functions only, so `import jaxsr.demo` works without Gradio.
from jaxsr.demo.page import DEFAULT_PORT, INSTALL_HINT, build_page, import_gradio, launch

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PORT",
    "DEFAULT_RESAMPLER",
    "INSTALL_HINT",
    "NOISE_KINDS",
    "PageResult",
    "Prepared",
    "baselines",
    "build_page",
    "launch",
    "check_rate_and_memory",
    "describe_model",
    "download_format",
    "error_message",
    "load_model",
    "main",
    "make_input",
    "metrics_table",
    "model_choices",
    "read_input",
    "run_page",
    "runtime_choices",
    "score",
    "task_of",
]


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """`jaxsr demo [--port N] [--model NAME_OR_PATH]`: serve the page until interrupted. Exit 2 without Gradio."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model picked when the page opens: a packaged name, workdir or export folder (default {DEFAULT_MODEL})",
    )
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if not 0 < args.port < 65536:
        p.error(f"--port must be 1-65535; got {args.port}")
    try:
        import_gradio()
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(
        f"jaxsr demo: http://127.0.0.1:{args.port} (local only; Ctrl-C stops it)", file=sys.stderr
    )
    launch(build_page(args.model), args.port)
    return 0
