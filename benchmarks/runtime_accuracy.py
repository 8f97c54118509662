"""Accuracy of the runtimes on the held-out speech: each packaged model through every runtime and precision
against jaxsr's own output (XLA, float32).

    python -m benchmarks.runtime_accuracy                                   # Markdown table on stdout
    python benchmarks/runtime_accuracy.py --models speech-sr-x4-16k --json  # one JSON object on stdout
    python -m benchmarks.runtime_accuracy --seconds 4 --write-results       # ... and into RESULTS.md

For each packaged model (`jaxsr.pretrained.names()`, or `--models`) the held-out files are restored on
the model's own held-out condition, degraded exactly as its held-out scores were:

  sr       the paper's decimator to the low rate, cubic spline back (benchmarks/robustness.py's `paper` row);
  denoise  white noise at exactly 5 dB input SNR, no reverberation (benchmarks/denoise_robustness.py's cell);
  inpaint  gaps of exactly 20 ms at the training gap density (benchmarks/restoration_tables.py's row);

each file k seeded by (`--seed`, k) through `jaxsr.evaluation.clip_example`, and restored through the
chunked path `jaxsr evaluate` scores with (`jaxsr.evaluation.restore`) by each runtime in turn:

  xla float32 (the reference: jaxsr's output), stablehlo float32 (a `jax.export` artefact), onnxruntime
  float32 and openvino float32 (an ONNX export), openvino bfloat16 (its CPU plugin's bf16 inference, on
  CPUs with AVX512-BF16 or AMX) and xla bfloat16 (bf16 compute, float32 parameters).

Per model x runtime: the largest |y - y_ref| over every sample of every file (y_ref: XLA float32's
output), the SNR (dB) and LSD (log10) (`jaxsr.metrics`), mean ± 95% interval over files (Student t,
`jaxsr.evaluation.mean_ci95`), and the means' differences from the reference. Where the files come from
more than one speaker (the folder a file sits in), a per-speaker table follows: for each model, the worst
ΔSNR and ΔLSD over the other runtimes, each the runtime's mean over the speaker's files minus the
reference's on the same files (worst: the largest in magnitude). Goals: every float32 runtime within
1e-4 of the reference (max abs diff); bfloat16 within 0.05 dB SNR and 0.01 LSD of the float32 scores. A
runtime whose package is missing (`pip install jaxsr[export]`) says "not installed"; one the CPU cannot
run (bfloat16 without AVX512-BF16/AMX) says so.

Data: `--set` (default: the 10 unseen speakers) or `--data` (benchmarks/common.py), `--max-files` to
score fewer, `--seconds S` to score the first S seconds of each. `--write-results [FILE]` replaces the
section between `<!-- runtime-accuracy-SET:begin -->` and `<!-- runtime-accuracy-SET:end -->` (SET:
voices, speech44k or data) of FILE (default benchmarks/RESULTS.md; appended if absent) with the table,
the command, the date, the CPU (model and bfloat16 flags) and the software. Exit status: 0 done, 2 bad
usage.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import pathlib
import platform
import shlex
import sys
import time

import numpy as np

if (
    not __package__
):  # run as `python benchmarks/runtime_accuracy.py`: the repository root, for `benchmarks.*`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    UsageError,
    add_held_out_args,
    add_output_args,
    by_speaker,
    display_path,
    emit,
    held_out_files,
    log,
    parse,
    parser,
    read_clips,
    section_markers,
    several_speakers,
    speaker_of,
)

# (runtime, precision) rows, the reference first.
ROWS = (
    ("xla", "float32"),
    ("stablehlo", "float32"),
    ("onnxruntime", "float32"),
    ("openvino", "float32"),
    ("openvino", "bfloat16"),
    ("xla", "bfloat16"),
)
REFERENCE = ROWS[0]
# The goals.
MAX_ABS_DIFF_F32 = 1e-4
MAX_D_SNR_BF16_DB = 0.05
MAX_D_LSD_BF16 = 0.01
HEADING = "Runtimes: accuracy on the held-out files"  # README links to its anchor
PACKAGES = ("jax", "jaxlib", "numpy", "onnx", "onnxruntime", "openvino")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = parser(__doc__, "benchmarks/runtime_accuracy.py")
    p.add_argument(
        "--models",
        default="all",
        help="comma-separated packaged model names, or 'all': "
        "jaxsr.pretrained.names() (default: %(default)s)",
    )
    add_held_out_args(p)
    p.add_argument(
        "--seconds",
        type=float,
        help="score only the first S seconds of each file (default: whole files)",
    )
    add_output_args(p, "runtime-accuracy", "seed of the per-file degradation generators")
    args = parse(p, argv)
    if args.seconds is not None and not args.seconds > 0:
        p.error(f"--seconds must be a positive number of seconds; got {args.seconds}")
    return args


def model_names(spec: str) -> list[str]:
    """`--models` as a list of packaged names; UsageError listing the names for an unknown one."""
    from jaxsr import pretrained

    known = pretrained.names()
    names = known if spec.strip() == "all" else [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if not names:
        raise UsageError(f"--models is empty; use names from: {', '.join(known)} (or all)")
    if unknown:
        raise UsageError(
            f"--models: unknown model {unknown[0]!r}; use names from: {', '.join(known)} (or all)"
        )
    return names


# ------------------------------------------------------------------------------------------ scoring
def held_out_condition(config) -> str:
    """Set `config.task` to the model's held-out condition (in place); returns its description."""
    task = config.task.name
    if task == "sr":  # benchmarks/robustness.py's `paper` row
        config.task.sr_degradation = "paper"
        return f"sr x{int(config.task.ratio)}, paper decimator"
    if task == "denoise":  # benchmarks/denoise_robustness.py's white, 5 dB cell
        config.task.update(noise_types=("white",), snr_db=(5.0, 5.0), reverb_prob=0.0)
        return "white noise, 5 dB"
    if task == "inpaint":  # benchmarks/restoration_tables.py's 20 ms row
        config.task.update(gap_ms=(20.0, 20.0))
        return "20 ms gaps"
    raise ValueError(f"unknown task {task!r}")


