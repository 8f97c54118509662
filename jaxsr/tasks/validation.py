"""Checking a config's `task` section at start-up, so that a typo fails with a message naming the field.

`jaxsr.config.validate` calls `validate_task`; the checks live beside the degradations because they
test what those accept (the named resamplers, the rates each codec carries). Every error is one line,
`config.task.FIELD: got VALUE; use ...`.
"""

from __future__ import annotations

from typing import Any

from jaxsr.tasks.codecs import carried_codecs, check_codec
from jaxsr.tasks.options import (
    IIR_FAMILIES,
    NOISE_TYPES,
    SOXR_QUALITIES,
    SR_CHAIN_KINDS,
    SR_CODECS,
    SR_DEGRADATIONS,
    SR_FRONTENDS,
    SR_RATIOS,
    TASKS,
)


def _expect(cond: bool, field: str, msg: str) -> None:
    if not cond:
        raise ValueError(f"config.{field}: {msg}")


def validate_task(config: Any) -> None:
    """Raise ValueError naming the field if `config.task` (with `config.data.sample_rate`, the rate the
    codecs see divided by the ratio) cannot describe a run's degradation. `config`: the run's ConfigDict."""
    t = config.task
    _expect(t.name in TASKS, "task.name", f"got {t.name!r}; use one of {TASKS}")
    if t.name == "sr":
        _expect(t.ratio in SR_RATIOS, "task.ratio", f"got {t.ratio!r}; use one of {SR_RATIOS}")
        _validate_sr_degradation(t)
        _validate_sr_codec(t, config.data.sample_rate / t.ratio)
        frontend = t.get("sr_frontend", "spline")
        _expect(
            frontend in SR_FRONTENDS,
            "task.sr_frontend",
            f"got {frontend!r}; use one of {SR_FRONTENDS}",
        )
        keep = t.get("sr_keep_band", 0.0)
        _expect(
            isinstance(keep, (int, float))
            and not isinstance(keep, bool)
            and (keep == 0 or 0.5 <= keep < 1.0),
            "task.sr_keep_band",
            f"got {keep!r}; use 0 (off) or a fraction of the low Nyquist in [0.5, 1), e.g. 0.9",
        )
    if t.name == "denoise":
        lo, hi = t.snr_db
        _expect(
            lo <= hi, "task.snr_db", f"got {tuple(t.snr_db)!r}; use (low, high) with low <= high"
        )
        for n in t.noise_types:
            _expect(
                n in NOISE_TYPES,
                "task.noise_types",
                f"unknown noise type {n!r}; use any of {NOISE_TYPES}",
            )
        _expect(len(t.noise_types) > 0, "task.noise_types", f"is empty; use any of {NOISE_TYPES}")
        if "folder" in t.noise_types:
            _expect(
                bool(t.noise_dir),
                "task.noise_dir",
                "noise type 'folder' needs task.noise_dir set to a folder of noise files",
            )
        _validate_denoise_options(t)
        for field in ("noise_holdout", "clean_prob"):
            v = t.get(field, 0.0)
            _expect(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v < 1.0,
                f"task.{field}",
                f"got {v!r}; use a fraction in [0, 1)",
            )
    if t.name == "inpaint":
        lo, hi = t.gap_ms
        _expect(
            0 < lo <= hi,
            "task.gap_ms",
            f"got {tuple(t.gap_ms)!r}; use (low, high) milliseconds with 0 < low <= high",
        )
        _expect(t.num_gaps >= 1, "task.num_gaps", f"got {t.num_gaps!r}; use at least 1")


def _pair(v) -> bool:
    return (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and all(isinstance(x, (int, float)) for x in v)
        and v[0] <= v[1]
    )


def _int_pair(v, low: int, high: int) -> bool:
    return _pair(v) and all(int(x) == x for x in v) and low <= v[0] and v[1] <= high


