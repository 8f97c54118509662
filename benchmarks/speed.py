"""Training-step and inference speed of jaxsr next to its PyTorch twin, in one run on one device.

    python -m benchmarks.speed --quick                      # smoke run: width-0.25 model, batch 4
    python -m benchmarks.speed --quick --plot speed.png     # ... plus a figure of examples/s vs batch size
    python -m benchmarks.speed                              # CPU default: width-0.25, batch 4 and 8 (~6 min, 2 cores)
    python -m benchmarks.speed --models full --batch-sizes 4 --reps 2   # the paper's model on CPU (~10 min)
    python -m benchmarks.speed --models full,width-0.25 \\
        --batch-sizes 4,8,16,32,64 --reps 20                # GPU (jax[cuda] and a CUDA torch installed)
    python -m benchmarks.speed --groups full:64:train,width-0.25:64:train \\
        --impls jaxsr/bfloat16,torch-compile/bfloat16 --time-budget 200 --out speed.json
                                                            # chosen groups in this order, within a budget

Models (`--models`): `full` (B=4, width 1.0, the paper's 56.4 M parameters), `width-0.25` (3.5 M),
`width-0.125` (0.9 M: the network of configs/quickstart.py and configs/speech.py) and `tiny` (smoke tests).
Older results JSON call `width-0.25` "quickstart", though the
quickstart config is width 0.125; that name is now refused with a hint.

What is timed, for each model x batch size x {train, forward}:
  * jaxsr: the library's own pure train step (`jaxsr.train.make_train_step`, MSE + Adam 3e-4) jitted
    with the state donated, and a jitted `model.apply(..., train=False)`; float32, plus bfloat16 compute
    (`config.dtype = "bfloat16"`) when the JAX backend is a GPU or TPU.
  * PyTorch (benchmarks/torch_unet.py, the same network): eager and `torch.compile`, float32, plus
    autocast bfloat16 on CUDA; MSE + `torch.optim.Adam(3e-4)`.
Inputs are a fixed random batch of `[batch, patch_length, 1]` already on the device (no input pipeline).
Compilation and warm-up are excluded; each repetition runs `--steps-per-rep` steps then waits for the
device (`block_until_ready` / `torch.cuda.synchronize`); the reported time is the median per step.

FLOPs are the model's, counted from the architecture (`jaxsr.models.forward_flops`; a train step is 3x
the forward): XLA's cost analysis, kept as `xla_flops` for reference, leaves out the convolutions that
it hands to cuDNN on GPU and so undercounts there by about 1000x. Achieved FLOP/s = FLOPs / time for
every row (the same network, so the same work), and model FLOPs utilisation = achieved / peak, with the
peak from `--peak-tflops` or from a small table of known accelerators.

Output: a table, then one JSON line (the last line on stdout) with every row and the speed ratios
`jaxsr_vs_torch_eager` and `jaxsr_vs_best_torch` (time of torch / time of jaxsr: > 1 means jaxsr is
faster). With `--json` only the JSON goes to stdout and the table goes to stderr. `--plot PNG` also
draws examples per second against batch size, one panel per model and mode (benchmarks/plotting.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

# Run as a script too (`python benchmarks/speed.py`): without the repository root on the path the PyTorch
# twin (`benchmarks.torch_unet`) would not import and every PyTorch row would be lost.
if not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Both frameworks share one GPU here: stop JAX from reserving 75% of its memory at start-up.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxsr import config as config_lib  # noqa: E402
from jaxsr import models  # noqa: E402
from jaxsr import train as train_lib  # noqa: E402

MODELS = {  # name -> config.model overrides
    "full": dict(num_blocks=4, width=1.0),  # the paper's network, 56.4 M params
    "width-0.25": dict(num_blocks=4, width=0.25),  # 3.5 M params
    "width-0.125": dict(
        num_blocks=4, width=0.125
    ),  # 0.9 M params: configs/quickstart.py's and configs/speech.py's
    "tiny": dict(num_blocks=2, width=0.0625),  # smoke tests of this script only
}
# Old labels, refused with the new name: "quickstart" was width 0.25 here, the quickstart config is width 0.125.
RENAMED = {"quickstart": "width-0.25"}

# Dense peak TFLOP/s by accelerator, per compute dtype. Float32 convs run on TF32 tensor cores by default
# in both XLA and cuDNN on these GPUs, so TF32 is the relevant fp32 peak there.
PEAK_TFLOPS = {  # matched by substring of the device name, first match wins
    "H100 PCIe": {"bfloat16": 756.0, "float32": 378.0},
    "H100": {"bfloat16": 989.4, "float32": 494.7},  # SXM; strict (non-TF32) fp32 would be ~67
    "H200": {"bfloat16": 989.4, "float32": 494.7},  # same compute as H100 SXM
    "A100": {"bfloat16": 312.0, "float32": 156.0},
    "TPU v4": {"bfloat16": 275.0, "float32": 275.0},
    "TPU v5e": {"bfloat16": 197.0, "float32": 197.0},
}


@dataclass
class Row:
    model: str
    batch: int
    mode: str  # "train" | "forward"
    impl: str  # "jaxsr" | "torch eager" | "torch compile"
    dtype: str  # "float32" | "bfloat16"
    seconds: float | None = None  # median per step
    times: list[float] = field(default_factory=list)
    compile_seconds: float | None = None
    xla_flops: float | None = (
        None  # XLA's count for the matching jaxsr function, per step (no cuDNN convs)
    )
    model_flops: float | None = None  # from the architecture, per step: what MFU is computed from
    tflops_per_s: float | None = None
    mfu: float | None = None
    error: str | None = None


# ------------------------------------------------------------------------------------------ timing
@dataclass
class Prepared:
    """A compiled, warmed-up step: `step()` runs one step, `sync(step())` waits for the device."""

    step: Callable[[], object]
    sync: Callable[[object], None]
    compile_seconds: float
    xla_flops: float | None = None


def time_round_robin(
    prepared: list[Prepared], reps: int, steps_per_rep: int, warmup: int = 1
) -> list[list[float]]:
    """Per-step seconds of `reps` repetitions of each prepared step, taken in turns.

    Interleaving the implementations (rather than timing one after the other) spreads any change in
    background load on a shared machine evenly over all of them, so their ratios stay meaningful.
    """
    for p in prepared:
        for _ in range(warmup):
            p.sync(p.step())
    times: list[list[float]] = [[] for _ in prepared]
    for _ in range(reps):
        for p, t in zip(prepared, times):
            t0 = time.perf_counter()
            for _ in range(steps_per_rep):
                out = p.step()
            p.sync(out)
            t.append((time.perf_counter() - t0) / steps_per_rep)
    return times


def _batch(batch: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (0.3 * rng.standard_normal((batch, length, 1))).astype(np.float32)
    x = (y + 0.05 * rng.standard_normal(y.shape)).astype(np.float32)
    return x, y


def _config(model_name: str, batch: int, length: int, dtype: str):
    c = config_lib.default_config()
    c.model.update(MODELS[model_name])
    c.dtype = dtype
    c.data.patch_length = length
    c.train.batch_size = batch
    c.train.learning_rate = 3e-4
    config_lib.validate(c)
    return c


def step_flops(model_name: str, batch: int, mode: str, length: int) -> float:
    """Model FLOPs of one step: the convolutions' forward count x batch, x3 for a train step."""
    config = _config(model_name, batch, length, "float32")
    return float(models.forward_flops(config, length) * batch * (3 if mode == "train" else 1))


