"""What the held-out benchmarks share: the held-out speech files and their flags, the model flags and
checks, per-speaker summaries, and the end of a run (Markdown or JSON on stdout, optionally a section of
RESULTS.md).

The held-out set (`--set`):
  voices     (default) the 10 unseen speakers of ../shared/data/librispeech-261/test, 100 files, each
             speaker's files in a folder of its own: voices no packaged model trained on or was selected by;
  speech44k  the 20 files of ../shared/data/speech-44k that sort last (the test split of configs/speech.py's
             `tail:20,valid:10`): one speaker, the same one as its training files.
`--data FOLDER` scores another folder: its `--held-out` files that sort last (listed by
`jaxsr.audio_io.list_audio_files`, as the `audio_folder` builder lists them, so `tail:20` and these files are
the same). A file's speaker is the folder it sits in. $JAXSR_SHARED_DATA, when set, replaces ../shared/data.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import pathlib
import platform
import shlex
import sys
from typing import Callable

import numpy as np


REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = pathlib.Path(os.environ.get("JAXSR_SHARED_DATA") or REPO.parent / "shared" / "data")
SPEECH_44K = SHARED_DATA / "speech-44k"
VOICES_TEST = SHARED_DATA / "librispeech-261" / "test"
HELD_OUT = 20
SETS = {
    "voices": "10 unseen speakers (librispeech-261/test)",
    "speech44k": "one speaker (speech-44k, last 20 files)",
}
RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"


class UsageError(Exception):
    """A bad flag, checkpoint or data folder: exit status 2."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parser(doc: str, prog: str | None = None) -> argparse.ArgumentParser:
    """An argument parser whose description is the first paragraph of the script's docstring `doc`."""
    return argparse.ArgumentParser(
        prog=prog,
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


# ------------------------------------------------------------------------------------- held-out files
def add_held_out_args(p: argparse.ArgumentParser, *aliases: str) -> None:
    """`--set`, `--data` (also spelt as each of `aliases`), `--held-out`, `--max-files`: the held-out files."""
    p.add_argument(
        "--set",
        dest="held_out_set",
        choices=tuple(SETS),
        default="voices",
        help="the held-out set: voices = the 10 unseen speakers of librispeech-261/test (default); "
        "speech44k = the last 20 files of speech-44k (one speaker)",
    )
    p.add_argument(
        "--data",
        *aliases,
        dest="data",
        default=None,
        help="another audio folder instead of --set: its --held-out files that sort last are scored",
    )
    p.add_argument(
        "--held-out",
        type=int,
        default=HELD_OUT,
        help="with --data (or --set speech44k): score the N files that sort last (default %(default)s)",
    )
    p.add_argument("--max-files", type=int, help="score only the first N of the held-out files")
    p.add_argument(
        "--per-speaker",
        type=int,
        default=0,
        metavar="N",
        help="score only the first N files of each speaker (0: all)",
    )


def speech44k_split(
    folder: pathlib.Path = SPEECH_44K, held_out: int = HELD_OUT
) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """(train files, held-out files) of the speech folder: the `held_out` files that sort last are held out."""
    from jaxsr.audio_io import list_audio_files

    files = list_audio_files(folder)
    if len(files) <= held_out:
        raise ValueError(
            f"{folder} has {len(files)} audio files; holding out the last {held_out} leaves none "
            "to train on."
        )
    return files[:-held_out], files[-held_out:]


def held_out_files(args: argparse.Namespace) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """(train files, held-out files) that `add_held_out_args`' flags name, the held-out ones cut to
    `--per-speaker` files per speaker and `--max-files`; UsageError naming the flag if the folder is missing
    or cannot be split. Sets `args.data` to the folder scored. (For `--set voices` the train files are [].)"""
    from jaxsr.audio_io import list_audio_files

    chosen = getattr(args, "held_out_set", "voices")
    if args.data is None:
        args.data = str(VOICES_TEST if chosen == "voices" else SPEECH_44K)
    folder = pathlib.Path(args.data)
    try:
        if args.data == str(VOICES_TEST):
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"{folder} is not there; it is ../shared/data/librispeech-261/test (see "
                    "../shared/data/README.md), or set JAXSR_SHARED_DATA to that data folder"
                )
            train, held = [], list_audio_files(folder)
        else:
            train, held = speech44k_split(folder, args.held_out)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(f"--data {args.data}: {e}") from None
    if getattr(args, "per_speaker", 0):
        kept, count = [], collections.Counter()
        for f in held:
            count[speaker_of(f)] += 1
            if count[speaker_of(f)] <= args.per_speaker:
                kept.append(f)
        held = kept
    return train, held[: args.max_files] if args.max_files else held


