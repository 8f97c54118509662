"""Inference speed: real-time factor of `jaxsr.enhance` on whatever device JAX has.

    python benchmarks/inference.py            # full (B=4, width 1) and small (width 0.25) models, 10 s / 60 s, 16 / 48 kHz
    python benchmarks/inference.py --quick    # 10 s at 16 kHz only, one repeat
    python benchmarks/inference.py --sweep    # also time a few chunk_length x batch_size options

RTF = wall time / audio duration (below 1: faster than real time; "x realtime" = 1 / RTF), the median
of `--repeats` runs after a warm-up run on the same length (which compiles). `CPU s` is the process's
CPU time for the same run: on a shared machine it moves less with other load than the wall time does. The timed path is
`enhance(..., band_limited=True)` on audio already at the target rate: input checks, chunking, the
jitted model in batches, crossfade overlap-add. The cubic-spline front end (sr from the low rate) is
timed separately in the `spline s` column and is *not* included in the RTF. Weights are random: speed
does not depend on them. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import jax
import numpy as np

from jaxsr import inference as E
from jaxsr.config import default_config
from jaxsr.degrade import spline_upsample
from jaxsr.models import compute_dtype, count_params, forward_flops, init_variables, model_from_config

MODELS = {"full": 1.0, "small": 0.25, "tiny": 0.0625}  # tiny: smoke tests of this script


def make_config(width: float, sample_rate: int):
    c = default_config()
    c.model.width = width
    c.model.num_blocks = 4
    c.data.sample_rate = sample_rate
    c.task.name, c.task.ratio = "sr", 4
    return c


def make_signal(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def time_enhance(model: E.Model, x: np.ndarray, repeats: int, **kw) -> tuple[float, float]:
    """Median (wall, process CPU) seconds. CPU time is the steadier number on a shared machine."""
    # Warm-up (compiles): a prefix with the same chunk shapes (full chunks, same last-chunk bucket), so
    # that long signals are not processed twice.
    plan = E.chunk_plan(model.config, kw.get("chunk_length"))
    num = plan.num_chunks(len(x))
    warm = x[: len(x) - (num - 3) * plan.hop] if num > 3 else x
    assert plan.last_length(len(warm)) == plan.last_length(len(x))
    E.enhance(model, warm, sample_rate=model.sample_rate, band_limited=True, **kw)
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        E.enhance(model, x, sample_rate=model.sample_rate, band_limited=True, **kw)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def chunk_flops(model: E.Model, length: int) -> float:
    """Model FLOPs on one `[1, length, 1]` chunk, from the architecture (XLA's own count omits cuDNN convs)."""
    return float(forward_flops(model.config, length))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="10 s at 16 kHz, one repeat")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {list(MODELS)}")
    p.add_argument("--seconds", default="10,60")
    p.add_argument("--rates", default="16000,48000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, help="default: the config's eval.batch_size")
    p.add_argument("--chunk-length", type=int, help="default: the config's (4 x patch_length)")
    p.add_argument("--sweep", action="store_true", help="time chunk_length x batch_size options (10 s, 16 kHz)")
    p.add_argument("--sweep-chunks", default="8192,16384,32768,65536")
    p.add_argument("--sweep-batches", default="1,4,16")
    args = p.parse_args(argv)
    seconds = [10.0] if args.quick else [float(s) for s in args.seconds.split(",")]
    rates = [16000] if args.quick else [int(r) for r in args.rates.split(",")]
    repeats = 1 if args.quick else args.repeats
    dev = jax.devices()[0]
    print(f"device: {dev.platform} {dev.device_kind} x{jax.device_count()}; host: {platform.processor() or platform.machine()}"
          f"; spline excluded from RTF", file=sys.stderr)

    rows = []
    for name in args.models.split(","):
        width = MODELS[name]
        for rate in rates:
            c = make_config(width, rate)
            variables = init_variables(model_from_config(c), jax.random.key(0))
            model = E.Model.from_variables(variables, c)
            kw = dict(batch_size=args.batch_size, chunk_length=args.chunk_length)
            plan = E.chunk_plan(c, args.chunk_length)
            for sec in seconds:
                x = make_signal(sec, rate)
                t, t_cpu = time_enhance(model, x, repeats, **kw)
                num, last = plan.num_chunks(len(x)), plan.last_length(len(x))
                flops = (num - 1) * chunk_flops(model, plan.length) + chunk_flops(model, last)
                t0 = time.perf_counter()
                spline_upsample(x[::4], 4, len(x))
                t_spline = time.perf_counter() - t0
                rows.append({"model": name, "width": width, "params": count_params(variables["params"]),
                             "dtype": compute_dtype(c.dtype).name, "rate": rate, "seconds": sec,
                             "chunk_length": plan.length, "batch_size": args.batch_size or E.default_batch_size(c),
                             "time_s": round(t, 4), "cpu_s": round(t_cpu, 4), "tflop": round(flops / 1e12, 3),
                             "gflops_per_s": round(flops / t / 1e9, 1), "rtf": round(t / sec, 5), "x_realtime": round(sec / t, 2),
                             "spline_s": round(t_spline, 4)})
                r = rows[-1]
                print(f"  {name} {rate} Hz {sec:g} s: {t:.3f} s (RTF {r['rtf']:.4f})", file=sys.stderr, flush=True)

    sweep = []
    if args.sweep:
        c = make_config(MODELS[args.models.split(",")[0]], 16000)
        model = E.Model.from_variables(init_variables(model_from_config(c), jax.random.key(0)), c)
        x = make_signal(10.0, 16000)
        for chunk in [int(v) for v in args.sweep_chunks.split(",")]:
            for bs in [int(v) for v in args.sweep_batches.split(",")]:
                t, t_cpu = time_enhance(model, x, repeats, batch_size=bs, chunk_length=chunk)
                sweep.append({"model": args.models.split(",")[0], "chunk_length": chunk, "batch_size": bs,
                              "rtf": round(t / 10.0, 5), "cpu_s": round(t_cpu, 3)})
                print(f"  sweep chunk {chunk} batch {bs}: RTF {t / 10:.4f}, CPU {t_cpu:.2f} s", file=sys.stderr,
                      flush=True)

    print(f"\nInference RTF on {dev.platform} ({dev.device_kind}); model only, spline timed apart\n")
    print("| model | width | params | dtype | rate | audio s | chunk | batch | time s | CPU s | TFLOP | GFLOP/s | RTF | x realtime | spline s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['width']} | {r['params'] / 1e6:.2f}M | {r['dtype']} | {r['rate']} | {r['seconds']:g} | "
              f"{r['chunk_length']} | {r['batch_size']} | {r['time_s']:.3f} | {r['cpu_s']:.2f} | {r['tflop']:.3f} | {r['gflops_per_s']:.0f} | {r['rtf']:.4f} | {r['x_realtime']:.1f} | "
              f"{r['spline_s']:.3f} |")
    if sweep:
        print("\n| model | chunk_length | batch_size | RTF (10 s, 16 kHz) | CPU s |\n|---|---|---|---|---|")
        for s in sweep:
            print(f"| {s['model']} | {s['chunk_length']} | {s['batch_size']} | {s['rtf']:.4f} | {s['cpu_s']:.2f} |")
    print(json.dumps({"device": f"{dev.platform}:{dev.device_kind}", "spline_in_rtf": False, "rows": rows,
                      "sweep": sweep}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
