"""Evaluate a trained model against its task's classical baseline on whole audio files.

    jaxsr evaluate --checkpoint runs/speech --data ../shared/data/speech-44k
    jaxsr evaluate --checkpoint runs/quickstart --data synthetic:valid --json
    jaxsr evaluate --checkpoint runs/speech --data ../shared/data/speech-44k --degradation soxr_hq
    jaxsr evaluate --checkpoint runs/denoise --data ../shared/data/speech-44k --noise babble_voices --snr-db 0
    python launch/evaluate.py --checkpoint runs/speech --data audio_folder:test          # the same CLI

`--data` is one of
  * a folder (searched recursively, hidden files skipped) or a single audio file;
  * `NAME:SPLIT`: split SPLIT (train, valid or test) of the dataset the checkpoint was trained on, NAME
    being its `config.data.name` (e.g. `synthetic:valid`, `audio_folder:test`, `vctk:test`), loaded (and
    built on first use) exactly as training does. With `--seed` left at the checkpoint's seed, `NAME:valid`
    reproduces the evaluation training ran.

Each file is read, mixed down to mono, resampled (soxr HQ) to the model's rate and degraded there the
way training's evaluation degrades a clip: file k (in sorted order, counting from 0) uses the random
generator of (`--seed`, k), so results are deterministic and independent of which other files fail.
For sr, `--degradation NAME` picks how the low-rate input is made: a named resampler of
`jaxsr.tasks.resampling.RESAMPLERS` (paper, soxr_hq, ...) or `random` (a chain drawn per file from the checkpoint's
`task.sr_*` fields); the default is what the checkpoint trained with
(`task.sr_degradation`, "paper" for the paper's decimator). A model should be judged on resamplers it
did not train on too: benchmarks/robustness.py sweeps them. `--codec NAME` then passes the low-rate input
through a codec (pcm8, ulaw, alaw: 8-bit telephony; mp3, vorbis, opus: lossy), as a phone line or a
compressed file does (`task.sr_codec`; `benchmarks/robustness.py --codecs` sweeps them).
For denoise, `--noise TYPE` scores one noise condition (a type of `jaxsr.tasks.options.NOISE_TYPES`: white, pink,
brown, varying, babble, babble_voices, folder), `--snr-db DB` a fixed input SNR, and `--reverb-prob P`
the share of clips put through a generated room first; each defaults to the checkpoint's
`task.noise_types` / `task.snr_db` / `task.reverb_prob`. benchmarks/denoise_robustness.py sweeps them.
The model and the baseline (sr: cubic spline, denoise: the noisy input, inpaint: linear interpolation)
are scored on the whole clip: SNR, LSD (log10), LSD (paper: the reference code's ln variant), SI-SDR,
for inpaint the SNR inside the gaps (`snr_gap`), and with `--perceptual` PESQ/STOI where the `pesq` /
`pystoi` packages are installed and the rate allows (PESQ: 8 or 16 kHz). Denoise's babble is made from
the *other* files, never the file itself, drawn exactly as training's evaluation draws it from the other
clips of its split (babble_voices also from synthetic voices that training never heard). Files shorter than the model's minimum input are zero-padded (with a warning);
files that cannot be read are reported, skipped and counted. All files are held in memory at the
model's rate while they are scored (an hour of 16 kHz audio is about 230 MB). `--runtime`/`--precision`: what
runs the network, as in `jaxsr enhance` (`--checkpoint` may be an export folder; the inputs and metrics are the
same for each, benchmarks/runtime_accuracy.py measures the difference; one not installed: a usage error).

Output: a Markdown table (mean ± 95% interval over files, model vs baseline) on stdout, or with `--json`
exactly one JSON object `{"n_files", "model": {...}, "baseline": {...}, "model_ci95", "baseline_ci95",
...}` and nothing else. Logs and the progress bar go to stderr. `--per-file CSV` writes a row per file.

Exit status: 0 every file scored; 1 some (or all) files could not be read, the rest are scored;
2 usage error (bad flags or checkpoint, task mismatch, no audio found, babble with a single file): nothing is printed on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import pathlib
import re
import sys
import time
from typing import Callable, Iterator

import numpy as np

from jaxsr.cli import common  # light: argparse helpers, no JAX
from jaxsr.cli.conditions import (
    UsageError,
    apply_codec,
    apply_degradation,
    apply_noise,
    check_degradation_name,
    check_task,
)

log = logging.getLogger("jaxsr.evaluate_cli")

# Input SNRs --snr-db accepts: beyond them the noise is either inaudible or all there is, and the
# gain 10**(snr/20) overflows long before float range ends.
SNR_DB_RANGE = (-50.0, 100.0)
_SPLIT_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_]+):(?P<split>train|valid|test)$")


@dataclasses.dataclass
class Item:
    """One input to score: its id, where it comes from, and how to get its `[time]` audio at the model rate."""

    index: int
    id: str
    origin: str
    load: Callable[[], tuple[np.ndarray, int]]  # -> (mono audio [time] at its own rate, that rate)


def parse_args(argv: list[str] | None, prog: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_model_args(p)
    p.add_argument(
        "--data",
        required=True,
        help="audio folder (recursive), audio file, or NAME:SPLIT of the checkpoint's dataset",
    )
    p.add_argument(
        "--task", choices=("sr", "denoise", "inpaint"), help="must match the checkpoint's task"
    )
    p.add_argument("--ratio", type=int, help="sr ratio; must match the checkpoint's")
    p.add_argument(
        "--sample-rate",
        type=int,
        help="the model's rate in Hz; must match the checkpoint's (a check only: "
        "files at any rate are resampled to it)",
    )
    p.add_argument(
        "--seed", type=int, help="seed of the degradations (default: the checkpoint's config.seed)"
    )
    p.add_argument(
        "--degradation",
        metavar="NAME",
        help="sr only: the resampler that makes the low-rate input, a name of jaxsr.tasks.resampling.RESAMPLERS "
        "or random (default: the checkpoint's task.sr_degradation)",
    )
    p.add_argument(
        "--codec",
        metavar="NAME",
        help="sr only: after the resampler, pass the low-rate input through this codec (pcm8, ulaw, alaw, "
        "mp3, vorbis, opus), as a telephone line or a compressed file would; none for no codec "
        "(default: the checkpoint's task.sr_codec / sr_codec_prob, usually none)",
    )
    p.add_argument(
        "--noise",
        metavar="TYPE",
        help="denoise only: score this noise type alone (default: the checkpoint's task.noise_types)",
    )
    p.add_argument(
        "--snr-db",
        type=float,
        metavar="DB",
        help="denoise only: input SNR in dB for every file (default: drawn from the checkpoint's "
        "task.snr_db)",
    )
    p.add_argument(
        "--reverb-prob",
        type=float,
        metavar="P",
        help="denoise only: probability of reverberating each file first (default: the checkpoint's "
        "task.reverb_prob)",
    )
    p.add_argument(
        "--any-rate",
        action="store_true",
        help="accept file rates outside 1-768 kHz (refused by default: such a rate is usually a damaged header)",
    )
    p.add_argument("--max-files", type=int, help="score only the first N files (in sorted order)")
    common.add_runtime_args(p)
    p.add_argument(
        "--perceptual",
        action="store_true",
        help="also PESQ and STOI (needs the pesq / pystoi packages)",
    )
    p.add_argument("--per-file", metavar="CSV", help="write one CSV row of metrics per file here")
    p.add_argument(
        "--batch-size",
        type=int,
        help="chunks per forward pass (default: the config's eval.batch_size)",
    )
    p.add_argument(
        "--json", action="store_true", help="print exactly one JSON object on stdout, nothing else"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    common.check_args(p, args, positive=("max_files", "batch_size", "sample_rate"))
    if args.seed is not None and args.seed < 0:
        p.error(f"--seed must be a non-negative integer; got {args.seed}")
    lo, hi = SNR_DB_RANGE
    if args.snr_db is not None and not lo <= args.snr_db <= hi:  # also refuses nan and inf
        p.error(f"--snr-db must be a number of dB in [{lo:g}, {hi:g}]; got {args.snr_db}")
    if args.reverb_prob is not None and not 0.0 <= args.reverb_prob <= 1.0:
        p.error(f"--reverb-prob must be a probability in [0, 1]; got {args.reverb_prob}")
    return args


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
        hint = (
            ""
            if path.exists()
            else " (--data is neither a path nor NAME:SPLIT such as synthetic:valid)"
        )
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
        raise UsageError(
            f"--data {name}:{split}: this checkpoint was trained on {config.data.name!r}; NAME:SPLIT only "
            f"names splits of that dataset (e.g. {config.data.name}:valid). Evaluate other audio by "
            "passing its folder."
        )
    try:
        source = builders.load_split(config.data, split, config.data.data_dir or None)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(f"--data {name}:{split}: {e}") from None
    if len(source) == 0:
        raise UsageError(f"--data {name}:{split}: the split holds no clips.")
    rate = int(config.data.sample_rate)

    def loader(i: int):
        return lambda: (np.asarray(source[i]["audio"], np.float32), rate)

    return [
        Item(i, str(source[i]["id"]), f"{name}:{split}[{i}]", loader(i)) for i in range(len(source))
    ]


def load_clips(
    items: list[Item], sample_rate: int, min_length: int, allow_any_rate: bool = False
) -> tuple[list[dict], list[dict]]:
    """Read every item at `sample_rate`. Returns (clips `{'item', 'y', 'rate', 'samples', 'padded'}`, failures).

    A file at an implausible rate (unless `allow_any_rate`) or one whose resampled audio would not fit in
    memory is a failure, checked before resampling it (`enhance`'s checks)."""
    from jaxsr.audio_io import resample
    from jaxsr.inference.checks import check_plausible

    clips, failed = [], []
    for item in items:
        try:
            x, rate = item.load()
            check_plausible(
                float(rate),
                float(sample_rate),
                allow_any_rate,
                int(round(len(x) * sample_rate / rate)),
                1,
                sample_rate,
            )
            y = resample(x, rate, sample_rate) if rate != sample_rate else np.asarray(x, np.float32)
        except Exception as e:  # one unreadable file must not stop the others
            msg = (
                str(e)
                if isinstance(e, (ValueError, FileNotFoundError, MemoryError))
                else f"{type(e).__name__}: {e}"
            )
            log.error("skipped %s: %s", item.origin, msg)
            failed.append({"file": item.origin, "error": msg})
            continue
        n = len(y)
        if n < min_length:
            log.warning(
                "warning: %s has %d samples at %d Hz, fewer than the model's minimum input of %d; zero-padded "
                "at the end to %d samples (its metrics include the padding).",
                item.origin,
                n,
                sample_rate,
                min_length,
                min_length,
            )
            y = np.pad(y, (0, min_length - n))
        clips.append({"item": item, "y": y, "rate": rate, "samples": n, "padded": n < min_length})
    return clips, failed


def check_babble(clips: list[dict], config) -> None:
    """UsageError when babble must be made from other files and there is only one; a warning for
    babble_voices, which then uses synthetic voices alone."""
    types = config.task.noise_types if config.task.name == "denoise" else ()
    if len(clips) > 1:
        return
    if "babble" in types:
        raise UsageError(
            "babble noise is made from the other files (never the file itself), and there is only one "
            "readable file; give at least two, or pick another type with --noise."
        )
    if "babble_voices" in types:
        log.warning(
            "warning: babble_voices is made from the other files and synthetic voices; with one file it uses "
            "synthetic voices only."
        )


def degraded_examples(clips: list[dict], config, seed: int) -> Iterator[dict]:
    """Clip k of `clips` degraded with the generator of (seed, its file index).

    Babble pool: every clip, with clip k itself excluded, the way training's evaluation draws from its
    split (`jaxsr.data.pipeline.eval_examples`), so `--data NAME:valid` reproduces it exactly."""
    from jaxsr.data.records import BABBLE_TYPES
    from jaxsr.evaluation import clip_example

    babble = config.task.name == "denoise" and any(
        t in config.task.noise_types for t in BABBLE_TYPES
    )
    pool = [c["y"] for c in clips] if babble else ()
    for k, clip in enumerate(clips):
        yield clip_example(
            clip["y"],
            config,
            clip["item"].index,
            seed,
            noise_pool=pool,
            clip_id=clip["item"].id,
            exclude=k if babble else None,
        )


def restore(model, config, ex: dict, batch_size: int | None = None) -> np.ndarray:
    """`jaxsr.evaluation.restore` of `ex` (`run_model`'s chunks, then `keep_known`) by `model`'s runtime."""
    from jaxsr.inference import chunking, keep_known

    y = chunking.run_planned(
        model.variables,
        config,
        np.asarray(ex["x"], np.float32)[:, None],
        chunking.chunk_plan(config, None, forward=model.forward),
        chunking.check_inference_batch_size(batch_size, config),
        model.forward,
    )[:, 0]
    return y if ex.get("mask") is None else keep_known(y, ex["x"], ex["mask"])


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
    from jaxsr.evaluation import baseline_name, format_table

    task = config.task.name
    codec = config.task.get("sr_codec", "") if task == "sr" else ""
    what = (
        (
            f"{task} r={config.task.ratio} (inputs: {config.task.sr_degradation}"
            + (f", then {codec}" if codec else "")
            + ")"
        )
        if task == "sr"
        else task
    )
    if task == "denoise":
        lo, hi = config.task.snr_db
        what += (
            f" (noise: {', '.join(config.task.noise_types)}; input SNR "
            + (f"{lo:g} dB" if lo == hi else f"{lo:g}-{hi:g} dB")
            + (
                f"; reverb probability {config.task.reverb_prob:g}"
                if config.task.reverb_prob
                else ""
            )
            + ")"
        )
    table = format_table(summary, config, ci=True, title="")  # our own heading below
    lines = [
        f"{what} at {config.data.sample_rate} Hz: {model.path} (step {model.step}) vs "
        f"{baseline_name(config)} on {summary['n_files']} file(s) of {args.data}"
        + (f" ({n_failed} unreadable, skipped)" if n_failed else ""),
        "",
        table,
        "",
        "Mean ± 95% interval over files. lsd: log10 power; lsd_paper: the reference code's ln variant "
        "(Kuleshov et al. 2017's tables).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    common.setup_logging(args.quiet)
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from jaxsr import inference as E
    from jaxsr import evaluation, metrics
    from jaxsr.models import length_multiple

    t0 = time.perf_counter()
    try:
        check_degradation_name(args.degradation)
        model = E.load(args.checkpoint, args.which, runtime=args.runtime, precision=args.precision)
        config = model.config
        check_task(config, args.task, args.ratio, args.sample_rate)
        apply_degradation(config, args.degradation)
        apply_codec(config, args.codec)
        apply_noise(config, args.noise, args.snr_db, args.reverb_prob)
        items = list_items(args.data, config)
    except (UsageError, ValueError, FileNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.max_files:
        items = items[: args.max_files]
    seed = int(config.seed if args.seed is None else args.seed)
    rate = int(config.data.sample_rate)
    log.info(
        "evaluating %s (step %d, task %s; %s %s) on %d input(s) from %s at %d Hz, seed %d",
        model.path,
        model.step,
        config.task.name,
        model.runtime,
        model.precision,
        len(items),
        args.data,
        rate,
        seed,
    )
    if config.task.name == "sr":
        log.info(
            "low-rate inputs made by: %s%s",
            config.task.sr_degradation,
            f", then the {config.task.sr_codec} codec" if config.task.get("sr_codec", "") else "",
        )
    if args.perceptual and (note := perceptual_note(rate)):
        log.warning("warning: --perceptual: %s; those metrics are left out.", note)

    with logging_redirect_tqdm():
        clips, failed = load_clips(
            items, rate, length_multiple(config.model.num_blocks), args.any_rate
        )
        if not clips:
            print(
                f"error: none of the {len(items)} input(s) could be read; see the messages above.",
                file=sys.stderr,
            )
            return 1
        try:
            check_babble(clips, config)
        except UsageError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        examples = tqdm(
            degraded_examples(clips, config, seed),
            total=len(clips),
            desc="files",
            unit="file",
            file=sys.stderr,
            disable=args.quiet,
        )
        summary = evaluation.summarize(
            [  # evaluation.evaluate, with the network run by the model's runtime
                {
                    "id": ex["id"],
                    **{
                        who: metrics.all_metrics(
                            ex["y"], est, rate, ex.get("mask"), args.perceptual
                        )
                        for who, est in (
                            ("model", restore(model, config, ex, args.batch_size)),
                            ("baseline", ex["baseline"]),
                        )
                    },
                }
                for ex in examples
            ]
        )
    if args.per_file:
        extra = [
            {
                "source": c["item"].origin,
                "input_rate": c["rate"],
                "samples": c["samples"],
                "padded": int(c["padded"]),
            }
            for c in clips
        ]
        evaluation.write_per_file_csv(args.per_file, summary["per_file"], extra)
        log.info("per-file metrics written to %s", args.per_file)
    log.info(
        "scored %d file(s) in %.1f s; %d unreadable",
        len(clips),
        time.perf_counter() - t0,
        len(failed),
    )
    if args.json:
        out = {
            **evaluation.json_summary(summary),
            "n_failed": len(failed),
            "n_padded": sum(c["padded"] for c in clips),
            "checkpoint": str(model.path),
            "step": model.step,
            "task": config.task.name,
            "ratio": config.task.ratio if config.task.name == "sr" else None,
            "sample_rate": rate,
            "baseline_name": evaluation.baseline_name(config),
            "seed": seed,
            "runtime": model.runtime,
            "precision": model.precision,
            "degradation": config.task.sr_degradation if config.task.name == "sr" else None,
            "codec": (config.task.get("sr_codec", "") or None)
            if config.task.name == "sr"
            else None,
            **(
                {
                    "noise_types": list(config.task.noise_types),
                    "snr_db": list(config.task.snr_db),
                    "reverb_prob": config.task.reverb_prob,
                }
                if config.task.name == "denoise"
                else {}
            ),
            "data": args.data,
            "failed": failed,
        }
        print(json.dumps(out))
    else:
        print(render(summary, config, model, args, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