def speaker_of(path: pathlib.Path | str) -> str:
    """A held-out file's speaker: the folder it sits in (librispeech-261/test/SPEAKER/..., speech-44k)."""
    return pathlib.Path(path).parent.name


def held_out_label(args: argparse.Namespace) -> tuple[str, str]:
    """(words for the scored files, the suffix of their RESULTS section): `--set voices` / `speech44k`, or
    `data` and the folder for another `--data`."""
    if args.data in (str(VOICES_TEST), str(SPEECH_44K)):
        return SETS[args.held_out_set], args.held_out_set
    return display_path(args.data), "data"


def section_markers(name: str, args: argparse.Namespace) -> tuple[str, str]:
    """The RESULTS markers of benchmark `name` on the scored set: one section per held-out set, so a run on
    the unseen speakers stands beside the one-speaker run instead of replacing it."""
    key = f"{name}-{held_out_label(args)[1]}"
    return f"<!-- {key}:begin -->", f"<!-- {key}:end -->"


def by_speaker(speakers: list[str], values: dict[str, list[float]]) -> list[dict]:
    """Per-speaker means of per-file `values` ({name: [one per file]}): `[{'speaker', 'n_files', name: mean}]`,
    speakers in first-seen order."""
    out: dict[str, dict] = {}
    for i, spk in enumerate(speakers):
        row = out.setdefault(spk, {"speaker": spk, "n_files": 0, **{k: [] for k in values}})
        row["n_files"] += 1
        for k, v in values.items():
            row[k].append(v[i])
    return [{**r, **{k: float(np.mean(r[k])) for k in values}} for r in out.values()]


def several_speakers(per_speaker: list[dict] | None) -> bool:
    """Whether a per-speaker table (`by_speaker` rows) says anything: with one speaker (speech-44k) its
    only row would repeat the table above it, so reports print it only for two or more."""
    return len({r["speaker"] for r in per_speaker or ()}) > 1


def read_clips(
    paths: list[pathlib.Path], sample_rate: int, invert: bool = False
) -> list[tuple[str, np.ndarray]]:
    """`(file name, mono [time] at sample_rate)` for each path (soxr HQ resampling); `invert`: with the sign
    flipped, as the same recording made through a chain of the other polarity. For a rate above the file's
    own (16 kHz speech scored by a 48 kHz model) the band above the file's Nyquist is empty, as in the file."""
    from jaxsr.audio_io import read_audio

    sign = np.float32(-1.0 if invert else 1.0)
    return [
        (f"{p.parent.name}/{p.name}", sign * read_audio(p, sample_rate, mono=True)[0][:, 0])
        for p in paths
    ]


def add_polarity_arg(p: argparse.ArgumentParser) -> None:
    """`--invert-polarity`: score the held-out files with their sign flipped (see `read_clips`)."""
    p.add_argument(
        "--invert-polarity",
        action="store_true",
        help="score the held-out files with their sign flipped: the same recordings made through a "
        "microphone, preamp or editor of the other polarity (written to its own RESULTS section)",
    )


def polarity(args: argparse.Namespace) -> str:
    """The polarity the files were scored in, as a result's `"polarity"` field records it."""
    return "inverted" if getattr(args, "invert_polarity", False) else "as stored"


def polarity_section(
    args: argparse.Namespace, markers: tuple[str, str], heading: str
) -> tuple[tuple[str, str], str]:
    """(markers, heading) of a held-out benchmark's RESULTS section: its own for `--invert-polarity` runs, so
    that the two polarities' tables stand side by side."""
    if polarity(args) != "inverted":
        return markers, heading
    return (
        tuple(
            m.replace(":begin", "-inverted:begin").replace(":end", "-inverted:end") for m in markers
        ),
        f"{heading}, polarity inverted",
    )


