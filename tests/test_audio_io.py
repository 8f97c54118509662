"""Tests for jaxsr.audio_io: decoding, writing, resampling, listing, dtype conversion."""

import logging
import math
import os
import pathlib
import shutil
import tempfile

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
import soxr

from jaxsr import audio_io


def _stereo(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.9, 0.9, (n, 2)).astype(np.float32)


@pytest.mark.parametrize("ext,subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("wav", "FLOAT")])
def test_read_matches_soundfile_exactly(tmp_path, ext, subtype):
    x = _stereo()
    path = tmp_path / f"a.{ext}"
    sf.write(path, x, 22050, subtype=subtype)
    y, sr = audio_io.read_audio(path)
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    assert sr == 22050 and y.dtype == np.float32 and y.shape == (2000, 2)
    np.testing.assert_array_equal(y, ref)
    # PCM_16 stores round(x * 32767); decoding divides by 32768: within 1.5 steps of the original.
    np.testing.assert_allclose(y, x, atol=1.5 / 32768 if subtype == "PCM_16" else 0)


def test_read_ogg_and_mp3_decode(tmp_path):
    t = np.arange(22050) / 22050
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    formats = ["ogg"] + (["mp3"] if "MP3" in sf.available_formats() else [])
    for ext in formats:
        path = tmp_path / f"a.{ext}"
        sf.write(path, x, 22050)
        y, sr = audio_io.read_audio(path, mono=True)
        assert sr == 22050 and y.shape[1] == 1 and abs(y.shape[0] - len(x)) < 2048, ext
        # Lossy, so compare energy rather than samples: a 440 Hz sine of amplitude 0.5 has RMS 0.354.
        assert abs(np.sqrt(np.mean(y**2)) - 0.5 / np.sqrt(2)) < 0.05, ext


def test_mono_is_channel_mean(tmp_path):
    x = _stereo()
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    y, _ = audio_io.read_audio(tmp_path / "a.wav", mono=True)
    assert y.shape == (2000, 1)
    np.testing.assert_allclose(y[:, 0], x.mean(axis=1), atol=1e-7)


def test_read_with_resample_matches_soxr(tmp_path):
    x = _stereo(4410)
    sf.write(tmp_path / "a.wav", x, 44100, subtype="FLOAT")
    y, sr = audio_io.read_audio(tmp_path / "a.wav", sample_rate=16000)
    assert sr == 16000 and y.shape == (math.ceil(4410 * 16000 / 44100), 2)
    np.testing.assert_allclose(y, soxr.resample(x, 44100, 16000, quality="HQ"), atol=1e-6)


def test_resample_sine_against_analytic_and_scipy():
    # An in-band sine resampled must equal the same sine sampled at the new rate (away from the edges).
    sr_in, sr_out, f = 44100, 16000, 1000.0
    x = np.sin(2 * np.pi * f * np.arange(sr_in) / sr_in)
    y = audio_io.resample(x, sr_in, sr_out)
    assert y.dtype == np.float32 and len(y) == sr_out
    want = np.sin(2 * np.pi * f * np.arange(sr_out) / sr_out)
    np.testing.assert_allclose(y[500:-500], want[500:-500], atol=2e-3)
    ref = scipy.signal.resample_poly(x, 160, 441)
    np.testing.assert_allclose(y[500:-500], ref[500:-500], atol=2e-3)


def test_resample_identity_2d_and_errors():
    x = _stereo(100)
    assert audio_io.resample(x, 16000, 16000) is x  # float32 in, equal rates: nothing to do
    y = audio_io.resample(x.astype(np.float64), 8000, 16000)
    assert y.shape == (200, 2) and y.dtype == np.float32
    np.testing.assert_allclose(y[:, 1], audio_io.resample(x[:, 1], 8000, 16000), atol=1e-6)
    assert audio_io.resample(np.zeros(0, np.float32), 8000, 16000).shape == (0,)
    with pytest.raises(ValueError, match="sr_out"):
        audio_io.resample(x, 16000, 0)
    with pytest.raises(ValueError, match="sr_in"):
        audio_io.resample(x, 44.1, 16000)
    with pytest.raises(ValueError, match="shape"):
        audio_io.resample(np.zeros((2, 2, 2)), 8000, 16000)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        audio_io.read_audio(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.wav.*0 bytes"):
        audio_io.read_audio(tmp_path / "empty.wav")
    (tmp_path / "bad.flac").write_bytes(b"RIFF" + os.urandom(500))
    with pytest.raises(ValueError, match=r"bad\.flac"):
        audio_io.read_audio(tmp_path / "bad.flac")
    (tmp_path / "notes.m4a").write_text("this is not audio\n" * 20)
    with pytest.raises(ValueError, match=r"notes\.m4a.*ffmpeg"):
        audio_io.read_audio(tmp_path / "notes.m4a")
    # A WAV cut short in its header.
    sf.write(tmp_path / "cut.wav", _stereo(), 16000)
    (tmp_path / "cut.wav").write_bytes((tmp_path / "cut.wav").read_bytes()[:30])
    with pytest.raises(ValueError, match=r"cut\.wav"):
        audio_io.read_audio(tmp_path / "cut.wav")
    with pytest.raises(ValueError, match="directory"):
        audio_io.read_audio(tmp_path)
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(ValueError, match=r"zero\.wav.*no audio samples"):
        audio_io.read_audio(tmp_path / "zero.wav")


def test_read_bytes_matches_file(tmp_path):
    sf.write(tmp_path / "a.flac", _stereo(), 16000)
    want, _ = audio_io.read_audio(tmp_path / "a.flac")
    got, sr = audio_io.read_audio_bytes((tmp_path / "a.flac").read_bytes(), "zip:a.flac")
    assert sr == 16000
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="zip:b.wav"):
        audio_io.read_audio_bytes(b"junkjunkjunk", "zip:b.wav")


@pytest.mark.parametrize(
    "ext,subtype,tol",
    [("wav", None, 1.0 / 32767), ("flac", "PCM_24", 1.0 / 2**23), ("wav", "FLOAT", 0.0)],
)
def test_write_round_trip(tmp_path, ext, subtype, tol):
    x = _stereo()
    path = audio_io.write_audio(tmp_path / "deep" / "dir" / f"o.{ext}", x, 24000, subtype=subtype)
    info = sf.info(path)
    assert info.samplerate == 24000 and info.channels == 2 and info.subtype == (subtype or "PCM_16")
    y, _ = audio_io.read_audio(path)
    np.testing.assert_allclose(y, x, atol=tol)
    assert [p.name for p in path.parent.iterdir()] == [f"o.{ext}"]  # no temp file left behind


def test_write_mono_1d_and_int16(tmp_path):
    x = np.array([0, 16384, -32768, 32767], np.int16)
    audio_io.write_audio(tmp_path / "a.wav", x, 8000)
    y, _ = sf.read(tmp_path / "a.wav", dtype="int16")
    np.testing.assert_array_equal(y, x)


def test_write_clips_with_warning(tmp_path, caplog):
    x = np.array([0.5, 1.5, -2.0, 0.25], np.float32)
    with caplog.at_level(logging.WARNING):
        audio_io.write_audio(tmp_path / "c.wav", x, 8000, subtype="PCM_24")
    assert "clipped 2 of 4" in caplog.text
    y, _ = sf.read(tmp_path / "c.wav", dtype="float32")
    np.testing.assert_allclose(y, [0.5, 1.0, -1.0, 0.25], atol=2**-23)
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # a float file holds samples past full scale as they are
        audio_io.write_audio(tmp_path / "f.wav", x, 8000, subtype="FLOAT")
    assert "clipped" not in caplog.text
    np.testing.assert_array_equal(sf.read(tmp_path / "f.wav", dtype="float32")[0], x)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        audio_io.write_audio(tmp_path / "d.wav", x / 2, 8000)
    assert "clipped" not in caplog.text


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    audio_io.write_audio(path, np.full(100, 0.25, np.float32), 8000)
    before = path.read_bytes()

    def broken_write(file, *args, **kwargs):
        with open(file, "wb") as f:
            f.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(audio_io.sf, "write", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        audio_io.write_audio(path, np.zeros(100, np.float32), 8000)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


def test_write_errors(tmp_path):
    x = np.zeros(100, np.float32)
    with pytest.raises(ValueError, match=r"\.mp3"):
        audio_io.write_audio(tmp_path / "a.mp3", x, 8000)
    with pytest.raises(ValueError, match="FLOAT.*FLAC"):
        audio_io.write_audio(tmp_path / "a.flac", x, 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"\[time, channels\]"):
        audio_io.write_audio(tmp_path / "a.wav", np.zeros((2, 1000)), 8000)
    with pytest.raises(ValueError, match="NaN"):
        audio_io.write_audio(tmp_path / "a.wav", np.array([0.0, np.nan]), 8000)
    with pytest.raises(ValueError, match="sample_rate"):
        audio_io.write_audio(tmp_path / "a.wav", x, -1)
    assert not any(tmp_path.iterdir())


def test_to_float32_hand_cases():
    np.testing.assert_array_equal(
        audio_io.to_float32(np.array([-32768, 0, 16384, 32767], np.int16)),
        np.array([-1.0, 0.0, 0.5, 32767 / 32768], np.float32),
    )
    np.testing.assert_array_equal(
        audio_io.to_float32(np.array([0, 128, 255], np.uint8)),
        np.array([-1.0, 0.0, 127 / 128], np.float32),
    )
    np.testing.assert_allclose(
        audio_io.to_float32(np.array([-(2**31), 2**30], np.int32)), [-1.0, 0.5]
    )
    y = audio_io.to_float32(np.array([0.25, -1.5], np.float64))
    assert y.dtype == np.float32 and y.tolist() == [0.25, -1.5]  # floats are cast, not rescaled
    with pytest.raises(ValueError, match="int64"):
        audio_io.to_float32(np.array([1, 2], np.int64))


def test_list_audio_files(tmp_path):
    for rel in [
        "b/z.WAV",
        "a/y.Flac",
        "a/x.ogg",
        "top.mp3",
        "a/readme.txt",
        ".hidden.wav",
        "a/._x.wav",
        ".git/objects.wav",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    got = [p.relative_to(tmp_path).as_posix() for p in audio_io.list_audio_files(tmp_path)]
    assert got == ["a/x.ogg", "a/y.Flac", "b/z.WAV", "top.mp3"]
    assert audio_io.list_audio_files(tmp_path, extensions=("wav",)) == [tmp_path / "b/z.WAV"]
    assert audio_io.list_audio_files(tmp_path / "a/readme.txt") == [tmp_path / "a/readme.txt"]
    with pytest.raises(FileNotFoundError, match="missing"):
        audio_io.list_audio_files(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty.*\.wav"):
        audio_io.list_audio_files(tmp_path / "empty")


def test_symlink_loops_and_broken_links_say_so(tmp_path):
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)  # points at itself
    with pytest.raises(ValueError, match=r"loop\.wav is a symbolic link that loops"):
        audio_io.read_audio(loop)
    (tmp_path / "gone.wav").symlink_to(tmp_path / "deleted.wav")
    with pytest.raises(FileNotFoundError, match=r"gone\.wav is a broken symbolic link"):
        audio_io.read_audio(tmp_path / "gone.wav")
    # Named directly or found in a folder, such links are listed, so that reading them reports why.
    assert audio_io.list_audio_files(loop) == [loop]
    sf.write(tmp_path / "ok.wav", _stereo(), 16000)
    assert [p.name for p in audio_io.list_audio_files(tmp_path)] == [
        "gone.wav",
        "loop.wav",
        "ok.wav",
    ]


def _read_error_as(uid: int, path: pathlib.Path) -> str:
    """The error read_audio(path) raises while this process's effective user is `uid` (root only)."""
    os.seteuid(uid)  # the real user stays root, so the next line can switch back
    try:
        audio_io.read_audio(path)
        return "no error"
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    finally:
        os.seteuid(0)


def test_permission_denied_is_reported_as_such(tmp_path):
    # Root reads any file, so as root the read runs with the effective user "nobody".
    folder = pathlib.Path(
        tempfile.mkdtemp(dir=None if os.geteuid() == 0 else tmp_path)
    )  # /tmp: open to "nobody"
    try:
        folder.chmod(0o755)
        path = folder / "locked.wav"
        sf.write(path, _stereo(), 16000)
        path.chmod(0o000)
        if os.geteuid() == 0:
            message = _read_error_as(65534, path)
        else:
            with pytest.raises(ValueError) as e:
                audio_io.read_audio(path)
            message = f"ValueError: {e.value}"
        assert message.startswith("ValueError: ") and "locked.wav" in message, message
        assert "permission denied" in message and "damaged" not in message, message
    finally:
        shutil.rmtree(folder, ignore_errors=True)
