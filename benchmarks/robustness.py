"""Robustness of an `sr` model to the resampler that made its low-rate input (issue 13).

    python -m benchmarks.robustness --checkpoint runs/speech                  # Markdown table on stdout
    python benchmarks/robustness.py --checkpoint runs/speech --json           # one JSON object on stdout
    python -m benchmarks.robustness --checkpoint runs/speech --write-results  # ... and into RESULTS.md
    python -m benchmarks.robustness --checkpoint runs/speech --invert-polarity  # the files with their sign flipped
    python -m benchmarks.robustness --ratio 4 --sample-rate 16000             # no model: the baselines only

A model trained on one decimator can collapse on audio that another resampler brought to the low rate
(it "restores" a band that decimator always emptied and real resamplers keep). For every resampler of
the sweep (`--resamplers`, names of `jaxsr.degrade.RESAMPLERS`; default `SWEEP`), each held-out file is
read at the model's rate (soxr HQ), brought to the low rate by that resampler and scored on the whole
clip, three ways from the same low-rate signal:

  spline   the cubic spline back to the full rate: the model's input and the baseline it must beat;
  soxr     soxr HQ from the low rate back to the full rate (another classical upsampler, for scale);
  model    the model's output (`jaxsr.evaluation.evaluate`, the path `launch/evaluate.py` scores with).

Data: `--data` (default ../shared/data/speech-44k), the `--held-out` files that sort last (default 20:
the test split of configs/speech.py's `tail:20,valid:10`,
never trained on nor used to pick a checkpoint). Metrics: `jaxsr.metrics` SNR and LSD (log10),
means over files (95% intervals in the JSON). Then the issue's goals for the sweep: the model never
below the spline's SNR on any resampler; at least 35% lower LSD than the spline on every one; at least
+1.0 dB SNR over the spline on average over the sweep.

`--codecs ulaw,mp3,...` passes each resampler's low-rate signal through each codec too (pcm8, ulaw, alaw,
mp3, vorbis, opus; `jaxsr.resamplers.apply_codec`; `none` for the resampler alone): one row per resampler
and codec, written to a section of its own per ratio and rate (`robustness-codecs-x4-16k:begin`). The goals
are the resampler sweep's, computed over these rows.

`--invert-polarity` scores the same files with their sign flipped, as recordings made through a chain
of the other polarity (a model trained on one polarity can fail on the other); its `--write-results`
section has its own markers (`...-inverted:begin`).

`--write-results [FILE]` replaces the section between `<!-- robustness:begin -->` and
`<!-- robustness:end -->` of FILE (default benchmarks/RESULTS.md; appended if the markers are absent)
with the table, the command, the date, device and software. Exit status: 0 done, 2 bad usage.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pathlib
import sys
import time

import numpy as np

if not __package__:  # run as `python benchmarks/robustness.py`: the repository root, for `benchmarks.*`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.common import (UsageError, add_output_args, display_path, emit, held_out_files,  # noqa: E402
                               held_out_report, load_task_model, log, model_parser, parse, polarity, read_clips)

# The default sweep: the paper's decimator and the resamplers people use. decimate_nofilter (aliasing),
# bessel6 (a weak anti-aliasing filter) and butter4_causal are in the registry but not in the goals' sweep;
# name them with --resamplers to see them.
SWEEP = ("paper", "soxr_hq", "soxr_vhq", "soxr_lq", "resample_poly", "fir_lowcut", "butter4", "cheby2", "ellip")
BEGIN, END = "<!-- robustness:begin -->", "<!-- robustness:end -->"
# The goals (sr x4 to 16 kHz on the held-out speech).
GOAL_LSD_REDUCTION = 0.35
GOAL_MEAN_SNR_GAIN_DB = 1.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = model_parser(__doc__, "benchmarks/robustness.py", "an sr model", "spline and soxr rows only")
    p.add_argument("--resamplers", default=",".join(SWEEP),
                   help="comma-separated names of jaxsr.degrade.RESAMPLERS, or 'all' (default: %(default)s)")
    p.add_argument("--ratio", type=int, help="without --checkpoint: the sr ratio (default 4)")
    p.add_argument("--codecs", default="",
                   help="comma-separated codecs the low-rate signal passes through after each resampler (pcm8, ulaw, "
                        "alaw, mp3, vorbis, opus; 'none' for a row without): one row per resampler and codec, in "
                        "its own RESULTS section (default: no codec)")
    add_output_args(p, "robustness", "seed of the per-file degradation generators")
    return parse(p, argv)


def codec_names(spec: str, sample_rate: int, ratio: int) -> list[str]:
    """`--codecs` as a list ("" for none), each checked to carry the low rate; UsageError otherwise."""
    from jaxsr.config import SR_CODECS
    from jaxsr.resamplers import check_codec

    names = ["" if n.strip() == "none" else n.strip() for n in spec.split(",") if n.strip()] or [""]
    for n in names:
        if n and n not in SR_CODECS:
            raise UsageError(f"--codecs: unknown codec {n!r}; use names from: {', '.join(SR_CODECS)} (or none)")
        if n:
            try:
                check_codec(n, sample_rate / ratio)
            except ValueError as e:
                raise UsageError(f"--codecs: {e}") from None
    return names


def resampler_names(spec: str) -> list[str]:
    """`--resamplers` as a list of registry names; UsageError listing the names for an unknown one."""
    from jaxsr.degrade import RESAMPLERS

    names = list(RESAMPLERS) if spec.strip() == "all" else [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in RESAMPLERS]
    if not names:
        raise UsageError(f"--resamplers is empty; use names from: {', '.join(RESAMPLERS)} (or all)")
    if unknown:
        raise UsageError(f"--resamplers: unknown resampler {unknown[0]!r}; use names from: "
                         f"{', '.join(RESAMPLERS)} (or all)")
    return names


def setup(args: argparse.Namespace):
    """(model or None, config) for the run; UsageError for a checkpoint that is not an sr model."""
    from jaxsr.config import default_config

    if args.checkpoint is None:
        config = default_config()
        config.data.sample_rate = args.sample_rate or 16000
        config.task.update(name="sr", ratio=args.ratio or 4)
        try:
            from jaxsr.degrade import check_ratio

            check_ratio(config.task.ratio)
        except ValueError as e:
            raise UsageError(f"--ratio: {e}") from None
        return None, config
    return load_task_model(args, "sr", args.ratio)  # the config is a copy: each row changes its task


# ------------------------------------------------------------------------------------------ scoring
def score_resampler(name: str, clips: list[tuple[str, np.ndarray]], config, model, seed: int,
                    batch_size: int | None, codec: str = "") -> dict:
    """One row: spline, soxr and (with a model) model metrics on `clips` brought low by resampler `name`
    (then through `codec`, "" for none)."""
    from jaxsr import degrade, evaluation, metrics

    config.task.sr_degradation = name
    config.task.sr_codec = codec
    config.task.sr_codec_prob = 0.0  # a row is one codec or none, even for a model trained through random ones
    ratio = int(config.task.ratio)
    low_rate = config.data.sample_rate / ratio

    def low(y: np.ndarray) -> np.ndarray:
        x = degrade.sr_lowrate(y, ratio, name)
        return degrade.apply_codec(x, low_rate, codec) if codec else x

    # The examples `launch/evaluate.py --degradation NAME` scores: x = baseline = the spline.
    examples = [evaluation.clip_example(y, config, k, seed, clip_id=cid) for k, (cid, y) in enumerate(clips)]
    if model is None:
        summary = evaluation.evaluate_baseline(config, examples)
    else:
        summary = evaluation.evaluate(model.variables, config, examples, batch_size=batch_size)
    soxr_files = []
    for ex in examples:
        up = degrade.soxr_upsample(low(ex["y"]), ratio, len(ex["y"]))
        soxr_files.append({"snr": metrics.snr(ex["y"], up), "lsd": metrics.lsd(ex["y"], up)})
    soxr_stats = {k: evaluation.mean_ci95(f[k] for f in soxr_files) for k in ("snr", "lsd")}
    row = {"resampler": name, "codec": codec or None, "description": degrade.describe_chain(name),
           "spline": {k: summary["baseline"][k] for k in ("snr", "lsd")},
           "spline_ci95": {k: summary["baseline_ci95"][k] for k in ("snr", "lsd")},
           "soxr": {k: v[0] for k, v in soxr_stats.items()}, "soxr_ci95": {k: v[1] for k, v in soxr_stats.items()},
           "model": None, "model_ci95": None, "snr_gain_db": None, "lsd_change": None}
    if model is not None:
        m = summary["model"]
        row.update(model={k: m[k] for k in ("snr", "lsd")},
                   model_ci95={k: summary["model_ci95"][k] for k in ("snr", "lsd")},
                   snr_gain_db=m["snr"] - summary["baseline"]["snr"],
                   lsd_change=m["lsd"] / summary["baseline"]["lsd"] - 1.0)
    return row


def goals(rows: list[dict]) -> dict | None:
    """The issue's three goals over the sweep, measured; None without a model."""
    if not rows or rows[0]["model"] is None:
        return None
    gains = [r["snr_gain_db"] for r in rows]
    changes = [r["lsd_change"] for r in rows]
    mean_gain = float(np.mean(gains))
    return {"never_below_spline_snr": {"worst_gain_db": min(gains), "met": min(gains) >= 0.0},
            "lsd_35pct_lower_everywhere": {"worst_change": max(changes), "met": max(changes) <= -GOAL_LSD_REDUCTION},
            "mean_snr_gain_1db": {"mean_gain_db": mean_gain, "met": mean_gain >= GOAL_MEAN_SNR_GAIN_DB},
            "all_met": min(gains) >= 0.0 and max(changes) <= -GOAL_LSD_REDUCTION and mean_gain >= GOAL_MEAN_SNR_GAIN_DB}


