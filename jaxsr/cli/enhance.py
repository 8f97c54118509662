"""Restore audio files with a trained model.

    jaxsr enhance --checkpoint runs/quickstart recordings/ extra.flac -o restored/
    python launch/enhance.py --checkpoint speech-sr-x4-16k recording_4k.wav -o restored/   # the same CLI

Inputs are files or folders (searched recursively); each output keeps its name relative to the input
folder (or its file name) under `-o`, at the model's target rate, with the input's channel layout and
duration. Inputs at another rate are resampled to the rate the model expects (reported per file); an sr
input at a rate between the model's input and output rates keeps its own band (`kept_input_band_hz`).
Nothing is written over an input, nor over an existing output unless `--overwrite`. A file that cannot
be read or restored is reported and skipped. Exit status: 0 all files restored, 1 some failed, 2 usage
error (bad flags, checkpoint, or output paths: checked before any restoring; a disk that fills up or an
output folder that turns read-only mid-run also stops the run with 2). `--json` prints one JSON summary on stdout; logs and
the progress bar go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys
import time
import warnings

from jaxsr.cli import common  # light: argparse helpers, no JAX

log = logging.getLogger("jaxsr.enhance_cli")


# --gaps-from-zeros above an hour marks nothing a model could fill (its gaps are tens of milliseconds).
MAX_GAP_MS = 3_600_000.0


class UsageError(Exception):
    """Something wrong with the command line: exit status 2, nothing written."""


def parse_args(argv: list[str] | None, prog: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="audio files or folders (searched recursively)"
    )
    common.add_model_args(p)
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument(
        "--task", choices=("sr", "denoise", "inpaint"), help="must match the checkpoint's task"
    )
    p.add_argument("--ratio", type=int, help="sr ratio; must match the checkpoint's")
    p.add_argument(
        "--band-limited",
        action="store_true",
        help="sr: inputs are already at the target rate (band-limited), not at the low rate",
    )
    p.add_argument(
        "--gaps-from-zeros",
        type=float,
        metavar="MS",
        help="inpaint: treat every run of exactly-zero samples at least MS ms long as missing (dropped "
        "packets, dropouts); the rest of the file is kept as it is. Inputs must be at the model's rate",
    )
    p.add_argument(
        "--any-rate",
        action="store_true",
        help="accept input rates outside 1-768 kHz (refused by default: such a rate is usually a damaged header)",
    )
    p.add_argument(
        "--format",
        choices=("wav", "flac"),
        help="output format (default: the input's if wav/flac, else wav)",
    )
    p.add_argument(
        "--subtype",
        choices=("keep", "PCM_16", "PCM_24", "PCM_32", "FLOAT"),
        default="keep",
        help="sample format of the outputs (default keep: the input's where the output format has it, "
        "else PCM_16; FLOAT is WAV only). Gap filling gives the kept samples back bit-exact in it",
    )
    p.add_argument(
        "--spectrogram",
        action="store_true",
        help="also save a before/after spectrogram PNG per file",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--batch-size",
        type=int,
        help="chunks per forward pass (default: 1 on CPU, the config's eval.batch_size on GPU/TPU)",
    )
    p.add_argument("--chunk-length", type=int, help="samples per chunk (default: the config's)")
    common.add_runtime_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON summary object on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    common.check_args(p, args, positive=("batch_size",))
    if args.gaps_from_zeros is not None and not 0 < args.gaps_from_zeros <= MAX_GAP_MS:
        p.error(
            f"--gaps-from-zeros must be a number of milliseconds in (0, {MAX_GAP_MS:g}]; got {args.gaps_from_zeros}"
        )
    return args


def _resolved(path: pathlib.Path) -> pathlib.Path:
    """`path.resolve()`, or its absolute path for a symlink loop (Python 3.11 raises RuntimeError there):
    such a file is skipped and reported when it is read, like any other unreadable file."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return pathlib.Path(os.path.abspath(path))


def plan_outputs(
    inputs: list[str], outdir: pathlib.Path, fmt: str | None, overwrite: bool, spectrogram: bool
) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """`(input file, output file)` pairs. Raises UsageError for paths that would clash or overwrite."""
    from jaxsr.audio_io import list_audio_files

    pairs = []
    for item in inputs:
        root = pathlib.Path(item).expanduser()
        try:
            files = list_audio_files(root)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(str(e)) from None
        for f in files:
            rel = (
                pathlib.Path(f.name) if f == root else f.relative_to(root)
            )  # a named file (or broken link)
            suffix = (
                "." + fmt
                if fmt
                else (f.suffix.lower() if f.suffix.lower() in (".wav", ".flac") else ".wav")
            )
            pairs.append((f, outdir / rel.with_suffix(suffix)))
    sources = {_resolved(f) for f, _ in pairs}
    seen: dict[pathlib.Path, pathlib.Path] = {}
    existing = []
    for f, out in pairs:
        targets = [out] + ([out.with_suffix(".png")] if spectrogram else [])
        for t in targets:
            r = _resolved(t)
            if r in sources:
                raise UsageError(
                    f"output {t} would overwrite the input {r}; choose another -o/--output folder "
                    "or --format."
                )
            if r in seen:
                raise UsageError(
                    f"inputs {seen[r]} and {f} would both be written to {t}; restore them into "
                    "separate output folders."
                )
            seen[r] = f
            if t.exists():
                existing.append(t)
    if existing and not overwrite:
        shown = ", ".join(str(t) for t in existing[:3]) + (
            f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        )
        raise UsageError(
            f"{len(existing)} output file(s) already exist ({shown}); pass --overwrite to replace them."
        )
    return pairs


