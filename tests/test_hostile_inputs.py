"""Hostile inputs to packaged models, export folders, output paths, evaluation and training configs: each
is one `error:` line naming the thing and what to do, the documented exit status, and nothing lost.

Everything runs on a tiny untrained model (B=2, width 1/16) packaged or exported into a temporary folder,
so no test trains for more than a step or two.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tracemalloc

import jax
import numpy as np
import pytest
import soundfile as sf

from jaxsr import pretrained
from jaxsr.config import config_to_json, default_config
from jaxsr.inference import Model, chunk_plan, enhance, load
from jaxsr.models import init_variables, model_from_config


def _config(task: str = "sr"):
    c = default_config()
    c.dtype = "float32"
    c.model.update(num_blocks=2, width=0.0625, dropout=0.0)
    c.data.update(sample_rate=16000, patch_length=512)
    c.task.name, c.task.ratio = task, 4
    c.eval.batch_size = 2
    return c


@pytest.fixture(scope="module")
def tiny():
    c = _config()
    return Model.from_variables(init_variables(model_from_config(c), jax.random.key(0)), c)


def _write_packaged(folder: pathlib.Path, name: str, model: Model) -> dict:
    """`name` as a packaged model in `folder` (what build.py writes, without training info)."""
    flat = pretrained.flatten(jax.tree_util.tree_map(np.asarray, model.variables))
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v, np.float32) for k, v in flat.items()})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.npz").write_bytes(buf.getvalue())
    c = model.config
    m = {
        "name": name,
        "task": c.task.name,
        "ratio": int(c.task.ratio),
        "sample_rate": int(c.data.sample_rate),
        "input_rate": float(model.input_rate),
        "file": f"{name}.npz",
        "sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
        "config": json.loads(config_to_json(c)),
    }
    if hasattr(pretrained, "config_sha256"):  # absent from a jaxsr that does not check it
        m["config_sha256"] = pretrained.config_sha256(m)
    (folder / f"{name}.json").write_text(json.dumps(m, indent=1, sort_keys=True))
    return m


@pytest.fixture
def packaged(tiny, tmp_path, monkeypatch) -> pathlib.Path:
    """A private models folder holding `tiny-sr-x4` (and nothing else)."""
    folder = tmp_path / "models"
    monkeypatch.setattr(pretrained, "MODELS_DIR", folder)
    _write_packaged(folder, "tiny-sr-x4", tiny)
    return folder


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory) -> pathlib.Path:
    from jaxsr.deploy import export

    return export(tiny, tmp_path_factory.mktemp("exp") / "sr", "stablehlo")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err), err
    return errors[0]


def _tone(n: int, rate: int) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 300 * np.arange(n) / rate)).astype(np.float32)


# ---------------------------------------------------------------------------------- packaged models
def test_an_edited_manifest_config_is_refused_naming_the_file(packaged):
    load("tiny-sr-x4")  # as written: loads
    path = packaged / "tiny-sr-x4.json"
    m = json.loads(path.read_text())
    m["config"]["task"]["ratio"] = 2
    path.write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"tiny-sr-x4\.json was altered .*reinstall jaxsr"):
        load("tiny-sr-x4")


def test_the_shipped_manifests_carry_a_matching_config_checksum():
    for name in pretrained.names():
        m = pretrained.manifest(name)
        assert m.get("config_sha256") == pretrained.config_sha256(m), name


def test_a_second_manifest_claiming_a_name_is_an_error_naming_both(packaged):
    shutil.copy(packaged / "tiny-sr-x4.json", packaged / "zzz.json")
    with pytest.raises(
        ValueError, match=r"claimed by 2 manifests: .*tiny-sr-x4\.json and .*zzz\.json"
    ):
        load("tiny-sr-x4")


@pytest.mark.parametrize(
    "content, says",
    [
        ("{}", "name, file, sha256, config missing"),
        ("[]", "holds a JSON list"),
        ("{not json", "not a readable JSON"),
        (json.dumps({"name": "broken", "file": "x.npz", "config": {}}), "sha256 missing"),
    ],
)
def test_a_bad_manifest_is_one_line_naming_it_and_hides_no_other(packaged, content, says):
    (packaged / "bad.json").write_text(content)
    assert load("tiny-sr-x4").path == "pretrained:tiny-sr-x4"  # the good one still loads
    assert pretrained.names() == ["tiny-sr-x4"]
    name = "broken" if "broken" in content else "nothing-like-it"
    with pytest.raises(ValueError) as e:
        load(name)
    assert "bad.json" in str(e.value) and says in str(e.value) and "\n" not in str(e.value)


def test_a_local_folder_named_like_a_packaged_model_says_which_was_meant(
    packaged, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny-sr-x4").mkdir()
    with pytest.raises(FileNotFoundError, match=r"local folder.*pass pretrained:tiny-sr-x4"):
        load("tiny-sr-x4")
    assert load("pretrained:tiny-sr-x4").path == "pretrained:tiny-sr-x4"


# ------------------------------------------------------------------------------------- export folders
def test_export_refuses_files_it_did_not_write_unless_overwrite(tiny, packaged, tmp_path, capsys):
    from jaxsr.cli import export as export_cli

    out = tmp_path / "out"
    out.mkdir()
    (out / "forward.stablehlo").write_bytes(b"someone else's")
    assert export_cli.main(["--checkpoint", "tiny-sr-x4", "-o", str(out)]) == 2
    line = _one_error_line(capsys)
    assert "forward.stablehlo" in line and "--overwrite" in line
    assert (out / "forward.stablehlo").read_bytes() == b"someone else's"
    assert export_cli.main(["--checkpoint", "tiny-sr-x4", "-o", str(out), "--overwrite"]) == 0
    assert load(out).forward is not None


def test_export_into_a_workdir_or_a_file_is_refused_and_full_disks_are_one_line(
    packaged, tmp_path, capsys, monkeypatch
):
    from jaxsr import files
    from jaxsr.cli import export as export_cli

    workdir = tmp_path / "run"
    (workdir / "checkpoints").mkdir(parents=True)
    (workdir / "config.json").write_text("{}")
    assert export_cli.main(["--checkpoint", "tiny-sr-x4", "-o", str(workdir), "--overwrite"]) == 2
    assert "training workdir" in _one_error_line(capsys)
    (tmp_path / "a-file").write_text("x")
    assert export_cli.main(["--checkpoint", "tiny-sr-x4", "-o", str(tmp_path / "a-file")]) == 2
    assert "is a file" in _one_error_line(capsys)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "write_atomic", full)
    assert export_cli.main(["--checkpoint", "tiny-sr-x4", "-o", str(tmp_path / "new")]) == 2
    assert "no space left on device" in _one_error_line(capsys)


def test_which_on_an_export_folder_and_a_mixed_folder_are_errors(exported, tmp_path):
    with pytest.raises(
        ValueError, match=r"exported model with one set of weights; drop which='best'"
    ):
        load(exported, "best")
    mixed = tmp_path / "mixed"
    shutil.copytree(exported, mixed)
    (mixed / "checkpoints").mkdir()
    with pytest.raises(ValueError, match="holds both an exported model"):
        load(mixed)


@pytest.mark.parametrize("edit", ["ratio", "length_multiple", "receptive_field", "sample_rate"])
def test_an_edited_export_metadata_is_refused(exported, tmp_path, edit):
    folder = tmp_path / "edited"
    shutil.copytree(exported, folder)
    meta = json.loads((folder / "jaxsr-export.json").read_text())
    if edit == "sample_rate":
        meta["config"]["data"]["sample_rate"] = 8000
    elif edit == "receptive_field":
        meta["receptive_field"] = [0, 0]
    else:
        meta[edit] = meta[edit] // 2
    (folder / "jaxsr-export.json").write_text(json.dumps(meta))
    with pytest.raises(
        ValueError, match=r"jaxsr-export\.json was altered .*export the model again"
    ):
        load(folder)


@pytest.mark.parametrize(
    "content, says",
    [("[]", "holds a JSON list"), ('{"format": "stablehlo"}', "lacks config, files")],
)
def test_a_broken_export_metadata_is_one_line_naming_it(exported, tmp_path, content, says):
    folder = tmp_path / "broken"
    shutil.copytree(exported, folder)
    (folder / "jaxsr-export.json").write_text(content)
    with pytest.raises(ValueError, match=says) as e:
        load(folder)
    assert "jaxsr-export.json" in str(e.value)


def test_an_export_without_its_metadata_and_init_from_an_export_say_what_they_are(
    exported, tmp_path
):
    from jaxsr.train import load_init_variables

    bare = tmp_path / "bare"
    shutil.copytree(exported, bare)
    (bare / "jaxsr-export.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"forward\.stablehlo\) but no jaxsr-export\.json"):
        load(bare)
    with pytest.raises(ValueError, match=r"init_from: .* is an exported model"):
        load_init_variables(str(exported))


def test_enhance_plans_its_chunks_from_a_fixed_length_export(tiny, tmp_path, capsys):
    from jaxsr.cli import enhance as enhance_cli
    from jaxsr.deploy import export

    minimum = 2 * chunk_plan(tiny.config).overlap
    short, long_ = minimum, 2 * minimum
    folder = export(tiny, tmp_path / "fixed", "stablehlo", chunk_lengths=[short, long_])
    fixed = load(folder)
    for n in (300, 5000):  # a file shorter than the shortest chunk, and one of several chunks
        x = _tone(n, 4000)
        np.testing.assert_allclose(
            enhance(fixed, x, sample_rate=4000), enhance(tiny, x, sample_rate=4000), atol=1e-4
        )
    small = export(
        tiny, tmp_path / "small", "stablehlo", chunk_lengths=[tiny.config.model.num_blocks * 64]
    )
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", _tone(4000, 4000), 4000)
    assert (
        enhance_cli.main(
            ["--checkpoint", str(small), str(tmp_path / "in"), "-o", str(tmp_path / "o")]
        )
        == 2
    )
    assert f">= {minimum}" in _one_error_line(capsys) and not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------- enhance's outputs
@pytest.fixture
def one_input(tmp_path) -> pathlib.Path:
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", _tone(2000, 4000), 4000)
    return tmp_path / "in"


def test_enhance_checks_its_output_folder_before_restoring(
    packaged, one_input, tmp_path, capsys, monkeypatch
):
    from jaxsr import files
    from jaxsr.cli import enhance as enhance_cli

    (tmp_path / "a-file").write_text("x")
    assert (
        enhance_cli.main(
            ["--checkpoint", "tiny-sr-x4", str(one_input), "-o", str(tmp_path / "a-file")]
        )
        == 2
    )
    assert "is a file" in _one_error_line(capsys)
    restored = []
    monkeypatch.setattr(enhance_cli, "restore_file", lambda *a: restored.append(a))
    for code, says in (
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only file system"),
        (errno.ENOSPC, "no space left on device"),
    ):

        def refuse(folder, need_bytes=0, code=code):
            raise OSError(code, os.strerror(code), str(folder))

        monkeypatch.setattr(files, "check_writable", refuse)
        assert (
            enhance_cli.main(
                ["--checkpoint", "tiny-sr-x4", str(one_input), "-o", str(tmp_path / "o")]
            )
            == 2
        )
        assert says in _one_error_line(capsys)
    assert not restored


def test_the_free_space_check_counts_the_outputs(tmp_path):
    from jaxsr.files import check_writable

    check_writable(tmp_path / "new" / "sub")
    assert (tmp_path / "new" / "sub").is_dir() and not any((tmp_path / "new" / "sub").iterdir())
    with pytest.raises(OSError) as e:
        check_writable(tmp_path, need_bytes=1 << 62)
    assert e.value.errno == errno.ENOSPC


def test_a_full_disk_mid_run_stops_with_exit_2(packaged, one_input, tmp_path, capsys, monkeypatch):
    from jaxsr import audio_io
    from jaxsr.cli import enhance as enhance_cli

    sf.write(one_input / "b.wav", _tone(2000, 4000), 4000)

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(audio_io, "write_audio", full)
    assert (
        enhance_cli.main(["--checkpoint", "tiny-sr-x4", str(one_input), "-o", str(tmp_path / "o")])
        == 2
    )
    line = _one_error_line(capsys)
    assert "no space left on device" in line and "1 file(s) not restored" in line


def test_a_file_name_that_is_not_utf8_is_restored(packaged, tmp_path, capsys):
    from jaxsr.cli import enhance as enhance_cli

    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"bad\xff\xfe.wav")
    sf.write(os.fsencode(str(folder / name)), _tone(2000, 4000), 4000)
    assert (
        enhance_cli.main(["--checkpoint", "tiny-sr-x4", str(folder), "-o", str(tmp_path / "o")])
        == 0
    )
    assert (tmp_path / "o" / name).is_file()


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0"])
def test_gaps_from_zeros_must_be_a_finite_positive_number(value, capsys):
    from jaxsr.cli import enhance as enhance_cli

    with pytest.raises(SystemExit) as e:
        enhance_cli.parse_args(
            ["x.wav", "--checkpoint", "m", "-o", "o", "--gaps-from-zeros", value]
        )
    assert e.value.code == 2 and "--gaps-from-zeros must be" in capsys.readouterr().err


@pytest.mark.slow
def test_the_memory_guard_covers_what_enhance_holds_on_a_long_input(tiny, monkeypatch):
    """The peak of numpy's allocations (tracemalloc) while `enhance` restores a minute of audio, in each path
    that adds copies: the sr spline from the low rate, 8 kHz audio whose band is kept, inpainting with a
    mask, int16 audio at three times the output rate. The network's chunk groups are made small, as they
    are beside a long file (their size is fixed); the front end's pieces are not, so a minute is the harder
    case. The peak stays within the guard's estimate, and within 5 float32 copies of the output beyond the
    input's own (the whole-signal spline alone held 9.5)."""
    from jaxsr.inference import checks, chunking

    monkeypatch.setattr(chunking, "_GROUP_SAMPLES", 1 << 14)
    rng = np.random.default_rng(0)

    def minute(rate: int) -> np.ndarray:  # a tone in noise: content in every band
        n = 60 * rate
        return (_tone(n, rate) + 0.05 * rng.standard_normal(n)).astype(np.float32)

    gaps = np.zeros(60 * 16000, bool)
    for start in range(0, len(gaps), 16000):  # a 20 ms gap every second, and a 2 s dropout
        gaps[start + 100 : start + 420] = True
    gaps[300_000:332_000] = True
    cases = [
        ("sr from the low rate", tiny, minute(4000), 4000, {}),
        ("sr keeping the band of 8 kHz audio", tiny, minute(8000), 8000, {}),
        (
            "inpaint",
            Model.from_variables(tiny.variables, _config("inpaint")),
            minute(16000),
            16000,
            {"mask": gaps},
        ),
        (
            "int16 denoise input at 48 kHz",
            Model.from_variables(tiny.variables, _config("denoise")),
            (minute(48000) * 32767).astype(np.int16),
            48000,
            {},
        ),
    ]
    for name, model, x, rate, kw in cases:
        enhance(
            model, x[:rate], sample_rate=rate, **{k: v[:rate] for k, v in kw.items()}
        )  # compiled
        tracemalloc.start()
        try:
            y, info = enhance(model, x, sample_rate=rate, return_info=True, **kw)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        copies = (peak - 4 * x.size) / (4 * y.size)
        assert peak <= 4 * (checks.WORKING_COPIES * y.size + x.size), (name, copies)
        assert copies <= 5, (name, copies)
        assert (info["kept_input_band_hz"] is not None) == ("band" in name)