def _flops(compiled) -> float | None:
    ca = compiled.cost_analysis()
    if isinstance(ca, (list, tuple)):  # older jax returned one dict per device program
        ca = ca[0] if ca else None
    return float(ca["flops"]) if ca and "flops" in ca else None


# ------------------------------------------------------------------------------------------- jaxsr
def prepare_jaxsr(model_name: str, batch: int, mode: str, dtype: str, args) -> Prepared:
    """The library's jitted train step (state donated) or jitted inference `apply`, compiled."""
    config = _config(model_name, batch, args.patch_length, dtype)
    model = models.model_from_config(config)
    rng = jax.random.key(0)
    x, y = (jax.device_put(a) for a in _batch(batch, args.patch_length))
    state = train_lib.create_train_state(config, model, rng)
    t0 = time.perf_counter()
    if mode == "train":
        data = {"x": x, "y": y}
        compiled = (
            jax.jit(train_lib.make_train_step(config, model), donate_argnums=0)
            .lower(state, data, rng)
            .compile()
        )
        holder = [state]

        def step():
            holder[0], metrics = compiled(holder[0], data, rng)
            return holder[0]
    else:
        variables = train_lib.eval_variables(state)
        compiled = (
            jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(variables, x).compile()
        )

        def step():
            return compiled(variables, x)

    return Prepared(step, jax.block_until_ready, time.perf_counter() - t0, _flops(compiled))


