"""Robustness of an `sr` model to the resampler that made its low-rate input.

    python -m benchmarks.robustness --checkpoint runs/speech                  # Markdown table on stdout
    python benchmarks/robustness.py --checkpoint runs/speech --json           # one JSON object on stdout
    python -m benchmarks.robustness --checkpoint runs/speech --write-results  # ... and into RESULTS.md
    python -m benchmarks.robustness --checkpoint runs/speech --invert-polarity  # the files with their sign flipped
    python -m benchmarks.robustness --ratio 4 --sample-rate 16000             # no model: the baselines only

A model trained on one decimator can collapse on audio that another resampler brought to the low rate
(it "restores" a band that decimator always emptied and real resamplers keep). For every resampler of
the sweep (`--resamplers`, names of `jaxsr.tasks.resampling.RESAMPLERS`; default `SWEEP`), each held-out file is
read at the model's rate (soxr HQ), brought to the low rate by that resampler and scored on the whole
clip, three ways from the same low-rate signal:

  spline   the cubic spline back to the full rate: the model's input and the baseline it must beat;
  soxr     soxr HQ from the low rate back to the full rate (another classical upsampler, for scale);
  model    the model's output (`jaxsr.evaluation.evaluate`, the path `launch/evaluate.py` scores with).

Data: `--data` (default ../shared/data/speech-44k), the `--held-out` files that sort last (default 20:
the test split of configs/speech.py's `tail:20,valid:10`,
never trained on nor used to pick a checkpoint). Metrics: `jaxsr.metrics` SNR and LSD (log10),
means over files (95% intervals in the JSON). Then the goals for the sweep: the model never
below the spline's SNR on any resampler; at least 35% lower LSD than the spline on every one; at least
+1.0 dB SNR over the spline on average over the sweep.

`--codecs ulaw,mp3,...` passes each resampler's low-rate signal through each codec too (pcm8, ulaw, alaw,
mp3, vorbis, opus; `jaxsr.tasks.codecs.apply_codec`; `none` for the resampler alone): one row per resampler
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

if (
    not __package__
):  # run as `python benchmarks/robustness.py`: the repository root, for `benchmarks.*`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from jaxsr.tasks import resampling
from jaxsr.tasks.codecs import apply_codec
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
from benchmarks.common import held_out_label, section_markers  # noqa: E402

# The default sweep: the paper's decimator and the resamplers people use. decimate_nofilter (aliasing),
# bessel6 (a weak anti-aliasing filter) and butter4_causal are in the registry but not in the goals' sweep;
# name them with --resamplers to see them.
SWEEP = (
    "paper",
    "soxr_hq",
    "soxr_vhq",
    "soxr_lq",
    "resample_poly",
    "fir_lowcut",
    "butter4",
    "cheby2",
    "ellip",
)
# The goals (sr x4 to 16 kHz on unseen speakers; the other ratios have the looser LSD goal).
GOAL_LSD_REDUCTION = 0.40
GOAL_LSD_REDUCTION_OTHER = 0.30
GOAL_MEAN_SNR_GAIN_DB = 1.0
GOAL_KEPT_BAND_DB = 30.0
KEPT_BAND = 0.85  # the kept band is measured below this fraction of the low Nyquist


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = model_parser(
        __doc__, "benchmarks/robustness.py", "an sr model", "spline and soxr rows only"
    )
    p.add_argument(
        "--resamplers",
        default=",".join(SWEEP),
        help="comma-separated names of jaxsr.tasks.resampling.RESAMPLERS, or 'all' (default: %(default)s)",
    )
    p.add_argument("--ratio", type=int, help="without --checkpoint: the sr ratio (default 4)")
    p.add_argument(
        "--codecs",
        default="",
        help="comma-separated codecs the low-rate signal passes through after each resampler (pcm8, ulaw, "
        "alaw, mp3, vorbis, opus; 'none' for a row without): one row per resampler and codec, in "
        "its own RESULTS section (default: no codec)",
    )
    add_output_args(p, "robustness", "seed of the per-file degradation generators")
    return parse(p, argv)


def codec_names(spec: str, sample_rate: int, ratio: int) -> list[str]:
    """`--codecs` as a list ("" for none), each checked to carry the low rate; UsageError otherwise."""
    from jaxsr.tasks.codecs import check_codec
    from jaxsr.tasks.options import SR_CODECS

    names = ["" if n.strip() == "none" else n.strip() for n in spec.split(",") if n.strip()] or [""]
    for n in names:
        if n and n not in SR_CODECS:
            raise UsageError(
                f"--codecs: unknown codec {n!r}; use names from: {', '.join(SR_CODECS)} (or none)"
            )
        if n:
            try:
                check_codec(n, sample_rate / ratio)
            except ValueError as e:
                raise UsageError(f"--codecs: {e}") from None
    return names


def resampler_names(spec: str) -> list[str]:
    """`--resamplers` as a list of registry names; UsageError listing the names for an unknown one."""
    from jaxsr.tasks.resampling import RESAMPLERS

    names = (
        list(RESAMPLERS)
        if spec.strip() == "all"
        else [n.strip() for n in spec.split(",") if n.strip()]
    )
    unknown = [n for n in names if n not in RESAMPLERS]
    if not names:
        raise UsageError(f"--resamplers is empty; use names from: {', '.join(RESAMPLERS)} (or all)")
    if unknown:
        raise UsageError(
            f"--resamplers: unknown resampler {unknown[0]!r}; use names from: "
            f"{', '.join(RESAMPLERS)} (or all)"
        )
    return names


def setup(args: argparse.Namespace):
    """(model or None, config) for the run; UsageError for a checkpoint that is not an sr model."""
    from jaxsr.config import default_config

    if args.checkpoint is None:
        config = default_config()
        config.data.sample_rate = args.sample_rate or 16000
        config.task.update(name="sr", ratio=args.ratio or 4)
        try:
            from jaxsr.tasks.options import check_ratio

            check_ratio(config.task.ratio)
        except ValueError as e:
            raise UsageError(f"--ratio: {e}") from None
        return None, config
    return load_task_model(
        args, "sr", args.ratio
    )  # the config is a copy: each row changes its task


# ------------------------------------------------------------------------------------------ scoring
def score_resampler(
    name: str,
    clips: list[tuple[str, np.ndarray]],
    config,
    model,
    seed: int,
    batch_size: int | None,
    codec: str = "",
) -> dict:
    """One row: the spline, sinc and (with a model) the model on `clips` brought low by resampler `name`
    (then through `codec`, "" for none). Per file: SNR and LSD of each, the SNR below and above the low
    Nyquist, and the model's kept band (its output against the sinc interpolation of its input, below
    `KEPT_BAND` of the low Nyquist)."""
    from jaxsr import evaluation, metrics
    from jaxsr.tasks import upsampling

    config.task.sr_degradation = name
    config.task.sr_codec = codec
    config.task.sr_codec_prob = (
        0.0  # a row is one codec or none, even for a model trained through random ones
    )
    rate, ratio = int(config.data.sample_rate), int(config.task.ratio)
    low_rate = rate / ratio

    per_file = []
    for k, (cid, y) in enumerate(clips):
        # The example `launch/evaluate.py --degradation NAME` scores (its x is the model's front end's).
        ex = evaluation.clip_example(y, config, k, seed, clip_id=cid)
        x_lr = resampling.sr_lowrate(y, ratio, name)
        if codec:
            x_lr = apply_codec(x_lr, low_rate, codec)
        target = ex["y"]
        outs = {
            "spline": upsampling.spline_upsample(x_lr, ratio, len(y)),
            "sinc": upsampling.soxr_upsample(x_lr, ratio, len(y), quality="VHQ"),
        }
        if model is not None:
            outs["model"] = evaluation.restore(model.variables, config, ex, batch_size)
        f = {"id": cid}
        for who, out in outs.items():
            f[who] = {
                "snr": metrics.snr(target, out),
                "lsd": metrics.lsd(target, out),
                "snr_in": metrics.band_snr(target, out, rate, 0, low_rate / 2),
                "snr_above": metrics.band_snr(target, out, rate, low_rate / 2, rate / 2),
            }
        if model is not None:
            f["kept_band_db"] = metrics.band_snr(
                outs["sinc"], outs["model"], rate, 0, KEPT_BAND * low_rate / 2
            )
        per_file.append(f)

    def stat(who: str, key: str) -> tuple[float, float]:
        return evaluation.mean_ci95(f[who][key] for f in per_file)

    keys = ("snr", "lsd", "snr_in", "snr_above")
    row = {
        "resampler": name,
        "codec": codec or None,
        "description": resampling.describe_chain(name),
        "per_file": per_file,
    }
    for who in ("spline", "sinc") + (("model",) if model is not None else ()):
        row[who] = {k: stat(who, k)[0] for k in keys}
        row[f"{who}_ci95"] = {k: stat(who, k)[1] for k in keys}
    if model is None:
        row.update(
            model=None, model_ci95=None, snr_gain_db=None, lsd_change=None, best_baseline=None
        )
        return row
    best = "sinc" if row["sinc"]["snr"] >= row["spline"]["snr"] else "spline"
    row.update(
        best_baseline=best,
        snr_gain_db=row["model"]["snr"] - row[best]["snr"],
        spline_gain_db=row["model"]["snr"] - row["spline"]["snr"],
        lsd_change=row["model"]["lsd"] / row["spline"]["lsd"] - 1.0,
        kept_band_db={
            "mean": float(np.mean([f["kept_band_db"] for f in per_file])),
            "min": float(np.min([f["kept_band_db"] for f in per_file])),
        },
    )
    return row


def goals(rows: list[dict], ratio: int) -> dict | None:
    """The goals over the sweep, measured; None without a model. x4: on every resampler at least the sinc's
    SNR and the spline's + 0.5 dB, LSD 40% under the spline's, the kept band at 30 dB or more; the sweep's
    mean at least the spline + 1.0 dB; the paper's decimator at least the spline + 1.5 dB. Other ratios:
    never below the stronger baseline, LSD 30% under the spline's, the kept band at 30 dB or more."""
    if not rows or rows[0]["model"] is None:
        return None
    strict = ratio == 4
    worst_best = min(r["snr_gain_db"] for r in rows)
    worst_spline = min(r["spline_gain_db"] for r in rows)
    worst_lsd = max(r["lsd_change"] for r in rows)
    worst_kept = min(r["kept_band_db"]["min"] for r in rows)
    mean_spline = float(np.mean([r["spline_gain_db"] for r in rows]))
    lsd_goal = GOAL_LSD_REDUCTION if strict else GOAL_LSD_REDUCTION_OTHER
    g = {
        "never_below_best_baseline": {"worst_gain_db": worst_best, "met": worst_best >= 0.0},
        "lsd_lower_everywhere": {
            "goal": lsd_goal,
            "worst_change": worst_lsd,
            "met": worst_lsd <= -lsd_goal,
        },
        "kept_band_30db": {"worst_db": worst_kept, "met": worst_kept >= GOAL_KEPT_BAND_DB},
    }
    if strict:
        paper = [
            r["spline_gain_db"] for r in rows if r["resampler"] == "paper" and not r.get("codec")
        ]
        g["spline_plus_half_everywhere"] = {
            "worst_gain_db": worst_spline,
            "met": worst_spline >= 0.5,
        }
        g["mean_spline_gain_1db"] = {
            "mean_gain_db": mean_spline,
            "met": mean_spline >= GOAL_MEAN_SNR_GAIN_DB,
        }
        if paper:
            g["paper_spline_gain_1_5db"] = {"gain_db": paper[0], "met": paper[0] >= 1.5}
    g["all_met"] = all(v["met"] for v in g.values())
    return g


