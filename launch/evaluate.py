"""Evaluate a trained model against its task's classical baseline on whole audio files.

    python launch/evaluate.py --checkpoint runs/speech --data ../shared/data/speech-44k
    python launch/evaluate.py --checkpoint runs/quickstart --data synthetic:valid --json

`--data` is one of
  * a folder (searched recursively, hidden files skipped) or a single audio file;
  * `NAME:SPLIT`: split SPLIT (train, valid or test) of the dataset the checkpoint was trained on, NAME
    being its `config.data.name` (e.g. `synthetic:valid`, `audio_folder:test`, `vctk:test`), loaded (and
    built on first use) exactly as training does. With `--seed` left at the checkpoint's seed, `NAME:valid`
    reproduces the evaluation training ran.

Each file is read, mixed down to mono, resampled (soxr HQ) to the model's rate and degraded there the
way training's evaluation degrades a clip: file k (in sorted order, counting from 0) uses the random
generator of (`--seed`, k), so results are deterministic and independent of which other files fail.
The model and the baseline (sr: cubic spline, denoise: the noisy input, inpaint: linear interpolation)
are scored on the whole clip: SNR, LSD (log10), LSD (paper: the reference code's ln variant), SI-SDR,
for inpaint the SNR inside the gaps (`snr_gap`), and with `--perceptual` PESQ/STOI where the `pesq` /
`pystoi` packages are installed and the rate allows (PESQ: 8 or 16 kHz). Denoise's babble noise is made
from the *other* files. Files shorter than the model's minimum input are zero-padded (with a warning);
files that cannot be read are reported, skipped and counted. All files are held in memory at the
model's rate while they are scored (an hour of 16 kHz audio is about 230 MB).

Output: a Markdown table (mean ± 95% interval over files, model vs baseline) on stdout, or with `--json`
exactly one JSON object `{"n_files", "model": {...}, "baseline": {...}, "model_ci95", "baseline_ci95",
...}` and nothing else. Logs and the progress bar go to stderr. `--per-file CSV` writes a row per file.

Exit status: 0 every file scored; 1 some (or all) files could not be read, the rest are scored;
2 usage error (bad flags or checkpoint, task mismatch, no audio found): nothing is printed on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pathlib
import re
import sys
import time
from typing import Callable, Iterator

import numpy as np

# Run as a script from anywhere: make the repository root importable.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

log = logging.getLogger("jaxsr.evaluate_cli")

_SPLIT_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_]+):(?P<split>train|valid|test)$")


class UsageError(Exception):
    """Something wrong with the command line: exit status 2, nothing on stdout."""


@dataclasses.dataclass
class Item:
    """One input to score: its id, where it comes from, and how to get its `[time]` audio at the model rate."""

    index: int
    id: str
    origin: str
    load: Callable[[], tuple[np.ndarray, int]]  # -> (mono audio [time] at its own rate, that rate)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="launch/evaluate.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a training workdir (or one of its step directories)")
    p.add_argument("--data", required=True,
                   help="audio folder (recursive), audio file, or NAME:SPLIT of the checkpoint's dataset")
    p.add_argument("--which", default="latest", help="checkpoint to load: latest, best or a step number")
    p.add_argument("--task", choices=("sr", "denoise", "inpaint"), help="must match the checkpoint's task")
    p.add_argument("--ratio", type=int, help="sr ratio; must match the checkpoint's")
    p.add_argument("--sample-rate", type=int, help="the model's rate in Hz; must match the checkpoint's (a check only: "
                                                   "files at any rate are resampled to it)")
    p.add_argument("--seed", type=int, help="seed of the degradations (default: the checkpoint's config.seed)")
    p.add_argument("--max-files", type=int, help="score only the first N files (in sorted order)")
    p.add_argument("--perceptual", action="store_true", help="also PESQ and STOI (needs the pesq / pystoi packages)")
    p.add_argument("--per-file", metavar="CSV", help="write one CSV row of metrics per file here")
    p.add_argument("--batch-size", type=int, help="chunks per forward pass (default: the config's eval.batch_size)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout, nothing else")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.which not in ("latest", "best"):
        try:
            args.which = int(args.which)
        except ValueError:
            p.error(f"--which must be latest, best or a step number; got {args.which!r}")
    for flag in ("max_files", "batch_size", "sample_rate"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            p.error(f"--{flag.replace('_', '-')} must be a positive integer; got {value}")
    if args.seed is not None and args.seed < 0:
        p.error(f"--seed must be a non-negative integer; got {args.seed}")
    return args


def check_task(config, task: str | None, ratio: int | None, sample_rate: int | None) -> None:
    """Raise UsageError if the flags describe another model than the checkpoint's."""
    from jaxsr.inference import resolve_task

    try:
        resolve_task(config, task, ratio)
    except ValueError as e:
        raise UsageError(f"--task/--ratio do not match the checkpoint: {e}") from None
    if sample_rate is not None and sample_rate != config.data.sample_rate:
        raise UsageError(f"--sample-rate {sample_rate}: this checkpoint's model works at {config.data.sample_rate} Hz. "
                         "Files at any rate are resampled to the model's rate; drop --sample-rate or pass "
                         f"{config.data.sample_rate}.")


