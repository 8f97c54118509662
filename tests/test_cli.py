"""jaxsr/cli: the `--config.KEY=VALUE` override parser, config names and shims, and the commands as users run
them (`jaxsr ...`, `python -m jaxsr.cli ...`, `python launch/*.py ...`). None of this trains a model."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import pathlib
import subprocess
import sys

import ml_collections
import pytest

from jaxsr import configs
from jaxsr.cli import overrides as ov
from jaxsr.cli import train as train_cli
from jaxsr.config import default_config

REPO = pathlib.Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: pathlib.Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120)


# ------------------------------------------------------------------------------------ the override parser
def test_split_overrides_takes_both_forms_and_leaves_the_rest_in_order():
    rest, found = ov.split_overrides(
        [
            "--workdir",
            "w",
            "--config.train.batch_size=8",
            "--config",
            "quickstart",
            "--config.task.ratio",
            "2",
            "--config.data.trim_silence",
            "--quiet",
            "--config.task.sr_gain_db",
            "-6,0",
            "--config.data.trim_silence",
        ]
    )
    assert rest == ["--workdir", "w", "--config", "quickstart", "--quiet"]
    assert found == [
        ("train.batch_size", "8"),
        ("task.ratio", "2"),
        ("data.trim_silence", None),
        ("task.sr_gain_db", "-6,0"),
        ("data.trim_silence", None),
    ]
    assert ov.split_overrides(["--config=x.py", "--", "--config.a=1"]) == (
        ["--config=x.py", "--", "--config.a=1"],
        [],
    )


@pytest.mark.parametrize(
    "arg, message",
    [
        ("--noconfig.data.trim_silence", "write --config.data.trim_silence=false"),
        ("--config.=3", "expected --config.SECTION.FIELD=VALUE"),
        ("--config.train..x=3", "expected --config.SECTION.FIELD=VALUE"),
    ],
)
def test_split_overrides_refuses_malformed_keys(arg, message):
    with pytest.raises(ov.OverrideError, match=message.replace(".", r"\.")):
        ov.split_overrides([arg])


def _applied(*pairs: tuple[str, str | None]) -> ml_collections.ConfigDict:
    config = default_config()
    ov.apply_overrides(config, list(pairs))
    return config


def test_values_take_the_type_of_the_field_they_replace():
    c = _applied(
        ("train.batch_size", "8"),
        ("model.width", "1"),
        ("train.learning_rate", "1e-3"),
        ("data.path", "/data/x,y"),
        ("dtype", "float32"),
        ("data.trim_silence", "TRUE"),
        ("data.corpus_seed", "-3"),
        ("task.sr_chain_weights.iir", "0.25"),
    )
    assert c.train.batch_size == 8 and type(c.train.batch_size) is int
    assert c.model.width == 1.0 and type(c.model.width) is float
    assert c.train.learning_rate == 1e-3 and c.data.path == "/data/x,y" and c.dtype == "float32"
    assert (
        c.data.trim_silence is True
        and c.data.corpus_seed == -3
        and c.task.sr_chain_weights.iir == 0.25
    )
    for text, want in (
        ("false", False),
        ("0", False),
        ("no", False),
        ("1", True),
        ("yes", True),
        (None, True),
    ):
        assert _applied(("data.trim_silence", text)).data.trim_silence is want


@pytest.mark.parametrize(
    "text, want",
    [("0,15", (0.0, 15.0)), ("(-5, 10.5)", (-5.0, 10.5)), ("[1, 2]", (1.0, 2.0)), ("3", (3.0,))],
)
def test_a_tuple_of_numbers_takes_literals_or_comma_separated_items(text, want):
    snr = _applied(("task.snr_db", text)).task.snr_db
    assert snr == want and type(snr) is tuple and all(type(v) is float for v in snr)


@pytest.mark.parametrize(
    "text, want",
    [
        ("white,pink", ("white", "pink")),
        ("white", ("white",)),
        ("('babble', 'varying')", ("babble", "varying")),
        (" brown , pink ", ("brown", "pink")),
    ],
)
def test_a_tuple_of_names_takes_bare_or_quoted_items(text, want):
    assert _applied(("task.noise_types", text)).task.noise_types == want


def test_integer_tuples_stay_integers_and_a_none_field_takes_a_literal():
    assert _applied(("task.sr_iir_order", "4,8")).task.sr_iir_order == (4, 8)
    config = ml_collections.ConfigDict({"a": None, "b": None})
    ov.apply_overrides(config, [("a", "(1, 2)"), ("b", "some/path")])
    assert config.a == (1, 2) and config.b == "some/path"


@pytest.mark.parametrize(
    "pair, message",
    [
        (
            ("train.batch_size", "abc"),
            "--config.train.batch_size=abc: config.train.batch_size takes an integer; got 'abc'",
        ),
        (("train.batch_size", "2.5"), "takes an integer; got '2.5'"),
        (("model.width", "wide"), "config.model.width takes a number; got 'wide'"),
        (
            ("data.trim_silence", "maybe"),
            "config.data.trim_silence takes true or false; got 'maybe'",
        ),
        (("task.snr_db", "low,high"), "takes a tuple such as 0.0,15.0 ('low' is not a number)"),
        (("task.sr_iir_order", "2.5,8"), "(2.5 is not an integer)"),
        (("task.snr_db", "0,,15"), "(an empty item)"),
        (("model.width", None), "--config.model.width needs a value: --config.model.width=VALUE"),
        (
            ("task.sr_chain_weights", "1"),
            "--config.task.sr_chain_weights is a section, not a field",
        ),
    ],
)
def test_a_value_that_does_not_fit_is_one_line_naming_the_field(pair, message):
    with pytest.raises(ov.OverrideError) as e:
        _applied(pair)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "key, what, nearest",
    [
        ("train.bach_size", "config.train has no field 'bach_size'", "config.train.batch_size"),
        (
            "trian.batch_size",
            "there is no config field config.trian.batch_size",
            "config.train.batch_size",
        ),
        ("train.bogus", "config.train has no field 'bogus'", "config.train."),
        (
            "task.sr_chain_weights.iirr",
            "config.task.sr_chain_weights has no field 'iirr'",
            "config.task.sr_chain_weights.iir",
        ),
    ],
)
def test_an_unknown_key_names_the_nearest_fields(key, what, nearest):
    with pytest.raises(ov.OverrideError) as e:
        _applied((key, "1"))
    line = str(e.value)
    assert line.startswith(
        f"unknown config key --config.{key}: {what}; nearest valid names: {nearest}"
    ), line


# ----------------------------------------------------------------------------------- configs and names
@pytest.mark.parametrize("name", configs.names())
def test_each_config_shim_is_the_package_config(name):
    shim = importlib.import_module(
        "configs." + name.replace("/", ".")
    )  # the repository root is on sys.path here
    assert shim.get_config().to_dict() == configs.load(name).to_dict()
    assert (
        train_cli.load_config(str(REPO / "configs" / f"{name}.py")).to_dict()
        == configs.load(name).to_dict()
    )
    text = (REPO / "configs" / f"{name}.py").read_text()
    assert f"jaxsr/configs/{name}.py" in text and len(text.splitlines()) <= 4


def test_config_names_and_paths_resolve_to_the_package(tmp_path, monkeypatch):
    assert {"quickstart", "vctk", "pretrained/speech_sr_x4_16k"} <= set(configs.names())
    monkeypatch.chdir(tmp_path)  # no configs/ here: a repository path still resolves, by its name
    for spec in (
        "quickstart",
        "quickstart.py",
        "configs/quickstart.py",
        "jaxsr/configs/quickstart.py",
    ):
        assert train_cli.load_config(spec).to_dict() == configs.load("quickstart").to_dict()
    assert train_cli.load_config("pretrained/speech_sr_x4_16k").task.sr_degradation == "random"
    with pytest.raises(
        ValueError, match="no config of that name in jaxsr/configs/; use a file or one of: denoise"
    ):
        train_cli.load_config("quickstrat")


def test_a_config_file_of_ones_own_loads_and_a_broken_one_is_one_line(tmp_path):
    (tmp_path / "mine.py").write_text(
        "from jaxsr.configs import speech\n\n\ndef get_config():\n"
        "    c = speech.get_config()\n    c.task.ratio = 2\n    return c\n"
    )
    assert train_cli.load_config(str(tmp_path / "mine.py")).task.ratio == 2
    (tmp_path / "typo.py").write_text("def get_config():\n    return undefined_name\n")
    with pytest.raises(
        ValueError, match="typo.py: cannot load it: NameError: name 'undefined_name' is not defined"
    ):
        train_cli.load_config(str(tmp_path / "typo.py"))
    # A config written for the old layout (`from configs import ...`), run outside the repository: a hint.
    (tmp_path / "old.py").write_text(
        "from configs import speech\n\nget_config = speech.get_config\n"
    )
    r = _run(
        sys.executable,
        "-m",
        "jaxsr.cli",
        "train",
        "--config",
        "old.py",
        "--workdir",
        "run",
        cwd=tmp_path,
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert (
        "ModuleNotFoundError: No module named 'configs'; the configs are the package jaxsr.configs now"
        in r.stderr
    )


def test_train_parse_takes_both_flag_forms_and_locks_the_config(tmp_path):
    args, config = train_cli.parse(
        [
            "--config=quickstart",
            "--workdir",
            str(tmp_path),
            "--config.train.batch_size",
            "8",
            "--config.task.noise_types=white,babble",
            "--quiet",
        ],
        prog="jaxsr train",
    )
    assert args.workdir == str(tmp_path) and args.quiet and not args.json and not args.overwrite
    assert config.train.batch_size == 8 and config.task.noise_types == ("white", "babble")
    with pytest.raises(AttributeError, match="cannot be added since the config is locked"):
        config.train.new_field = 1  # locked: a field cannot be added later by mistake


def test_no_sys_path_edits_in_the_clis_or_configs():
    files = [
        *REPO.glob("launch/*.py"),
        *REPO.glob("configs/**/*.py"),
        *REPO.glob("jaxsr/cli/*.py"),
        *REPO.glob("jaxsr/configs/**/*.py"),
    ]
    assert len(files) > 20
    assert [str(f) for f in files if "sys.path" in f.read_text()] == []


# --------------------------------------------------------------------------------------- the commands
def test_jaxsr_help_lists_the_subcommands():
    r = _run(sys.executable, "-m", "jaxsr.cli", "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: jaxsr ") and all(
        c in r.stdout for c in ("train", "enhance", "evaluate", "models")
    )
    r = _run(sys.executable, "-m", "jaxsr.cli")
    assert r.returncode == 2 and "required: COMMAND" in r.stderr
    r = _run(sys.executable, "-m", "jaxsr.cli", "trian")
    assert r.returncode == 2 and "invalid choice: 'trian'" in r.stderr


@pytest.mark.parametrize(
    "command, expected",
    [
        (("train", "--config", "quickstart", "--help"), "--config.SECTION.FIELD=VALUE"),
        (("enhance", "--help"), "--checkpoint NAME_OR_WORKDIR"),
        (("evaluate", "--help"), "--degradation NAME"),
    ],
)
def test_subcommand_help(command, expected):
    r = _run(sys.executable, "-m", "jaxsr.cli", *command)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: jaxsr {command[0]} ") and expected in r.stdout


def test_train_usage_errors_exit_2_before_any_work(tmp_path):
    base = [sys.executable, "-m", "jaxsr.cli", "train", "--workdir", str(tmp_path / "run")]
    r = _run(*base, "--config", "quickstart", "--config.train.bach_size=8")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: unknown config key --config.train.bach_size: config.train has no field 'bach_size'; nearest valid "
        "names: config.train.batch_size."
    ]
    r = _run(*base, "--config", "nowhere.py")
    assert (
        r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no such file" in r.stderr
    )
    r = _run(*base, "--config", "quickstart", "--bogus")
    assert r.returncode == 2 and "unrecognized arguments: --bogus" in r.stderr
    assert not (tmp_path / "run").exists()


def test_models_lists_the_packaged_models():
    from jaxsr import pretrained

    r = _run(sys.executable, "-m", "jaxsr.cli", "models")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("| name | task |") and all(
        f"`{n}`" in r.stdout for n in pretrained.names()
    )
    r = _run(sys.executable, "-m", "jaxsr.cli", "models", "--json")
    assert [m["name"] for m in json.loads(r.stdout)] == [m["name"] for m in pretrained.available()]


@pytest.mark.parametrize("name", ["train", "enhance", "evaluate"])
def test_launch_scripts_run_the_same_cli(name):
    r = _run(sys.executable, str(REPO / "launch" / f"{name}.py"), "--help", cwd=REPO.parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: launch/{name}.py ")


def test_installed_console_scripts():
    """`pip install -e .` installs `jaxsr` and `jaxsr-train/-enhance/-evaluate/-export` ([project.scripts])."""
    scripts = {
        ep.name: ep
        for ep in importlib.metadata.entry_points(group="console_scripts")
        if ep.dist is not None and ep.dist.name == "jaxsr"
    }
    if not scripts:
        pytest.skip("jaxsr is not installed as a distribution here (pip install -e .)")
    assert {k: v.value for k, v in scripts.items()} == {
        "jaxsr": "jaxsr.cli:main",
        "jaxsr-train": "jaxsr.cli.train:main",
        "jaxsr-enhance": "jaxsr.cli.enhance:main",
        "jaxsr-evaluate": "jaxsr.cli.evaluate:main",
        "jaxsr-export": "jaxsr.cli.export:main",
    }
    assert all(callable(ep.load()) for ep in scripts.values())
    exe = pathlib.Path(sys.executable).parent / "jaxsr"
    if exe.exists():
        r = _run(str(exe), "enhance", "--help")
        assert r.returncode == 0 and r.stdout.startswith("usage: jaxsr enhance "), r.stderr
        r = _run(str(exe.with_name("jaxsr-train")), "--help")
        assert r.returncode == 0 and r.stdout.startswith("usage: jaxsr-train "), r.stderr