# ---------------------------------------------------------------------------------------- the model
def add_model_args(p: argparse.ArgumentParser, what: str, without: str) -> None:
    """`--checkpoint` (optional: `without` says what runs without one), `--which`, and `--sample-rate`."""
    p.add_argument(
        "--checkpoint",
        metavar="NAME_OR_WORKDIR",
        help=f"{what}: a packaged name or a training workdir (omit: {without})",
    )
    p.add_argument(
        "--which", default="latest", help="checkpoint to load: latest, best or a step number"
    )
    p.add_argument(
        "--sample-rate",
        type=int,
        help="without --checkpoint: the rate to score at, in Hz (default 16000)",
    )


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
    p.add_argument(
        "--batch-size",
        type=int,
        help="chunks per forward pass (default: the config's eval.batch_size)",
    )
    p.add_argument(
        "--json", action="store_true", help="print exactly one JSON object on stdout, nothing else"
    )
    p.add_argument(
        "--write-results",
        nargs="?",
        const=str(RESULTS_MD),
        metavar="FILE",
        help=f"write the table between the {section} markers of FILE (default: %(const)s)",
    )


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """`p.parse_args(argv)`, with `--which` turned into latest/best/int and the counts checked positive."""
    args = p.parse_args(argv)
    if getattr(args, "which", "latest") not in ("latest", "best"):  # what jaxsr.load takes
        try:
            args.which = int(args.which)
        except ValueError:
            p.error(f"--which must be latest, best or a step number; got {args.which!r}")
    for name in ("held_out", "max_files", "batch_size", "sample_rate"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer; got {value}")
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
        raise UsageError(
            f"--sample-rate {args.sample_rate}: the model works at {model.config.data.sample_rate} Hz; "
            "drop --sample-rate"
        )
    return model, ml_collections.ConfigDict(model.config.to_dict())


# ------------------------------------------------------------------------------------------- output
def held_out_report(
    what: str,
    result: dict,
    trained: str,
    note: str,
    table: str,
    goal_lines: Callable[[dict], list[str]],
    tail: list[str],
) -> str:
    """A held-out benchmark's Markdown report: `WHAT at RATE Hz: CHECKPOINT (step S, TRAINED); N held-out file(s)
    of DATA. NOTE` ("no model" without a checkpoint), the table, `goal_lines(result["goals"])` (or that they
    were not measured, without a model), then `tail`."""
    who = (
        f"{result['checkpoint']} (step {result['step']}, {trained})"
        if result["checkpoint"]
        else "no model"
    )
    goals = (
        goal_lines(result["goals"])
        if result["goals"] is not None
        else ["No model (--checkpoint): the goals are not measured."]
    )
    sign = (
        ", each with its sign inverted (the other polarity)"
        if result.get("polarity") == "inverted"
        else ""
    )
    return "\n".join(
        [
            f"{what} at {result['sample_rate']} Hz: {who}; {result['n_files']} held-out file(s) of "
            f"{result['data']}{sign}. {note}",
            "",
            table,
            "",
            *goals,
            "",
            *tail,
        ]
    )


def speaker_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A Markdown table of `by_speaker` rows: speaker, files, then each (key, heading) of `columns`."""
    lines = [
        "| speaker | files | " + " | ".join(h for _, h in columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for r in rows:
        lines.append(
            f"| {r['speaker']} | {r['n_files']} | "
            + " | ".join(f"{r[k]:+.2f}" if "gain" in k else f"{r[k]:.2f}" for k, _ in columns)
            + " |"
        )
    return "\n".join(lines)


def emit(
    result: dict,
    args,
    argv: list[str],
    report: Callable[[dict], str],
    markers: tuple[str, str],
    heading: str,
) -> int:
    """The end of a held-out benchmark: with `--write-results FILE` its report into the section of FILE between
    `markers` (`write_section`), then JSON (`--json`) or the Markdown report on stdout."""
    if args.write_results:
        module = f"benchmarks.{result['benchmark']}"
        markers, heading = polarity_section(args, markers, heading)
        write_section(
            pathlib.Path(args.write_results), markers, heading, module, argv, result, report(result)
        )
        log(f'wrote the section "{heading}" of {args.write_results}')
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

    parts = [
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"scipy {scipy.__version__}",
        f"soxr {soxr.__version__}",
    ]
    try:
        import jax

        parts.append(f"jax {jax.__version__} ({jax.devices()[0].platform})")
    except Exception:  # no jax: a baselines-only run still reports the rest
        pass
    return ", ".join(parts)


def write_section(
    path: pathlib.Path,
    markers: tuple[str, str],
    heading: str,
    module: str,
    argv: list[str],
    result: dict,
    report: str,
) -> None:
    """Replace the marked section of `path` (append it if absent) with a run's report: `heading`, the command
    (`python -m MODULE ARGV`), date, software, CPUs and time, then `report`."""
    command = f"python -m {module} " + shlex.join(argv)
    block = "\n".join(
        [
            markers[0],
            f"## {heading}",
            "",
            f"`{command}` ({datetime.date.today().isoformat()}; {software()}; "
            f"{os.cpu_count()} CPUs, {result['elapsed_s']:.0f} s).",
            "",
            report,
            markers[1],
        ]
    )
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
