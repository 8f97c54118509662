#!/usr/bin/env bash
# One prepared device run: every GPU figure jaxsr reports, within a fixed wall-clock budget.
#
#   bash benchmarks/gpu/run.sh                  # on the device machine (carry .gpu, see fetch_wheels.sh)
#   bash benchmarks/gpu/run.sh --dry-run        # the same stages on this CPU with tiny sizes (tests/CI)
#   bash benchmarks/gpu/run.sh --budget 420     # seconds for all stages together (default 450)
#   bash benchmarks/gpu/run.sh --stages env,speed,inference    # a subset (default: all)
#
# Stages, each bounded by `timeout` and independent of the others (a failing stage is recorded in
# summary.json and the next one runs):
#   1. install  the carried wheels of .gpu/wheels into a private folder on PYTHONPATH (device only);
#   2. env      nvidia-smi, versions of jax / torch / flax and the CPU model         -> env.json
#   3. speed    benchmarks.speed: the full model (56 M) and the 3.5 M model, jaxsr float32 / bfloat16
#               against the PyTorch twin eager / torch.compile / bf16 autocast, interleaved -> speed.json
#   4. infer    benchmarks/inference.py: RTF of the full model at 16 and 48 kHz on 60 s  -> inference.json
#   5. train    configs/speech_paper.py (the paper's network; $JAXSR_GPU_TRAIN_CONFIG picks another one-folder
#               config such as configs/speech.py) on .gpu/speech-16k for the seconds left,
#               stopped by SIGTERM (which saves a checkpoint), then launch/evaluate.py on the 20
#               held-out files                                                   -> train_eval.json, train_log.txt
# Everything goes to $OUT (the device tool brings it back); run.log is the whole console output.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

DRY=0
INSTALL=auto
BUDGET=450
STAGES=env,speed,inference,train
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --install) INSTALL=1 ;;
    --no-install) INSTALL=0 ;;
    --budget) BUDGET=$2; shift ;;
    --stages) STAGES=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (use --dry-run, --install, --no-install, --budget SECONDS, --stages LIST)" >&2; exit 2 ;;
  esac
  shift
done
[ "$INSTALL" = auto ] && INSTALL=$((1 - DRY))
for s in ${STAGES//,/ }; do
  case "$s" in env|speed|inference|train) ;; *) echo "run.sh: --stages: unknown stage $s (use env, speed, inference, train)" >&2; exit 2 ;; esac
done
want() { [[ ",$STAGES," == *",$1,"* ]]; }

GPU_DIR=${JAXSR_GPU_DIR:-$ROOT/.gpu}
OUT=${OUT:-$(mktemp -d /tmp/jaxsr-gpu-out.XXXXXX)}
WORK=$(mktemp -d /tmp/jaxsr-gpu-work.XXXXXX)
mkdir -p "$OUT"
exec > >(tee -a "$OUT/run.log") 2>&1
T0=$(date +%s)
elapsed() { echo $(($(date +%s) - T0)); }
left() { echo $((BUDGET - $(date +%s) + T0)); }
STATUS=()
record() { STATUS+=("\"$1\": {\"rc\": $2, \"seconds\": $3}"); echo "== stage $1: rc=$2 in $3 s (elapsed $(elapsed) s of $BUDGET)"; }
stage() {  # stage NAME SECONDS command...: run with a time limit, record its status
  local name=$1 limit=$2 t=$(date +%s); shift 2
  echo "== stage $name (limit ${limit} s)"
  timeout -k 10 "$limit" "$@"
  record "$name" $? $(($(date +%s) - t))
}
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PYTHON:-python3}

