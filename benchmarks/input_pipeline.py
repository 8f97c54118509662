"""Input-pipeline throughput: training patches per second by task, sample rate and worker count.

    python benchmarks/input_pipeline.py            # full table (a few minutes)
    python benchmarks/input_pipeline.py --quick    # smoke run
    python benchmarks/input_pipeline.py --json     # only the JSON line on stdout; the table on stderr
    python benchmarks/input_pipeline.py --tasks sr --rates 16000 --sr-degradation random   # the random chains
    python benchmarks/input_pipeline.py --tasks denoise --rates 16000 --workers 2 \
        --noise-types white,pink,brown,varying,babble_voices --reverb-prob 0.3   # the realistic denoise mix

Every cell builds `jaxsr.data.pipeline.train_loader` on the synthetic corpus (default 64 clips of 4 s)
with 8192-sample patches and batch 32, takes warm-up batches (the first one includes starting the
worker processes, reported as `startup_s`), then counts batches for `--seconds`. Workers: 0 (in the
main process, with one read-ahead thread), 1 and 2 processes.

The script also times the numpy degradations alone (CPU ms per 8192-sample patch, one core): `sr`
per patch (`jaxsr.tasks.degrade.degrade_sr`) and per batch (`jaxsr.tasks.degrade.sr_baseline_batch`, what the
pipeline uses: the same scipy calls on `[batch, time]`, bit-identical, with scipy's set-up paid once
per batch instead of once per patch).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from jaxsr.data import records
from jaxsr import config as config_lib
from jaxsr.tasks import degrade as degrade_lib
from jaxsr.tasks import resampling
from jaxsr.data import pipeline
from jaxsr.data.synthetic import make_corpus

PATCH = 8192
BATCH = 32


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_config(
    task: str,
    sample_rate: int,
    workers: int,
    sr_degradation: str = "paper",
    noise_types: str = "",
    reverb_prob: float = 0.0,
    sr_codec_prob: float = 0.0,
) -> config_lib.ml_collections.ConfigDict:
    c = config_lib.default_config()
    c.task.name = task
    c.task.ratio = 4
    c.task.sr_degradation = sr_degradation
    c.task.sr_codec_prob = sr_codec_prob
    if noise_types:  # denoise cells: "" keeps the config default (white, pink, brown)
        c.task.noise_types = tuple(noise_types.split(","))
    c.task.reverb_prob = reverb_prob
    c.data.sample_rate = sample_rate
    c.data.patch_length = PATCH
    c.data.num_workers = workers
    c.data.prefetch = 2
    c.train.batch_size = BATCH
    config_lib.validate(c)
    return c


def cpu_seconds() -> tuple[float, float] | None:
    """CPU seconds used so far by this process and by its live child processes (grain's workers).

    Read from /proc (Linux); None elsewhere. On a shared machine wall-clock rates depend on the other
    jobs, CPU time per patch does not, so the table also gives an idle-machine estimate from it.
    """
    if not os.path.isdir("/proc"):
        return None
    tick, me = os.sysconf("SC_CLK_TCK"), os.getpid()
    main = children = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = (
                    f.read().rsplit(")", 1)[1].split()
                )  # after "(comm)": state, ppid, ..., utime, stime
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if int(d) == me:
            main = cpu
        elif int(fields[1]) == me:
            children += cpu
    return main, children


def idle_estimate(workers: int, main_ms: float, worker_ms: float) -> float:
    """Patches/s on an otherwise idle machine: the busiest of the main process, the workers, the CPUs."""
    if workers == 0:
        return 1000.0 / main_ms
    cpus = os.cpu_count() or 1
    return min(
        1000.0 * workers / worker_ms,
        1000.0 / max(main_ms, 1e-9),
        1000.0 * cpus / (main_ms + worker_ms),
    )


def time_loader(config, source, seconds: float, warmup: int) -> dict:
    t0 = time.perf_counter()
    with pipeline.train_loader(config, source) as it:
        next(it)
        startup = time.perf_counter() - t0
        for _ in range(warmup):
            next(it)
        cpu0, n, t1 = cpu_seconds(), 0, time.perf_counter()
        while time.perf_counter() - t1 < seconds:
            next(it)
            n += 1
        elapsed, cpu1 = time.perf_counter() - t1, cpu_seconds()
    out = {"patches_per_s": n * BATCH / elapsed, "batches": n, "startup_s": startup}
    if cpu0 is not None:
        # Read-ahead means workers did up to prefetch batches more than we took: a small overestimate.
        main_ms, worker_ms = (1e3 * (b - a) / (n * BATCH) for a, b in zip(cpu0, cpu1))
        w = config.data.num_workers
        out.update(
            main_cpu_ms_per_patch=main_ms,
            worker_cpu_ms_per_patch=worker_ms,
            idle_estimate_patches_per_s=idle_estimate(w, main_ms, worker_ms),
        )
    return out


# ------------------------------------------------------------------------------ degradations alone
def sr_per_example(y: np.ndarray, ratio: int) -> np.ndarray:
    """`jaxsr.tasks.degrade.degrade_sr` one row at a time. `[b, t] -> [b, t]`."""
    return np.stack([degrade_lib.degrade_sr(row, ratio).x for row in y])


SR_VARIANTS = (
    ("sr_per_example", sr_per_example),
    ("sr_baseline_batch", degrade_lib.sr_baseline_batch),
)


def time_fn(fn, *args, min_seconds: float = 1.0) -> float:
    """Median CPU seconds per call (this process; load-independent) over 5 repeats of >= min_seconds / 5."""
    fn(*args)
    times = []
    for _ in range(5):
        n, t0 = 0, time.process_time()
        while True:
            fn(*args)
            n += 1
            dt = time.process_time() - t0
            if dt >= min_seconds / 5:
                break
        times.append(dt / n)
    return float(np.median(times))


def degradation_timings(patches: np.ndarray, min_seconds: float) -> dict:
    """CPU ms per patch for each task's `degrade`, sr per patch vs per batch, and sr's random chains."""
    c = config_lib.default_config()
    out = {}
    # Random resampling chains (task.sr_degradation="random"), a batch at a time as the pipeline runs them:
    # fresh draws per call (the filter-design cache warms up as in a run; the number includes the misses).
    draws = iter(range(10**9))

    def sr_random(y):
        chains = [
            resampling.draw_sr_chain(np.random.default_rng([0, next(draws)])) for _ in range(len(y))
        ]
        return degrade_lib.sr_batch(y, 4, chains)[0]

    out["sr_random_batch_ms_per_patch"] = (
        1e3 * time_fn(sr_random, patches, min_seconds=min_seconds) / len(patches)
    )
    for task in ("sr", "denoise", "inpaint"):
        c.task.name = task
        rng = np.random.default_rng(0)
        sec = time_fn(
            lambda: degrade_lib.degrade(patches[0], c.task, rng, 16000), min_seconds=min_seconds
        )
        out[f"degrade_{task}_ms_per_patch"] = 1e3 * sec
    ref = sr_per_example(patches, 4)
    for name, fn in SR_VARIANTS:
        got = fn(patches, 4)
        out[f"{name}_ms_per_patch"] = (
            1e3 * time_fn(fn, patches, 4, min_seconds=min_seconds) / len(patches)
        )
        out[f"{name}_max_abs_diff"] = float(np.max(np.abs(got - ref)))
        out[f"{name}_bit_identical"] = bool(np.array_equal(got, ref))
    return out


# --------------------------------------------------------------------------------------------- main
def corpus(rate: int, args: argparse.Namespace) -> list[np.ndarray]:
    """The synthetic training clips (about 1 s per 4-s clip to render at 48 kHz: cached with --cache)."""
    path = None
    if args.cache:
        path = os.path.join(
            args.cache, f"synthetic_train_{args.clips}x{args.clip_seconds}s_{rate}.npy"
        )
        if os.path.exists(path):
            return list(np.load(path))
    t0 = time.perf_counter()
    clips = make_corpus("train", args.clips, rate, args.clip_seconds)
    log(
        f"corpus: {args.clips} clips x {args.clip_seconds} s at {rate} Hz in {time.perf_counter() - t0:.1f} s"
    )
    if path:
        os.makedirs(args.cache, exist_ok=True)
        np.save(path, np.stack(clips))
    return clips


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: few clips, short timings, 16 kHz sr only"
    )
    p.add_argument("--tasks", default="sr,denoise,inpaint")
    p.add_argument("--rates", default="16000,48000")
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--clip-seconds", type=float, default=4.0)
    p.add_argument(
        "--seconds", type=float, default=4.0, help="timed seconds per cell (after warm-up)"
    )
    p.add_argument("--warmup", type=int, default=3, help="batches after the first before timing")
    p.add_argument("--cache", default="", help="folder to keep the rendered corpus in between runs")
    p.add_argument(
        "--sr-degradation",
        default="paper",
        help="config.task.sr_degradation of the sr cells: paper (default), random or a resampler name",
    )
    p.add_argument(
        "--noise-types",
        default="",
        help="config.task.noise_types of the denoise cells, comma-separated (default: the config's)",
    )
    p.add_argument(
        "--reverb-prob",
        type=float,
        default=0.0,
        help="config.task.reverb_prob of the denoise cells",
    )
    p.add_argument(
        "--sr-codec-prob",
        type=float,
        default=0.0,
        help="config.task.sr_codec_prob of the sr cells: the share of examples through a random codec",
    )
    p.add_argument(
        "--json", action="store_true", help="only the JSON line on stdout; the table on stderr"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.clips, args.clip_seconds, args.seconds, args.warmup = 8, 1.0, 1.0, 1
        args.tasks, args.rates, args.workers = "sr,inpaint", "16000", "0,2"
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    tasks = args.tasks.split(",")
    rates = [int(r) for r in args.rates.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    load_start = os.getloadavg()[0]

    corpora = {
        rate: records.records_from_clips(corpus(rate, args), rate, "train") for rate in rates
    }

    cells = []
    for rate in rates:
        for task in tasks:
            for w in workers:
                log(f"timing {task} {rate} Hz workers={w} ...")
                r = time_loader(
                    make_config(
                        task,
                        rate,
                        w,
                        args.sr_degradation,
                        args.noise_types,
                        args.reverb_prob,
                        args.sr_codec_prob,
                    ),
                    corpora[rate],
                    args.seconds,
                    args.warmup,
                )
                cells.append({"task": task, "sample_rate": rate, "workers": w, **r})

    first = corpora[rates[0]]
    rng = np.random.default_rng(0)
    patches = np.stack(
        [
            first[i % len(first)]["audio"][:PATCH]
            if len(first[i % len(first)]["audio"]) >= PATCH
            else np.resize(first[i % len(first)]["audio"], PATCH)
            for i in range(BATCH)
        ]
    )
    patches = patches + np.float32(1e-3) * rng.standard_normal(patches.shape, dtype=np.float32)
    log("timing the degradations alone ...")
    degr = degradation_timings(patches.astype(np.float32), min_seconds=1.0 if args.quick else 3.0)

    load = (load_start, os.getloadavg()[0])
    table = format_table(cells, tasks, rates, workers, degr, load)
    table = (
        f"sr degradation: {args.sr_degradation}; random codecs: {args.sr_codec_prob:g} of the examples\n"
        + table
    )
    if "denoise" in tasks:
        table = (
            f"denoise noise types: {args.noise_types or 'white,pink,brown (default)'}; "
            f"reverb probability {args.reverb_prob:g}\n" + table
        )

    def goal(task):
        r = [
            c["patches_per_s"]
            for c in cells
            if c["task"] == task and c["sample_rate"] == 16000 and c["workers"] == 2
        ]
        return {"patches_per_s": r[0], "target": 1000, "met": r[0] >= 1000} if r else None

    result = {
        "benchmark": "input_pipeline",
        "patch_length": PATCH,
        "batch_size": BATCH,
        "clips": args.clips,
        "clip_seconds": args.clip_seconds,
        "timed_seconds": args.seconds,
        "cpu_count": os.cpu_count(),
        "sr_degradation": args.sr_degradation,
        "noise_types": args.noise_types or None,
        "reverb_prob": args.reverb_prob,
        "sr_codec_prob": args.sr_codec_prob,
        "loadavg_1min_start": load[0],
        "loadavg_1min_end": load[1],
        "cells": cells,
        "degradation": degr,
        "goal_sr_16k_2_workers": goal("sr"),
        "goal_denoise_16k_2_workers": goal("denoise"),
    }
    print(table, file=sys.stderr if args.json else sys.stdout, flush=True)
    print(json.dumps(result), flush=True)
    return result


def format_table(cells, tasks, rates, workers, degr, load) -> str:
    lines = [
        f"patches/s ({PATCH}-sample patches, batch {BATCH}; {os.cpu_count()} CPUs, "
        f"1-min load average {load[0]:.1f} at start, {load[1]:.1f} at end)",
        "",
    ]
    head = (
        f"{'task':<10} {'rate':>6} "
        + " ".join(f"{f'{w} workers':>11}" for w in workers)
        + "   startup s (max)"
    )
    lines += [head, "-" * len(head)]
    for rate in rates:
        for task in tasks:
            row = [c for c in cells if c["task"] == task and c["sample_rate"] == rate]
            by_w = {c["workers"]: c for c in row}
            lines.append(
                f"{task:<10} {rate:>6} "
                + " ".join(f"{by_w[w]['patches_per_s']:>11.0f}" for w in workers)
                + f"   {max(c['startup_s'] for c in row):.1f}"
            )
    if all("idle_estimate_patches_per_s" in c for c in cells):
        head2 = head.replace("startup s (max)", "(CPU ms per patch: main + workers)")
        lines += [
            "",
            "estimate for an idle machine, patches/s, from the CPU time per patch:",
            head2,
            "-" * len(head2),
        ]
        for rate in rates:
            for task in tasks:
                by_w = {
                    c["workers"]: c for c in cells if c["task"] == task and c["sample_rate"] == rate
                }
                lines.append(
                    f"{task:<10} {rate:>6} "
                    + " ".join(f"{by_w[w]['idle_estimate_patches_per_s']:>11.0f}" for w in workers)
                    + "   ("
                    + ", ".join(
                        f"{by_w[w]['main_cpu_ms_per_patch']:.2f}+{by_w[w]['worker_cpu_ms_per_patch']:.2f}"
                        for w in workers
                    )
                    + ")"
                )
    lines += ["", "numpy degradation alone, CPU ms per patch (one core):"]
    for task in ("sr", "denoise", "inpaint"):
        lines.append(f"  degrade {task:<8} {degr[f'degrade_{task}_ms_per_patch']:.3f}")
    lines.append(
        f"  sr_random_batch     {degr['sr_random_batch_ms_per_patch']:.3f}   (random chains, new draws)"
    )
    for name, _ in SR_VARIANTS:
        lines.append(
            f"  {name:<19} {degr[f'{name}_ms_per_patch']:.3f}   max |diff| vs degrade_sr "
            f"{degr[f'{name}_max_abs_diff']:.1e}{'  (bit-identical)' if degr[f'{name}_bit_identical'] else ''}"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # the guard matters: grain's workers are spawned and re-import this file
    main()