def test_long_inputs_are_restored_piecewise_with_the_whole_signals_numbers(tiny):
    """A long signal's front end runs a piece at a time, and its gaps are filled a few at a time; both
    give exactly what the whole signal gives (the public one-row functions upsample it whole)."""
    from jaxsr.tasks.gaps import linear_fill
    from jaxsr.tasks.upsampling import sinc_upsample, spline_upsample, upsample_rows
    from jaxsr.inference import run_model

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 300_001)).astype(np.float32)  # pieces of 2**16 low-rate samples
    for ratio, extra in ((4, 0), (3, 7), (8, -5)):
        length = x.shape[1] * ratio + extra
        for frontend, whole in (("spline", spline_upsample), ("sinc", sinc_upsample)):
            pieces = upsample_rows(x, ratio, length, frontend)
            for row in range(2):
                np.testing.assert_array_equal(pieces[row], whole(x[row], ratio, length))

    inpaint = Model.from_variables(tiny.variables, _config("inpaint"))
    y = rng.uniform(-0.5, 0.5, 600_000).astype(np.float32)
    mask = rng.random(len(y)) < 0.01  # thousands of one-sample gaps
    mask[:50] = mask[-70:] = True  # gaps without a known neighbour on one side
    mask[262_000:263_000] = True  # a gap across the 2**18-sample window bound
    out = enhance(inpaint, np.where(mask, 0, y), sample_rate=16000, mask=mask)
    by_hand = run_model(inpaint.variables, inpaint.config, linear_fill(np.where(mask, 0, y), mask))
    np.testing.assert_array_equal(out[mask], by_hand[mask])
    np.testing.assert_array_equal(out[~mask], y[~mask])