def held_out_examples(config, clips: list[tuple[str, np.ndarray]], seed: int) -> list[dict]:
    """The examples the model's held-out benchmark scores: file k degraded by the generator of (seed, k);
    for denoise the pool of the other files, as benchmarks/denoise_robustness.py passes it."""
    from jaxsr import evaluation

    if config.task.name == "denoise":
        pool = [y for _, y in clips]
        return [
            evaluation.clip_example(y, config, k, seed, noise_pool=pool, clip_id=cid, exclude=k)
            for k, (cid, y) in enumerate(clips)
        ]
    return [
        evaluation.clip_example(y, config, k, seed, clip_id=cid) for k, (cid, y) in enumerate(clips)
    ]


def score_runtime(
    model, config, examples: list[dict], reference: list[np.ndarray] | None, batch_size: int | None
) -> tuple[dict, list[np.ndarray]]:
    """One row for `model` (already switched to its runtime): its outputs, the largest |y - y_ref| over
    them (0 without `reference`: this is the reference), SNR and LSD per file, their means and 95%
    half-widths. Returns (row, outputs)."""
    from jaxsr import metrics
    from jaxsr.evaluation import mean_ci95, restore

    outputs = [restore(model.variables, config, ex, batch_size, model.forward) for ex in examples]
    snr = [metrics.snr(ex["y"], y) for ex, y in zip(examples, outputs)]
    lsd = [metrics.lsd(ex["y"], y) for ex, y in zip(examples, outputs)]
    ref = outputs if reference is None else reference
    diff = max(float(np.max(np.abs(y - r))) for y, r in zip(outputs, ref))
    (snr_mean, snr_half), (lsd_mean, lsd_half) = mean_ci95(snr), mean_ci95(lsd)
    return {
        "max_abs_diff": diff,
        "snr": snr_mean,
        "lsd": lsd_mean,
        "ci95": {"snr": snr_half, "lsd": lsd_half},
        "per_file": [{"id": ex["id"], "snr": s, "lsd": d} for ex, s, d in zip(examples, snr, lsd)],
    }, outputs


def verdict(row: dict) -> bool | None:
    """The row's goal, met or not; None for the reference and for rows not run."""
    if row["status"] != "ok" or (row["runtime"], row["precision"]) == REFERENCE:
        return None
    if row["precision"] == "float32":
        return row["max_abs_diff"] <= MAX_ABS_DIFF_F32
    return abs(row["d_snr"]) <= MAX_D_SNR_BF16_DB and abs(row["d_lsd"]) <= MAX_D_LSD_BF16


