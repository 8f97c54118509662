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

Rates default to those of 4, 8, 11.025, 12, 16, 22.05, 24 and 32 kHz strictly between a model's input and
output rates. Data: `--data`, the `--held-out` files that sort last (default 20). `--write-results [FILE]`
replaces the section between `<!-- between-rates:begin -->` and `<!-- between-rates:end -->` of FILE.
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

from benchmarks.common import (
    held_out_label,
    section_markers,
    UsageError,
    add_held_out_args,
    add_output_args,
    display_path,
    emit,  # noqa: E402
    held_out_files,
    log,
    parse,
    parser,
    read_clips,
)

COMMON_RATES = (4000, 8000, 11025, 12000, 16000, 22050, 24000, 32000)


def score(model, clips: list[np.ndarray], rate: int) -> dict:
    """Mean SNR / LSD over `clips` (`[time]` at the model's output rate) of the three ways, from `rate`."""
    import jaxsr
    from jaxsr import metrics
    from jaxsr.audio_io import resample

    target, want = int(model.sample_rate), float(model.input_rate)
    out = {k: {"snr": [], "lsd": []} for k in ("soxr", "reduced", "enhance")}
    kept = None
    for y in clips:
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
        for k, est in ways.items():
            n = min(len(y), len(est))
            out[k]["snr"].append(metrics.snr(y[:n], est[:n]))
            out[k]["lsd"].append(metrics.lsd(y[:n], est[:n]))
    return {
        "rate": rate,
        "kept_input_band_hz": kept,
        **{k: {m: float(np.mean(v)) for m, v in d.items()} for k, d in out.items()},
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
        lines.append(
            f"| `{r['model']}` | {r['rate'] / 1000:g} kHz | {kept} | "
            + " | ".join(
                f"{r[k][m]:.2f}" if k != "enhance" else f"**{r[k][m]:.2f}**"
                for m in ("snr", "lsd")
                for k in ("soxr", "reduced", "enhance")
            )
            + " |"
        )
    return "\n".join(lines)


def report(result: dict) -> str:
    return "\n".join(
        [
            f"{result['n_files']} held-out file(s) of {result['data']}; SNR in dB, LSD log10, means over files.",
            "",
            table(result["rows"]),
            "",
            "soxr up: the input resampled to the output rate (its own band, nothing above). reduced: the "
            "input brought down to the model's input rate first, then restored (what `enhance` did before). "
            "enhance: the input's own band kept, the model's restoration above it.",
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
        clips = [y for _, y in read_clips(files, int(hi))]
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
