"""Denoising and gap filling on the held-out speech files: the model against its classical baseline.

    python -m benchmarks.restoration_tables --quick      # smoke run: 2 held-out files, baselines only
    python -m benchmarks.restoration_tables --denoise-checkpoint runs/denoise --inpaint-checkpoint runs/inpaint

Data: `--data` (default ../shared/data/speech-44k) at 16 kHz (or the checkpoints' rate), the `--held-out` 20
files that sort last held out (configs/speech.py's test split; benchmarks/common.py). Babble noise for a held-out file is the sum of excerpts of TRAINING files
(never the held-out files, never the file itself).

  denoise   white, pink and babble noise at exactly 0, 5 and 10 dB input SNR. SI-SDR (and SNR; PESQ and
            STOI when the `pesq` / `pystoi` packages are installed) of the model vs the noisy input.
  inpaint   gaps of exactly 10, 20 and 50 ms at the training gap density (task.num_gaps per
            data.patch_length samples of configs/inpaint.py or the checkpoint's config). SNR inside the gaps
            (and over the whole clip) of the model vs linear interpolation across each gap.

`--invert-polarity` flips the sign of every file (held-out and babble), as recordings made through a chain of
the other polarity.

Degradations are seeded per file (`jaxsr.evaluation.clip_example`, seed `--seed`), so every condition
sees the same files and the model and the baseline see the same degraded input. Without a checkpoint a
task's rows show the baseline only ("—" for the model). Output: Markdown tables, then one JSON line (the
last on stdout).
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys
import time

if (
    not __package__
):  # run as `python benchmarks/restoration_tables.py`: the repository root, for `benchmarks.*`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    UsageError,
    add_held_out_args,
    add_polarity_arg,
    held_out_files,
    parser,  # noqa: E402
    polarity,
    read_clips,
)

NOISES = ("white", "pink", "babble")
INPUT_SNRS = (0.0, 5.0, 10.0)
GAPS_MS = (10.0, 20.0, 50.0)


def perceptual_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("pesq", "pystoi"))


def base_config(task: str, model, sample_rate: int):
    """The checkpoint's config if there is a model, else configs/<task>.py, at `sample_rate`."""
    import ml_collections

    if model is not None:
        return ml_collections.ConfigDict(model.config.to_dict())
    from jaxsr.configs import denoise, inpaint

    config = {"denoise": denoise, "inpaint": inpaint}[task].get_config()
    config.data.sample_rate = sample_rate
    return config


def load_model(workdir: str | None, task: str, sample_rate: int | None, which: str):
    """The model of `workdir` checked to do `task` (at `sample_rate` when given), or None."""
    if not workdir:
        return None
    from jaxsr.inference import load, resolve_task

    model = load(workdir, which)
    try:
        resolve_task(model.config, task, None)
    except ValueError as e:
        raise ValueError(f"--{task}-checkpoint {workdir}: {e}") from None
    if sample_rate is not None and model.config.data.sample_rate != sample_rate:
        raise ValueError(
            f"--{task}-checkpoint {workdir}: the model works at {model.config.data.sample_rate} Hz, not "
            f"{sample_rate} Hz; both checkpoints must share one rate (or pass --sample-rate)."
        )
    return model


def score(config, model, clips, seed: int, noise_pool=(), perceptual: bool = False) -> dict:
    """Summary of the baseline (and the model) on `clips` degraded as `config.task` says."""
    from jaxsr import evaluation

    examples = [
        evaluation.clip_example(y, config, k, seed, noise_pool=noise_pool, clip_id=cid)
        for k, (cid, y) in enumerate(clips)
    ]
    if model is None:
        return evaluation.evaluate_baseline(config, examples, perceptual)
    return evaluation.evaluate(model.variables, config, examples, perceptual)


def _cell(summary: dict, who: str, metric: str, digits: int = 2) -> str:
    v = summary[who].get(metric)
    return "—" if v is None else f"{v:.{digits}f} ± {summary[who + '_ci95'][metric]:.{digits}f}"