def score_model(name: str, clips_at, seed: int, batch_size: int | None, rows=ROWS) -> list[dict]:
    """Every (runtime, precision) row of `rows` (the reference first) for packaged model `name`;
    `clips_at(rate)` gives the held-out clips at a rate."""
    import ml_collections

    import jaxsr

    model = jaxsr.load(name)
    config = ml_collections.ConfigDict(model.config.to_dict())
    condition = held_out_condition(config)
    examples = held_out_examples(config, clips_at(int(config.data.sample_rate)), seed)
    reference, ref_row, out = None, None, []
    for runtime, precision in rows:
        row = {
            "model": name,
            "task": config.task.name,
            "condition": condition,
            "sample_rate": int(config.data.sample_rate),
            "runtime": runtime,
            "precision": precision,
            "status": "ok",
            "note": None,
            "max_abs_diff": None,
            "snr": None,
            "lsd": None,
            "ci95": None,
            "d_snr": None,
            "d_lsd": None,
            "met": None,
            "elapsed_s": None,
            "per_file": None,
        }
        t0 = time.perf_counter()
        try:
            scored, outputs = score_runtime(
                model.with_runtime(runtime, precision), config, examples, reference, batch_size
            )
        except ImportError as e:  # the export extra (onnx, onnxruntime, openvino) is optional
            row.update(status="not installed", note=str(e))
        except ValueError as e:  # e.g. bfloat16 on a CPU without AVX512-BF16/AMX
            row.update(status="unsupported", note=str(e))
        else:
            if reference is None:
                reference, ref_row = outputs, scored
            row.update(
                scored, d_snr=scored["snr"] - ref_row["snr"], d_lsd=scored["lsd"] - ref_row["lsd"]
            )
        row["elapsed_s"] = round(time.perf_counter() - t0, 2)
        row["met"] = verdict(row)
        out.append(row)
        log(
            f"  {name} {runtime} {precision}: "
            + (
                f"max |y - y_ref| {row['max_abs_diff']:.2e}, SNR {row['snr']:.3f} ({row['d_snr']:+.4f}) dB, "
                f"LSD {row['lsd']:.4f} ({row['d_lsd']:+.5f}) [{row['elapsed_s']:.1f} s]"
                if row["status"] == "ok"
                else f"{row['status']}: {row['note']}"
            )
        )
        if reference is None and row["status"] != "ok":  # nothing to compare the others with
            raise RuntimeError(
                f"{name}: the reference ({runtime} {precision}) failed: {row['note']}"
            )
    return out


def goals(rows: list[dict]) -> dict:
    """The two goals over every model, measured on the rows that ran (`met` None: no row ran)."""

    def worst(rs: list[dict], key: str) -> tuple[float | None, str | None]:
        r = max(rs, key=lambda r: abs(r[key]), default=None)
        return (None, None) if r is None else (r[key], f"{r['model']} {r['runtime']}")

    f32 = [
        r
        for r in rows
        if r["status"] == "ok"
        and r["precision"] == "float32"
        and (r["runtime"], r["precision"]) != REFERENCE
    ]
    bf16 = [r for r in rows if r["status"] == "ok" and r["precision"] == "bfloat16"]
    (diff, diff_row), (d_snr, snr_row), (d_lsd, lsd_row) = (
        worst(f32, "max_abs_diff"),
        worst(bf16, "d_snr"),
        worst(bf16, "d_lsd"),
    )
    g = {
        "float32_max_abs_diff": {
            "rows": len(f32),
            "worst": diff,
            "worst_row": diff_row,
            "met": all(r["met"] for r in f32) if f32 else None,
        },
        "bfloat16_scores": {
            "rows": len(bf16),
            "worst_d_snr": d_snr,
            "worst_d_snr_row": snr_row,
            "worst_d_lsd": d_lsd,
            "worst_d_lsd_row": lsd_row,
            "met": all(r["met"] for r in bf16) if bf16 else None,
        },
        "not_run": [
            f"{r['model']} {r['runtime']} {r['precision']}: {r['status']}"
            for r in rows
            if r["status"] != "ok"
        ],
    }
    mets = [g["float32_max_abs_diff"]["met"], g["bfloat16_scores"]["met"]]
    g["all_met"] = None if None in mets else all(mets)
    return g


