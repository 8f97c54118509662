"""What the held-out benchmarks share: the held-out speech files and their flags, the model flags and
checks, and the end of a run (Markdown or JSON on stdout, optionally a section of RESULTS.md).

The held-out files are `held_out_files` / `speech44k_split`: the `--held-out` files of `--data` that sort
last (default: the 20 last of ../shared/data/speech-44k, the test split of configs/speech.py's
`tail:20,valid:10`), listed by `jaxsr.audio_io.list_audio_files`, the listing the `audio_folder` builder
uses too, so `tail:20` and these files are the same.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import sys
from typing import Callable

import numpy as np

from jaxsr.cli import common as cli_common

REPO = pathlib.Path(__file__).resolve().parent.parent
SPEECH_44K = REPO.parent / "shared" / "data" / "speech-44k"
HELD_OUT = 20
RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"


class UsageError(Exception):
    """A bad flag, checkpoint or data folder: exit status 2."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parser(doc: str, prog: str | None = None) -> argparse.ArgumentParser:
    """An argument parser whose description is the first paragraph of the script's docstring `doc`."""
    return argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


# ------------------------------------------------------------------------------------- held-out files
def add_held_out_args(p: argparse.ArgumentParser, *aliases: str) -> None:
    """`--data` (also spelt as each of `aliases`), `--held-out`, `--max-files`: the held-out speech files."""
    p.add_argument("--data", *aliases, dest="data", default=str(SPEECH_44K),
                   help="audio folder (default: %(default)s)")
    p.add_argument("--held-out", type=int, default=HELD_OUT,
                   help="score the N files that sort last (default %(default)s, configs/speech.py's test split)")
    p.add_argument("--max-files", type=int, help="score only the first N of the held-out files")


def speech44k_split(folder: pathlib.Path = SPEECH_44K,
                    held_out: int = HELD_OUT) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """(train files, held-out files) of the speech folder: the `held_out` files that sort last are held out."""
    from jaxsr.audio_io import list_audio_files

    files = list_audio_files(folder)
    if len(files) <= held_out:
        raise ValueError(f"{folder} has {len(files)} audio files; holding out the last {held_out} leaves none "
                         "to train on.")
    return files[:-held_out], files[-held_out:]


def held_out_files(args: argparse.Namespace) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """(train files, held-out files) that `add_held_out_args`' flags name, the held-out ones cut to
    `--max-files`; UsageError naming `--data` if the folder cannot be split."""
    try:
        train, held = speech44k_split(pathlib.Path(args.data), args.held_out)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(f"--data {args.data}: {e}") from None
    return train, held[:args.max_files] if args.max_files else held


def read_clips(paths: list[pathlib.Path], sample_rate: int, invert: bool = False) -> list[tuple[str, np.ndarray]]:
    """`(file name, mono [time] at sample_rate)` for each path (soxr HQ resampling); `invert`: with the sign
    flipped, as the same recording made through a chain of the other polarity."""
    from jaxsr.audio_io import read_audio

    sign = np.float32(-1.0 if invert else 1.0)
    return [(p.name, sign * read_audio(p, sample_rate, mono=True)[0][:, 0]) for p in paths]


def add_polarity_arg(p: argparse.ArgumentParser) -> None:
    """`--invert-polarity`: score the held-out files with their sign flipped (see `read_clips`)."""
    p.add_argument("--invert-polarity", action="store_true",
                   help="score the held-out files with their sign flipped: the same recordings made through a "
                        "microphone, preamp or editor of the other polarity (written to its own RESULTS section)")


def polarity(args: argparse.Namespace) -> str:
    """The polarity the files were scored in, as a result's `"polarity"` field records it."""
    return "inverted" if getattr(args, "invert_polarity", False) else "as stored"


def polarity_section(args: argparse.Namespace, markers: tuple[str, str],
                     heading: str) -> tuple[tuple[str, str], str]:
    """(markers, heading) of a held-out benchmark's RESULTS section: its own for `--invert-polarity` runs, so
    that the two polarities' tables stand side by side."""
    if polarity(args) != "inverted":
        return markers, heading
    return (tuple(m.replace(":begin", "-inverted:begin").replace(":end", "-inverted:end") for m in markers),
            f"{heading}, polarity inverted")


# ---------------------------------------------------------------------------------------- the model
def add_model_args(p: argparse.ArgumentParser, what: str, without: str) -> None:
    """`--checkpoint` (optional: `without` says what runs without one), `--which`, and `--sample-rate`."""
    cli_common.add_model_args(p, required=False, help=f"{what}: a packaged name or a training workdir (omit: {without})")
    p.add_argument("--sample-rate", type=int, help="without --checkpoint: the rate to score at, in Hz (default 16000)")


def model_parser(doc: str, prog: str, what: str, without: str) -> argparse.ArgumentParser:
    """`parser(doc, prog)` with the model flags (`add_model_args(p, what, without)`) and the held-out files'."""
    p = parser(doc, prog)
    add_model_args(p, what, without)
    add_held_out_args(p)
    add_polarity_arg(p)
    return p


