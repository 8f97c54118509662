"""`sr` models on input at a rate between their input and output rates (8 kHz audio for a 4 -> 16 kHz
model): what `jaxsr.enhance` returns, against the path it took before and against plain upsampling.

    python -m benchmarks.between_rates                          # the packaged sr models, Markdown on stdout
    python -m benchmarks.between_rates --models speech-sr-x4-16k --rates 8000 --json
    python -m benchmarks.between_rates --write-results           # ... and into RESULTS.md

Each held-out file is read at the model's output rate (soxr HQ), brought to each `--rates` rate by soxr HQ
(an ordinary file at that rate) and restored three ways, each scored against the file at the output rate:

  soxr up     soxr HQ from that rate to the output rate: the input's own band, nothing above it;
  reduced     the input first brought down to the model's input rate, then restored: what `enhance` did
              before it kept the input's band (the band between the two rates is lost, then re-invented);
  enhance     `jaxsr.enhance(model, audio, sample_rate=rate)`: the input's own band up to 0.95 of its
              Nyquist, the model's restoration above it (`info["kept_input_band_hz"]`).

Each score is the mean ± its 95% interval over files (Student t, `jaxsr.evaluation.mean_ci95`). Where the
files come from more than one speaker (the folder a file sits in), a per-speaker table follows: for each
model and input rate, the speaker's mean of enhance's SNR minus the stronger of soxr up and reduced on each
file. Rates default to those of 4, 8, 11.025, 12, 16, 22.05, 24 and 32 kHz strictly between a model's input
and output rates. Data: `--set` (default: the 10 unseen speakers) or `--data` (benchmarks/common.py).
`--write-results [FILE]` replaces the section between `<!-- between-rates-SET:begin -->` and
`<!-- between-rates-SET:end -->` of FILE (SET: voices, speech44k or data).
"""

from __future__ import annotations

import os
import pathlib
import sys
import time

import numpy as np

if (
    not __package__
):  # run as `python benchmarks/between_rates.py`: the repository root, for `benchmarks.*`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    UsageError,
    add_held_out_args,
    add_output_args,
    by_speaker,
    display_path,
    emit,
    held_out_files,
    held_out_label,
    log,
    parse,
    parser,
    read_clips,
    section_markers,
    several_speakers,
    speaker_of,
    speaker_table,
)

COMMON_RATES = (4000, 8000, 11025, 12000, 16000, 22050, 24000, 32000)
WAYS = ("soxr", "reduced", "enhance")


def score(model, clips: list[tuple[str, np.ndarray]], rate: int) -> dict:
    """SNR / LSD of the three ways from `rate`, over `clips` (`(file id, [time] at the model's output rate)`):
    per file, their means, 95% half-widths and per-speaker means of enhance's SNR and its gain over the
    stronger of the other two ways on each file."""
    import jaxsr
    from jaxsr import evaluation, metrics
    from jaxsr.audio_io import resample

    target, want = int(model.sample_rate), float(model.input_rate)
    per_file, kept = [], None
    for cid, y in clips:
        x = resample(y, target, rate)
        enhanced, info = jaxsr.enhance(model, x, sample_rate=rate, return_info=True)
        kept = info["kept_input_band_hz"]
        ways = {
            "soxr": resample(x, rate, target),
            "reduced": jaxsr.enhance(
                model, resample(x, rate, want, fractional=True), sample_rate=want
            ),
            "enhance": enhanced,
        }
        f = {"id": cid}
        for k, est in ways.items():
            n = min(len(y), len(est))
            f[k] = {"snr": metrics.snr(y[:n], est[:n]), "lsd": metrics.lsd(y[:n], est[:n])}
        per_file.append(f)
    stats = {
        (k, m): evaluation.mean_ci95(f[k][m] for f in per_file)
        for k in WAYS
        for m in ("snr", "lsd")
    }
    return {
        "rate": rate,
        "kept_input_band_hz": kept,
        **{k: {m: stats[k, m][0] for m in ("snr", "lsd")} for k in WAYS},
        "ci95": {k: {m: stats[k, m][1] for m in ("snr", "lsd")} for k in WAYS},
        "per_file": per_file,
        "per_speaker": by_speaker(
            [speaker_of(f["id"]) for f in per_file],
            {
                "enhance": [f["enhance"]["snr"] for f in per_file],
                "gain": [
                    f["enhance"]["snr"] - max(f["soxr"]["snr"], f["reduced"]["snr"])
                    for f in per_file
                ],
            },
        ),
    }