# ---------------------------------------------------------------------------------------------- install
if [ "$INSTALL" = 1 ]; then
  t=$(date +%s)
  SITE=$WORK/site
  ls "$GPU_DIR"/wheels/*.whl >/dev/null 2>&1 || { echo "no wheels in $GPU_DIR/wheels: run benchmarks/gpu/fetch_wheels.sh here and carry .gpu"; exit 1; }
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$GPU_DIR"/wheels/*.whl
  record install $? $(($(date +%s) - t))
  export PYTHONPATH=$SITE:$ROOT
else
  export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
fi

# -------------------------------------------------------------------------------------------------- env
want env && stage env 60 "$PY" - "$OUT/env.json" <<'EOF'
import json, platform, subprocess, sys, importlib
info = {"python": sys.version.split()[0], "date": subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"],
        capture_output=True, text=True).stdout.strip()}
for name in ("jax", "jaxlib", "flax", "optax", "orbax.checkpoint", "numpy", "scipy", "torch", "grain",
             "tensorflow_datasets", "soxr"):
    try:
        info[name] = getattr(importlib.import_module(name), "__version__", "?")
    except Exception as e:
        info[name] = f"unavailable: {type(e).__name__}: {e}"[:200]
import jax
info["jax_devices"] = [f"{d.platform}:{d.device_kind}" for d in jax.devices()]
try:
    info["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm",
                                         "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
except (OSError, subprocess.TimeoutExpired):
    info["nvidia_smi"] = None
from benchmarks.speed import cpu_info
info.update(cpu_info())
info["cpu_count"] = __import__("os").cpu_count()
json.dump(info, open(sys.argv[1], "w"), indent=1)
print(json.dumps(info))
import jaxsr  # the package imports on this jax: fail here, loudly, rather than in every stage
EOF

# ------------------------------------------------------------------------------------------------ sizes
if [ "$DRY" = 1 ]; then
  SPEED_ARGS=(--groups tiny:2:train,tiny:2:forward --impls jaxsr/float32,torch-eager/float32
              --patch-length 1024 --reps 2 --steps-per-rep 1)
  SPEED_S=120; INFER_ARGS=(--models tiny --seconds 2 --rates 16000 --repeats 1); INFER_S=120
  TRAIN_ARGS=(--config.model.width=0.0625 --config.model.num_blocks=2 --config.train.batch_size=2
              --config.data.patch_length=1024 --config.train.num_train_steps=3 --config.train.log_every=1
              --config.train.checkpoint_every=3 --config.data.num_workers=0 --config.eval.batch_size=4)
  EVAL_RESERVE=60
else
  # Most important first (the goals: full-model bf16 train step MFU and its ratio to PyTorch's best), so
  # that the budget, if it runs out, cuts the least important groups.
  SPEED_ARGS=(--groups full:64:train,width-0.25:64:train,full:64:forward,full:256:train,width-0.25:256:train,width-0.25:256:forward
              --impls ${JAXSR_GPU_IMPLS:-jaxsr/bfloat16,jaxsr/float32,torch-eager/float32,torch-compile/float32,torch-eager/bfloat16,torch-compile/bfloat16}
              --reps 6 --steps-per-rep 5 --time-budget ${JAXSR_GPU_SPEED_BUDGET:-150})
  SPEED_S=230; INFER_ARGS=(--models full,small --seconds 60 --rates 16000,48000 --repeats 3); INFER_S=75
  TRAIN_ARGS=(--config.data.num_workers=12)
  EVAL_RESERVE=50
fi

# ------------------------------------------------------------------------------------------------ speed
want speed && stage speed "$SPEED_S" "$PY" -m benchmarks.speed "${SPEED_ARGS[@]}" --out "$OUT/speed.json" --json >/dev/null

# -------------------------------------------------------------------------------------------- inference
want inference && stage inference "$INFER_S" bash -c "set -o pipefail; \"$PY\" benchmarks/inference.py ${INFER_ARGS[*]} | tail -n 1 > \"$OUT/inference.json\""

# ---------------------------------------------------------------------------------------- train + eval
DATA=$GPU_DIR/speech-16k
if want train && [ ! -d "$DATA" ]; then
  if [ "$DRY" = 1 ]; then  # CI has no carried copy: six short generated recordings, the last two held out
    DATA=$WORK/speech
    "$PY" - "$DATA" <<'EOF'
import pathlib, sys
import numpy as np, soundfile as sf
d = pathlib.Path(sys.argv[1]); d.mkdir(parents=True)
rng = np.random.default_rng(0)
t = np.arange(16000) / 16000
for k in range(6):
    f0 = 120 + 30 * k
    y = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 20)) * 0.1 + 0.01 * rng.standard_normal(t.size)
    sf.write(d / f"clip{k:02d}.flac", y.astype(np.float32), 16000, subtype="PCM_16")
EOF
    TRAIN_ARGS+=(--config.data.split=tail:2)
  else
    echo "no $DATA: run benchmarks/gpu/fetch_wheels.sh here and carry .gpu"
  fi
fi
TRAIN_S=$(($(left) - EVAL_RESERVE))
if ! want train; then
  :
elif [ -d "$DATA" ] && [ "$TRAIN_S" -gt 20 ]; then
  # SIGTERM at the limit: the loop saves a checkpoint and stops (exit 143 is the expected outcome).
  t=$(date +%s)
  echo "== stage train (limit ${TRAIN_S} s)"
  timeout -s TERM -k 30 "$TRAIN_S" "$PY" launch/train.py --config "${JAXSR_GPU_TRAIN_CONFIG:-configs/speech_paper.py}" --workdir "$WORK/train" \
    --config.data.path="$DATA" --config.data.data_dir="$WORK/tfds" "${TRAIN_ARGS[@]}" --quiet
  record train $? $(($(date +%s) - t))
  cp "$WORK/train/log.txt" "$OUT/train_log.txt" 2>/dev/null
  stage evaluate $((EVAL_RESERVE > 20 ? EVAL_RESERVE - 5 : 20)) bash -c "\"$PY\" launch/evaluate.py --checkpoint \"$WORK/train\" \
    --data audio_folder:test --json --quiet > \"$OUT/train_eval.json\""
else
  record train -1 0
fi

# -------------------------------------------------------------------------------------------- summary
{
  echo "{\"dry_run\": $DRY, \"budget_s\": $BUDGET, \"elapsed_s\": $(elapsed), \"stages\": {"
  (IFS=,; echo "${STATUS[*]}")
  echo "}}"
} > "$OUT/summary.json"
cat "$OUT/summary.json"
echo "results in $OUT"
rm -rf "$WORK"
