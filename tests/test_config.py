"""Config validation (errors name the field) and the JSON round trip used to save a run's config."""

from __future__ import annotations

import json

import pytest

from jaxsr import config as config_lib
from jaxsr.tasks import options


def test_default_config_validates():
    config_lib.validate(config_lib.default_config())


def test_accepted_values_include_the_documented_ones():
    # Pin the values the docs and configs rely on (the hints below spell them out, not built from these).
    assert set(options.TASKS) == {"sr", "denoise", "inpaint"}
    assert options.SR_RATIOS == (2, 3, 4, 6, 8)
    assert {"float32", "bfloat16"} <= set(config_lib.DTYPES)
    for name in options.TASKS:  # and every accepted value really validates
        c = config_lib.default_config()
        c.task.name = name
        config_lib.validate(c)


def test_validate_checks_patch_length_against_the_model_depth(tiny_config):
    # The tiny fixture (2 blocks) takes 512-sample patches; a length the model cannot halve 3 times fails,
    # and a third block needs a multiple of 16.
    assert tiny_config.model.num_blocks == 2 and tiny_config.data.patch_length == 512
    tiny_config.data.patch_length = 516
    with pytest.raises(ValueError, match=r"^config\.data\.patch_length: .*multiple of 8"):
        config_lib.validate(tiny_config)
    tiny_config.data.patch_length = 520  # a multiple of 8, not of 16
    config_lib.validate(tiny_config)
    tiny_config.model.num_blocks = 3
    with pytest.raises(ValueError, match=r"^config\.data\.patch_length: .*multiple of 16"):
        config_lib.validate(tiny_config)


# (field path, bad value, text the message must contain besides the field name)
BAD_FIELDS = [
    ("task.name", "superres", "use one of ('sr', 'denoise', 'inpaint')"),
    ("task.ratio", 5, "use one of (2, 3, 4, 6, 8)"),
    ("data.patch_length", 1000, "multiple of 32"),  # num_blocks=4 -> 2**5
    ("data.patch_length", 0, "multiple of 32"),
    ("dtype", "float16", "use one of ('auto', 'float32', 'bfloat16')"),
    ("model.norm", "layer", "use one of ('batch', 'none')"),
    ("train.schedule", "linear", "use one of ('constant', 'cosine')"),
    ("train.loss", "l1", "use one of ('mse', 'snr')"),
    ("model.num_blocks", 9, "1..8"),
    ("model.width", 0.0, "positive"),
    ("model.dropout", 1.0, "[0, 1)"),
    ("data.sample_rate", 1000, "16000"),
    ("train.batch_size", 0, "positive"),
    ("train.learning_rate", 0.0, "positive"),
    ("train.ema_decay", 1.0, "decay in (0, 1)"),
    # 0 used to crash mid-run with ZeroDivisionError (`step % every`); negative never fired.
    ("train.log_every", 0, "positive integer"),
    ("train.eval_every", 0, "positive integer"),
    ("train.checkpoint_every", -5, "positive integer"),
    ("train.keep_checkpoints", 0, "positive integer"),
]


def _set(config, path: str, value) -> None:
    *parents, leaf = path.split(".")
    node = config
    for p in parents:
        node = node[p]
    node[leaf] = value


@pytest.mark.parametrize(
    "field,value,hint", BAD_FIELDS, ids=[f"{f}={v!r}" for f, v, _ in BAD_FIELDS]
)
def test_bad_field_names_the_field(field, value, hint):
    c = config_lib.default_config()
    _set(c, field, value)
    with pytest.raises(ValueError) as e:
        config_lib.validate(c)
    msg = str(e.value)
    assert msg.startswith(f"config.{field}:"), msg
    assert hint in msg and repr(value) in msg, msg


def test_bad_denoise_fields_name_the_field():
    c = config_lib.default_config()
    c.task.name = "denoise"
    c.task.noise_types = ("white", "purple")
    with pytest.raises(
        ValueError, match=r"^config\.task\.noise_types: unknown noise type 'purple'"
    ):
        config_lib.validate(c)
    c.task.noise_types = ("folder",)
    with pytest.raises(ValueError, match=r"^config\.task\.noise_dir:"):
        config_lib.validate(c)
    c.task.noise_types = ("white",)
    c.task.snr_db = (10.0, 0.0)
    with pytest.raises(ValueError, match=r"^config\.task\.snr_db:"):
        config_lib.validate(c)