# ------------------------------------------------------------------------------------------- torch
def prepare_torch(model_name: str, batch: int, mode: str, impl: str, dtype: str, args) -> Prepared:
    """The twin's train step (MSE + Adam) or inference forward, eager or `torch.compile`d, run once."""
    import torch
    import torch.nn.functional as F

    from benchmarks.torch_unet import TorchAudioUNet

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = TorchAudioUNet(**MODELS[model_name]).to(device)
    fwd = (
        torch.compile(net, dynamic=False, mode=args.torch_compile_mode)
        if impl == "torch compile"
        else net
    )
    x, y = (torch.from_numpy(a).to(device) for a in _batch(batch, args.patch_length))
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    sync = (lambda _: torch.cuda.synchronize()) if device.type == "cuda" else (lambda _: None)

    if mode == "train":
        net.train()
        opt = torch.optim.Adam(
            net.parameters(),
            lr=3e-4,
            betas=(0.9, 0.999),
            eps=1e-8,
            fused=device.type == "cuda" or args.torch_fused_cpu,
        )

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast:
                loss = F.mse_loss(fwd(x).float(), y)
            loss.backward()
            opt.step()
            return loss
    else:
        net.eval()

        def step():
            with torch.inference_mode(), autocast:
                return fwd(x)

    t0 = time.perf_counter()
    sync(step())  # torch.compile compiles here; counted as compile time, like jaxsr's
    return Prepared(step, sync, time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------ driver
def cpu_info() -> dict:
    """The host CPU's model and the flags that decide bfloat16 speed (AMX, AVX-512 BF16), from /proc/cpuinfo."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:  # not Linux: the model string from platform is all there is
        pass
    wanted = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")
    return {"cpu_model": model, "cpu_flags": [f for f in wanted if f in flags]}


def device_info() -> dict:
    info = {
        "jax_backend": jax.default_backend(),
        "jax_device": jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        **cpu_info(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def peak_tflops(device_kind: str, dtype: str, override: float | None) -> float | None:
    if override:
        return override
    for name, peaks in PEAK_TFLOPS.items():
        if name.lower() in device_kind.lower():
            return peaks[dtype]
    return None


def plan(
    args, backend: str, has_torch: bool, cuda: bool
) -> list[tuple[tuple[str, int, str], list[tuple[str, str]]]]:
    """Groups `((model, batch, mode), [(impl, dtype), ...])`; the members of a group are timed in turns."""
    if (
        args.groups or args.impls
    ):  # explicit order: what matters most first, so a time budget cuts the rest
        keys = args.groups or [
            (m, b, mode) for m in args.models for b in args.batch_sizes for mode in args.modes
        ]
        members = args.impls or [("jaxsr", "float32")]
        members = [(i, d) for i, d in members if i == "jaxsr" or has_torch]
        if (
            not cuda
        ):  # PyTorch's bfloat16 autocast on CPU is its best mode on CPUs with AMX / AVX-512 BF16
            members = [
                (i, d) for i, d in members if i == "jaxsr" or d == "float32" or args.torch_cpu_bf16
            ]
        return [(k, list(members)) for k in keys]
    dtypes_jax = ["float32"] + (
        ["bfloat16"] if backend in ("gpu", "tpu", "cuda", "rocm") and not args.no_bf16 else []
    )
    dtypes_torch = ["float32"] + (["bfloat16"] if cuda and not args.no_bf16 else [])
    torch_impls = ["torch eager"] + ([] if args.no_torch_compile else ["torch compile"])
    groups = []
    for model_name in args.models:
        for batch in args.batch_sizes:
            if model_name == "full" and args.full_max_batch and batch > args.full_max_batch:
                continue
            for mode in args.modes:
                members = [("jaxsr", d) for d in dtypes_jax]
                if has_torch:
                    members += [(impl, d) for d in dtypes_torch for impl in torch_impls]
                groups.append(((model_name, batch, mode), members))
    return groups


def run_group(
    key: tuple[str, int, str], members: list[tuple[str, str]], args, info: dict
) -> list[Row]:
    """Compile every member of one (model, batch, mode) group, then time them in turns."""
    model_name, batch, mode = key
    rows, prepared = [], []
    for impl, dtype in members:
        row = Row(model_name, batch, mode, impl, dtype)
        print(
            f"compiling {model_name} batch={batch} {mode} {impl} {dtype} ...",
            file=sys.stderr,
            flush=True,
        )
        try:
            p = (
                prepare_jaxsr(model_name, batch, mode, dtype, args)
                if impl == "jaxsr"
                else prepare_torch(model_name, batch, mode, impl, dtype, args)
            )
        except (
            Exception
        ) as e:  # one failing mode (say torch.compile without a compiler) must not end the run
            row.error = f"{type(e).__name__}: {str(e)[:200]}"
            p = None
        rows.append(row)
        prepared.append(p)
    ok = [(r, p) for r, p in zip(rows, prepared) if p is not None]
    print(
        f"timing {len(ok)} implementations in turns, {args.reps} reps ...",
        file=sys.stderr,
        flush=True,
    )
    try:
        times = time_round_robin([p for _, p in ok], args.reps, args.steps_per_rep)
    except (
        Exception
    ) as e:  # e.g. out of memory at a large batch: report it and go on with the next group
        for r, _ in ok:
            r.error = f"{type(e).__name__}: {str(e)[:200]}"
        return rows
    xla_flops = next((p.xla_flops for (r, p) in ok if r.impl == "jaxsr" and p.xla_flops), None)
    flops = step_flops(model_name, batch, mode, args.patch_length)
    for (row, p), t in zip(ok, times):
        row.times, row.seconds, row.compile_seconds = t, statistics.median(t), p.compile_seconds
        row.xla_flops = xla_flops
        if flops:  # the same network, so the same work for every implementation
            row.model_flops = flops
            row.tflops_per_s = flops / row.seconds / 1e12
            kind = info["jax_device"] if row.impl == "jaxsr" else info.get("torch_device", "")
            peak = peak_tflops(kind, row.dtype, args.peak_tflops)
            row.mfu = row.tflops_per_s / peak if peak else None
    return rows


def summarise(rows: list[Row]) -> dict:
    """Speed ratios per (model, batch, mode): torch seconds / jaxsr seconds (> 1: jaxsr is faster)."""
    out = {}
    groups = {}
    for r in rows:
        if r.seconds is not None:
            groups.setdefault((r.model, r.batch, r.mode), []).append(r)
    for (m, b, mode), rs in groups.items():
        jx = {r.dtype: r.seconds for r in rs if r.impl == "jaxsr"}
        eager = {r.dtype: r.seconds for r in rs if r.impl == "torch eager"}
        torch_all = [r.seconds for r in rs if r.impl.startswith("torch")]
        if not jx or not torch_all:
            continue
        best_jax = min(jx.values())
        entry = {
            "jaxsr_vs_torch_eager": round(eager["float32"] / jx["float32"], 3)
            if "float32" in eager and "float32" in jx
            else None,
            "jaxsr_vs_best_torch": round(min(torch_all) / best_jax, 3),
        }
        if "bfloat16" in jx and "bfloat16" in eager:
            entry["jaxsr_vs_torch_eager_bf16"] = round(eager["bfloat16"] / jx["bfloat16"], 3)
        out[f"{m}/b{b}/{mode}"] = entry
    return out


def format_table(rows: list[Row]) -> str:
    head = (
        f"{'model':<12}{'batch':>6} {'mode':<8}{'impl':<15}{'dtype':<10}{'ms/step':>10}{'min ms':>9}"
        f"{'ex/s':>9}{'TFLOP/s':>9}{'MFU':>7}{'compile s':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.seconds is None:
            lines.append(
                f"{r.model:<12}{r.batch:>6} {r.mode:<8}{r.impl:<15}{r.dtype:<10}  failed: {r.error}"
            )
            continue
        tf = f"{r.tflops_per_s:9.3f}" if r.tflops_per_s is not None else f"{'-':>9}"
        mfu = f"{100 * r.mfu:6.1f}%" if r.mfu is not None else f"{'-':>7}"
        lines.append(
            f"{r.model:<12}{r.batch:>6} {r.mode:<8}{r.impl:<15}{r.dtype:<10}{1e3 * r.seconds:10.2f}"
            f"{1e3 * min(r.times):9.2f}{r.batch / r.seconds:9.1f}{tf}{mfu}{r.compile_seconds:10.1f}"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: width-0.25 model, batch 4, 2 reps"
    )
    p.add_argument(
        "--models",
        default=None,
        help=f"comma-separated, from {list(MODELS)} (default: width-0.25 on CPU, width-0.25,full elsewhere)",
    )
    p.add_argument(
        "--batch-sizes",
        default=None,
        help="comma-separated, from 4,8,16,32,64 (default: 4,8 on CPU, 4,8,16,32,64 on GPU/TPU)",
    )
    p.add_argument(
        "--full-max-batch",
        type=int,
        default=None,
        help="skip the full model above this batch (default: 4 on CPU, none elsewhere)",
    )
    p.add_argument("--modes", default="train,forward", help="comma-separated: train, forward")
    p.add_argument("--patch-length", type=int, default=8192)
    p.add_argument(
        "--reps", type=int, default=None, help="timed repetitions (default: 3 on CPU, 20 elsewhere)"
    )
    p.add_argument(
        "--steps-per-rep",
        type=int,
        default=None,
        help="steps per repetition (default 1 on CPU, 5 elsewhere)",
    )
    p.add_argument("--no-torch", action="store_true", help="time jaxsr only")
    p.add_argument("--no-torch-compile", action="store_true")
    p.add_argument(
        "--torch-compile-mode", default=None, help="e.g. max-autotune (default: torch's default)"
    )
    p.add_argument(
        "--torch-fused-cpu",
        action="store_true",
        help="fused Adam on CPU too (always fused on CUDA)",
    )
    p.add_argument("--no-bf16", action="store_true", help="float32 only, also on GPU/TPU")
    p.add_argument(
        "--peak-tflops", type=float, default=None, help="device peak for MFU (default: known table)"
    )
    p.add_argument(
        "--groups",
        default=None,
        help="comma-separated MODEL:BATCH:MODE timed in this order, instead of models x batches x modes",
    )
    p.add_argument(
        "--impls",
        default=None,
        help="comma-separated IMPL/DTYPE members of every group, IMPL one of jaxsr, torch-eager, "
        "torch-compile and DTYPE float32 or bfloat16 (default: all that the device supports)",
    )
    p.add_argument(
        "--torch-cpu-bf16",
        action="store_true",
        help="with --impls: keep PyTorch bfloat16 autocast members on CPU too",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds: groups not started within this budget are skipped and listed as such",
    )
    p.add_argument(
        "--out", metavar="JSON", help="also write the JSON result here, rewritten after every group"
    )
    p.add_argument(
        "--json", action="store_true", help="only the JSON line on stdout; the table on stderr"
    )
    p.add_argument(
        "--plot", metavar="PNG", help="also write examples/s against batch size to this PNG"
    )
    args = p.parse_args(argv)
    accel = jax.default_backend() != "cpu"
    args.models = [
        m.strip()
        for m in (args.models or ("width-0.25,full" if accel else "width-0.25")).split(",")
        if m.strip()
    ]
    for m in args.models:
        check_model(p, "--models", m)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in args.modes:
        if m not in ("train", "forward"):
            p.error(f"--modes: unknown mode {m!r}; use train and/or forward")
    if args.quick:
        args.models, args.batch_sizes, args.reps = (
            ["width-0.25"],
            args.batch_sizes or "4",
            args.reps or 2,
        )
    try:
        args.batch_sizes = [
            int(b) for b in (args.batch_sizes or ("4,8,16,32,64" if accel else "4,8")).split(",")
        ]
    except ValueError:
        p.error(
            f"--batch-sizes: expected comma-separated integers such as 4,8,16; got {args.batch_sizes!r}"
        )
    if any(b < 1 for b in args.batch_sizes):
        p.error("--batch-sizes: every batch size must be positive")
    multiple = max(models.length_multiple(MODELS[m]["num_blocks"]) for m in args.models)
    if args.patch_length <= 0 or args.patch_length % multiple:
        p.error(
            f"--patch-length: got {args.patch_length}; use a positive multiple of {multiple} such as 8192"
        )
    args.groups = _parse_groups(p, args.groups) if args.groups else None
    args.impls = _parse_impls(p, args.impls) if args.impls else None
    args.reps = args.reps or (20 if accel else 3)
    args.steps_per_rep = args.steps_per_rep or (5 if accel else 1)
    if args.full_max_batch is None and not accel:
        args.full_max_batch = 4
    return args


def check_model(p: argparse.ArgumentParser, flag: str, name: str) -> None:
    """argparse's usage error for a model name that is not in MODELS (with the new name of a renamed one)."""
    if name in RENAMED:
        p.error(
            f"{flag}: the model {name!r} is now called {RENAMED[name]!r} (configs/quickstart.py's network is "
            "width-0.125)"
        )
    if name not in MODELS:
        p.error(f"{flag}: unknown model {name!r}; use any of {list(MODELS)}")


def _parse_groups(p: argparse.ArgumentParser, spec: str) -> list[tuple[str, int, str]]:
    groups = []
    for item in (g.strip() for g in spec.split(",") if g.strip()):
        parts = item.split(":")
        if len(parts) == 3:
            check_model(p, "--groups", parts[0])
        if (
            len(parts) != 3
            or parts[2] not in ("train", "forward")
            or not parts[1].isdigit()
            or int(parts[1]) < 1
        ):
            p.error(
                f"--groups: bad group {item!r}; use MODEL:BATCH:MODE with MODEL in {list(MODELS)}, "
                "a positive BATCH and MODE train or forward, e.g. full:64:train"
            )
        groups.append((parts[0], int(parts[1]), parts[2]))
    return groups


def _parse_impls(p: argparse.ArgumentParser, spec: str) -> list[tuple[str, str]]:
    names = {"jaxsr": "jaxsr", "torch-eager": "torch eager", "torch-compile": "torch compile"}
    impls = []
    for item in (g.strip() for g in spec.split(",") if g.strip()):
        impl, _, dtype = item.partition("/")
        if impl not in names or dtype not in ("float32", "bfloat16"):
            p.error(
                f"--impls: bad member {item!r}; use IMPL/DTYPE with IMPL in {sorted(names)} and DTYPE "
                "float32 or bfloat16, e.g. torch-compile/bfloat16"
            )
        impls.append((names[impl], dtype))
    return impls


def _write_json(path: str, result: dict) -> None:
    """Atomic, so that a run killed mid-write leaves the previous group's complete result."""
    from jaxsr.files import write_atomic

    write_atomic(path, json.dumps(result))


def main(argv=None) -> dict:
    args = parse_args(argv)
    has_torch, cuda = False, False
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(os.cpu_count() or 1)
            torch.backends.cudnn.benchmark = (
                True  # pick the fastest conv algorithms, as XLA's autotuner does
            )
            has_torch, cuda = True, torch.cuda.is_available()
        except ImportError:
            print(
                "PyTorch not installed (pip install -r requirements-bench.txt): timing jaxsr only",
                file=sys.stderr,
            )
    info = device_info()
    print(f"device: {json.dumps(info)}", file=sys.stderr)
    if cuda != (info["jax_backend"] == "gpu"):
        print(
            "warning: jax and torch are not on the same kind of device; ratios compare different hardware",
            file=sys.stderr,
        )

    rows, skipped = [], []
    t_start = time.perf_counter()

    def result() -> dict:
        return {
            "device": info,
            "patch_length": args.patch_length,
            "reps": args.reps,
            "steps_per_rep": args.steps_per_rep,
            "ratios": summarise(rows),
            "rows": [{k: v for k, v in asdict(r).items()} for r in rows],
            "skipped": [f"{m}/b{b}/{mode}" for m, b, mode in skipped],
        }

    for key, members in plan(args, info["jax_backend"], has_torch, cuda):
        if args.time_budget is not None and time.perf_counter() - t_start > args.time_budget:
            skipped.append(key)
            print(
                f"time budget of {args.time_budget:g} s spent: skipping {key}",
                file=sys.stderr,
                flush=True,
            )
            continue
        rows += run_group(key, members, args, info)
        if args.out:
            _write_json(args.out, result())
        gc.collect()
        if has_torch:
            import torch

            torch._dynamo.reset()  # a fresh compile cache per group: no recompile limits, no dynamic shapes
            if cuda:
                torch.cuda.empty_cache()  # hand cached blocks back so the next group's JAX arrays fit

    table = format_table(rows)
    print(table, file=sys.stderr if args.json else sys.stdout)
    out = result()
    if args.out:
        _write_json(args.out, out)
    print(json.dumps(out), flush=True)
    if args.plot:  # after the JSON, so a plotting failure cannot lose the numbers
        from benchmarks.plotting import plot_throughput

        device = (
            info["jax_device"]
            if info["jax_backend"] != "cpu"
            else f"CPU, {info['cpu_count']} cores"
        )
        try:
            print(f"wrote {plot_throughput(rows, args.plot, device)}", file=sys.stderr)
        except ValueError as e:  # every row failed: nothing to draw, and the JSON already says why
            print(f"no plot: {e}", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
