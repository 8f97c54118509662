"""A packaged model's scores for its model card and the README table, from a held-out benchmark's JSON.

    python -m benchmarks.robustness --checkpoint runs/x4 --json > x4.json
    python -m benchmarks.card_summary x4.json --headline   # one line: the README / `jaxsr models` table
    python -m benchmarks.card_summary x4.json              # Markdown: the card's "Scores on held-out recordings"

Reads the JSON of `benchmarks.robustness` (sr), `benchmarks.denoise_robustness` (denoise) or
`benchmarks.restoration_tables` (inpaint, its last JSON line), and says what it measured on which files.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np


def _sr(r: dict) -> tuple[str, str]:
    rows = r["rows"]
    gains = [x["snr_gain_db"] for x in rows]
    vs_spline = [x["spline_gain_db"] for x in rows]
    lsd = [x["lsd_change"] for x in rows]
    kept = min(x["kept_band_db"]["min"] for x in rows)
    one_speaker = "speech-44k" in str(r["data"])
    who = "of one speaker (speech-44k)" if one_speaker else "of 10 unseen speakers"
    head = (
        f"{len(rows)} resamplers, {r['n_files']} files {who}: SNR {np.mean(gains):+.2f} dB over "
        f"the stronger of spline and sinc (worst {min(gains):+.2f}), {np.mean(vs_spline):+.2f} dB over the "
        f"spline; LSD {100 * np.mean(lsd):+.0f}% vs spline; kept band >= {kept:.0f} dB"
    )
    lines = [
        f"On {r['n_files']} files "
        + (
            "that sort last in speech-44k, its held-out files of the one speaker it has"
            if one_speaker
            else "of the 10 unseen speakers of librispeech-261/test"
        )
        + f" ({r['data']}), "
        f"each brought to the low rate by each resampler. Mean over files; SNR in dB.",
        "",
        "| resampler | SNR spline | SNR sinc | SNR model | model − stronger | LSD vs spline | kept band (dB, worst) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for x in rows:
        lines.append(
            f"| `{x['resampler']}` | {x['spline']['snr']:.2f} | {x['sinc']['snr']:.2f} | {x['model']['snr']:.2f} "
            f"| {x['snr_gain_db']:+.2f} | {100 * x['lsd_change']:+.0f}% | {x['kept_band_db']['min']:.1f} |"
        )
    lines += (
        []
        if one_speaker
        else [
            "",
            "Per speaker (means over its files and the resamplers):",
            "",
            "| speaker | files | SNR sinc | SNR model | model − stronger | LSD vs spline |",
            "|---|---:|---:|---:|---:|---:|",
        ]
    )
    for s in r["per_speaker"] if not one_speaker else []:
        lines.append(
            f"| {s['speaker']} | {s['n_files']} | {s['sinc']:.2f} | {s['model']:.2f} | {s['gain']:+.2f} | "
            f"{s['lsd_change']:+.0f}% |"
        )
    return head, "\n".join(lines)


def _denoise(r: dict) -> tuple[str, str]:
    g = r["goals"]
    cells = [c for c in r["cells"] if c["noise"] != "clean"]
    head = (
        f"SI-SDR {g['mean_gain']['gain_db']:+.1f} dB mean (white, pink, real noise, other voices' babble; 0-10 dB; "
        f"worst cell {g['worst_cell']['gain_db']:+.1f}); clean speech in: {g['clean_in']['si_sdr_db']:.1f} dB out; "
        "10 unseen speakers"
    )
    lines = [
        f"On {r['n_files']} files of the 10 unseen speakers of librispeech-261/test; noise of each kind at exactly "
        "each input SNR (real noise: the held-out 20% of each recording; babble: other speakers). SI-SDR in dB.",
        "",
        "| noise | input SNR | noisy | model | gain |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in cells:
        lines.append(
            f"| {c['noise']} | {c['snr_db']:g} | {c['noisy']:.2f} | {c['model']:.2f} | {c['gain_db']:+.2f} |"
        )
    clean = next((c for c in r["cells"] if c["noise"] == "clean"), None)
    if clean:
        lines.append(f"| clean (no noise) | — | — | {clean['model']:.2f} | |")
    # Some "clean" recordings carry rumble below 60 Hz, where no voice lies; the denoiser removes it and
    # SI-SDR counts that as error, so the card shows the score above 60 Hz and the rumble's share beside it.
    rumble = bool(r["per_speaker"]) and "clean_above_rumble" in r["per_speaker"][0]
    above = r["goals"]["clean_in"].get("above_rumble_db")
    if rumble and above is not None:
        lines += [
            "",
            f"Clean speech out over the band above 60 Hz: {above:.2f} dB SI-SDR (the measure above counts the "
            "removal of a recording's own rumble below 60 Hz as error).",
        ]
    lines += [
        "",
        "Per speaker:",
        "",
        "| speaker | files | gain (dB) | clean out (dB) |"
        + (" clean out above 60 Hz (dB) | energy below 60 Hz (dB) |" if rumble else ""),
        "|---|---:|---:|---:|" + ("---:|---:|" if rumble else ""),
    ]
    for s in r["per_speaker"]:
        lines.append(
            f"| {s['speaker']} | {s['n_files']} | {s['gain']:+.2f} | {s.get('clean', float('nan')):.2f} |"
            + (f" {s['clean_above_rumble']:.2f} | {s['below_rumble_db']:.2f} |" if rumble else "")
        )
    return head, "\n".join(lines)


def _inpaint(r: dict) -> tuple[str, str]:
    rows = [x for x in r["inpaint"] if x["model"]]
    gain = {x["gap_ms"]: x["model"]["snr_gap"] - x["baseline"]["snr_gap"] for x in rows}
    head = (
        f"SNR in 20 ms gaps {gain.get(20.0, float('nan')):+.1f} dB over linear interpolation on 10 unseen "
        "speakers; the given samples bit-exact"
    )
    lines = [
        f"On {r['n_files']} files of the 10 unseen speakers of librispeech-261/test. SNR inside the gaps, dB.",
        "",
        "| gap | linear interpolation | model | gain |",
        "|---|---:|---:|---:|",
    ]
    for x in rows:
        lines.append(
            f"| {x['gap_ms']:g} ms | {x['baseline']['snr_gap']:.2f} | {x['model']['snr_gap']:.2f} | "
            f"{gain[x['gap_ms']]:+.2f} |"
        )
    at20 = [x for x in rows if x["gap_ms"] == 20.0 and x.get("per_speaker")]
    if at20:
        lines += ["", "Per speaker, 20 ms gaps (gain over linear interpolation, dB):", ""]
        lines += ["| speaker | files | gain |", "|---|---:|---:|"]
        lines += [
            f"| {s['speaker']} | {s['n_files']} | {s['gain']:+.2f} |"
            for s in at20[0]["per_speaker"]
        ]
    return head, "\n".join(lines)


def summarize(result: dict) -> tuple[str, str]:
    """(headline, Markdown) of a benchmark result."""
    kind = result.get("benchmark")
    if kind == "robustness":
        return _sr(result)
    if kind == "denoise_robustness":
        return _denoise(result)
    if "inpaint" in result:
        return _inpaint(result)
    raise ValueError(f"not a result this script knows: benchmark={kind!r}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.card_summary", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("result", help="a benchmark's JSON (the last line of the file is read)")
    p.add_argument("--headline", action="store_true", help="print the one-line headline only")
    args = p.parse_args(argv)
    text = pathlib.Path(args.result).read_text().strip().splitlines()[-1]
    head, body = summarize(json.loads(text))
    print(head if args.headline else body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