# --------------------------------------------------------------------------------------- evaluation
def test_evaluate_refuses_an_implausible_rate_before_resampling(packaged, tmp_path, capsys):
    from jaxsr.cli import evaluate as evaluate_cli

    (tmp_path / "d").mkdir()
    sf.write(tmp_path / "d" / "one-hertz.wav", _tone(2000, 100), 1)
    sf.write(tmp_path / "d" / "ok.wav", _tone(4000, 16000), 16000)
    assert (
        evaluate_cli.main(
            ["--checkpoint", "tiny-sr-x4", "--data", str(tmp_path / "d"), "--json", "--quiet"]
        )
        == 1
    )
    out = capsys.readouterr()
    assert "one-hertz.wav" in out.err and "plausible range" in out.err and "--any-rate" in out.err
    assert json.loads(out.out)["n_files"] == 1


@pytest.mark.parametrize("value", ["nan", "1e6", "-inf", "inf"])
def test_evaluate_snr_db_must_be_a_sane_number(value, capsys):
    from jaxsr.cli import evaluate as evaluate_cli

    with pytest.raises(SystemExit) as e:
        evaluate_cli.parse_args(["--checkpoint", "m", "--data", "d", f"--snr-db={value}"])
    assert e.value.code == 2 and "--snr-db must be a number of dB" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- training