def _validate_sr_degradation(t: Any) -> None:
    """The sr degradation fields; the chain fields only matter (and are only checked) for "random"."""
    mode = t.get("sr_degradation", "paper")
    # Imported here: the resamplers load scipy.signal (about a second), which reading or writing a
    # config (`import jaxsr.config`) should not pay; only a config of the sr task is checked against them.
    from jaxsr.tasks.resampling import RESAMPLERS

    names = SR_DEGRADATIONS + tuple(n for n in RESAMPLERS if n not in SR_DEGRADATIONS)
    _expect(
        mode in names,
        "task.sr_degradation",
        f"got {mode!r}; use 'paper' (the paper's decimator), 'random' "
        f"(a resampling chain drawn per example) or a named resampler: {', '.join(names[2:])}",
    )
    if mode != "random":
        return
    w = dict(t.sr_chain_weights)
    for k, v in w.items():
        _expect(
            k in SR_CHAIN_KINDS,
            "task.sr_chain_weights",
            f"unknown chain kind {k!r}; use any of {SR_CHAIN_KINDS}",
        )
        _expect(
            isinstance(v, (int, float)) and v >= 0,
            f"task.sr_chain_weights.{k}",
            f"got {v!r}; use a weight >= 0",
        )
    _expect(
        sum(w.values()) > 0,
        "task.sr_chain_weights",
        f"got {w}; at least one weight must be positive",
    )
    for field, allowed in (
        ("sr_iir_families", IIR_FAMILIES),
        ("sr_soxr_qualities", SOXR_QUALITIES),
    ):
        values = tuple(t[field])
        _expect(
            len(values) > 0 and all(v in allowed for v in values),
            f"task.{field}",
            f"got {values!r}; use a non-empty subset of {allowed}",
        )
    _expect(
        _int_pair(t.sr_iir_order, 1, 16),
        "task.sr_iir_order",
        f"got {t.sr_iir_order!r}; use (low, high) integers with 1 <= low <= high <= 16",
    )
    _expect(
        _pair(t.sr_cutoff) and 0 < t.sr_cutoff[0] and t.sr_cutoff[1] <= 1.0,
        "task.sr_cutoff",
        f"got {t.sr_cutoff!r}; use (low, high) fractions of the new Nyquist with 0 < low <= high <= 1",
    )
    _expect(
        _pair(t.sr_fir_beta) and t.sr_fir_beta[0] >= 0,
        "task.sr_fir_beta",
        f"got {t.sr_fir_beta!r}; use (low, high) Kaiser betas with 0 <= low <= high",
    )
    _expect(
        _int_pair(t.sr_fir_zeros, 1, 64),
        "task.sr_fir_zeros",
        f"got {t.sr_fir_zeros!r}; use (low, high) integers with 1 <= low <= high <= 64",
    )
    _expect(
        _pair(t.sr_gain_db) and -60 <= t.sr_gain_db[0] and t.sr_gain_db[1] <= 20,
        "task.sr_gain_db",
        f"got {t.sr_gain_db!r}; use (low, high) dB with -60 <= low <= high <= 20",
    )


def _validate_sr_codec(t: Any, low_rate: float) -> None:
    """The sr codec fields: known names, a probability, and codecs that can carry the low rate `low_rate` Hz."""
    codec = t.get("sr_codec", "")
    _expect(
        codec in ("",) + SR_CODECS,
        "task.sr_codec",
        f"got {codec!r}; use one of {SR_CODECS} or '' (none)",
    )
    if codec:
        try:
            check_codec(codec, low_rate)
        except ValueError as e:
            _expect(False, "task.sr_codec", str(e))
    prob = t.get("sr_codec_prob", 0.0)
    _expect(
        isinstance(prob, (int, float)) and 0.0 <= prob <= 1.0,
        "task.sr_codec_prob",
        f"got {prob!r}; use a probability in [0, 1]",
    )
    drawn = tuple(t.get("sr_random_codecs", SR_CODECS))
    _expect(
        all(c in SR_CODECS for c in drawn) and (drawn or not prob),
        "task.sr_random_codecs",
        f"got {drawn!r}; use a non-empty subset of {SR_CODECS}",
    )
    if prob > 0:
        _expect(
            bool(carried_codecs(drawn, low_rate)),
            "task.sr_random_codecs",
            f"none of {drawn} carries the low rate {low_rate:g} Hz; add ulaw, alaw, pcm8 or vorbis",
        )


def _validate_denoise_options(t: Any) -> None:
    """The varying / babble_voices / reverb fields of denoise (checked whatever the noise types, so a bad
    value fails at start-up, not when a later override adds the type)."""

    def pair(
        field: str, low: float, high: float, what: str, ints: bool = False, open_low: bool = False
    ) -> None:
        v = t[field]
        ok = (
            _int_pair(v, int(low), int(high))
            if ints
            else _pair(v) and (v[0] > low if open_low else v[0] >= low) and v[1] <= high
        )
        bound = f"{low} < low" if open_low else f"{low} <= low"
        _expect(
            ok, f"task.{field}", f"got {v!r}; use (low, high) {what} with {bound} <= high <= {high}"
        )

    def number(field: str, low: float, high: float, what: str) -> None:
        v = t[field]
        _expect(
            isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high,
            f"task.{field}",
            f"got {v!r}; use {what} in [{low}, {high}]",
        )

    pair("varying_exponent", -1.0, 3.0, "PSD exponents (0 white, 1 pink, 2 brown)")
    pair("varying_level_db", 0.0, 60.0, "level swings in dB")
    pair("varying_seconds", 0.0, 60.0, "seconds between envelope control points", open_low=True)
    pair("babble_talkers", 1, 32, "integer talker counts", ints=True)
    pair("babble_pitch", 0.25, 4.0, "pitch factors")
    pair("babble_formant", 0.5, 2.0, "formant factors")
    number("babble_min_shift", 1.0, 2.0, "a pitch ratio (1: no minimum)")
    number("babble_synthetic_prob", 0.0, 1.0, "a probability")
    number("reverb_prob", 0.0, 1.0, "a probability")
    pair("reverb_rt60", 0.0, 3.0, "RT60 seconds", open_low=True)
    pair("reverb_drr_db", -10.0, 40.0, "direct-to-reverberant ratios in dB")