def check_output_folders(
    outdir: pathlib.Path, pairs: list[tuple[pathlib.Path, pathlib.Path]], output_rate: int
) -> None:
    """UsageError, before any restoring, when the outputs cannot be written: `-o` is a file, a folder is
    read-only or immutable, or the disk lacks room for the outputs (16-bit samples at the output rate)."""
    from jaxsr.files import check_writable, describe_os_error

    if outdir.exists() and not outdir.is_dir():
        raise UsageError(
            f"-o/--output {outdir} is a file; pass a folder (it is created if missing)."
        )
    need = sum(_output_bytes(f, output_rate) for f, _ in pairs)
    folders = sorted({out.parent for _, out in pairs}, key=lambda d: len(d.parts))
    for i, folder in enumerate(folders or [outdir]):
        try:
            check_writable(folder, need if i == 0 else 0)
        except OSError as e:
            raise UsageError(
                f"cannot write the outputs into {folder}: {describe_os_error(e)}; choose another "
                "-o/--output folder, or fix its permissions or free space."
            ) from None


def _output_bytes(path: pathlib.Path, output_rate: int) -> int:
    import soundfile as sf

    from jaxsr.audio_io import sf_path

    try:
        info = sf.info(sf_path(path))
    except Exception:  # unreadable here: the real read reports the error
        return 0
    return int(info.duration * output_rate * info.channels * 2)


def _duration(path: pathlib.Path) -> float:
    import soundfile as sf

    from jaxsr.audio_io import sf_path

    try:
        return float(sf.info(sf_path(path)).duration)
    except Exception:  # unreadable here: the real read reports the error
        return 0.0


def output_subtype(src: pathlib.Path, dst: pathlib.Path, choice: str) -> str:
    """The sample format to write `dst` in: `choice`, or for "keep" the input's where `dst`'s format has it
    (a 24-bit FLAC stays 24-bit, a float WAV float), else PCM_16."""
    import soundfile as sf

    from jaxsr.audio_io import SUBTYPES, sf_path

    fmt = "FLAC" if dst.suffix.lower() == ".flac" else "WAV"
    if choice != "keep":
        if choice not in SUBTYPES[fmt]:
            raise ValueError(f"--subtype {choice}: {fmt} files take {', '.join(SUBTYPES[fmt])}")
        return choice
    try:
        given = sf.info(sf_path(src)).subtype
    except Exception:  # decoded another way (MP3 through librosa, ...): no PCM subtype to keep
        return "PCM_16"
    given = {"DOUBLE": "FLOAT"}.get(given, given)
    return given if given in SUBTYPES[fmt] else "PCM_16"


def restore_file(model, src: pathlib.Path, dst: pathlib.Path, args: argparse.Namespace) -> dict:
    """Read, restore and write one file; returns its summary record. Raises on any failure."""
    from jaxsr import inference as E
    from jaxsr.audio_io import read_audio, resample, write_audio

    x, rate = read_audio(src)
    if (
        x.shape[1] > E.MAX_CHANNELS
    ):  # enhance() would advise transposing an array, which a file cannot be
        raise ValueError(
            f"{src} has {x.shape[1]} channels; at most {E.MAX_CHANNELS} are restored per file. Split it "
            f"into files of up to {E.MAX_CHANNELS} channels (or downmix it) with an audio editor or "
            "ffmpeg, and restore those."
        )
    mask = E.zero_gaps(x, rate, args.gaps_from_zeros) if args.gaps_from_zeros else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y, info = E.enhance(
            model,
            x,
            sample_rate=rate,
            band_limited=args.band_limited,
            mask=mask,
            batch_size=args.batch_size,
            chunk_length=args.chunk_length,
            return_info=True,
            allow_any_rate=args.any_rate,
        )
    notes = [str(w.message) for w in caught]
    for n in notes:
        log.warning("%s: %s", src, n)
    subtype = output_subtype(src, dst, args.subtype)
    if info.get("output_clipped_samples") and subtype != "FLOAT":
        log.warning(
            "%s: %d output samples at or past full scale are clipped in %s; --subtype FLOAT keeps them",
            src,
            info["output_clipped_samples"],
            subtype,
        )
    write_audio(dst, y, model.sample_rate, subtype=subtype)
    record = {
        "input": str(src),
        "output": str(dst),
        "seconds": info["seconds"],
        "input_rate": rate,
        "output_rate": model.sample_rate,
        "channels": info["channels"],
        "resampled": info["resampled"],
        "kept_input_band_hz": info["kept_input_band_hz"],
        "elapsed_s": round(info["elapsed_s"], 4),
        "warnings": notes,
    }
    if mask is not None:
        record["masked_samples"] = info["masked_samples"]
    if args.spectrogram:
        from jaxsr.plots import save_spectrograms

        before = (
            x[:, 0] if rate == model.sample_rate else resample(x[:, 0], rate, model.sample_rate)
        )
        png = save_spectrograms(
            dst.with_suffix(".png"),
            {f"input ({rate} Hz)": before, "restored": y.reshape(len(y), -1)[:, 0]},
            model.sample_rate,
            title=src.name,
        )
        record["spectrogram"] = str(png)
    return record