def _fake_previous_run(workdir: pathlib.Path) -> dict:
    (workdir / "checkpoints" / "2" / "model").mkdir(parents=True)
    (workdir / "config.json").write_text(config_to_json(_config()))
    (workdir / "log.txt").write_text("the earlier run\n")
    return {
        p.relative_to(workdir): p.read_bytes() if p.is_file() else None for p in workdir.rglob("*")
    }


@pytest.mark.parametrize("source", ["missing", "wide"])
def test_overwrite_with_a_bad_init_from_touches_nothing(packaged, tiny, tmp_path, source):
    from jaxsr.train import train_and_evaluate

    before = _fake_previous_run(tmp_path / "run")
    c = _config()
    c.data.update(data_dir=str(tmp_path / "data"))
    if source == "wide":
        c.model.width = 0.125  # another shape than tiny-sr-x4's
        c.train.init_from = "tiny-sr-x4"
    else:
        c.train.init_from = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="config.train.init_from: "):
        train_and_evaluate(c, tmp_path / "run", overwrite=True, quiet=True)
    after = {
        p.relative_to(tmp_path / "run"): p.read_bytes() if p.is_file() else None
        for p in (tmp_path / "run").rglob("*")
        if p.name != ".lock"
    }
    assert after == before and not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "override",
    [
        "--config.model.width=inf",
        "--config.train.learning_rate=inf",
        "--config.train.warmup_steps=-10",
        "--config.train.b2=nan",
    ],
)
def test_out_of_range_config_values_exit_2_before_the_workdir(override, tmp_path, capsys):
    from jaxsr.cli import train as train_cli

    with pytest.raises(SystemExit) as e:
        train_cli.parse(["--config", "quickstart", "--workdir", str(tmp_path / "run"), override])
    field = override.split("=")[0].removeprefix("--")
    assert e.value.code == 2 and field in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_full_disk_while_saving_is_one_line_and_resumable(tmp_path, monkeypatch):
    from jaxsr import checkpoints
    from jaxsr.train import train_and_evaluate
    from jaxsr.train.loop import NoSpaceLeft

    c = _config()
    c.data.update(
        name="synthetic",
        sample_rate=8000,
        num_train_clips=2,
        num_eval_clips=1,
        clip_seconds=0.2,
        data_dir=str(tmp_path / "data"),
    )
    c.train.update(
        batch_size=2, num_train_steps=2, log_every=1, eval_every=1000, checkpoint_every=1
    )
    c.eval.update(num_clips=1, save_examples=0)

    def full(self, step, *a, **k):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as e:  # wrapped, as Orbax wraps it
            raise RuntimeError(f"async save of step {step} failed") from e

    monkeypatch.setattr(checkpoints.Checkpointer, "save", full)
    with pytest.raises(NoSpaceLeft) as e:
        train_and_evaluate(c, tmp_path / "run", quiet=True)
    assert str(e.value).startswith(
        "no space left on device while saving step 1"
    ) and "resume" in str(e.value)
    assert "\n" not in str(e.value)


