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
import json
import logging
import sys
import time
from typing import TYPE_CHECKING


from jaxsr.cli import common  # light: argparse helpers, no JAX
from jaxsr.cli.conditions import (
    UsageError,
    apply_codec,
    apply_degradation,
    apply_noise,
    check_degradation_name,
    check_task,
)

if TYPE_CHECKING:
    from jaxsr.evaluation import ClipSource

log = logging.getLogger("jaxsr.evaluate_cli")

# Input SNRs --snr-db accepts: beyond them the noise is either inaudible or all there is, and the
# gain 10**(snr/20) overflows long before float range ends.
SNR_DB_RANGE = (-50.0, 100.0)


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


# ------------------------------------------------------------------------------------------ main
def list_items(data: str, config) -> list[ClipSource]:
    """`jaxsr.evaluation.list_clips` of `--data`; UsageError naming the flag when it names nothing."""
    from jaxsr.evaluation import list_clips

    try:
        return list_clips(data, config)
    except ValueError as e:
        raise UsageError(f"--data {e}") from None


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
    from jaxsr import evaluation
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
        clips, failed = evaluation.load_clips(
            items, rate, length_multiple(config.model.num_blocks), args.any_rate
        )
        if not clips:
            print(
                f"error: none of the {len(items)} input(s) could be read; see the messages above.",
                file=sys.stderr,
            )
            return 1
        try:
            evaluation.check_babble(clips, config)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        examples = tqdm(
            evaluation.degraded_examples(clips, config, seed),
            total=len(clips),
            desc="files",
            unit="file",
            file=sys.stderr,
            disable=args.quiet,
        )
        summary = evaluation.evaluate(
            model.variables, config, examples, args.perceptual, args.batch_size, model.forward
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