def per_speaker(rows: list[dict]) -> list[dict]:
    """Per speaker, means over its files and the resamplers of the sweep: SNR of spline, sinc and model, the
    model's gain over the stronger baseline, and the LSD change against the spline."""
    from benchmarks.common import by_speaker, speaker_of

    ids = [f["id"] for f in rows[0]["per_file"]]
    vals: dict[str, list[float]] = {}
    for who in ("spline", "sinc", "model"):
        vals[who] = [
            float(np.mean([r["per_file"][i][who]["snr"] for r in rows])) for i in range(len(ids))
        ]
    vals["gain"] = [m - max(a, b) for m, a, b in zip(vals["model"], vals["spline"], vals["sinc"])]
    vals["lsd_change"] = [
        float(
            np.mean(
                [
                    r["per_file"][i]["model"]["lsd"] / r["per_file"][i]["spline"]["lsd"] - 1
                    for r in rows
                ]
            )
        )
        * 100
        for i in range(len(ids))
    ]
    return by_speaker([speaker_of(i) for i in ids], vals)


# ------------------------------------------------------------------------------------------ output
def table(rows: list[dict]) -> str:
    def f(v, fmt=".2f"):
        return "—" if v is None else format(v, fmt)

    def ci(r, who, k="snr"):
        return "—" if r.get(who) is None else f"{r[who][k]:.2f} ± {r[f'{who}_ci95'][k]:.2f}"

    head = [
        "resampler",
        "SNR spline",
        "SNR sinc",
        "SNR model",
        "model − stronger (dB)",
        "model − spline (dB)",
        "LSD spline",
        "LSD model",
        "LSD vs spline",
        "kept band (dB, min)",
        "SNR below / above low Nyquist: sinc",
        "model",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in rows:
        m = r["model"] or {}
        kept = r.get("kept_band_db")
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{r['resampler']}`" + (f" → `{r['codec']}`" if r.get("codec") else ""),
                    ci(r, "spline"),
                    ci(r, "sinc"),
                    ci(r, "model"),
                    "—" if r["snr_gain_db"] is None else f"**{r['snr_gain_db']:+.2f}**",
                    "—" if r["snr_gain_db"] is None else f"{r['spline_gain_db']:+.2f}",
                    f(r["spline"]["lsd"]),
                    f(m.get("lsd")),
                    "—" if r["lsd_change"] is None else f"**{100 * r['lsd_change']:+.0f}%**",
                    "—" if kept is None else f"{kept['mean']:.1f} ({kept['min']:.1f})",
                    f"{r['sinc']['snr_in']:.2f} / {r['sinc']['snr_above']:.2f}",
                    "—" if not m else f"{m['snr_in']:.2f} / {m['snr_above']:.2f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def goal_lines(g: dict) -> list[str]:
    ok = {True: "met", False: "**NOT met**"}
    out = [
        f"- Never below the stronger baseline (spline or sinc) on any resampler: worst "
        f"{g['never_below_best_baseline']['worst_gain_db']:+.2f} dB: {ok[g['never_below_best_baseline']['met']]}.",
        f"- At least {100 * g['lsd_lower_everywhere']['goal']:.0f}% lower LSD than the spline on every resampler: "
        f"worst {100 * g['lsd_lower_everywhere']['worst_change']:+.0f}%: {ok[g['lsd_lower_everywhere']['met']]}.",
        f"- The kept band (below {KEPT_BAND} of the low Nyquist) within 30 dB of the sinc interpolation of the "
        f"input, every file: worst {g['kept_band_30db']['worst_db']:.1f} dB: {ok[g['kept_band_30db']['met']]}.",
    ]
    if "spline_plus_half_everywhere" in g:
        s = g["spline_plus_half_everywhere"]
        m = g["mean_spline_gain_1db"]
        out += [
            f"- At least the spline + 0.5 dB on every resampler: worst {s['worst_gain_db']:+.2f} dB: {ok[s['met']]}.",
            f"- At least the spline + 1.0 dB on average over the sweep: {m['mean_gain_db']:+.2f} dB: {ok[m['met']]}.",
        ]
        if "paper_spline_gain_1_5db" in g:
            p = g["paper_spline_gain_1_5db"]
            out.append(
                f"- With the paper's decimator at least the spline + 1.5 dB: {p['gain_db']:+.2f} dB: {ok[p['met']]}."
            )
    return out


def report(result: dict) -> str:
    """The Markdown report: heading line, table, goals, per speaker, and what each resampler is."""
    from benchmarks.common import several_speakers, speaker_table

    speakers = (
        []
        if not several_speakers(result.get("per_speaker"))
        else [
            "",
            "Per speaker (means over its files and the sweep; SNR dB; the gain is over the stronger baseline):",
            "",
            speaker_table(
                result["per_speaker"],
                [
                    ("spline", "SNR spline"),
                    ("sinc", "SNR sinc"),
                    ("model", "SNR model"),
                    ("gain", "model − stronger"),
                    ("lsd_change", "LSD vs spline (%)"),
                ],
            ),
        ]
    )
    return held_out_report(
        f"sr r={result['ratio']}",
        result,
        f"trained with task.sr_degradation={result['trained_with']!r}",
        "Mean ± 95% interval over files; SNR in dB, LSD log10 (jaxsr.metrics).",
        table(result["rows"]),
        goal_lines,
        [
            "sinc: soxr VHQ from the low rate back (band-limited interpolation: the input's own band, nothing above "
            "it); spline: the paper's cubic spline. A model is judged against the stronger of the two. Kept band: "
            f"the model's output against the sinc interpolation of its input below {KEPT_BAND} of the low Nyquist "
            "(mean over files, worst file in brackets). SNR below / above the low Nyquist: the error inside the "
            "band the input had and in the band it lacked, each against the reference's energy there.",
            *speakers,
            "",
            "Resamplers (cutoffs as a fraction of the low rate's Nyquist):",
            "",
            *dict.fromkeys(f"- `{r['resampler']}`: {r['description']}" for r in result["rows"]),
            *(
                []
                if not result.get("codecs")
                else [
                    "",
                    "Codecs (libsndfile, in memory, at the low rate; encoder delay trimmed on decoding): pcm8 8-bit PCM, "
                    "ulaw / alaw G.711 (telephony), mp3 / vorbis / opus at libsndfile's default quality.",
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
    log(
        f"{len(clips)} held-out file(s) at {rate} Hz, r={ratio}; resamplers: {', '.join(names)}"
        + (f"; codecs: {', '.join(c or 'none' for c in codecs)}" if any(codecs) else "")
    )
    rows = []
    for codec, name in itertools.product(codecs, names):
        rows.append(score_resampler(name, clips, config, model, args.seed, args.batch_size, codec))
        r = rows[-1]
        log(
            f"  {name}{' -> ' + codec if codec else ''}: spline SNR {r['spline']['snr']:.2f} LSD {r['spline']['lsd']:.2f}"
            f"; sinc SNR {r['sinc']['snr']:.2f}"
            + (
                ""
                if r["model"] is None
                else f"; model SNR {r['model']['snr']:.2f} LSD {r['model']['lsd']:.2f}"
            )
        )
    result = {
        "benchmark": "robustness",
        "checkpoint": args.checkpoint,
        "step": model.step if model else None,
        "trained_with": trained_with if model else None,
        "task": "sr",
        "ratio": ratio,
        "sample_rate": rate,
        "data": display_path(args.data),
        "held_out": args.held_out,
        "n_files": len(clips),
        "seed": args.seed,
        "polarity": polarity(args),
        "codecs": [c for c in codecs if c],
        "files": [cid for cid, _ in clips],
        "rows": rows,
        "goals": goals(rows, ratio),
        "per_speaker": per_speaker(rows) if model is not None else None,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    where = held_out_label(args)[0]
    if any(codecs):  # a section per model kind, beside the resampler sweep's
        return emit(
            result,
            args,
            argv,
            report,
            section_markers(f"robustness-codecs-x{ratio}-{rate // 1000}k", args),
            f"Robustness to codecs: `sr` x{ratio} at {rate} Hz, {where}",
        )
    return emit(
        result,
        args,
        argv,
        report,
        section_markers(f"robustness-x{ratio}-{rate // 1000}k", args),
        f"Robustness to the resampler: `sr` x{ratio} at {rate} Hz, {where}",
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
