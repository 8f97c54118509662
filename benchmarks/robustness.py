"""Robustness of an `sr` model to the resampler that made its low-rate input (issue 13).

    python -m benchmarks.robustness --checkpoint runs/speech                  # Markdown table on stdout
    python benchmarks/robustness.py --checkpoint runs/speech --json           # one JSON object on stdout
    python -m benchmarks.robustness --checkpoint runs/speech --write-results  # ... and into RESULTS.md
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

`--write-results [FILE]` replaces the section between `<!-- robustness:begin -->` and
`<!-- robustness:end -->` of FILE (default benchmarks/RESULTS.md; appended if the markers are absent)
with the table, the command, the date, device and software. Exit status: 0 done, 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import sys
import time
from typing import Callable

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `benchmarks` and `jaxsr` from a checkout, also as `python benchmarks/robustness.py`

from benchmarks.paper_table import add_held_out_args, read_clips, speech44k_split  # noqa: E402
from jaxsr import cli  # noqa: E402
from jaxsr.files import write_atomic  # noqa: E402

# The default sweep: the paper's decimator and the resamplers people use. decimate_nofilter (aliasing),
# bessel6 (a weak anti-aliasing filter) and butter4_causal are in the registry but not in the goals' sweep;
# name them with --resamplers to see them.
SWEEP = ("paper", "soxr_hq", "soxr_vhq", "soxr_lq", "resample_poly", "fir_lowcut", "butter4", "cheby2", "ellip")
RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- robustness:begin -->", "<!-- robustness:end -->"
# The goals (sr x4 to 16 kHz on the held-out speech).
GOAL_LSD_REDUCTION = 0.35
GOAL_MEAN_SNR_GAIN_DB = 1.0


class UsageError(Exception):
    """A bad flag, checkpoint or data folder: exit status 2."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/robustness.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_model_args(p, required=False, help="an sr model: a packaged name or a training workdir (omit: spline and soxr rows only)")
    add_held_out_args(p)
    p.add_argument("--resamplers", default=",".join(SWEEP),
                   help="comma-separated names of jaxsr.degrade.RESAMPLERS, or 'all' (default: %(default)s)")
    p.add_argument("--ratio", type=int, help="without --checkpoint: the sr ratio (default 4)")
    p.add_argument("--sample-rate", type=int, help="without --checkpoint: the full rate in Hz (default 16000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-file degradation generators")
    p.add_argument("--batch-size", type=int, help="chunks per forward pass (default: the config's eval.batch_size)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout, nothing else")
    p.add_argument("--write-results", nargs="?", const=str(RESULTS_MD), metavar="FILE",
                   help="write the table between the robustness markers of FILE (default: %(const)s)")
    args = p.parse_args(argv)
    cli.check_args(p, args, positive=("held_out", "max_files", "batch_size", "sample_rate"))
    return args


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
    import ml_collections

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
    from jaxsr.inference import load, resolve_task

    try:
        model = load(args.checkpoint, args.which)
        resolve_task(model.config, "sr", args.ratio)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(f"--checkpoint {args.checkpoint}: {e}") from None
    if args.sample_rate is not None and args.sample_rate != model.config.data.sample_rate:
        raise UsageError(f"--sample-rate {args.sample_rate}: the model works at {model.config.data.sample_rate} Hz; "
                         "drop --sample-rate")
    return model, ml_collections.ConfigDict(model.config.to_dict())  # a copy: each row changes its task


# ------------------------------------------------------------------------------------------ scoring
def score_resampler(name: str, clips: list[tuple[str, np.ndarray]], config, model, seed: int,
                    batch_size: int | None) -> dict:
    """One row: spline, soxr and (with a model) model metrics on `clips` brought low by resampler `name`."""
    from jaxsr import degrade, evaluation, metrics

    config.task.sr_degradation = name
    ratio = int(config.task.ratio)
    # The examples `launch/evaluate.py --degradation NAME` scores: x = baseline = the spline.
    examples = [evaluation.clip_example(y, config, k, seed, clip_id=cid) for k, (cid, y) in enumerate(clips)]
    if model is None:
        summary = evaluation.evaluate_baseline(config, examples)
    else:
        summary = evaluation.evaluate(model.variables, config, examples, batch_size=batch_size)
    soxr_files = []
    for ex in examples:
        up = degrade.soxr_upsample(degrade.sr_lowrate(ex["y"], ratio, name), ratio, len(ex["y"]))
        soxr_files.append({"snr": metrics.snr(ex["y"], up), "lsd": metrics.lsd(ex["y"], up)})
    soxr_stats = {k: evaluation.mean_ci95(f[k] for f in soxr_files) for k in ("snr", "lsd")}
    row = {"resampler": name, "description": degrade.describe_chain(name),
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
            f"`{r['resampler']}`", f(r["spline"]["snr"]), f(r["soxr"]["snr"]), f(m.get("snr")),
            "—" if r["snr_gain_db"] is None else f"**{r['snr_gain_db']:+.2f}**",
            f(r["spline"]["lsd"]), f(r["soxr"]["lsd"]), f(m.get("lsd")),
            "—" if r["lsd_change"] is None else f"**{100 * r['lsd_change']:+.0f}%**"]) + " |")
    return "\n".join(lines)