def denoise_table(rows: list[dict], perceptual: bool) -> str:
    metrics = [
        ("si_sdr", "SI-SDR (dB)", 2)
    ]  # the noisy input's SNR is the condition itself; SNR is in the JSON
    if perceptual:
        metrics += [("pesq", "PESQ", 2), ("stoi", "STOI", 3)]
    head = (
        ["noise", "input SNR (dB)"]
        + [f"{label} {who}" for _, label, _ in metrics for who in ("noisy", "model")]
        + ["SI-SDR improvement (dB)"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["noise"], f"{r['snr_db']:g}"]
        for m, _, d in metrics:
            cells += [_cell(r["summary"], "baseline", m, d), _cell(r["summary"], "model", m, d)]
        gain = _gain(r["summary"], "si_sdr")
        lines.append(
            "| " + " | ".join(cells + ["—" if gain is None else f"**{gain:+.2f}**"]) + " |"
        )
    return "\n".join(lines)


def _gain(summary: dict, metric: str) -> float | None:
    """Model minus baseline, mean over files (the same files, so also the mean paired difference)."""
    m = summary["model"].get(metric) if summary["model"] else None
    return None if m is None else m - summary["baseline"][metric]


def goals(denoise_rows: list[dict], inpaint_rows: list[dict]) -> dict:
    """The two goals, measured: SI-SDR gain at 5 dB input (per noise and mean over noises, goal +8 dB),
    and SNR inside 20 ms gaps over linear interpolation (goal +3 dB). None where no model was given."""
    at5 = {r["noise"]: _gain(r["summary"], "si_sdr") for r in denoise_rows if r["snr_db"] == 5.0}
    gap20 = [_gain(r["summary"], "snr_gap") for r in inpaint_rows if r["gap_ms"] == 20.0]
    mean5 = None if not at5 or None in at5.values() else sum(at5.values()) / len(at5)
    gap = gap20[0] if gap20 else None
    return {
        "denoise_si_sdr_gain_at_5db": at5,
        "denoise_si_sdr_gain_at_5db_mean": mean5,
        "denoise_goal_met": None if mean5 is None else mean5 >= 8.0,
        "inpaint_gain_20ms": gap,
        "inpaint_goal_met": None if gap is None else gap >= 3.0,
    }


def inpaint_table(rows: list[dict]) -> str:
    head = [
        "gap (ms)",
        "gaps per clip",
        "SNR in gaps: linear",
        "SNR in gaps: model",
        "model - linear (dB)",
        "SNR: linear",
        "SNR: model",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        s = r["summary"]
        gain = _gain(s, "snr_gap")
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{r['gap_ms']:g}",
                    f"{r['gaps_per_clip']:.1f}",
                    _cell(s, "baseline", "snr_gap"),
                    _cell(s, "model", "snr_gap"),
                    "—" if gain is None else f"**{gain:+.2f}**",
                    _cell(s, "baseline", "snr"),
                    _cell(s, "model", "snr"),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def _gap_gain_by_speaker(summary: dict) -> list[dict]:
    """Per-speaker means of the model's gain over linear interpolation inside the gaps (SNR, dB)."""
    from benchmarks.common import by_speaker, speaker_of

    files = summary["per_file"]
    gains = [f["model"]["snr_gap"] - f["baseline"]["snr_gap"] for f in files]
    return by_speaker([speaker_of(f["id"]) for f in files], {"gain": gains})


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    add_held_out_args(p)
    add_polarity_arg(p)
    p.add_argument("--denoise-checkpoint", help="workdir of a denoise model")
    p.add_argument("--inpaint-checkpoint", help="workdir of an inpaint model")
    p.add_argument(
        "--which", default="latest", help="checkpoint in each workdir: latest, best or a step"
    )
    p.add_argument(
        "--sample-rate", type=int, help="rate in Hz (default: the checkpoints', else 16000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the degradations")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 held-out files, 8 training files for babble",
    )
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    try:
        den = load_model(args.denoise_checkpoint, "denoise", args.sample_rate, args.which)
        rate = args.sample_rate or (den.config.data.sample_rate if den else None)
        inp = load_model(args.inpaint_checkpoint, "inpaint", rate, args.which)
        rate = int(rate or (inp.config.data.sample_rate if inp else 16000))
        train_files, test_files = held_out_files(args)
    except (UsageError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.quick:
        train_files, test_files = train_files[:8], test_files[:2]
    clips = read_clips(test_files, rate, args.invert_polarity)
    babble_pool = [y for _, y in read_clips(train_files, rate, args.invert_polarity)]
    perceptual = perceptual_available()
    sign = " with their sign inverted" if args.invert_polarity else ""
    print(
        f"{len(clips)} held-out files at {rate} Hz{sign}; babble from {len(babble_pool)} training files; "
        f"PESQ/STOI {'on' if perceptual else 'off (pip install pesq pystoi)'}",
        file=sys.stderr,
    )

    denoise_rows = []
    # Babble is made of training files; a held-out set with none (--set voices: benchmarks.denoise_robustness
    # draws babble from the other speakers there) scores the other noises only.
    for noise in (n for n in NOISES if babble_pool or n != "babble"):
        for snr_db in INPUT_SNRS:
            config = base_config("denoise", den, rate)
            config.task.update(noise_types=(noise,), snr_db=(snr_db, snr_db))
            pool = babble_pool if noise == "babble" else ()
            summary = score(
                config, den, clips, args.seed, pool, perceptual and rate in (8000, 16000)
            )
            denoise_rows.append({"noise": noise, "snr_db": snr_db, "summary": summary})
            print(
                f"  denoise {noise} {snr_db:g} dB: noisy SI-SDR {summary['baseline']['si_sdr']:.2f}",
                file=sys.stderr,
            )
    inpaint_rows = []
    for gap in GAPS_MS:
        config = base_config("inpaint", inp, rate)
        config.task.update(gap_ms=(gap, gap))
        summary = score(config, inp, clips, args.seed)
        n_gaps = sum(
            max(1, round(config.task.num_gaps * len(y) / config.data.patch_length))
            for _, y in clips
        )
        inpaint_rows.append(
            {
                "gap_ms": gap,
                "gaps_per_clip": n_gaps / len(clips),
                "summary": summary,
                "per_speaker": _gap_gain_by_speaker(summary) if inp else [],
            }
        )
        print(
            f"  inpaint {gap:g} ms: linear SNR in gaps {summary['baseline']['snr_gap']:.2f}",
            file=sys.stderr,
        )

    n = len(clips)
    print(
        f"## Denoising: {n} held-out speech files at {rate} Hz, model vs noisy input "
        f"({'model: ' + str(den.path) if den else 'no --denoise-checkpoint: input only'})\n"
    )
    print(denoise_table(denoise_rows, perceptual))
    if not perceptual:
        print("\nPESQ / STOI: not installed (pip install pesq pystoi).")
    print(
        f"\n## Gap filling: {n} held-out speech files at {rate} Hz, model vs linear interpolation "
        f"({'model: ' + str(inp.path) if inp else 'no --inpaint-checkpoint: interpolation only'})\n"
    )
    print(inpaint_table(inpaint_rows))
    print(
        f"\nMean ± 95% interval over files. Input SNR is exact per file; babble = 4 excerpts of training files. "
        f"Seed {args.seed}."
    )
    measured = goals(denoise_rows, inpaint_rows)
    if measured["denoise_goal_met"] is not None:
        per = ", ".join(f"{k} {v:+.2f}" for k, v in measured["denoise_si_sdr_gain_at_5db"].items())
        print(
            f"\nGoal, SI-SDR improvement at 5 dB input >= +8 dB: mean {measured['denoise_si_sdr_gain_at_5db_mean']:+.2f} "
            f"dB ({per}): {'met' if measured['denoise_goal_met'] else 'NOT met'}."
        )
    if measured["inpaint_goal_met"] is not None:
        print(
            f"Goal, SNR inside 20 ms gaps >= +3 dB over linear interpolation: {measured['inpaint_gain_20ms']:+.2f} dB: "
            f"{'met' if measured['inpaint_goal_met'] else 'NOT met'}."
        )

    def rows_json(rows, keys):
        return [
            {
                **{k: r[k] for k in keys},
                "baseline": r["summary"]["baseline"],
                "model": r["summary"]["model"] or None,
                "baseline_ci95": r["summary"]["baseline_ci95"],
                "model_ci95": r["summary"]["model_ci95"] or None,
            }
            for r in rows
        ]

    print(
        json.dumps(
            {
                "benchmark": "restoration_tables",
                "n_files": n,
                "sample_rate": rate,
                "seed": args.seed,
                "polarity": polarity(args),
                "quick": args.quick,
                "perceptual": perceptual,
                "elapsed_s": round(time.perf_counter() - t0, 1),
                "checkpoints": {
                    "denoise": str(den.path) if den else None,
                    "inpaint": str(inp.path) if inp else None,
                },
                "goals": measured,
                "denoise": rows_json(denoise_rows, ("noise", "snr_db")),
                "inpaint": rows_json(inpaint_rows, ("gap_ms", "gaps_per_clip", "per_speaker")),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
