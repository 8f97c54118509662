"""The package's layering: reading data loads no model, inference or training code (checked in a fresh process)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEAVY = ("jaxsr.models", "jaxsr.inference", "jaxsr.train", "jaxsr.evaluation", "jaxsr.checkpoints", "jaxsr.pretrained")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_data_layer_loads_no_model_inference_or_training():
    loaded = _loaded_after("import jaxsr.data.builders, jaxsr.data.pipeline, jaxsr.data.synthetic")
    # (grain itself imports orbax for its iterator checkpoints: that is the loader's, not ours.)
    assert not {m for m in loaded if m.split(".")[0] in ("flax", "optax") or m in HEAVY}


def test_import_jaxsr_is_lazy_and_the_api_resolves():
    loaded = _loaded_after("import jaxsr")
    assert "jax" not in loaded and not loaded & set(HEAVY)
    loaded = _loaded_after("import jaxsr; jaxsr.enhance; jaxsr.load; jaxsr.metrics.snr")
    assert "jaxsr.inference" in loaded and "jaxsr.train" not in loaded