BAD_DENOISE_OPTIONS = [
    ("varying_exponent", (2.0, 0.0)),
    ("varying_level_db", (-3.0, 10.0)),
    ("varying_seconds", (0.0, 1.0)),
    ("babble_talkers", (0, 4)),
    ("babble_talkers", (3.5, 8)),
    ("babble_pitch", (0.7,)),
    ("babble_pitch", (0.1, 1.5)),
    ("babble_formant", (1.2, 0.9)),
    ("babble_min_shift", 0.9),
    ("babble_synthetic_prob", 1.5),
    ("reverb_prob", -0.1),
    ("reverb_rt60", (0.0, 0.5)),
    ("reverb_drr_db", (10.0, 3.0)),
    ("noise_types", ()),
]


@pytest.mark.parametrize(
    "field,value", BAD_DENOISE_OPTIONS, ids=[f"{f}={v!r}" for f, v in BAD_DENOISE_OPTIONS]
)
def test_bad_realistic_noise_fields_name_the_field_in_one_line(field, value):
    c = config_lib.default_config()
    c.task.name = "denoise"
    c.task[field] = value
    with pytest.raises(ValueError, match=rf"^config\.task\.{field}: ") as e:
        config_lib.validate(c)
    assert "\n" not in str(e.value)


def test_realistic_noise_fields_validate_and_default_to_todays_behaviour():
    c = config_lib.default_config()
    c.task.name = "denoise"
    assert (
        c.task.noise_types == ("white", "pink", "brown") and c.task.reverb_prob == 0.0
    )  # the defaults
    c.task.update(noise_types=("varying", "babble", "babble_voices"), reverb_prob=0.3)
    config_lib.validate(c)


def test_random_polarity_defaults_off_and_must_be_a_bool():
    import ml_collections

    assert (
        config_lib.default_config().data.random_polarity is False
    )  # the paper's setup, draws nothing
    d = config_lib.default_config().to_dict()
    d["data"]["random_polarity"] = (
        "yes"  # e.g. an edited config.json: ConfigDict's own type check is bypassed
    )
    with pytest.raises(
        ValueError, match=r"^config\.data\.random_polarity: got 'yes'; use True or False"
    ):
        config_lib.validate(ml_collections.ConfigDict(d))
    d["data"]["random_polarity"] = True
    config_lib.validate(ml_collections.ConfigDict(d))


def test_bad_inpaint_fields_name_the_field():
    c = config_lib.default_config()
    c.task.name = "inpaint"
    c.task.gap_ms = (0.0, 20.0)
    with pytest.raises(ValueError, match=r"^config\.task\.gap_ms:"):
        config_lib.validate(c)
    c.task.gap_ms = (10.0, 20.0)
    c.task.num_gaps = 0
    with pytest.raises(ValueError, match=r"^config\.task\.num_gaps:"):
        config_lib.validate(c)


def _changed_config():
    """A config that differs from the default in scalars, strings and tuples at every level."""
    c = config_lib.default_config()
    c.seed = 7
    c.dtype = "bfloat16"
    c.model.width = 0.25
    c.model.num_blocks = 3
    c.data.path = "/data/my folder"
    c.data.patch_length = 4096
    c.task.name = "denoise"
    c.task.snr_db = (5.0, 10.0)
    c.task.noise_types = ("pink", "babble")
    c.task.gap_ms = (20.0, 30.0)
    c.train.learning_rate = 1e-3
    c.train.schedule = "cosine"
    c.eval.chunk_length = 16384
    return c


def test_json_round_trip_equals_original():
    original = _changed_config()
    restored = config_lib.config_from_json(config_lib.config_to_json(original))
    assert restored.to_dict() == original.to_dict()
    config_lib.validate(restored)


def test_json_round_trip_preserves_tuples():
    restored = config_lib.config_from_json(config_lib.config_to_json(_changed_config()))
    assert restored.task.snr_db == (5.0, 10.0) and isinstance(restored.task.snr_db, tuple)
    assert restored.task.noise_types == ("pink", "babble") and isinstance(
        restored.task.noise_types, tuple
    )
    assert isinstance(restored.task.gap_ms, tuple)


def test_json_is_stable_text():
    text = config_lib.config_to_json(_changed_config())
    assert config_lib.config_to_json(config_lib.config_from_json(text)) == text
    assert json.loads(text)["task"]["snr_db"] == [5.0, 10.0]


def test_json_missing_fields_fall_back_to_defaults():
    saved = json.loads(config_lib.config_to_json(_changed_config()))
    saved["train"]["ema_decay"] = 0.5
    text = json.dumps(saved)
    assert (
        config_lib.config_from_json(text).train.ema_decay == 0.5
    )  # read from the file when present
    del saved["train"]["ema_decay"]  # as if written before the field existed
    restored = config_lib.config_from_json(json.dumps(saved))
    assert restored.train.ema_decay == 0.0  # the default, not a value from elsewhere in the file
    # Only the missing field falls back: its section's other saved fields are kept.
    assert (
        restored.train.learning_rate == 1e-3
        and restored.train.schedule == "cosine"
        and restored.seed == 7
    )