# ---------------------------------------------------------------------------------------- inputs
def list_items(data: str, config) -> list[Item]:
    """The inputs `--data` names, in a fixed order. Raises UsageError if there are none."""
    from jaxsr.audio_io import list_audio_files, read_audio

    path = pathlib.Path(data).expanduser()
    spec = _SPLIT_SPEC.match(data)
    if not path.exists() and spec:
        return _split_items(spec["name"], spec["split"], config)
    try:
        files = list_audio_files(path)
    except (FileNotFoundError, ValueError) as e:
        hint = "" if path.exists() else " (--data is neither a path nor NAME:SPLIT such as synthetic:valid)"
        raise UsageError(f"--data {data}: {e}{hint}") from None
    root = path if path.is_dir() else path.parent

    def loader(f: pathlib.Path):
        def load():
            x, rate = read_audio(f, mono=True)
            return x[:, 0], rate
        return load

    return [Item(i, f.relative_to(root).as_posix(), str(f), loader(f)) for i, f in enumerate(files)]


def _split_items(name: str, split: str, config) -> list[Item]:
    from jaxsr.data import builders

    if name != config.data.name:
        raise UsageError(f"--data {name}:{split}: this checkpoint was trained on {config.data.name!r}; NAME:SPLIT only "
                         f"names splits of that dataset (e.g. {config.data.name}:valid). Evaluate other audio by "
                         "passing its folder.")
    try:
        source = builders.load_split(config.data, split, config.data.data_dir or None)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(f"--data {name}:{split}: {e}") from None
    if len(source) == 0:
        raise UsageError(f"--data {name}:{split}: the split holds no clips.")
    rate = int(config.data.sample_rate)

    def loader(i: int):
        return lambda: (np.asarray(source[i]["audio"], np.float32), rate)

    return [Item(i, str(source[i]["id"]), f"{name}:{split}[{i}]", loader(i)) for i in range(len(source))]


def load_clips(items: list[Item], sample_rate: int, min_length: int) -> tuple[list[dict], list[dict]]:
    """Read every item at `sample_rate`. Returns (clips `{'item', 'y', 'rate', 'samples', 'padded'}`, failures)."""
    from jaxsr.audio_io import resample

    clips, failed = [], []
    for item in items:
        try:
            x, rate = item.load()
            y = resample(x, rate, sample_rate) if rate != sample_rate else np.asarray(x, np.float32)
        except Exception as e:  # one unreadable file must not stop the others
            msg = str(e) if isinstance(e, (ValueError, FileNotFoundError)) else f"{type(e).__name__}: {e}"
            log.error("skipped %s: %s", item.origin, msg)
            failed.append({"file": item.origin, "error": msg})
            continue
        n = len(y)
        if n < min_length:
            log.warning("warning: %s has %d samples at %d Hz, fewer than the model's minimum input of %d; zero-padded "
                        "at the end to %d samples (its metrics include the padding).", item.origin, n, sample_rate,
                        min_length, min_length)
            y = np.pad(y, (0, min_length - n))
        clips.append({"item": item, "y": y, "rate": rate, "samples": n, "padded": n < min_length})
    return clips, failed