def per_speaker(rows: list[dict]) -> list[dict]:
    """Per model and speaker (`by_speaker` rows with the model's name): the reference's mean SNR and LSD,
    and the worst ΔSNR and ΔLSD over the model's other runtimes that ran, each the runtime's mean over the
    speaker's files minus the reference's on the same files (worst: the largest in magnitude; None when
    only the reference ran), with the runtime that gave it."""
    out = []
    for name in dict.fromkeys(r["model"] for r in rows):
        ref, *others = [r for r in rows if r["model"] == name and r["status"] == "ok"]
        values = {m: [f[m] for f in ref["per_file"]] for m in ("snr", "lsd")}
        for i, r in enumerate(others):
            for m in ("snr", "lsd"):
                values[f"d_{m} {i}"] = [f[m] - g[m] for f, g in zip(r["per_file"], ref["per_file"])]
        for s in by_speaker([speaker_of(f["id"]) for f in ref["per_file"]], values):
            row = {"model": name, **{k: s[k] for k in ("speaker", "n_files", "snr", "lsd")}}
            for m in ("snr", "lsd"):
                i = max(range(len(others)), key=lambda i: abs(s[f"d_{m} {i}"]), default=None)
                row[f"worst_d_{m}"] = None if i is None else s[f"d_{m} {i}"]
                row[f"worst_d_{m}_runtime"] = (
                    None if i is None else f"{others[i]['runtime']} {others[i]['precision']}"
                )
            out.append(row)
    return out


