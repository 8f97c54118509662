#!/usr/bin/env bash
# Fill .gpu/ (git-ignored, carried to the device machine) with what benchmarks/gpu/run.sh needs there:
#   .gpu/wheels/       Python 3.12 x86-64 wheels of jaxsr's dependencies that the device image lacks,
#                      plus the exact flax / optax / orbax versions this project is tested with;
#   .gpu/speech-16k/   speech-44k resampled to 16 kHz FLAC (about 12 MB; the original is 36 MB).
# Run once here (it needs the package registry, which the device machine cannot reach):
#   bash benchmarks/gpu/fetch_wheels.sh            # wheels + data
#   bash benchmarks/gpu/fetch_wheels.sh --check    # also install them into a throw-away Python 3.12
#                                                  # venv with jax 0.11 and run run.sh --dry-run there
# The device image (see the device tool's KINDS.md) already has jax 0.11 + CUDA, numpy, scipy, torch,
# absl-py, etils, protobuf, pyarrow, tqdm, matplotlib, msgpack, attrs, six, einops, cloudpickle.
set -euo pipefail
cd "$(dirname "$0")/../.."
GPU_DIR=${JAXSR_GPU_DIR:-.gpu}
DATA_SRC=${JAXSR_SPEECH_DIR:-../shared/data/speech-44k}
PY=${PYTHON:-python3}
mkdir -p "$GPU_DIR/wheels"

# name==version; versions pinned so the device run uses exactly what was checked here.
WHEELS=(
  ml_collections==1.1.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 soxr==1.1.0
  tensorflow-datasets==4.9.10 array_record==0.8.6 grain==0.2.18 tensorboardX==2.6.5
  dm-tree==0.1.10 immutabledict==4.3.1 simple-parsing==0.1.9 docstring_parser==0.18.0
  tensorflow-metadata==1.21.0 googleapis-common-protos==1.76.0 termcolor==3.3.0 toml==0.10.2
  portpicker==1.6.0
  flax==0.12.12 optax==0.2.8 orbax-checkpoint==0.12.8
)
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do PLATFORMS+=(--platform "$p"); done
for w in "${WHEELS[@]}"; do
  name=${w%%==*}; ver=${w##*==}
  if ls "$GPU_DIR/wheels/" 2>/dev/null | grep -qi "^${name//-/_}-${ver}-"; then continue; fi
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]}" -d "$GPU_DIR/wheels" "$w"
done
# promise (a tensorflow-datasets requirement) is published as a source archive only: build its wheel.
if ! ls "$GPU_DIR/wheels"/promise-2.3-*.whl >/dev/null 2>&1; then
  "$PY" -m pip wheel -q --no-deps -w "$GPU_DIR/wheels" promise==2.3
fi

# The speech corpus at 16 kHz: everything the GPU training and evaluation read (same file names, so the
# held-out split `tail:20` is the same 20 files).
if [ -d "$DATA_SRC" ] && [ ! -f "$GPU_DIR/speech-16k/.complete" ]; then
  "$PY" - "$DATA_SRC" "$GPU_DIR/speech-16k" <<'PYEOF'
import pathlib, sys
import soundfile as sf, soxr
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".flac", ".wav"))
for p in files:
    x, rate = sf.read(p, dtype="float32", always_2d=True)
    y = soxr.resample(x.mean(axis=1), rate, 16000, quality="VHQ")
    sf.write(dst / (p.stem + ".flac"), y, 16000, subtype="PCM_16")
(dst / ".complete").write_text(f"{len(files)} files from {src} at 16000 Hz\n")
print(f"wrote {len(files)} files to {dst}")
PYEOF
fi
du -sh "$GPU_DIR/wheels" "$GPU_DIR"/speech-16k 2>/dev/null || true
du -sh "$GPU_DIR"

if [ "${1:-}" = "--check" ]; then
  # A stand-in for the device: Python 3.12, jax 0.11 (CPU build), the image's numpy, then the carried
  # wheels installed exactly as run.sh installs them.
  V=${JAXSR_CHECK_VENV:-/tmp/jaxsr-gpu-check}
  PY312=${PYTHON312:-python3.12}  # on a pyenv machine: PYTHON312=$(pyenv root)/versions/3.12.*/bin/python
  [ -x "$V/bin/python" ] || { "$PY312" -m venv "$V" && "$V/bin/pip" install -q "jax==0.11.2" "jaxlib==0.11.2" \
      "numpy==2.5.2" scipy absl-py etils matplotlib tqdm pyarrow protobuf psutil msgpack wrapt fsspec \
      cloudpickle attrs six einops tensorstore typing-extensions pyyaml rich humanize simplejson treescope \
      prometheus-client aiofiles uvloop requests packaging zipp; }
  PATH="$V/bin:$PATH" PYTHON="$V/bin/python" bash benchmarks/gpu/run.sh --dry-run --install
fi
