"""Package a trained workdir as a pretrained model: `NAME.npz`, `NAME.json` and the model card `NAME.md`.

    python -m jaxsr.pretrained.build --workdir runs/pretrained/speech-sr-x4-16k --name speech-sr-x4-16k \
        --config-file configs/pretrained/speech_sr_x4_16k.py --scores robustness.json \
        --description "4 kHz -> 16 kHz speech, any resampler"

`--scores` is the `--json` output of the tool that scored the model on held-out data
(`benchmarks/robustness.py` for sr, `benchmarks/denoise_robustness.py` or `launch/evaluate.py` for the
others); it is stored as is, with a summary the model card prints. Parameters are stored as float16;
the build measures how far that moves the output (on `--check-audio`, a held-out file) and records it.
Writes are atomic; the manifest's SHA-256 is what `jaxsr.pretrained.read` (and so `jaxsr.load`) checks.

`--polarity-equivariant` packages the weights to run as `model.polarity_equivariant = True` (the network
on x and -x, `jaxsr.models.AudioUNet`): the same parameters, an inference-time choice the card records,
for a model trained on both polarities (`data.random_polarity`). Score the packaged model, not the
workdir, when it is set.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import pathlib
import re
import sys
from typing import Any

import numpy as np

from jaxsr import pretrained
from jaxsr.files import write_atomic
from jaxsr.pretrained import flatten, sha256

SPEECH_44K = (
    "speech-44k (../shared/data/speech-44k): 141 recordings of one speaker, 44.1 kHz FLAC, Apache-2.0; the "
    "files that sort last are held out and never trained on"
)
LIBRISPEECH = (
    "LibriSpeech (c) 2014 Vassil Panayotov, Creative Commons Attribution 4.0 (CC BY 4.0), as the subset "
    "../shared/data/librispeech-261: 16 kHz read speech of 261 speakers; 251 speakers' recordings train, "
    "12 of them (chosen by a hash of their ids) are held out to validate, and the 10 speakers of its "
    "test/ folder are never trained on nor used to pick a checkpoint: the scores below are theirs"
)
NOISE_REAL = (
    "background noise from the Speech Commands dataset (Pete Warden, CC BY 4.0) as kept in "
    "../shared/data/noise-real, the last 20% of every recording held out"
)
GENERATED = (
    "Noise and room responses, where used, are generated; synthetic voices come from jaxsr's embedded "
    "corpus. No other recordings."
)


def training_data(config, origin: str | None = None) -> tuple[str, str]:
    """(what the model was trained on, the training data's licences) for a model card, from its config.
    `origin`: what the first of its stages was fine-tuned from (`training_info`'s "origin"); without it, the
    config's own `train.init_from`."""
    parts, licences = [], []
    if config.data.name == "librispeech":
        parts.append(LIBRISPEECH)
        licences.append("CC BY 4.0 (LibriSpeech)")
    else:
        parts.append(SPEECH_44K)
        licences.append("Apache-2.0 (speech-44k)")
    if config.task.name == "denoise" and "folder" in tuple(config.task.noise_types):
        parts.append(NOISE_REAL)
        licences.append("CC BY 4.0 (Speech Commands noise)")
    init = origin or config.train.get("init_from", "")
    if init and config.data.name == "librispeech":
        parts.append(
            f"fine-tuned from the earlier one-speaker model ({init}), trained on " + SPEECH_44K
        )
        licences.append("Apache-2.0 (speech-44k)")
    return "; ".join(parts) + ". " + GENERATED, ", ".join(dict.fromkeys(licences))


def encode_variables(variables: dict) -> bytes:
    """The `.npz` bytes: params as float16, everything else (BatchNorm statistics) as float32."""
    flat = flatten(variables)
    arrays = {}
    for k, v in flat.items():
        v = np.asarray(v, np.float32)
        if k.startswith("params/"):
            if np.abs(v).max(initial=0) > np.finfo(np.float16).max:
                raise ValueError(
                    f"{k}: values beyond float16's range; this model cannot be stored as float16"
                )
            v = v.astype(np.float16)
        arrays[k] = v
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _stage_info(workdir: pathlib.Path, step: int) -> dict:
    """Steps, wall time, date and device of one training run, from its log (`[time] ...` lines)."""
    info: dict[str, Any] = {"steps": int(step)}
    log = workdir / "log.txt"
    if log.is_file():
        text = log.read_text()
        lines = re.findall(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] (.*)$", text, flags=re.M)
        times = [datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S") for s, _ in lines]
        # A run stopped by a signal and resumed later was not training in between: that pause (from the
        # "stopped by signal" line to the next line) is not wall time the model cost.
        paused = sum(
            (times[i + 1] - times[i]).total_seconds()
            for i, (_, msg) in enumerate(lines[:-1])
            if msg.startswith("stopped by signal")
        )
        # The step's checkpoint is the run's last sure sign of life: a run that failed after saving it (its
        # final evaluation, say) logged no closing line.
        step_dir = workdir / "checkpoints" / str(int(step))
        if times and step_dir.is_dir():
            times.append(
                datetime.datetime.fromtimestamp(step_dir.stat().st_mtime).replace(microsecond=0)
            )
        if len(times) >= 2:
            t0, t1 = times[0], max(times)
            info["wall_minutes_logged"] = round(((t1 - t0).total_seconds() - paused) / 60, 1)
            info["date"] = t1.date().isoformat()
        m = re.search(r"(\d+) device\(s\) \[(\w+)\]", text)
        if m:  # the log names the backend; for a CPU, the core count is what tells the cost
            info["device"] = (
                f"a {os.cpu_count()}-core CPU"
                if m.group(2) == "cpu"
                else f"{m.group(1)} x {m.group(2)}"
            )
    return info


def _without_per_file(scores: Any) -> Any:
    """A benchmark's JSON without its per-file rows (`per_file`, `files`): the manifest keeps the means, the
    intervals and the per-speaker table; a score per file of every condition would make it larger than the
    weights it describes."""
    if isinstance(scores, dict):
        return {
            k: _without_per_file(v) for k, v in scores.items() if k not in ("per_file", "files")
        }
    if isinstance(scores, list):
        return [_without_per_file(v) for v in scores]
    return scores


def training_info(workdir: pathlib.Path, step: int) -> dict:
    """Steps, wall time and device of the run that made `workdir`'s step `step`, over all its stages.

    A fine-tuning run (`train.init_from` naming an earlier workdir) continues that run's training, so the
    earlier stages are followed back and counted: `steps` and `wall_minutes_logged` are totals and
    `stages` lists each (oldest first) with its workdir and steps. `origin`, where there is one, is what the
    oldest stage was fine-tuned from (a packaged model's name, or a workdir no longer here).
    """
    from jaxsr.checkpoints import checkpoint_steps, read_config

    stages = [{"workdir": str(workdir), **_stage_info(workdir, step)}]
    seen = {workdir.resolve()}
    current, origin = workdir, ""
    while True:
        try:
            source = read_config(current).train.get("init_from", "")
        except (FileNotFoundError, ValueError):
            break
        earlier = pathlib.Path(source).expanduser() if source else None
        if earlier is None or earlier.resolve() in seen:
            break  # from scratch (or a loop of workdirs)
        if not earlier.is_dir():
            origin = source  # a packaged model, or a workdir no longer here
            break
        steps = checkpoint_steps(earlier)
        stages.insert(
            0, {"workdir": str(earlier), **_stage_info(earlier, steps[-1] if steps else 0)}
        )
        seen.add(earlier.resolve())
        current = earlier
    info = dict(stages[-1])
    del info["workdir"]
    if origin:
        info["origin"] = origin
    if len(stages) > 1:
        info["steps"] = sum(st["steps"] for st in stages)
        if all("wall_minutes_logged" in st for st in stages):
            info["wall_minutes_logged"] = round(sum(st["wall_minutes_logged"] for st in stages), 1)
        info["stages"] = stages
    return info


def storage_error(variables: dict, config, audio: np.ndarray) -> dict:
    """How far float16 storage moves the restored output on `audio` (at the model's input)."""
    from jaxsr.inference import Model, run_model
    from jaxsr.pretrained import unflatten

    with np.load(io.BytesIO(encode_variables(variables))) as z:
        stored = unflatten({k: np.asarray(z[k], np.float32) for k in z.files})
    a = run_model(Model.from_variables(variables, config).variables, config, audio)
    b = run_model(Model.from_variables(stored, config).variables, config, audio)
    err = float(np.sqrt(np.mean((a - b) ** 2)))
    ref = float(np.sqrt(np.mean(a**2)))
    return {
        "max_abs_diff": float(np.max(np.abs(a - b))),
        "rms_diff": err,
        "snr_db_vs_float32": float(20 * np.log10(ref / max(err, 1e-30))),
    }


def model_card(m: dict) -> str:
    """The Markdown model card from a manifest."""
    t = m["training"]
    lines = [
        f"# {m['name']}",
        "",
        m["description"],
        "",
        "| | |",
        "|---|---|",
        f"| task | `{m['task']}`" + (f", ratio {m['ratio']}" if m.get("ratio") else "") + " |",
        f"| input rate | {m['input_rate']:g} Hz |",
        f"| output rate | {m['sample_rate']} Hz |",
        f"| parameters | {m['params']:,} (stored as {m['storage']['dtype']}, "
        f"{m['storage']['bytes'] / 1e6:.1f} MB) |",
        f"| recipe | `{t.get('config_file', '?')}` |",
        f"| training | {t['steps']} steps"
        + (
            f" in {len(t['stages'])} stages ({' + '.join(str(st['steps']) for st in t['stages'])}, each from the "
            "last params of the one before, with a fresh optimizer and cosine schedule)"
            if t.get("stages")
            else ""
        )
        + f" on {t.get('device', '?')}"
        + (f", {t['wall_minutes_logged']} min logged" if "wall_minutes_logged" in t else "")
        + (f", {t['date']}" if "date" in t else "")
        + " |",
        *(
            [
                f"| inference | polarity-equivariant: the network runs on the input and on its negative, output "
                f"(g(x) - g(-x)) / 2, so either polarity of a recording is restored alike (`model.polarity_equivariant`"
                f"{', set at packaging; trained as the plain network' if m.get('polarity_equivariant_set_at_packaging') else ''}"
                ") |"
            ]
            if m.get("config", {}).get("model", {}).get("polarity_equivariant")
            else []
        ),
        f"| data | {t['data']} |",
        f"| licence | model: Apache-2.0; training data: {t.get('data_licence', 'Apache-2.0')} |",
        f"| SHA-256 | `{m['sha256']}` |",
        "",
    ]
    st = m["storage"]
    if "snr_db_vs_float32" in st:
        lines += [
            f"Float16 storage moves the output by at most {st['max_abs_diff']:.2e} (RMS {st['rms_diff']:.2e}, "
            f"{st['snr_db_vs_float32']:.1f} dB below the signal) on a held-out file, against the float32 weights.",
            "",
        ]
    summary = m.get("scores", {}).get("summary")
    if summary:
        lines += ["## Scores on held-out recordings", "", summary, ""]
    call = f"restored = jaxsr.enhance(model, audio, sample_rate={m['input_rate']:g})"
    cli = f"python launch/enhance.py --checkpoint {m['name']} input.wav -o restored/"
    if (
        m["task"] == "inpaint"
    ):  # the gaps must be marked: a mask, or runs of digital zeros on the command line
        call = call[:-1] + ", mask=missing)  # missing: bool [time], True inside the gaps"
        cli += " --gaps-from-zeros 5"
    lines += [
        "## Use",
        "",
        "```python",
        "import jaxsr",
        f"model = jaxsr.load({m['name']!r})",
        call,
        "```",
        "",
        f"`{cli}`",
        "",
    ]
    return "\n".join(lines)


def build(
    workdir: str,
    name: str,
    *,
    config_file: str,
    description: str,
    scores: dict | None = None,
    summary: str = "",
    headline: str = "",
    check_audio: str | None = None,
    out_dir: pathlib.Path | None = None,
    polarity_equivariant: bool = False,
) -> dict:
    """Write `NAME.npz`, `NAME.json`, `NAME.md` into `out_dir` from `workdir`'s latest checkpoint;
    `polarity_equivariant`: run it with `model.polarity_equivariant = True` (see the module docstring)."""
    from jaxsr.checkpoints import load_checkpoint
    from jaxsr.inference import expected_input_rate

    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name):
        raise ValueError(
            f"--name {name!r}: use lower-case letters, digits, '.' and '-' (e.g. speech-sr-x4-16k)"
        )
    restored = load_checkpoint(workdir, "latest")
    config, variables = restored.config, {k: v for k, v in restored.variables.items()}
    set_at_packaging = polarity_equivariant and not config.model.get("polarity_equivariant", False)
    if polarity_equivariant:
        config.model.polarity_equivariant = True
    data = encode_variables(variables)
    training = training_info(pathlib.Path(workdir), restored.step)
    data_text, data_licence = training_data(config, training.get("origin"))
    out_dir = pathlib.Path(out_dir) if out_dir is not None else pretrained.MODELS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    npz = out_dir / f"{name}.npz"
    write_atomic(npz, data)
    storage = {"dtype": "float16", "bytes": len(data)}
    if check_audio:
        from jaxsr.audio_io import read_audio

        audio, _ = read_audio(check_audio, sample_rate=int(config.data.sample_rate))
        audio = np.asarray(audio, np.float32).reshape(len(audio), -1).mean(axis=1)
        storage.update(storage_error(variables, config, audio))
    params = int(
        sum(np.asarray(v).size for k, v in flatten(variables).items() if k.startswith("params/"))
    )
    manifest = {
        "name": name,
        "task": config.task.name,
        "ratio": int(config.task.ratio) if config.task.name == "sr" else None,
        "sample_rate": int(config.data.sample_rate),
        "input_rate": float(expected_input_rate(config)),
        "params": params,
        "description": description,
        "file": npz.name,
        "sha256": sha256(npz),
        "storage": storage,
        "training": {
            **training,
            "config_file": config_file,
            "data": data_text,
            "data_licence": data_licence,
        },
        "scores": {
            "headline": headline,
            "summary": summary,
            **({"detail": _without_per_file(scores)} if scores else {}),
        },
        "config": json.loads(_config_json(config)),
    }
    if set_at_packaging:
        manifest["polarity_equivariant_set_at_packaging"] = True
    manifest["config_sha256"] = pretrained.config_sha256(
        manifest
    )  # what changes the output, checked at load
    write_atomic(
        out_dir / f"{name}.json", (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    )
    write_atomic(out_dir / f"{name}.md", model_card(manifest).encode())
    return manifest


def _config_json(config) -> str:
    from jaxsr.config import config_to_json

    return config_to_json(config)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m jaxsr.pretrained.build", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--workdir", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--config-file", required=True, help="the recipe, for the model card")
    p.add_argument("--description", required=True)
    p.add_argument("--scores", help="JSON file of held-out scores (a scoring tool's --json output)")
    p.add_argument(
        "--summary", default="", help="Markdown summary of the scores for the model card"
    )
    p.add_argument("--summary-file", help="... read from this file instead")
    p.add_argument(
        "--headline",
        default="",
        help="one line of held-out results for `python -m jaxsr.pretrained`",
    )
    p.add_argument("--check-audio", help="a held-out audio file to measure float16 storage on")
    p.add_argument("--out-dir", help="default: jaxsr/pretrained/models (or $JAXSR_PRETRAINED_DIR)")
    p.add_argument(
        "--polarity-equivariant",
        action="store_true",
        help="run the packaged weights with model.polarity_equivariant=True (recorded in the card)",
    )
    args = p.parse_args(argv)
    scores = json.loads(pathlib.Path(args.scores).read_text()) if args.scores else None
    summary = (
        pathlib.Path(args.summary_file).read_text().strip() if args.summary_file else args.summary
    )
    try:
        m = build(
            args.workdir,
            args.name,
            config_file=args.config_file,
            description=args.description,
            scores=scores,
            summary=summary,
            headline=args.headline,
            check_audio=args.check_audio,
            out_dir=args.out_dir,
            polarity_equivariant=args.polarity_equivariant,
        )
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"wrote {m['name']}: {m['params']:,} params, {m['storage']['bytes'] / 1e6:.2f} MB, sha256 {m['sha256'][:12]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