# ------------------------------------------------------------------------------------------ machine
def versions() -> dict:
    """Installed versions of the packages the runtimes depend on (None: not installed)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict:
    """The CPU (model, the flags that decide bfloat16: benchmarks/speed.py's `cpu_info`) and its core count."""
    from benchmarks.speed import cpu_info
    from jaxsr.deploy.runtimes import num_cores

    return {**cpu_info(), "cores": num_cores()}


# ------------------------------------------------------------------------------------------- output
def table(rows: list[dict]) -> str:
    def f(v, fmt):
        return "—" if v is None else format(v, fmt)

    ok = {True: "met", False: "**NOT met**", None: "—"}
    head = [
        "model",
        "condition",
        "runtime",
        "precision",
        "max \\|y − y_ref\\|",
        "SNR (dB)",
        "ΔSNR (dB)",
        "LSD",
        "ΔLSD",
        "goal",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|---|" + "---:|" * 5 + "---|"]
    for r in rows:
        cells = [f"`{r['model']}`", r["condition"], r["runtime"], r["precision"]]
        if r["status"] != "ok":
            cells += [r["status"]] + ["—"] * 4 + ["not measured"]
        else:
            ref = (r["runtime"], r["precision"]) == REFERENCE
            goal = (
                "reference"
                if ref
                else f"≤ {MAX_ABS_DIFF_F32:g}: {ok[r['met']]}"
                if r["precision"] == "float32"
                else f"\\|ΔSNR\\| ≤ {MAX_D_SNR_BF16_DB:g}, \\|ΔLSD\\| ≤ {MAX_D_LSD_BF16:g}: {ok[r['met']]}"
            )
            cells += [
                f(r["max_abs_diff"], ".1e"),
                f"{r['snr']:.3f} ± {r['ci95']['snr']:.3f}",
                f(r["d_snr"], "+.4f"),
                f"{r['lsd']:.4f} ± {r['ci95']['lsd']:.4f}",
                f(r["d_lsd"], "+.5f"),
                goal,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speaker_lines(per_speaker: list[dict]) -> list[str]:
    """The per-speaker table (a row per speaker, a column per model: its worst ΔSNR / ΔLSD) under its
    heading; nothing when the files have one speaker."""
    models = list(dict.fromkeys(s["model"] for s in per_speaker))
    if not several_speakers(per_speaker):
        return []
    speakers = list(dict.fromkeys(s["speaker"] for s in per_speaker))
    cell = {(s["model"], s["speaker"]): s for s in per_speaker}

    def fmt(s: dict) -> str:
        if s["worst_d_snr"] is None:
            return "—"
        return f"{s['worst_d_snr']:+.4f} / {s['worst_d_lsd']:+.5f}"

    lines = [
        "",
        "Per speaker (means over its files): for each model, the worst ΔSNR (dB) / ΔLSD over the runtimes "
        "other than the reference (each the largest in magnitude, whichever runtime gave it: the JSON names "
        "it), a runtime's Δ being its mean minus the reference's on the speaker's files:",
        "",
        "| speaker | files | " + " | ".join(f"`{m}`" for m in models) + " |",
        "|---|---:|" + "---:|" * len(models),
    ]
    for spk in speakers:
        n = cell[models[0], spk]["n_files"]
        lines.append(f"| {spk} | {n} | " + " | ".join(fmt(cell[m, spk]) for m in models) + " |")
    return lines


def goal_lines(g: dict) -> list[str]:
    ok = {True: "met", False: "**NOT met**", None: "not measured"}
    f32, bf = g["float32_max_abs_diff"], g["bfloat16_scores"]
    lines = [
        f"- float32 runtimes within {MAX_ABS_DIFF_F32:g} of XLA float32 (max abs diff): "
        + (
            f"worst {f32['worst']:.1e} ({f32['worst_row']}), {f32['rows']} rows: "
            if f32["rows"]
            else ""
        )
        + ok[f32["met"]]
        + ".",
        f"- bfloat16 within {MAX_D_SNR_BF16_DB:g} dB SNR and {MAX_D_LSD_BF16:g} LSD of float32: "
        + (
            f"worst ΔSNR {bf['worst_d_snr']:+.4f} dB ({bf['worst_d_snr_row']}), worst ΔLSD "
            f"{bf['worst_d_lsd']:+.5f} ({bf['worst_d_lsd_row']}), {bf['rows']} rows: "
            if bf["rows"]
            else ""
        )
        + ok[bf["met"]]
        + ".",
    ]
    if g["not_run"]:
        lines.append(f"- Not run: {'; '.join(g['not_run'])}.")
    return lines


def report(result: dict) -> str:
    cpu = result["machine"]
    v = result["versions"]
    span = f"the first {result['seconds']:g} s of each" if result["seconds"] else "whole files"
    soft = ", ".join(f"{k} {v[k] or 'not installed'}" for k in PACKAGES)
    return "\n".join(
        [
            f"Each packaged model through each runtime against jaxsr's own output (XLA, float32) on "
            f"{result['n_files']} held-out file(s) of {result['data']} ({span}), degraded as in the model's held-out "
            f"scores (seed {result['seed']}). max \\|y − y_ref\\|: over every output sample of every file; SNR (dB) "
            "and LSD (log10): mean ± 95% interval over files (jaxsr.metrics); Δ: the mean minus the "
            "reference's.",
            "",
            f"CPU: {cpu['cpu_model']}, {cpu['cores']} cores, flags {', '.join(cpu['cpu_flags']) or 'none of note'}; "
            f"{soft}.",
            "",
            table(result["rows"]),
            "",
            *goal_lines(result["goals"]),
            *speaker_lines(result["per_speaker"]),
        ]
    )


# -------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    t0 = time.perf_counter()
    try:
        names = model_names(args.models)
        files = held_out_files(args)[1]
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cache: dict[int, list] = {}

    def clips_at(rate: int) -> list[tuple[str, np.ndarray]]:
        if rate not in cache:
            clips = read_clips(files, rate)
            n = None if args.seconds is None else int(round(args.seconds * rate))
            cache[rate] = [(cid, y[:n]) for cid, y in clips]
        return cache[rate]

    log(
        f"{len(files)} held-out file(s){'' if args.seconds is None else f', first {args.seconds:g} s of each'}; "
        f"models: {', '.join(names)}"
    )
    rows = []
    for name in names:
        rows += score_model(name, clips_at, args.seed, args.batch_size)
    result = {
        "benchmark": "runtime_accuracy",
        "models": names,
        "data": display_path(args.data),
        "held_out": args.held_out,
        "n_files": len(files),
        "files": [p.name for p in files],
        "seconds": args.seconds,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "goal_thresholds": {
            "float32_max_abs_diff": MAX_ABS_DIFF_F32,
            "bfloat16_d_snr_db": MAX_D_SNR_BF16_DB,
            "bfloat16_d_lsd": MAX_D_LSD_BF16,
        },
        "machine": machine(),
        "versions": versions(),
        "date": datetime.date.today().isoformat(),
        "command": "python -m benchmarks.runtime_accuracy " + shlex.join(argv),
        "rows": rows,
        "goals": goals(rows),
        "per_speaker": per_speaker(rows),
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    return emit(result, args, argv, report, section_markers("runtime-accuracy", args), HEADING)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