def degraded_examples(clips: list[dict], config, seed: int) -> Iterator[dict]:
    """Clip k of `clips` degraded with the generator of (seed, its file index); babble from the other clips."""
    from jaxsr.evaluation import clip_example

    babble = config.task.name == "denoise" and "babble" in config.task.noise_types
    if babble and len(clips) == 1:
        log.warning("warning: babble noise is made from the other files, and there is only one; it uses itself.")
    for k, clip in enumerate(clips):
        pool = ([c["y"] for j, c in enumerate(clips) if j != k] or [clip["y"]]) if babble else ()
        yield clip_example(clip["y"], config, clip["item"].index, seed, noise_pool=pool, clip_id=clip["item"].id)


# ------------------------------------------------------------------------------------------ main
def perceptual_note(sample_rate: int) -> str | None:
    """Why PESQ/STOI will be missing, or None if both can be computed."""
    import importlib.util

    missing = [m for m in ("pesq", "pystoi") if importlib.util.find_spec(m) is None]
    notes = []
    if missing:
        notes.append(f"{' and '.join(missing)} not installed (pip install {' '.join(missing)})")
    if "pesq" not in missing and sample_rate not in (8000, 16000):
        notes.append(f"PESQ needs 8 or 16 kHz audio, the model works at {sample_rate} Hz")
    return "; ".join(notes) or None


def render(summary: dict, config, model, args, n_failed: int) -> str:
    from jaxsr.evaluation import BASELINE_NAMES, format_table

    task = config.task.name
    what = f"{task} r={config.task.ratio}" if task == "sr" else task
    table = format_table(summary, config, ci=True, title="")  # our own heading below
    lines = [f"{what} at {config.data.sample_rate} Hz: {model.path} (step {model.step}) vs "
             f"{BASELINE_NAMES.get(task, 'baseline')} on {summary['n_files']} file(s) of {args.data}"
             + (f" ({n_failed} unreadable, skipped)" if n_failed else ""),
             "", table, "",
             "Mean ± 95% interval over files. lsd: log10 power; lsd_paper: the reference code's ln variant "
             "(Kuleshov et al. 2017's tables)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from jaxsr.writers import setup_cli_logging

    setup_cli_logging()
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from jaxsr import inference as E
    from jaxsr import evaluation
    from jaxsr.models import length_multiple

    t0 = time.perf_counter()
    try:
        model = E.load(args.checkpoint, args.which)
        config = model.config
        check_task(config, args.task, args.ratio, args.sample_rate)
        items = list_items(args.data, config)
    except (UsageError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.max_files:
        items = items[:args.max_files]
    seed = int(config.seed if args.seed is None else args.seed)
    rate = int(config.data.sample_rate)
    log.info("evaluating %s (step %d, task %s) on %d input(s) from %s at %d Hz, seed %d", model.path, model.step,
             config.task.name, len(items), args.data, rate, seed)
    if args.perceptual and (note := perceptual_note(rate)):
        log.warning("warning: --perceptual: %s; those metrics are left out.", note)

    with logging_redirect_tqdm():
        clips, failed = load_clips(items, rate, length_multiple(config.model.num_blocks))
        if not clips:
            print(f"error: none of the {len(items)} input(s) could be read; see the messages above.", file=sys.stderr)
            return 1
        examples = tqdm(degraded_examples(clips, config, seed), total=len(clips), desc="files", unit="file",
                        file=sys.stderr, disable=args.quiet)
        summary = evaluation.evaluate(model.variables, config, examples, perceptual=args.perceptual,
                                      batch_size=args.batch_size)
    if args.per_file:
        extra = [{"source": c["item"].origin, "input_rate": c["rate"], "samples": c["samples"],
                  "padded": int(c["padded"])} for c in clips]
        evaluation.write_per_file_csv(args.per_file, summary["per_file"], extra)
        log.info("per-file metrics written to %s", args.per_file)
    log.info("scored %d file(s) in %.1f s; %d unreadable", len(clips), time.perf_counter() - t0, len(failed))
    if args.json:
        out = {**evaluation.json_summary(summary), "n_failed": len(failed),
               "n_padded": sum(c["padded"] for c in clips), "checkpoint": str(model.path), "step": model.step,
               "task": config.task.name, "ratio": config.task.ratio if config.task.name == "sr" else None,
               "sample_rate": rate, "baseline_name": evaluation.BASELINE_NAMES.get(config.task.name), "seed": seed,
               "data": args.data, "failed": failed}
        print(json.dumps(out))
    else:
        print(render(summary, config, model, args, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