def goal_lines(g: dict | None) -> list[str]:
    if g is None:
        return ["No model (--checkpoint): the goals are not measured."]
    ok = {True: "met", False: "**NOT met**"}
    snr, lsd, mean = g["never_below_spline_snr"], g["lsd_35pct_lower_everywhere"], g["mean_snr_gain_1db"]
    return [f"- Never below the spline's SNR on any resampler: worst {snr['worst_gain_db']:+.2f} dB: {ok[snr['met']]}.",
            f"- At least 35% lower LSD than the spline on every resampler: worst {100 * lsd['worst_change']:+.0f}%: "
            f"{ok[lsd['met']]}.",
            f"- At least +1.0 dB SNR over the spline on average over the sweep: {mean['mean_gain_db']:+.2f} dB: "
            f"{ok[mean['met']]}."]


def report(result: dict) -> str:
    """The Markdown report: heading line, table, goals, and what each resampler is."""
    who = (f"{result['checkpoint']} (step {result['step']}, trained with task.sr_degradation="
           f"{result['trained_with']!r})" if result["checkpoint"] else "no model")
    lines = [f"sr r={result['ratio']} at {result['sample_rate']} Hz: {who}; {result['n_files']} held-out file(s) of "
             f"{result['data']}. Mean over files; SNR in dB, LSD log10 (jaxsr.metrics).", "", table(result["rows"]), "",
             *goal_lines(result["goals"]), "",
             "soxr up: soxr HQ from the low rate back, which leaves the missing band empty; LSD, a log-spectral "
             "distance, punishes an empty band more than the spline's spectral images, so its LSD is the higher.",
             "", "Resamplers (cutoffs as a fraction of the low rate's Nyquist):", ""]
    lines += [f"- `{r['resampler']}`: {r['description']}" for r in result["rows"]]
    return "\n".join(lines)


def emit(result: dict, args, argv: list[str] | None, write: Callable, render: Callable[[dict], str], section: str) -> int:
    """The end of a held-out benchmark: optionally into RESULTS.md, then JSON (`--json`) or Markdown on stdout."""
    if args.write_results:
        write(pathlib.Path(args.write_results), result, argv)
        log(f"wrote the {section} section of {args.write_results}")
    print(json.dumps(result) if args.json else render(result))
    return 0


def display_path(path: str) -> str:
    """`path` relative to the repository when it lies beside it (../shared/...), else as given."""
    resolved = pathlib.Path(path).resolve()
    if resolved.is_relative_to(REPO.parent):
        return os.path.relpath(resolved, REPO)
    return path


def software() -> str:
    import scipy
    import soxr

    parts = [f"Python {platform.python_version()}", f"numpy {np.__version__}", f"scipy {scipy.__version__}",
             f"soxr {soxr.__version__}"]
    try:
        import jax

        parts.append(f"jax {jax.__version__} ({jax.devices()[0].platform})")
    except Exception:  # no jax: a baselines-only run still reports the rest
        pass
    return ", ".join(parts)


def write_results(path: pathlib.Path, result: dict, argv: list[str]) -> None:
    """Replace the marked section of `path` (append it if absent) with this run's report."""
    command = "python -m benchmarks.robustness " + shlex.join(argv)
    block = "\n".join([BEGIN, "## Robustness to the resampler: `sr` (issue 13)", "",
                       f"`{command}` ({datetime.date.today().isoformat()}; {software()}; "
                       f"{os.cpu_count()} CPUs, {result['elapsed_s']:.0f} s).", "",
                       report(result), END])
    replace_section(path, BEGIN, END, block)


def replace_section(path: pathlib.Path, begin: str, end: str, block: str) -> None:
    """Replace the text from marker `begin` to marker `end` of `path` by `block` (which holds both markers);
    append `block` if the markers are absent. Also used by benchmarks/denoise_robustness.py."""
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text and text.index(begin) < text.index(end):
        start, stop = text.index(begin), text.index(end) + len(end)
        text = text[:start] + block + text[stop:]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    write_atomic(path, text)  # a reader never sees half a file


# -------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    t0 = time.perf_counter()
    try:
        names = resampler_names(args.resamplers)
        try:
            files = speech44k_split(pathlib.Path(args.data), args.held_out)[1]
        except (ValueError, FileNotFoundError) as e:
            raise UsageError(f"--data {args.data}: {e}") from None
        model, config = setup(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.max_files:
        files = files[:args.max_files]
    rate, ratio = int(config.data.sample_rate), int(config.task.ratio)
    trained_with = config.task.get("sr_degradation", "paper")
    clips = read_clips(files, rate)
    log(f"{len(clips)} held-out file(s) at {rate} Hz, r={ratio}; resamplers: {', '.join(names)}")
    rows = []
    for name in names:
        rows.append(score_resampler(name, clips, config, model, args.seed, args.batch_size))
        r = rows[-1]
        log(f"  {name}: spline SNR {r['spline']['snr']:.2f} LSD {r['spline']['lsd']:.2f}"
            + ("" if r["model"] is None else f"; model SNR {r['model']['snr']:.2f} LSD {r['model']['lsd']:.2f}"))
    result = {"benchmark": "robustness", "checkpoint": args.checkpoint, "step": model.step if model else None,
              "trained_with": trained_with if model else None, "task": "sr", "ratio": ratio, "sample_rate": rate,
              "data": display_path(args.data), "held_out": args.held_out, "n_files": len(clips), "seed": args.seed,
              "files": [cid for cid, _ in clips], "rows": rows, "goals": goals(rows),
              "elapsed_s": round(time.perf_counter() - t0, 1)}
    return emit(result, args, argv, write_results, report, "robustness")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