# ------------------------------------------------------------------------------------------ output
def table(rows: list[dict]) -> str:
    def f(v, fmt=".2f"):
        return "—" if v is None else format(v, fmt)

    head = ["resampler", "SNR spline", "SNR soxr up", "SNR model", "model − spline (dB)",
            "LSD spline", "LSD soxr up", "LSD model", "LSD vs spline"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in rows:
        m = r["model"] or {}
        lines.append("| " + " | ".join([
            f"`{r['resampler']}`" + (f" → `{r['codec']}`" if r.get("codec") else ""), f(r["spline"]["snr"]), f(r["soxr"]["snr"]), f(m.get("snr")),
            "—" if r["snr_gain_db"] is None else f"**{r['snr_gain_db']:+.2f}**",
            f(r["spline"]["lsd"]), f(r["soxr"]["lsd"]), f(m.get("lsd")),
            "—" if r["lsd_change"] is None else f"**{100 * r['lsd_change']:+.0f}%**"]) + " |")
    return "\n".join(lines)


def goal_lines(g: dict) -> list[str]:
    ok = {True: "met", False: "**NOT met**"}
    snr, lsd, mean = g["never_below_spline_snr"], g["lsd_35pct_lower_everywhere"], g["mean_snr_gain_1db"]
    return [f"- Never below the spline's SNR on any resampler: worst {snr['worst_gain_db']:+.2f} dB: {ok[snr['met']]}.",
            f"- At least 35% lower LSD than the spline on every resampler: worst {100 * lsd['worst_change']:+.0f}%: "
            f"{ok[lsd['met']]}.",
            f"- At least +1.0 dB SNR over the spline on average over the sweep: {mean['mean_gain_db']:+.2f} dB: "
            f"{ok[mean['met']]}."]


def report(result: dict) -> str:
    """The Markdown report: heading line, table, goals, and what each resampler is."""
    return held_out_report(
        f"sr r={result['ratio']}", result, f"trained with task.sr_degradation={result['trained_with']!r}",
        "Mean over files; SNR in dB, LSD log10 (jaxsr.metrics).", table(result["rows"]), goal_lines,
        ["soxr up: soxr HQ from the low rate back, which leaves the missing band empty; LSD, a log-spectral "
         "distance, punishes an empty band more than the spline's spectral images, so its LSD is the higher.",
         "", "Resamplers (cutoffs as a fraction of the low rate's Nyquist):", "",
         *dict.fromkeys(f"- `{r['resampler']}`: {r['description']}" for r in result["rows"]),
         *([] if not result.get("codecs") else
           ["", "Codecs (libsndfile, in memory, at the low rate; encoder delay trimmed on decoding): pcm8 8-bit PCM, "
            "ulaw / alaw G.711 (telephony), mp3 / vorbis / opus at libsndfile's default quality."])])


# -------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    t0 = time.perf_counter()
    try:
        names = resampler_names(args.resamplers)
        files = held_out_files(args)[1]
        model, config = setup(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rate, ratio = int(config.data.sample_rate), int(config.task.ratio)
    trained_with = config.task.get("sr_degradation", "paper")
    try:
        codecs = codec_names(args.codecs, rate, ratio)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    clips = read_clips(files, rate, args.invert_polarity)
    log(f"{len(clips)} held-out file(s) at {rate} Hz, r={ratio}; resamplers: {', '.join(names)}"
        + (f"; codecs: {', '.join(c or 'none' for c in codecs)}" if any(codecs) else ""))
    rows = []
    for codec, name in itertools.product(codecs, names):
        rows.append(score_resampler(name, clips, config, model, args.seed, args.batch_size, codec))
        r = rows[-1]
        log(f"  {name}{' -> ' + codec if codec else ''}: spline SNR {r['spline']['snr']:.2f} LSD {r['spline']['lsd']:.2f}"
            + ("" if r["model"] is None else f"; model SNR {r['model']['snr']:.2f} LSD {r['model']['lsd']:.2f}"))
    result = {"benchmark": "robustness", "checkpoint": args.checkpoint, "step": model.step if model else None,
              "trained_with": trained_with if model else None, "task": "sr", "ratio": ratio, "sample_rate": rate,
              "data": display_path(args.data), "held_out": args.held_out, "n_files": len(clips), "seed": args.seed,
              "polarity": polarity(args),
              "codecs": [c for c in codecs if c],
              "files": [cid for cid, _ in clips], "rows": rows, "goals": goals(rows),
              "elapsed_s": round(time.perf_counter() - t0, 1)}
    if any(codecs):  # a section per model kind, beside the resampler sweep's
        key = f"robustness-codecs-x{ratio}-{rate // 1000}k"
        return emit(result, args, argv, report, (BEGIN.replace("robustness", key), END.replace("robustness", key)),
                    f"Robustness to codecs: `sr` x{ratio} at {rate} Hz (issue 13)")
    return emit(result, args, argv, report, (BEGIN, END), "Robustness to the resampler: `sr` (issue 13)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
