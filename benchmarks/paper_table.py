"""Kuleshov et al. 2017's Table 1 for the data at hand: SNR and LSD of the cubic spline and the U-Net, r = 2, 4, 6.

    python -m benchmarks.paper_table --quick            # smoke run: 2 held-out speech files, spline rows
    python -m benchmarks.paper_table                    # the 10 unseen speakers (--set speech44k: speech-44k)
    python -m benchmarks.paper_table --plot quality.png # ... plus a figure of SNR and LSD against r
    python -m benchmarks.paper_table --checkpoint-r4 runs/speech \\
        --vctk /data/VCTK-Corpus-0.92.zip --checkpoint-r4 vctk_single=runs/vctk_r4

Datasets (column groups):
  voices       the held-out set, always run: by default (`--set voices`) the 10 unseen speakers of
               ../shared/data/librispeech-261/test; `--set speech44k` (key speech44k) the 20 files of
               speech-44k that sort last (the test split of configs/speech.py); `--data DIR` (key data)
               another folder's `--held-out` files (benchmarks/common.py).
  vctk_single  with `--vctk PATH`: VCTK p225, the paper's test recordings (configs/vctk.py); the paper's
               "single speaker" column.
  vctk_multi   with `--vctk PATH`: the paper's held-out speakers (configs/vctk_multi.py); "multi-speaker".
  musdb        with `--musdb PATH`: MUSDB18 test mixtures (configs/musdb.py). The paper's music column is a
               piano corpus (Beethoven sonatas) that jaxsr does not build, so nothing published compares.

`--checkpoint-r2/-r4/-r6 [DATASET=]WORKDIR` (repeatable) gives the U-Net for that ratio, for every dataset
or only DATASET; a ratio without one gets spline-only cells and "—" for the model. Every clip is read at
`--sample-rate` (16 kHz, the paper's), degraded by `jaxsr.tasks.degrade` (order-8 Chebyshev lowpass, decimation,
cubic spline back) and scored on the whole clip; a cell is the mean over clips. Both LSD definitions are
shown: `lsd` (log10, the usual one) and `lsd_paper` (the reference code's ln variant, which the paper's
tables report; see jaxsr/metrics.py). Output: a Markdown table, then one JSON line (the last on stdout);
`--plot PNG` also draws SNR and LSD against r, with 95% confidence intervals (benchmarks/plotting.py).
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

import numpy as np

if (
    not __package__
):  # run as `python benchmarks/paper_table.py`: the repository root, for `benchmarks.*`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    UsageError,
    add_held_out_args,
    by_speaker,
    held_out_files,
    held_out_label,
    parser,
    read_clips,
    several_speakers,
    speaker_of,
)

RATIOS = (2, 4, 6)
DATASETS = ("voices", "speech44k", "data", "vctk_single", "vctk_multi", "musdb")
TITLES = {
    "voices": "unseen speakers",
    "data": "held-out files",
    "speech44k": "speech-44k",
    "vctk_single": "VCTK single",
    "vctk_multi": "VCTK multi",
    "musdb": "MUSDB18",
}
ROWS = (("snr", "SNR (dB)"), ("lsd", "LSD (log10)"), ("lsd_paper", "LSD (paper def.)"))

# Kuleshov, Enam & Ermon, "Audio Super Resolution using Neural Networks", ICLR 2017 workshop track
# (arXiv:1708.00853), Table 1: SNR and LSD (the reference code's ln definition = our `lsd_paper`) of
# Spline, DNN (the Li et al. 2015 baseline) and the U-Net ("Ours" in the paper), keyed
# (paper column, ratio) -> {"spline": (snr, lsd), "dnn": (snr, lsd), "unet": (snr, lsd)}.
# Deliberately empty: the cells could not be checked against the paper's text when this was written,
# and unchecked numbers would be worse than none. Cells without a value print "see paper".
PUBLISHED: dict[tuple[str, int], dict[str, tuple[float, float]]] = {}
PAPER_COLUMNS = (("single", "single speaker"), ("multi", "multi-speaker"), ("piano", "piano"))


# ------------------------------------------------------------------------------------------- data
def dataset_clips(
    name: str, path: str, sample_rate: int, data_dir: str | None, limit: int | None
) -> list[tuple[str, np.ndarray]]:
    """The test clips of dataset `name` (`DATASETS` but the held-out set, whose files are `held_out_files`) at
    `sample_rate`; `limit` keeps the first few."""
    from jaxsr.configs import musdb, vctk, vctk_multi
    from jaxsr.data import builders

    config = {"vctk_single": vctk, "vctk_multi": vctk_multi, "musdb": musdb}[name].get_config()
    config.data.path = path
    config.data.sample_rate = sample_rate
    source = builders.load_split(config.data, "test", data_dir)
    n = min(len(source), limit) if limit else len(source)
    return [(str(source[i]["id"]), np.asarray(source[i]["audio"], np.float32)) for i in range(n)]


# --------------------------------------------------------------------------------------- scoring
def sr_config(sample_rate: int, ratio: int):
    from jaxsr.config import default_config

    config = default_config()
    config.data.sample_rate = sample_rate
    config.task.update(name="sr", ratio=ratio)
    return config


def load_model(workdir: str, ratio: int, sample_rate: int, which: str):
    """The U-Net of `workdir`, checked to be an sr model for `ratio` at `sample_rate`."""
    from jaxsr.inference import load, resolve_task

    model = load(workdir, which)
    try:
        resolve_task(model.config, "sr", ratio)
    except ValueError as e:
        raise ValueError(f"--checkpoint-r{ratio} {workdir}: {e}") from None
    if model.config.data.sample_rate != sample_rate:
        rate = model.config.data.sample_rate
        raise ValueError(
            f"--checkpoint-r{ratio} {workdir}: the model works at {rate} Hz, the table at --sample-rate "
            f"{sample_rate}; pass --sample-rate {rate}."
        )
    return model


def score(clips: list[tuple[str, np.ndarray]], ratio: int, sample_rate: int, model=None) -> dict:
    """Summary (`jaxsr.evaluation.summarize`) of the spline (baseline) and, given a model, the U-Net.

    Both see the paper's decimator. The baseline is the paper's cubic spline whatever the model; the model
    gets its own front end (a model trained with the windowed-sinc one reads that), on the same low-rate
    input: the decimator draws nothing, so both rows restore the same samples."""
    import copy

    from jaxsr import evaluation

    def summary(config, with_model):
        examples = [
            evaluation.clip_example(y, config, k, clip_id=cid) for k, (cid, y) in enumerate(clips)
        ]
        if with_model:
            return evaluation.evaluate(model.variables, config, examples)
        return evaluation.evaluate_baseline(config, examples)

    spline = summary(sr_config(sample_rate, ratio), False)
    if model is None:
        return spline
    config = copy.deepcopy(model.config)
    config.task.sr_degradation = "paper"
    unet = summary(config, True)
    per_file = [{**b, "model": u["model"]} for b, u in zip(spline["per_file"], unet["per_file"])]
    return {
        **spline,
        "model": unet["model"],
        "model_ci95": unet["model_ci95"],
        "per_file": per_file,
    }


# ----------------------------------------------------------------------------------------- table
def _published_cell(column: str, ratio: int, metric: str) -> str:
    if metric == "lsd":
        return "—"  # the paper reports only the ln variant
    cell = PUBLISHED.get((column, ratio))
    if not cell:
        return "see paper"
    i = 0 if metric == "snr" else 1
    return " / ".join(f"{cell[m][i]:.1f}" if m in cell else "?" for m in ("spline", "dnn", "unet"))


def per_speaker(summary: dict) -> list[dict]:
    """Per-speaker mean SNR of the spline and (when scored) the U-Net, from a summary's per-file metrics."""
    files = summary["per_file"]
    values = {"spline": [f["baseline"]["snr"] for f in files]}
    if all(f["model"] for f in files):
        values["unet"] = [f["model"]["snr"] for f in files]
    return by_speaker([speaker_of(f["id"]) for f in files], values)


