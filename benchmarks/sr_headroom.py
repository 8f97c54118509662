"""How much SNR super-resolution can gain on the held-out speech, before any model: the data's headroom.

    python -m benchmarks.sr_headroom                        # ratios 2, 4, 8 at 16 kHz: Markdown on stdout
    python -m benchmarks.sr_headroom --ratios 3 --sample-rate 48000 --json
    python -m benchmarks.sr_headroom --write-results        # ... and into RESULTS.md

The SNR of an `sr` output splits into what lies below the low rate's Nyquist (the band the input keeps)
and what lies above it (the band the model must invent). For each held-out file at `--sample-rate`
(soxr HQ from the file's rate) and each ratio this prints:

  oracle low band  SNR of the file's own spectrum below the low Nyquist, exact, with nothing above it
                   (a brick-wall FFT mask): the best any method reaches without predicting the missing
                   band's waveform;
  spline           the cubic spline from the low rate, mean over the resamplers of
                   `benchmarks.robustness.SWEEP` (their min and max beside it);
  missing band     its energy relative to the whole file, in octaves above the low Nyquist;
  +1 dB needs      the share of the missing band's energy a model must predict sample-exactly (its
                   waveform, phase included) to gain +1 dB over the spline: (1 - 10^-0.1) x the spline's
                   error energy / the missing band's energy. A prediction with the right spectrum but a
                   random phase adds its own energy to the error: it scores 3 dB *below* the oracle.

Means over files, and per speaker. Data: `--set voices` (default: the 10 unseen speakers of
librispeech-261/test), `--set speech44k` (the last 20 files of speech-44k, one speaker) or any `--data`
folder (its `--held-out` files that sort last). No model is involved: this measures the recordings, so it
may be run on the held-out files without selecting anything on them. `--write-results [FILE]` replaces the
section between `<!-- sr-headroom-SET:begin -->` and `<!-- sr-headroom-SET:end -->` (SET: voices,
speech44k or data) of FILE (default benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import pathlib
import sys
import time

import numpy as np

if (
    not __package__
):  # run as `python benchmarks/sr_headroom.py`: the repository root, for `benchmarks.*`
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
)

GAIN_DB = 1.0


def band_energies(y: np.ndarray, sample_rate: int, edges: list[float]) -> np.ndarray:
    """Energy of `y` `[time]` in each band `[edges[i], edges[i+1])` Hz (Parseval: the bands sum to `sum(y**2)`
    when they cover 0 .. Nyquist)."""
    spec = np.fft.rfft(np.asarray(y, np.float64))
    freqs = np.fft.rfftfreq(len(y), 1.0 / sample_rate)
    power = np.abs(spec) ** 2
    # rfft holds the positive frequencies once; all but DC (and Nyquist for an even length) stand for two.
    power[1 : len(y) // 2 + (len(y) % 2)] *= 2
    power /= len(y)
    return np.array(
        [power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])]
    )


def octave_edges(sample_rate: int, ratio: int) -> list[float]:
    """[0, low Nyquist, 2x, 4x, ..., the full rate's Nyquist (inclusive)]."""
    low = sample_rate / (2 * ratio)
    edges = [0.0, low]
    while edges[-1] * 2 < sample_rate / 2:
        edges.append(edges[-1] * 2)
    return edges + [sample_rate / 2 + 1.0]


def file_row(y: np.ndarray, sample_rate: int, ratio: int, resamplers: list[str]) -> dict:
    """One file's figures at one ratio (see the module docstring)."""
    from jaxsr import metrics
    from jaxsr.tasks.resampling import sr_lowrate
    from jaxsr.tasks.upsampling import spline_upsample

    y = y[: len(y) // ratio * ratio]
    edges = octave_edges(sample_rate, ratio)
    bands = band_energies(y, sample_rate, edges)
    total, missing = float(bands.sum()), float(bands[1:].sum())
    spline = [
        metrics.snr(y, spline_upsample(sr_lowrate(y, ratio, r), ratio, len(y))) for r in resamplers
    ]
    err = total / 10 ** (np.mean(spline) / 10)  # the spline's error energy at its mean SNR
    return {
        "oracle_snr": 10 * np.log10(total / missing),
        "spline_snr": float(np.mean(spline)),
        "spline_min": float(np.min(spline)),
        "spline_max": float(np.max(spline)),
        "octaves_db": [float(10 * np.log10(b / total)) for b in bands[1:]],
        "needed_share": float((1 - 10 ** (-GAIN_DB / 10)) * err / missing),
    }


def table(rows: list[dict]) -> str:
    octs = max(len(r["octaves_db"]) for r in rows)
    head = [
        "ratio",
        "low rate",
        "oracle low band SNR",
        "spline SNR (sweep mean, min-max)",
        "oracle - spline",
        *(f"missing band, octave {i + 1} (dB re all)" for i in range(octs)),
        "+1 dB needs",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        o = [f"{v:.1f}" for v in r["octaves_db"]] + [""] * (octs - len(r["octaves_db"]))
        lines.append(
            f"| {r['ratio']} | {r['low_rate']:g} Hz | {r['oracle_snr']:.2f} | {r['spline_snr']:.2f} "
            f"({r['spline_min']:.2f}-{r['spline_max']:.2f}) | {r['oracle_snr'] - r['spline_snr']:+.2f} dB | "
            + " | ".join(o)
            + f" | **{100 * r['needed_share']:.0f}%** of it |"
        )
    return "\n".join(lines)


def speaker_shares(rows: list[dict]) -> str:
    """Per speaker: the spline's SNR and the share of the missing band +1 dB needs, at each ratio."""
    head = ["speaker", "files"] + [f"r={r['ratio']}: spline SNR / +1 dB needs" for r in rows]
    lines = [
        "Per speaker (means over its files; spline SNR in dB, ± the 95% interval over all files in the "
        "table above: "
        + ", ".join(f"r={r['ratio']} ±{r['ci95']['spline_snr']:.2f}" for r in rows)
        + "):",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---:|" + "---:|" * len(rows),
    ]
    for i, spk in enumerate(rows[0]["per_speaker"]):
        cells = [
            f"{r['per_speaker'][i]['spline_snr']:.2f} / {100 * r['per_speaker'][i]['needed_share']:.0f}%"
            for r in rows
        ]
        lines.append(f"| {spk['speaker']} | {spk['n_files']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(result: dict) -> str:
    return "\n".join(
        [
            f"{result['n_files']} held-out file(s) of {result['data']} at {result['sample_rate']} Hz; means over files. "
            f"Octave 1 is the low Nyquist to twice it, and so on up to {result['sample_rate'] // 2} Hz; the spline's "
            f"resamplers: {', '.join(result['resamplers'])}.",
            "",
            table(result["rows"]),
            "",
            *(
                [speaker_shares(result["rows"]), ""]
                if several_speakers(result["rows"][0]["per_speaker"])
                else []
            ),
            "oracle - spline: what restoring the kept band exactly (undoing the resampler's roll-off, the spline's "
            "images) can gain at most, without inventing anything above the low Nyquist. "
            "+1 dB needs: the share of the missing band's energy a model must predict with its exact waveform to gain "
            "+1 dB over the spline. A model that restores the missing band's spectrum but not its phase scores about "
            "3 dB below the oracle low band, which is why an MSE-trained model restores only what it can place "
            "in phase and otherwise stays near the spline.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser(__doc__, "benchmarks/sr_headroom.py")
    p.add_argument(
        "--ratios", default="2,4,8", help="comma-separated sr ratios (default: %(default)s)"
    )
    p.add_argument(
        "--sample-rate", type=int, default=16000, help="the full rate in Hz (default: %(default)s)"
    )
    add_held_out_args(p)
    add_output_args(p, "sr-headroom", "unused (no random draw); kept for the shared flags")
    args = parse(p, argv)
    from benchmarks.robustness import SWEEP
    from jaxsr import evaluation
    from jaxsr.tasks.options import check_ratio

    t0 = time.perf_counter()
    try:
        try:
            ratios = [check_ratio(int(r)) for r in args.ratios.split(",") if r.strip()]
        except ValueError as e:
            raise UsageError(f"--ratios {args.ratios}: {e}") from None
        if not ratios:
            raise UsageError("--ratios is empty; give e.g. 2,4,8")
        files = held_out_files(args)[1]
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    clips = read_clips(files, args.sample_rate)
    rows = []
    for ratio in ratios:
        per_file = [file_row(y, args.sample_rate, ratio, list(SWEEP)) for _, y in clips]
        row = {
            "ratio": ratio,
            "low_rate": args.sample_rate / ratio,
            **{
                k: float(np.mean([f[k] for f in per_file]))
                for k in ("oracle_snr", "spline_snr", "spline_min", "spline_max", "needed_share")
            },
            "octaves_db": np.mean([f["octaves_db"] for f in per_file], axis=0).tolist(),
            "ci95": {
                k: evaluation.mean_ci95([f[k] for f in per_file])[1]
                for k in ("oracle_snr", "spline_snr")
            },
            "per_speaker": by_speaker(
                [speaker_of(cid) for cid, _ in clips],
                {k: [f[k] for f in per_file] for k in ("spline_snr", "needed_share")},
            ),
        }
        rows.append(row)
        log(
            f"  r={ratio}: oracle {row['oracle_snr']:.2f} dB, spline {row['spline_snr']:.2f} dB, "
            f"+1 dB needs {100 * row['needed_share']:.0f}% of the missing band"
        )
    result = {
        "benchmark": "sr_headroom",
        "sample_rate": args.sample_rate,
        "data": display_path(args.data),
        "held_out": args.held_out,
        "n_files": len(clips),
        "resamplers": list(SWEEP),
        "rows": rows,
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    return emit(
        result,
        args,
        argv,
        report,
        section_markers("sr-headroom", args),
        f"Headroom: what `sr` can gain, {held_out_label(args)[0]}",
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
