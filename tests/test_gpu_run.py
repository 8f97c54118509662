"""benchmarks/gpu/run.sh --dry-run: the device script's every stage on this CPU with tiny sizes.

The GPU run is prepared here and spent on measurement there; this test keeps the script from rotting
between the sessions that have a device.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_run_sh_dry_run_writes_every_result(tmp_path):
    out = tmp_path / "out"
    env = dict(
        os.environ,
        OUT=str(out),
        PYTHON=sys.executable,
        JAXSR_GPU_DIR=str(tmp_path / "no-carried-files"),
    )
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks/gpu/run.sh"), "--dry-run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["stages"]) == {"env", "speed", "inference", "train", "evaluate"}
    assert {k: v["rc"] for k, v in summary["stages"].items()} == dict.fromkeys(summary["stages"], 0)

    env_info = json.loads((out / "env.json").read_text())
    assert env_info["jax_devices"] and "cpu_model" in env_info

    speed = json.loads((out / "speed.json").read_text())
    timed = [r for r in speed["rows"] if r["seconds"]]
    assert {(r["mode"], r["impl"]) for r in timed} >= {("train", "jaxsr"), ("forward", "jaxsr")}
    for r in timed:  # the model's FLOPs per step: a train step is 3 forwards of the batch
        assert r["model_flops"] > 0 and r["tflops_per_s"] == pytest.approx(
            r["model_flops"] / r["seconds"] / 1e12
        )

    infer = json.loads((out / "inference.json").read_text())
    assert [(r["model"], r["rate"], r["seconds"]) for r in infer["rows"]] == [("tiny", 16000, 2.0)]
    assert infer["rows"][0]["x_realtime"] == pytest.approx(
        2.0 / infer["rows"][0]["time_s"], rel=0.01
    )

    # Trained on six generated recordings, scored on the two held out (tail:2), against the spline.
    ev = json.loads((out / "train_eval.json").read_text())
    assert ev["n_files"] == 2 and ev["n_failed"] == 0
    assert set(ev["model"]) >= {"snr", "lsd"} and set(ev["baseline"]) >= {"snr", "lsd"}
    assert "step 3" in (out / "train_log.txt").read_text()
    assert "== stage evaluate: rc=0" in (out / "run.log").read_text()


def test_run_sh_refuses_unknown_options_in_one_line(tmp_path):
    for args in (["--stages", "env,bogus"], ["--frobnicate"]):
        proc = subprocess.run(
            ["bash", str(ROOT / "benchmarks/gpu/run.sh"), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1 and "run.sh:" in proc.stderr
