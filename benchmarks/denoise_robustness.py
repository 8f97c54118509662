"""Robustness of a `denoise` model to the kind of noise and its level.

    python -m benchmarks.denoise_robustness --checkpoint runs/pretrained/speech-denoise-16k   # Markdown table
    python benchmarks/denoise_robustness.py --checkpoint runs/denoise --json          # one JSON object on stdout
    python -m benchmarks.denoise_robustness --checkpoint runs/denoise --write-results # ... and into RESULTS.md
    python -m benchmarks.denoise_robustness --checkpoint runs/denoise --invert-polarity # sign flipped
    python -m benchmarks.denoise_robustness --max-files 2                             # no model: the noisy input only

Every held-out file is read at the model's rate (soxr HQ), mixed with one noise type (`--noises`, names of
`jaxsr.tasks.options.NOISE_TYPES`; default `NOISES`) at exactly each input SNR (`--snrs`, default 0, 5, 10 dB),
and the model's output and the noisy input are scored on the whole clip (SI-SDR, `jaxsr.metrics`; the
path `launch/evaluate.py --noise TYPE --snr-db DB` scores with, through `jaxsr.evaluation`). No
reverberation is added: these are noise conditions. A cell is the mean over files of the SI-SDR
improvement (model minus noisy input; the same files in every cell).

  white, pink, brown   stationary coloured noise;
  varying              coloured noise whose tilt (white to brown) and level (up to 20 dB) drift over 0.2-2 s;
  babble               4 excerpts of held-out files of *other* speakers, unmodified (other voices);
  babble_voices        3-8 talkers unlike the training speaker: synthetic voices of the "test" bank (never
                       heard in training) and other held-out files pitch-shifted by at least 10% and
                       formant-shifted (`jaxsr.tasks.noise.voices_babble`). Never the clean file itself;
  folder               the held-out last part of every recording of `--noise-dir` (real noise);
  clean                no noise: the model must give the speech back.

Data: `--set voices` (default), the 10 unseen speakers of librispeech-261/test, with a per-speaker table;
`--set speech44k`, the last 20 files of speech-44k (one speaker); or any `--data` folder (its `--held-out`
files that sort last). None of them was trained on or used to pick a checkpoint. Then the goals: a mean
SI-SDR improvement of at least +8 dB over white, pink, real noise and other voices' babble at 0, 5 and
10 dB input SNR, no such cell under +3 dB, and clean speech back at 25 dB SI-SDR or more. The clean cell
also reports, per file, the share of the recording's energy below 60 Hz (no voice lies there; rumble may)
and the SI-SDR over the band above it.

`--invert-polarity` scores the same files with their sign flipped, as recordings made through a chain
of the other polarity (a model trained on one polarity can fail on the other); its `--write-results`
section has its own markers (`...-inverted:begin`).

`--write-results [FILE]` replaces the section between `<!-- denoise-robustness-SET:begin -->` and
`<!-- denoise-robustness-SET:end -->` (SET: voices, speech44k or data) of FILE (default benchmarks/RESULTS.md; appended if the markers are
absent) with the table, the command, the date, device and software. Exit status: 0 done, 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

if (
    not __package__
):  # run as `python benchmarks/denoise_robustness.py`: the repository root, for `benchmarks.*`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    UsageError,
    add_output_args,
    display_path,
    emit,
    held_out_files,  # noqa: E402
    held_out_report,
    load_task_model,
    log,
    model_parser,
    parse,
    polarity,
    read_clips,
)
from benchmarks.common import (  # noqa: E402
    SHARED_DATA,
    held_out_label,
    section_markers,
    several_speakers,
    speaker_table,
)

NOISES = ("white", "pink", "folder", "babble", "varying", "babble_voices", "clean")
SNRS_DB = (0.0, 5.0, 10.0)
# The goals (denoise at 16 kHz on unseen speakers): over white, pink, real noise (held-out parts) and babble of
# other voices at 0, 5 and 10 dB, a mean SI-SDR gain of +8 dB and no cell under +3 dB; clean speech in comes
# back at 25 dB SI-SDR or more.
GOAL_MEAN_NOISES = ("white", "pink", "folder", "babble")
GOAL_MEAN_SNRS_DB = (0.0, 5.0, 10.0)
GOAL_MEAN_GAIN_DB = 8.0
GOAL_CELL_GAIN_DB = 3.0
GOAL_CLEAN_DB = 25.0
# Below this, a "clean" recording holds no speech (the lowest voices start near 70 Hz) but may hold rumble of
# the room or the microphone stand. A denoiser rightly removes it, and SI-SDR against that recording counts the
# removal as error; the clean-in cell therefore also reports the share of each file's energy below it and the
# SI-SDR of the band above it, so that a low score can be told apart from lost speech.
RUMBLE_HZ = 60.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = model_parser(
        __doc__, "benchmarks/denoise_robustness.py", "a denoise model", "the noisy input only"
    )
    p.add_argument(
        "--noises",
        default=",".join(NOISES),
        help="comma-separated noise types of jaxsr.tasks.options.NOISE_TYPES (default: %(default)s)",
    )
    p.add_argument(
        "--snrs",
        default=",".join(f"{s:g}" for s in SNRS_DB),
        help="comma-separated input SNRs in dB (default: %(default)s)",
    )
    p.add_argument(
        "--noise-dir",
        default=str(SHARED_DATA / "noise-real"),
        help="recorded noise for the 'folder' type (default: %(default)s)",
    )
    p.add_argument(
        "--noise-holdout",
        type=float,
        default=0.2,
        help="use only the last this fraction of every noise recording, the part the packaged denoiser "
        "holds out of training (default %(default)s)",
    )
    add_output_args(p, "denoise-robustness", "seed of the per-file noise generators")
    return parse(p, argv)


def noise_names(spec: str) -> list[str]:
    """`--noises` as a list; UsageError for an unknown type ("folder" is the recordings of `--noise-dir`)."""
    from jaxsr.tasks.options import NOISE_TYPES

    names = [n.strip() for n in spec.split(",") if n.strip()]
    usable = NOISE_TYPES + ("clean",)
    bad = [n for n in names if n not in usable]
    if not names or bad:
        what = "is empty" if not names else f"has an unknown noise type {bad[0]!r}"
        raise UsageError(f"--noises {what}; use names from: {', '.join(usable)}")
    return names


def snr_values(spec: str) -> list[float]:
    try:
        values = [float(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise UsageError(
            f"--snrs {spec!r}: use comma-separated numbers of dB such as 0,5,10"
        ) from None
    if not values:
        raise UsageError("--snrs is empty; use comma-separated numbers of dB such as 0,5,10")
    return values


def setup(args: argparse.Namespace):
    """(model or None, config) for the run; UsageError for a checkpoint that is not a denoise model."""
    if args.checkpoint is None:
        from jaxsr.config import default_config

        config = default_config()
        config.data.sample_rate = args.sample_rate or 16000
        config.task.name = "denoise"
        return None, config
    return load_task_model(args, "denoise")  # the config is a copy: each cell changes its task


# ------------------------------------------------------------------------------------------ scoring
def score_cell(
    noise: str,
    snr_db: float,
    clips: list[tuple[str, np.ndarray]],
    config,
    model,
    seed: int,
    batch_size: int | None,
    noise_files: list[np.ndarray] = (),
) -> dict:
    """One cell: SI-SDR of the noisy input and (with a model) of the model on `clips` at `noise`, `snr_db`
    ("clean": no noise at all, the model must give the speech back).

    File k is degraded with the generator of (seed, k) (`jaxsr.evaluation.clip_example`, as
    `launch/evaluate.py` does); its babble comes from the held-out files of *other* speakers only."""
    from benchmarks.common import speaker_of
    from jaxsr import evaluation

    clean = noise == "clean"
    config.task.update(
        noise_types=("white",) if clean else (noise,),
        snr_db=(float(snr_db), float(snr_db)),
        reverb_prob=0.0,
        clean_prob=0.0,
    )
    examples = []
    everyone = [z for _, z in clips]
    for k, (cid, y) in enumerate(clips):
        others = [z for c, z in clips if speaker_of(c) != speaker_of(cid)]
        # Babble of other speakers where the set has them; else, as `launch/evaluate.py` draws it, every other
        # file (file k itself excluded).
        pool, exclude = (others, None) if others else (everyone, k)
        ex = evaluation.clip_example(
            y,
            config,
            k,
            seed,
            noise_pool=pool,
            noise_files=noise_files,
            clip_id=cid,
            exclude=exclude,
        )
        if clean:
            ex.update(x=ex["y"].copy(), baseline=ex["y"].copy())
        examples.append(ex)
    outputs = []  # the clean cell's outputs, scored twice: on the whole band and above RUMBLE_HZ
    if model is None:
        summary = evaluation.evaluate_baseline(config, examples)
    elif clean:
        outputs = [evaluation.restore(model.variables, config, ex, batch_size) for ex in examples]
        summary = evaluation.score_outputs(config, zip(examples, outputs))
    else:
        summary = evaluation.evaluate(model.variables, config, examples, batch_size=batch_size)
    cell = {
        "noise": noise,
        "snr_db": float("inf") if clean else float(snr_db),
        "noisy": None if clean else summary["baseline"]["si_sdr"],
        "noisy_ci95": None if clean else summary["baseline_ci95"]["si_sdr"],
        "model": None,
        "model_ci95": None,
        "gain_db": None,
        "gain_ci95": None,
        "per_file": [],
    }
    if model is not None:
        cell.update(
            model=summary["model"]["si_sdr"],
            model_ci95=summary["model_ci95"]["si_sdr"],
            per_file=[
                {
                    "id": f["id"],
                    "model": f["model"]["si_sdr"],
                    "noisy": None if clean else f["baseline"]["si_sdr"],
                }
                for f in summary["per_file"]
            ],
        )
        if clean:
            for f, ex, y_hat in zip(cell["per_file"], examples, outputs):
                f.update(rumble_scores(ex["y"], y_hat, int(config.data.sample_rate)))
        else:
            gains = [f["model"]["si_sdr"] - f["baseline"]["si_sdr"] for f in summary["per_file"]]
            gain, half = evaluation.mean_ci95(
                gains
            )  # paired: the same files, so the interval of the differences
            cell.update(gain_db=gain, gain_ci95=half)
    return cell


def rumble_scores(y: np.ndarray, y_hat: np.ndarray, rate: int) -> dict:
    """For clean speech `y` `[time]` and what the model gave back for it, `y_hat` `[time]`: the share of
    `y`'s energy below `RUMBLE_HZ` (dB of the whole), and the SI-SDR of `y_hat` over the band above it (both
    high-passed alike: 8th-order Butterworth, forward and backward, so no phase shift moves one against the
    other)."""
    from scipy import signal

    from jaxsr import metrics

    power = np.abs(np.fft.rfft(np.asarray(y, np.float64) - np.mean(y))) ** 2
    below = power[np.fft.rfftfreq(len(y), 1.0 / rate) < RUMBLE_HZ].sum()
    sos = signal.butter(8, RUMBLE_HZ, "highpass", fs=rate, output="sos")
    return {
        "below_rumble_db": float(10.0 * np.log10(max(below, 1e-30) / max(power.sum(), 1e-30))),
        "model_above_rumble": metrics.si_sdr(
            signal.sosfiltfilt(sos, y), signal.sosfiltfilt(sos, y_hat)
        ),
    }


def goals(cells: list[dict]) -> dict | None:
    """The goals, measured; None without a model. A goal whose cells were not run is None."""
    if not cells or cells[0]["model"] is None:
        return None
    by = {(c["noise"], c["snr_db"]): c["gain_db"] for c in cells if c["noise"] != "clean"}
    wanted = [(n, s) for n in GOAL_MEAN_NOISES for s in GOAL_MEAN_SNRS_DB]
    have = all(k in by for k in wanted)
    mean = float(np.mean([by[k] for k in wanted])) if have else None
    worst = float(min(by[k] for k in wanted)) if have else None
    clean = next((c for c in cells if c["noise"] == "clean"), None)
    clean_db = None if clean is None else clean["model"]
    above = None
    if clean is not None and clean["per_file"]:
        above = float(np.mean([f["model_above_rumble"] for f in clean["per_file"]]))
    return {
        "mean_gain": {
            "gain_db": mean,
            "goal_db": GOAL_MEAN_GAIN_DB,
            "met": None if mean is None else mean >= GOAL_MEAN_GAIN_DB,
        },
        "worst_cell": {
            "gain_db": worst,
            "goal_db": GOAL_CELL_GAIN_DB,
            "met": None if worst is None else worst >= GOAL_CELL_GAIN_DB,
        },
        "clean_in": {
            "si_sdr_db": clean_db,
            "goal_db": GOAL_CLEAN_DB,
            "met": None if clean_db is None else clean_db >= GOAL_CLEAN_DB,
            "above_rumble_db": above,
            "rumble_hz": RUMBLE_HZ,
        },
    }


def per_speaker(cells: list[dict]) -> list[dict]:
    """Per speaker: the mean SI-SDR gain over the goal cells run (if any noisy cell ran); clean speech's SI-SDR
    out, over the whole band and above `RUMBLE_HZ`, and its energy below `RUMBLE_HZ` (if the clean cell ran)."""
    from benchmarks.common import by_speaker, speaker_of

    goal = [c for c in cells if c["noise"] in GOAL_MEAN_NOISES and c["snr_db"] in GOAL_MEAN_SNRS_DB]
    noisy = goal or [c for c in cells if c["noise"] != "clean"]
    ids = [f["id"] for f in cells[0]["per_file"]]
    vals = {}
    if noisy:  # a run of the clean cell alone has no gain to report
        vals["gain"] = [
            float(np.mean([c["per_file"][i]["model"] - c["per_file"][i]["noisy"] for c in noisy]))
            for i in range(len(ids))
        ]
    clean = next((c for c in cells if c["noise"] == "clean"), None)
    if clean is not None:
        vals["clean"] = [f["model"] for f in clean["per_file"]]
        vals["clean_above_rumble"] = [f["model_above_rumble"] for f in clean["per_file"]]
        vals["below_rumble_db"] = [f["below_rumble_db"] for f in clean["per_file"]]
    return by_speaker([speaker_of(i) for i in ids], vals)


# ------------------------------------------------------------------------------------------ output
def table(cells: list[dict], noises: list[str], snrs: list[float]) -> str:
    """Rows: noise types; columns: input SNRs; a cell: noisy -> model SI-SDR (improvement)."""
    by = {(c["noise"], c["snr_db"]): c for c in cells}
    head = ["noise"] + [f"{s:g} dB: noisy → model (gain)" for s in snrs] + ["mean gain"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for noise in noises:
        row, gains = [f"`{noise}`"], []
        if noise == "clean":
            c = by[(noise, float("inf"))]
            lines.append(
                "| `clean` (no noise): SI-SDR out | "
                + (f"{c['model']:.2f} ± {c['model_ci95']:.2f}" if c["model"] is not None else "—")
                + " |"
                + " |" * len(snrs)
            )
            continue
        for s in snrs:
            c = by[(noise, s)]
            if c["model"] is None:
                row.append(f"{c['noisy']:.2f} → —")
            else:
                row.append(f"{c['noisy']:.2f} → {c['model']:.2f} (**{c['gain_db']:+.2f}**)")
                gains.append(c["gain_db"])
        row.append(f"**{np.mean(gains):+.2f}**" if gains else "—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def goal_lines(g: dict) -> list[str]:
    ok = {True: "met", False: "**NOT met**", None: "not measured (its cells were not run)"}

    def db(v):
        return "—" if v is None else f"{v:+.2f} dB"

    mean, worst, clean = g["mean_gain"], g["worst_cell"], g["clean_in"]
    return [
        f"- Mean SI-SDR improvement over white, pink, real (folder) noise and other voices' babble at 0, 5 and "
        f"10 dB, at least +{GOAL_MEAN_GAIN_DB:g} dB: {db(mean['gain_db'])}: {ok[mean['met']]}.",
        f"- No cell of those under +{GOAL_CELL_GAIN_DB:g} dB: worst {db(worst['gain_db'])}: {ok[worst['met']]}.",
        f"- Clean speech in comes back at {GOAL_CLEAN_DB:g} dB SI-SDR or more: "
        f"{'—' if clean['si_sdr_db'] is None else format(clean['si_sdr_db'], '.2f') + ' dB'}: {ok[clean['met']]}.",
        *(
            []
            if clean.get("above_rumble_db") is None
            else [
                f"  Over the band above {clean['rumble_hz']:g} Hz (no voice lies below it; rumble may): "
                f"{clean['above_rumble_db']:.2f} dB (not the goal's measure; it tells removed rumble from "
                "removed speech)."
            ]
        ),
    ]


def report(result: dict) -> str:
    return held_out_report(
        "denoise",
        result,
        f"trained on noise types {', '.join(result['trained_noise_types'] or ())}",
        "SI-SDR in dB (jaxsr.metrics), mean over files; gain = model − noisy input.",
        table(result["cells"], result["noises"], result["snrs_db"]),
        goal_lines,
        [
            "Noise made per file with the generator of (seed, file index); babble from the held-out files of other "
            "speakers; babble_voices also from synthetic voices training never heard; folder: the last "
            f"{result.get('noise_holdout', 0):g} of every recording of {result.get('noise_dir')}, which training "
            "never heard. No reverberation.",
            *(
                []
                if not several_speakers(result.get("per_speaker"))
                else [
                    "",
                    "Per speaker (mean SI-SDR gain over the goal cells; SI-SDR of clean speech out, over the "
                    f"whole band and above {RUMBLE_HZ:g} Hz; the share of the clean recording's energy below "
                    f"{RUMBLE_HZ:g} Hz, where no voice lies):",
                    "",
                    speaker_table(
                        result["per_speaker"],
                        ([("gain", "gain (dB)")] if "gain" in result["per_speaker"][0] else [])
                        + (
                            [
                                ("clean", "clean out (dB)"),
                                ("clean_above_rumble", f"clean out above {RUMBLE_HZ:g} Hz (dB)"),
                                ("below_rumble_db", f"energy below {RUMBLE_HZ:g} Hz (dB)"),
                            ]
                            if "clean" in result["per_speaker"][0]
                            else []
                        ),
                    ),
                ]
            ),
        ],
    )


# -------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    t0 = time.perf_counter()
    try:
        noises, snrs = noise_names(args.noises), snr_values(args.snrs)
        files = held_out_files(args)[1]
        if len(files) < 2 and any(n in ("babble", "babble_voices") for n in noises):
            raise UsageError(
                "babble is made from the other held-out files: score at least 2 (--max-files)"
            )
        model, config = setup(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rate = int(config.data.sample_rate)
    trained = list(config.task.noise_types) if model else None
    clips = read_clips(files, rate, args.invert_polarity)
    noise_files = []
    if "folder" in noises:
        from jaxsr.data.records import load_noise_files

        try:
            noise_files = load_noise_files(args.noise_dir, rate, args.noise_holdout, "eval")
        except (ValueError, FileNotFoundError) as e:
            print(f"error: --noise-dir: {e}", file=sys.stderr)
            return 2
    log(
        f"{len(clips)} held-out file(s) at {rate} Hz; noises: {', '.join(noises)}; input SNRs: "
        f"{', '.join(f'{s:g}' for s in snrs)} dB"
    )
    cells = []
    for noise in noises:
        for snr in [0.0] if noise == "clean" else snrs:
            cells.append(
                score_cell(
                    noise, snr, clips, config, model, args.seed, args.batch_size, noise_files
                )
            )
            c = cells[-1]
            if noise == "clean":
                log(
                    "  clean: "
                    + ("—" if c["model"] is None else f"model {c['model']:.2f} dB SI-SDR")
                )
                continue
            log(
                f"  {noise} {snr:g} dB: noisy {c['noisy']:.2f}"
                + (
                    ""
                    if c["model"] is None
                    else f", model {c['model']:.2f} ({c['gain_db']:+.2f} dB)"
                )
            )
    result = {
        "benchmark": "denoise_robustness",
        "checkpoint": args.checkpoint,
        "step": model.step if model else None,
        "trained_noise_types": trained,
        "task": "denoise",
        "sample_rate": rate,
        "data": display_path(args.data),
        "held_out": args.held_out,
        "n_files": len(clips),
        "seed": args.seed,
        "polarity": polarity(args),
        "files": [cid for cid, _ in clips],
        "noises": noises,
        "snrs_db": snrs,
        "cells": cells,
        "noise_dir": display_path(args.noise_dir),
        "noise_holdout": args.noise_holdout,
        "goals": goals(cells),
        "per_speaker": per_speaker(cells) if model else None,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    return emit(
        result,
        args,
        argv,
        report,
        section_markers("denoise-robustness", args),
        f"Robustness to the noise: `denoise`, {held_out_label(args)[0]}",
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