def _output_failure(e: BaseException, dst: pathlib.Path) -> str | None:
    """What went wrong with the output folder if `e` is a write failure every later file would share
    (no space, permission denied, read-only), else None. libsndfile reports a full disk only as
    "System error", so its errors are told apart by the free space left."""
    import shutil

    from jaxsr.files import PATH_ERRNOS, describe_os_error, os_errno

    if os_errno(e) in PATH_ERRNOS:
        return describe_os_error(e)
    if type(e).__name__ == "LibsndfileError":
        try:
            if shutil.disk_usage(dst.parent).free < 1 << 20:
                return f"no space left on device ({dst.parent})"
        except OSError:
            pass
    return None


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    common.setup_logging(args.quiet)
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from jaxsr import inference as E

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(
            record=True
        ) as caught:  # e.g. a damaged latest step was skipped
            warnings.simplefilter("always")
            model = E.load(
                args.checkpoint, args.which, runtime=args.runtime, precision=args.precision
            )
        for w in caught:
            log.warning("%s", w.message)
        E.resolve_task(model.config, args.task, args.ratio)
        if args.band_limited and model.config.task.name != "sr":
            raise ValueError(
                f"--band-limited only applies to sr models; this checkpoint does {model.config.task.name}."
            )
        # Planned once up front: an export with fixed chunk lengths this audio cannot use fails here, not per file.
        E.chunk_plan(model.config, args.chunk_length, forward=model.forward)
        if args.gaps_from_zeros and model.config.task.name != "inpaint":
            raise ValueError(
                f"--gaps-from-zeros only applies to inpaint models; this checkpoint does "
                f"{model.config.task.name}."
            )
        outdir = pathlib.Path(args.output).expanduser()
        pairs = plan_outputs(args.inputs, outdir, args.format, args.overwrite, args.spectrogram)
        check_output_folders(outdir, pairs, model.sample_rate)
    except (UsageError, ValueError, FileNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log.info(
        "restoring %d file(s) with %s (step %d, task %s; %s %s) into %s",
        len(pairs),
        model.path,
        model.step,
        model.config.task.name,
        model.runtime,
        model.precision,
        args.output,
    )

    done, failed, fatal = [], [], None
    total = sum(_duration(f) for f, _ in pairs)
    with (
        logging_redirect_tqdm(),
        tqdm(
            total=round(total, 2),
            unit="s",
            desc="audio",
            file=sys.stderr,
            disable=args.quiet,
            bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}{postfix}]",
        ) as bar,
    ):
        for i, (src, dst) in enumerate(pairs):
            bar.set_postfix_str(f"file {i + 1}/{len(pairs)}")
            try:
                done.append(restore_file(model, src, dst, args))
            except Exception as e:  # one bad file must not stop the others
                if (
                    why := _output_failure(e, dst)
                ) is not None:  # but a full or read-only disk stops them all
                    fatal = (
                        f"cannot write {dst}: {why}; {len(pairs) - i - 1} file(s) not restored. Free some "
                        "space or fix the folder's permissions, then run again (restored files are kept)."
                    )
                    break
                msg = (
                    f"{type(e).__name__}: {e}"
                    if not isinstance(e, (ValueError, FileNotFoundError))
                    else str(e)
                )
                log.error("skipped %s: %s", src, msg)
                failed.append({"input": str(src), "error": msg})
            bar.update(round(_duration(src), 2))
    if fatal is not None:
        print(f"error: {fatal}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - t0
    seconds = sum(r["seconds"] for r in done)
    log.info(
        "restored %d file(s), %.1f s of audio in %.1f s; %d failed",
        len(done),
        seconds,
        elapsed,
        len(failed),
    )
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": str(model.path),
                    "step": model.step,
                    "task": model.config.task.name,
                    "ratio": model.config.task.ratio if model.config.task.name == "sr" else None,
                    "output_rate": model.sample_rate,
                    "runtime": model.runtime,
                    "precision": model.precision,
                    "files_ok": len(done),
                    "files_failed": len(failed),
                    "audio_seconds": round(seconds, 3),
                    "elapsed_s": round(elapsed, 3),
                    "realtime_factor": round(elapsed / seconds, 4) if seconds else None,
                    "outputs": done,
                    "failed": failed,
                }
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