def speaker_markdown(results: dict) -> str:
    """Per speaker, each dataset and ratio with a U-Net: SNR of the spline and of the U-Net."""
    lines = []
    for name, res in results.items():
        for r, cell in res["ratios"].items():
            if not cell["unet"] or not several_speakers(cell["per_speaker"]):
                continue
            lines += [
                f"Per speaker, {TITLES[name]}, r={r} (SNR in dB, mean over the speaker's clips):",
                "",
                "| speaker | clips | spline | U-Net | U-Net - spline |",
                "|---|---:|---:|---:|---:|",
            ]
            lines += [
                f"| {s['speaker']} | {s['n_files']} | {s['spline']:.2f} | {s['unet']:.2f} | "
                f"{s['unet'] - s['spline']:+.2f} |"
                for s in cell["per_speaker"]
            ]
            lines.append("")
    return "\n".join(lines)


def markdown(results: dict, sample_rate: int) -> str:
    names = list(results)
    head = ["r", "metric"]
    for n in names:
        head += [f"{TITLES[n]} Spline", f"{TITLES[n]} U-Net"]
    head += [f"paper (published) {title}: Spline / DNN / U-Net" for _, title in PAPER_COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in RATIOS:
        for metric, label in ROWS:
            row = [str(r), label]
            for n in names:
                cell = results[n]["ratios"][r]
                row.append(f"{cell['spline'][metric]:.2f}")
                row.append(f"{cell['unet'][metric]:.2f}" if cell["unet"] else "—")
            row += [_published_cell(col, r, metric) for col, _ in PAPER_COLUMNS]
            lines.append("| " + " | ".join(row) + " |")
    counts = ", ".join(f"{TITLES[n]}: {results[n]['n_files']} held-out clips" for n in names)
    notes = [
        f'Ours: mean over whole clips at {sample_rate} Hz ({counts}); U-Net "—": no checkpoint given for '
        "that ratio.",
        "LSD (log10): the standard definition (log10 power, RMS over frequency per frame, mean over frames). "
        "LSD (paper def.): the reference code's `compute_log_distortion` (ln power, mean over time inside the root, "
        "over frequency outside), which is what the paper's Table 1 reports: compare published LSD with that row only.",
        "paper (published): Kuleshov, Enam & Ermon 2017 (arXiv:1708.00853), Table 1, SNR / LSD of Spline, DNN (the Li "
        "et al. 2015 baseline) and their U-Net, on VCTK single speaker (p225), VCTK multi-speaker and a piano corpus. "
        '"see paper": not transcribed, because the values could not be checked against the paper\'s text here.',
        "speech-44k is not in the paper; MUSDB18 is music, but not the paper's piano corpus.",
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(f"{i}. {n}" for i, n in enumerate(notes, 1))


# ------------------------------------------------------------------------------------------ main
def _parse_checkpoints(values: list[str] | None, ratio: int) -> dict[str | None, str]:
    """`[DATASET=]DIR` flags -> {dataset or None (all): workdir}."""
    out: dict[str | None, str] = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        key = name if sep and name in DATASETS else None
        if sep and key is None and not pathlib.Path(v).exists():
            raise ValueError(
                f"--checkpoint-r{ratio} {v}: {name!r} is not one of {DATASETS}; use DATASET=WORKDIR "
                "or WORKDIR."
            )
        out[key] = path if key else v
    return out


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    add_held_out_args(p, "--speech44k")
    p.add_argument(
        "--vctk", help="VCTK-Corpus folder or zip: adds the single- and multi-speaker columns"
    )
    p.add_argument("--musdb", help="MUSDB18(-HQ) folder or zip: adds a music column")
    for r in RATIOS:
        p.add_argument(
            f"--checkpoint-r{r}",
            action="append",
            metavar="[DATASET=]WORKDIR",
            help=f"sr r={r} model, for every dataset or only DATASET (repeatable)",
        )
    p.add_argument(
        "--which", default="latest", help="checkpoint in each workdir: latest, best or a step"
    )
    p.add_argument(
        "--sample-rate", type=int, default=16000, help="target rate in Hz (paper: 16000)"
    )
    p.add_argument("--data-dir", help="dataset cache for VCTK / MUSDB builds (default: jaxsr's)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 clips per dataset")
    p.add_argument("--plot", metavar="PNG", help="also write SNR and LSD against r to this PNG")
    args = p.parse_args(argv)

    try:  # the held-out set (`--set`, `--data`) is always scored; its key names it
        held_out = held_out_files(args)[1]
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    held_key = held_out_label(args)[1]
    sources = {
        held_key: args.data,
        "vctk_single": args.vctk,
        "vctk_multi": args.vctk,
        "musdb": args.musdb,
    }
    t0 = time.perf_counter()
    try:
        checkpoints = {r: _parse_checkpoints(getattr(args, f"checkpoint_r{r}"), r) for r in RATIOS}
        models = {}  # (ratio, workdir) -> Model, loaded once
        for r, per in checkpoints.items():
            for workdir in per.values():
                models[(r, workdir)] = load_model(workdir, r, args.sample_rate, args.which)
        results = {}
        for name, path in sources.items():
            if not path:
                continue
            limit = 2 if args.quick else None
            clips = (
                read_clips(held_out[:limit], args.sample_rate)
                if name == held_key
                else dataset_clips(name, path, args.sample_rate, args.data_dir, limit)
            )
            print(f"{TITLES[name]}: {len(clips)} clips at {args.sample_rate} Hz", file=sys.stderr)
            results[name] = {"n_files": len(clips), "ratios": {}}
            for r in RATIOS:
                workdir = checkpoints[r].get(name, checkpoints[r].get(None))
                summary = score(clips, r, args.sample_rate, models.get((r, workdir)))
                results[name]["ratios"][r] = {
                    "spline": summary["baseline"],
                    "spline_ci95": summary["baseline_ci95"],
                    "unet": summary["model"] or None,
                    "unet_ci95": summary["model_ci95"] or None,
                    "checkpoint": str(models[(r, workdir)].path) if workdir else None,
                    "per_speaker": per_speaker(summary),
                }
                print(
                    f"  r={r}: spline SNR {summary['baseline']['snr']:.2f} dB"
                    + (f", U-Net {summary['model']['snr']:.2f} dB" if summary["model"] else ""),
                    file=sys.stderr,
                )
    except (UsageError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(markdown(results, args.sample_rate))
    print("\n" + speaker_markdown(results))
    print(
        json.dumps(
            {
                "benchmark": "paper_table",
                "sample_rate": args.sample_rate,
                "quick": args.quick,
                "elapsed_s": round(time.perf_counter() - t0, 1),
                "datasets": results,
                "published": {f"{c}/r{r}": v for (c, r), v in PUBLISHED.items()},
            }
        ),
        flush=True,
    )
    if args.plot:  # after the table and JSON, so a plotting failure cannot lose the numbers
        from benchmarks.plotting import plot_quality_vs_ratio

        print(
            f"wrote {plot_quality_vs_ratio(results, args.plot, args.sample_rate, TITLES)}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