def add_output_args(p: argparse.ArgumentParser, section: str, seed_help: str) -> None:
    """`--seed`, `--batch-size`, `--json` and `--write-results [FILE]` (the `section` markers of FILE)."""
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--batch-size", type=int, help="chunks per forward pass (default: the config's eval.batch_size)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout, nothing else")
    p.add_argument("--write-results", nargs="?", const=str(RESULTS_MD), metavar="FILE",
                   help=f"write the table between the {section} markers of FILE (default: %(const)s)")


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """`p.parse_args(argv)`, with `--which` turned into latest/best/int and the counts checked positive."""
    args = p.parse_args(argv)
    cli_common.check_args(p, args, positive=tuple(k for k in ("held_out", "max_files", "batch_size", "sample_rate")
                                                  if hasattr(args, k)))
    return args


def load_task_model(args: argparse.Namespace, task: str, ratio: int | None = None):
    """(model, a copy of its config) of `--checkpoint`, checked to do `task` (at `ratio`) at `--sample-rate`
    when given; UsageError naming the flag otherwise. The copy is the benchmark's to change per row."""
    import ml_collections

    from jaxsr.inference import load, resolve_task

    try:
        model = load(args.checkpoint, args.which)
        resolve_task(model.config, task, ratio)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(f"--checkpoint {args.checkpoint}: {e}") from None
    if args.sample_rate is not None and args.sample_rate != model.config.data.sample_rate:
        raise UsageError(f"--sample-rate {args.sample_rate}: the model works at {model.config.data.sample_rate} Hz; "
                         "drop --sample-rate")
    return model, ml_collections.ConfigDict(model.config.to_dict())


# ------------------------------------------------------------------------------------------- output
def held_out_report(what: str, result: dict, trained: str, note: str, table: str,
                    goal_lines: Callable[[dict], list[str]], tail: list[str]) -> str:
    """A held-out benchmark's Markdown report: `WHAT at RATE Hz: CHECKPOINT (step S, TRAINED); N held-out file(s)
    of DATA. NOTE` ("no model" without a checkpoint), the table, `goal_lines(result["goals"])` (or that they
    were not measured, without a model), then `tail`."""
    who = f"{result['checkpoint']} (step {result['step']}, {trained})" if result["checkpoint"] else "no model"
    goals = goal_lines(result["goals"]) if result["goals"] is not None else \
        ["No model (--checkpoint): the goals are not measured."]
    sign = ", each with its sign inverted (the other polarity)" if result.get("polarity") == "inverted" else ""
    return "\n".join([f"{what} at {result['sample_rate']} Hz: {who}; {result['n_files']} held-out file(s) of "
                      f"{result['data']}{sign}. {note}", "", table, "", *goals, "", *tail])


def emit(result: dict, args, argv: list[str], report: Callable[[dict], str], markers: tuple[str, str],
         heading: str) -> int:
    """The end of a held-out benchmark: with `--write-results FILE` its report into the section of FILE between
    `markers` (`write_section`), then JSON (`--json`) or the Markdown report on stdout."""
    if args.write_results:
        module = f"benchmarks.{result['benchmark']}"
        markers, heading = polarity_section(args, markers, heading)
        write_section(pathlib.Path(args.write_results), markers, heading, module, argv, result, report(result))
        log(f"wrote the section \"{heading}\" of {args.write_results}")
    print(json.dumps(result) if args.json else report(result))
    return 0


def display_path(path: str) -> str:
    """`path` relative to the repository when it lies beside it (../shared/...), else as given."""
    resolved = pathlib.Path(path).resolve()
    if resolved.is_relative_to(REPO.parent):
        return os.path.relpath(resolved, REPO)
    return path


def software() -> str:
    import scipy
    import soxr

    parts = [f"Python {platform.python_version()}", f"numpy {np.__version__}", f"scipy {scipy.__version__}",
             f"soxr {soxr.__version__}"]
    try:
        import jax

        parts.append(f"jax {jax.__version__} ({jax.devices()[0].platform})")
    except Exception:  # no jax: a baselines-only run still reports the rest
        pass
    return ", ".join(parts)


def write_section(path: pathlib.Path, markers: tuple[str, str], heading: str, module: str, argv: list[str],
                  result: dict, report: str) -> None:
    """Replace the marked section of `path` (append it if absent) with a run's report: `heading`, the command
    (`python -m MODULE ARGV`), date, software, CPUs and time, then `report`."""
    command = f"python -m {module} " + shlex.join(argv)
    block = "\n".join([markers[0], f"## {heading}", "",
                       f"`{command}` ({datetime.date.today().isoformat()}; {software()}; "
                       f"{os.cpu_count()} CPUs, {result['elapsed_s']:.0f} s).", "",
                       report, markers[1]])
    replace_section(path, *markers, block)


def replace_section(path: pathlib.Path, begin: str, end: str, block: str) -> None:
    """Replace the text from marker `begin` to marker `end` of `path` by `block` (which holds both markers);
    append `block` if the markers are absent."""
    from jaxsr.files import write_atomic

    text = path.read_text() if path.exists() else ""
    if begin in text and end in text and text.index(begin) < text.index(end):
        start, stop = text.index(begin), text.index(end) + len(end)
        text = text[:start] + block + text[stop:]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    write_atomic(path, text)  # a reader never sees half a file