def table(rows: list[dict]) -> str:
    head = [
        "model",
        "input rate",
        "kept band",
        "SNR soxr up",
        "SNR reduced",
        "SNR enhance",
        "LSD soxr up",
        "LSD reduced",
        "LSD enhance",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---" + "|---:" * 6 + "|"]
    for r in rows:
        kept = (
            "—"
            if r["kept_input_band_hz"] is None
            else f"0-{r['kept_input_band_hz'] / 1000:.2f} kHz"
        )
        cells = [f"{r[k][m]:.2f} ± {r['ci95'][k][m]:.2f}" for m in ("snr", "lsd") for k in WAYS]
        lines.append(
            f"| `{r['model']}` | {r['rate'] / 1000:g} kHz | {kept} | "
            + " | ".join(f"**{c}**" if k == "enhance" else c for c, k in zip(cells, WAYS * 2))
            + " |"
        )
    return "\n".join(lines)


def speakers(rows: list[dict]) -> list[str]:
    """The per-speaker table (a row per speaker, a column per model and input rate: enhance's gain over the
    stronger of the other two ways) under its heading; nothing when the files have one speaker."""
    if not several_speakers(rows[0]["per_speaker"]):
        return []
    # Every row scored the same files, so their per-speaker lists hold the same speakers in the same order.
    # (`speaker_table` signs the keys that name a gain.)
    columns = [
        (f"gain {i}", f"`{r['model']}` {r['rate'] / 1000:g} kHz") for i, r in enumerate(rows)
    ]
    merged = [
        {
            "speaker": s["speaker"],
            "n_files": s["n_files"],
            **{key: r["per_speaker"][j]["gain"] for (key, _), r in zip(columns, rows)},
        }
        for j, s in enumerate(rows[0]["per_speaker"])
    ]
    return [
        "",
        "Per speaker (means over its files): SNR of enhance minus the stronger of soxr up and reduced on "
        "each file, dB, for each model and input rate:",
        "",
        speaker_table(merged, columns),
    ]


def report(result: dict) -> str:
    return "\n".join(
        [
            f"{result['n_files']} held-out file(s) of {result['data']}; SNR in dB, LSD log10, mean ± 95% "
            "interval over files.",
            "",
            table(result["rows"]),
            "",
            "soxr up: the input resampled to the output rate (its own band, nothing above). reduced: the "
            "input brought down to the model's input rate first, then restored (what `enhance` did before). "
            "enhance: the input's own band kept, the model's restoration above it.",
            *(speakers(result["rows"]) if result["rows"] else []),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser(__doc__, "benchmarks/between_rates.py")
    p.add_argument(
        "--models",
        help="comma-separated sr models, packaged names or workdirs (default: the packaged sr ones)",
    )
    p.add_argument(
        "--rates",
        help="comma-separated input rates in Hz (default: the common ones between each "
        "model's input and output rates)",
    )
    add_held_out_args(p)
    add_output_args(p, "between-rates", "unused (no random draw); kept for the shared flags")
    args = parse(p, argv)
    from jaxsr import pretrained
    from jaxsr.inference import load

    t0 = time.perf_counter()
    try:
        names = (
            args.models.split(",")
            if args.models
            else [m["name"] for m in pretrained.available() if m["task"] == "sr"]
        )
        models = []
        for n in names:
            try:
                models.append((n, load(n)))
            except (ValueError, FileNotFoundError) as e:
                raise UsageError(f"--models {n}: {e}") from None
            if models[-1][1].task["name"] != "sr":
                raise UsageError(
                    f"--models {n}: a {models[-1][1].task['name']} model; this benchmark is for sr models"
                )
        try:
            rates = [int(r) for r in args.rates.split(",")] if args.rates else None
        except ValueError:
            raise UsageError(f"--rates {args.rates}: give rates in Hz, e.g. 8000,22050") from None
        files = held_out_files(args)[1]
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = []
    for name, model in models:
        lo, hi = float(model.input_rate), float(model.sample_rate)
        clips = read_clips(files, int(hi))
        for rate in rates or COMMON_RATES:
            if not lo < rate < hi:
                continue
            rows.append({"model": name, **score(model, clips, rate)})
            r = rows[-1]
            log(
                f"  {name} from {rate} Hz: SNR soxr {r['soxr']['snr']:.2f} reduced {r['reduced']['snr']:.2f} "
                f"enhance {r['enhance']['snr']:.2f}"
            )
    result = {
        "benchmark": "between_rates",
        "data": display_path(args.data),
        "held_out": args.held_out,
        "n_files": len(files),
        "rows": rows,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    return emit(
        result,
        args,
        argv,
        report,
        section_markers("between-rates", args),
        f"`sr` input between the model's rates, {held_out_label(args)[0]}",
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