# A disk that fills up: every write(2) / writev(2) into files under $FULL_DISK_DIR fails with ENOSPC
# once $FULL_DISK_BYTES have been written there, as on a small partition. Preloaded into a training
# process, it fails TensorStore's own writes inside Orbax's background threads, where a real full disk does.
_FULL_DISK_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static long long used;

static int full(int fd, long long n) {
  const char *dir = getenv("FULL_DISK_DIR"), *bytes = getenv("FULL_DISK_BYTES");
  char link[64], path[4096];
  if (!dir || !bytes) return 0;
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t k = readlink(link, path, sizeof path - 1);
  if (k <= 0) return 0;
  path[k] = 0;
  if (strncmp(path, dir, strlen(dir)) != 0) return 0;
  if (__atomic_add_fetch(&used, n, __ATOMIC_SEQ_CST) <= atoll(bytes)) return 0;
  errno = ENOSPC;
  return 1;
}

ssize_t write(int fd, const void *buf, size_t n) {
  static ssize_t (*real)(int, const void *, size_t);
  if (!real) real = dlsym(RTLD_NEXT, "write");
  return full(fd, (long long)n) ? -1 : real(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
  static ssize_t (*real)(int, const struct iovec *, int);
  long long n = 0;
  if (!real) real = dlsym(RTLD_NEXT, "writev");
  for (int i = 0; i < count; i++) n += (long long)iov[i].iov_len;
  return full(fd, n) ? -1 : real(fd, iov, count);
}
"""


def _full_disk_library(folder: pathlib.Path) -> pathlib.Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not sys.platform.startswith("linux") or compiler is None:
        pytest.skip("the full-disk simulation needs Linux (/proc/self/fd) and a C compiler (cc)")
    (folder / "full.c").write_text(_FULL_DISK_C)
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-o", "full.so", "full.c", "-ldl"], cwd=folder, check=True
    )
    return folder / "full.so"


def _train(workdir: pathlib.Path, data: pathlib.Path, env: dict | None = None):
    """`jaxsr train --quiet` of a tiny sr model for 3 steps, a checkpoint after each, in a fresh process."""
    overrides = {
        "dtype": "float32",
        "model.num_blocks": 2,
        "model.width": 0.0625,
        "model.dropout": 0.0,
        "data.name": "synthetic",
        "data.sample_rate": 8000,
        "data.patch_length": 512,
        "data.num_train_clips": 2,
        "data.num_eval_clips": 1,
        "data.clip_seconds": 0.2,
        "data.data_dir": data,
        "train.batch_size": 2,
        "train.num_train_steps": 3,
        "train.log_every": 1,
        "train.checkpoint_every": 1,
        "train.eval_every": 1000,
        "eval.num_clips": 1,
        "eval.batch_size": 2,
        "eval.save_examples": 0,
    }
    argv = ["train", "--config", "quickstart", "--workdir", str(workdir), "--quiet"]
    argv += [f"--config.{k}={v}" for k, v in overrides.items()]
    return subprocess.run(
        [sys.executable, "-m", "jaxsr.cli", *argv],
        capture_output=True,
        text=True,
        timeout=900,  # minutes on a loaded machine; a run that hangs at exit fails here
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_a_disk_filling_up_during_training_is_one_line_and_resumes_exactly(tmp_path):
    from jaxsr import checkpoints

    shim = _full_disk_library(tmp_path)
    data = tmp_path / "data"
    reference = _train(tmp_path / "reference", data)  # also builds the data set, before any limit
    assert reference.returncode == 0, reference.stderr[-2000:]
    one_checkpoint = sum(
        f.stat().st_size for f in (tmp_path / "reference" / "checkpoints" / "1").rglob("*")
    )
    # Room for the first checkpoint and half of the second: step 2's save fails in Orbax's background.
    run = tmp_path / "run"
    full = _train(
        run,
        data,
        {
            "LD_PRELOAD": str(shim),
            "FULL_DISK_DIR": str(run / "checkpoints"),
            "FULL_DISK_BYTES": str(int(1.5 * one_checkpoint)),
        },
    )
    lines = full.stderr.strip().splitlines()
    assert full.returncode == 1 and len(lines) <= 3, full.stderr[-3000:]
    assert "Traceback" not in full.stderr
    (line,) = [x for x in lines if "no space left on device" in x]
    assert line.startswith("error: no space left on device while saving step 2 in ")
    assert "freed space lets you resume" in line and "(from step 1)" in line
    assert checkpoints.checkpoint_steps(run) == [1]

    resumed = _train(run, data)  # the space is free again: the same command goes on from step 1
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in (run / "log.txt").read_text()
    a = checkpoints.load_checkpoint(tmp_path / "reference")
    b = checkpoints.load_checkpoint(run)
    assert a.step == b.step == 3
    for x, y in zip(
        jax.tree_util.tree_leaves(a.variables), jax.tree_util.tree_leaves(b.variables), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ----------------------------------------------------------------------------------------- messages
def test_messages_read_right(packaged, tmp_path):
    from jaxsr.audio_io import read_audio
    from jaxsr.cli.conditions import UsageError, apply_codec

    config = _config()
    with pytest.raises(ValueError, match=r"Try (\d+)\.") as e:
        chunk_plan(config, 1)
    chunk_plan(
        config, int(str(e.value).rsplit("Try ", 1)[1].rstrip("."))
    )  # the suggestion is accepted
    assert "nor a packaged model. Packaged models:" in str(
        pretrained.unknown_name_error("zzzzzzzz")
    )
    config.data.sample_rate, config.task.ratio = 16000, 8  # mp3 cannot carry 2 kHz
    with pytest.raises(UsageError) as e:
        apply_codec(config, "mp3")
    assert str(e.value).startswith("--codec mp3 carries only ")
    (tmp_path / "x.wav").write_bytes(b"garbage" * 10)
    with pytest.raises(ValueError) as e:
        read_audio(tmp_path / "x.wav")
    assert ".." not in str(e.value)
