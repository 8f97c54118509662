"""What `jaxsr evaluate`'s flags change in a checkpoint's config: the checks that the flags describe the
checkpoint's model (`check_task`), and the conditions it is scored under: the sr resampler (`--degradation`)
and codec (`--codec`), the denoise noise, input SNR and rooms (`--noise`, `--snr-db`, `--reverb-prob`).

Each raises `UsageError` (exit status 2, one line naming the flag) for a value the model cannot take.
"""

from __future__ import annotations


class UsageError(Exception):
    """Something wrong with the command line: exit status 2, nothing on stdout."""


def check_task(config, task: str | None, ratio: int | None, sample_rate: int | None) -> None:
    """Raise UsageError if the flags describe another model than the checkpoint's."""
    from jaxsr.inference import resolve_task

    try:
        resolve_task(config, task, ratio)
    except ValueError as e:
        raise UsageError(f"--task/--ratio do not match the checkpoint: {e}") from None
    if sample_rate is not None and sample_rate != config.data.sample_rate:
        raise UsageError(
            f"--sample-rate {sample_rate}: this checkpoint's model works at {config.data.sample_rate} Hz. "
            "Files at any rate are resampled to the model's rate; drop --sample-rate or pass "
            f"{config.data.sample_rate}."
        )


def degradation_names() -> tuple[str, ...]:
    """What `--degradation` accepts: the named resamplers and "random"."""
    from jaxsr.tasks.resampling import RESAMPLERS

    return tuple(RESAMPLERS) + ("random",)


def check_degradation_name(name: str | None) -> None:
    """Raise UsageError for an unknown `--degradation` name (before any model is loaded)."""
    if name is not None and name not in degradation_names():
        raise UsageError(
            f"--degradation {name!r} is not a known resampler; use one of: "
            f"{', '.join(degradation_names())}"
        )


def apply_degradation(config, name: str | None) -> None:
    """Make `config` degrade with `name` (`--degradation`); raise UsageError if the model is not an sr model."""
    if name is None:
        return
    if config.task.name != "sr":
        raise UsageError(
            f"--degradation {name}: it picks the resampler of sr inputs, and this checkpoint's model "
            f"does {config.task.name}; drop --degradation."
        )
    config.task.sr_degradation = name


def apply_codec(config, codec: str | None) -> None:
    """Make an sr `config` pass its low-rate inputs through `codec` (`--codec`); UsageError for an unknown codec,
    one that cannot carry the model's low rate, or a model of another task."""
    from jaxsr.tasks.codecs import check_codec
    from jaxsr.tasks.options import SR_CODECS

    if codec is None:
        return
    if config.task.name != "sr":
        raise UsageError(
            f"--codec {codec}: it encodes the low-rate input of sr models, and this checkpoint's model "
            f"does {config.task.name}; drop --codec."
        )
    if codec == "none":  # no codec, even for a model trained through randomly drawn ones
        config.task.sr_codec, config.task.sr_codec_prob = "", 0.0
        return
    if codec not in SR_CODECS:
        raise UsageError(
            f"--codec {codec!r} is not a known codec; use one of: {', '.join(SR_CODECS)} or none"
        )
    try:
        check_codec(codec, config.data.sample_rate / config.task.ratio)
    except ValueError as e:
        raise UsageError(f"--codec {codec} {str(e).removeprefix(f'codec {codec} ')}") from None
    config.task.sr_codec = codec


def apply_noise(config, noise: str | None, snr_db: float | None, reverb_prob: float | None) -> None:
    """Make a denoise `config` degrade with one noise type / input SNR / reverb probability (the flags);
    UsageError for an unknown type or for a model of another task."""
    from jaxsr.tasks.options import NOISE_TYPES

    given = [
        f
        for f, v in (("--noise", noise), ("--snr-db", snr_db), ("--reverb-prob", reverb_prob))
        if v is not None
    ]
    if not given:
        return
    if config.task.name != "denoise":
        raise UsageError(
            f"{given[0]}: it sets the noise of denoise inputs, and this checkpoint's model does "
            f"{config.task.name}; drop {given[0]}."
        )
    if noise is not None:
        if noise not in NOISE_TYPES:
            raise UsageError(
                f"--noise {noise!r} is not a noise type; use one of: {', '.join(NOISE_TYPES)}"
            )
        if noise == "folder" and not config.task.noise_dir:
            raise UsageError(
                "--noise folder: this checkpoint has no task.noise_dir of recorded noise; pick another "
                "type"
            )
        config.task.noise_types = (noise,)
    if snr_db is not None:
        config.task.snr_db = (float(snr_db), float(snr_db))
    if reverb_prob is not None:
        config.task.reverb_prob = float(reverb_prob)


# ---------------------------------------------------------------------------------------- inputs
