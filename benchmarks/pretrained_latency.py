"""Time to first result with a packaged model: a fresh process loads it by name and restores 10 s of audio.

    python -m benchmarks.pretrained_latency                 # every packaged model, 10 s of audio each
    python benchmarks/pretrained_latency.py --models speech-sr-x4-16k --seconds 10 --json

Each model runs in its own new Python process, so the figure includes what a user waits for the first
time: importing jaxsr and JAX, reading and checking the weights, compiling the model for the chunk
shapes, and the restoration itself (reported apart: `import s`, `load s`, `enhance s`, `total s`).
The audio is a speech-like synthetic clip at the model's input rate. Goal (issue 13): under 5 s on a
2-core CPU, compile included.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
GOAL_S = 5.0

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import jaxsr
from jaxsr.data import synthetic
t1 = time.perf_counter()
model = jaxsr.load(sys.argv[1])
t2 = time.perf_counter()
rate = float(model.input_rate)
x = synthetic.make_clip(np.random.default_rng(0), int(model.sample_rate), float(sys.argv[2]))
if model.task["name"] == "sr":
    x = x[:: int(model.task["ratio"])]
mask = None
if model.task["name"] == "inpaint":
    mask = np.zeros(len(x), bool); mask[len(x) // 3: len(x) // 3 + int(0.02 * rate)] = True
y = jaxsr.enhance(model, x, sample_rate=rate, mask=mask)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "enhance_s": t3 - t2, "total_s": t3 - t0,
                  "audio_s": len(y) / model.sample_rate}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated packaged names (default: all)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout, nothing else")
    args = p.parse_args(argv)
    from jaxsr import pretrained

    names = args.models.split(",") if args.models else pretrained.names()
    for n in names:
        if not pretrained.is_name(n):
            p.error(f"--models: {pretrained.unknown_name_error(n)}")
    rows = []
    for n in names:
        proc = subprocess.run([sys.executable, "-c", CHILD, n, str(args.seconds)], capture_output=True, text=True,
                              cwd=REPO, timeout=600)
        if proc.returncode:
            rows.append({"model": n, "error": proc.stderr.strip().splitlines()[-1][:300]})
            continue
        rows.append({"model": n, **{k: round(v, 3) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}})
    result = {"host": platform.processor() or platform.machine(), "seconds": args.seconds, "goal_s": GOAL_S, "rows": rows}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"First result from a fresh process, {args.seconds:g} s of audio ({result['host']}):\n")
    print("| model | import s | load s | enhance s (compile included) | total s | goal < 5 s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['model']} | failed: {r['error']} | | | | |")
            continue
        ok = "met" if r["total_s"] < GOAL_S else "**not met**"
        print(f"| {r['model']} | {r['import_s']:.2f} | {r['load_s']:.2f} | {r['enhance_s']:.2f} | {r['total_s']:.2f} | {ok} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
