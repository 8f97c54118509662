"""Tests for jaxsr.data.builders, on generated fixtures (and the shared speech-44k folder when present)."""

import concurrent.futures
import hashlib
import json
import pathlib
import pickle
import shutil
import subprocess
import sys
import time
import zipfile

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr

from jaxsr.data import sources
from jaxsr.config import default_config
from jaxsr.data import builders, synthetic

REPO = pathlib.Path(__file__).resolve().parents[1]
INT16_STEP = 1.0 / 32768


def _data(**overrides):
    c = default_config().data
    c.patch_length = 2048
    c.build_workers = 2
    for k, v in overrides.items():
        c[k] = v
    return c


def _tone(sr, seconds, freq, channels=1, amp=0.5, seed=0):
    t = np.arange(int(round(sr * seconds))) / sr
    rng = np.random.default_rng(seed)
    x = amp * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
    return np.stack([x * (0.8 + 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)


def _reference(path, sr_out):
    """What the builder must store: the file's channel mean, resampled with soxr HQ (float32)."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    return soxr.resample(x.mean(axis=1), sr, sr_out, quality="HQ").astype(np.float32)


def _by_id(source):
    return {r["id"]: r for r in source}


@pytest.fixture
def mixed_folder(tmp_path):
    """Mixed formats, rates and channel counts, plus a corrupt, an empty, a silent and a short file."""
    root = tmp_path / "mixed"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    sf.write(root / "a/x08k.wav", _tone(8000, 0.3, 300), 8000)
    sf.write(root / "a/y22k.flac", _tone(22050, 0.4, 500, channels=2, seed=1), 22050)
    sf.write(root / "b/z44k.ogg", _tone(44100, 0.2, 700, seed=2), 44100)
    sf.write(
        root / "b/w44k.wav", _tone(44100, 0.25, 900, channels=2, seed=3), 44100, subtype="FLOAT"
    )
    sf.write(root / "b/short.wav", _tone(16000, 0.01, 1000), 16000)  # 160 samples < patch_length
    sf.write(root / "b/silent.wav", np.zeros((4000, 1), np.float32), 16000)
    (root / "b/corrupt.wav").write_bytes(b"RIFF\x00\x01\x00\x00WAVEfmt " + bytes(range(200)))
    (root / "a/empty.flac").write_bytes(b"")
    return root


def test_audio_folder_mixed_formats(mixed_folder, tmp_path, caplog, capsys):
    split_list = tmp_path / "splits.txt"
    split_list.write_text(
        "# split path\ntrain a/x08k.wav\ntrain a/y22k.flac\ntrain b/short.wav\n"
        "train b/corrupt.wav\ntrain a/empty.flac\ntrain b/silent.wav\n"
        "valid b/z44k.ogg\ntest b/w44k.wav\n"
    )
    c = _data(name="audio_folder", path=str(mixed_folder), split=f"list:{split_list}")
    train = builders.load_split(c, "train", tmp_path / "cache")
    assert capsys.readouterr().out == ""  # TFDS progress must not pollute stdout
    recs = _by_id(train)
    assert sorted(recs) == ["a/x08k.wav", "a/y22k.flac", "b/short.wav"]
    for rel, sr_src in [("a/x08k.wav", 8000), ("a/y22k.flac", 22050)]:
        r, want = recs[rel], _reference(mixed_folder / rel, 16000)
        assert (
            r["audio"].dtype == np.float32
            and r["source_sample_rate"] == sr_src
            and r["speaker"] == "a"
        )
        assert r["audio"].shape == want.shape
        np.testing.assert_allclose(r["audio"], want, atol=INT16_STEP / 2 + 1e-7)
    assert len(recs["b/short.wav"]["audio"]) == 160  # shorter than a patch: kept
    summary = train.metadata["build_summary"]["train"]
    assert summary["files"] == 6 and summary["examples"] == 3 and summary["short"] == 1
    assert summary["downmixed"] == 1 and summary["source_rates"] == {
        "8000": 1,
        "22050": 1,
        "16000": 1,
    }
    assert {k: v["count"] for k, v in summary["skipped"].items()} == {
        "corrupt": 1,
        "empty": 1,
        "silent": 1,
        "band_limited": 0,
    }
    assert "corrupt.wav" in caplog.text and "empty.flac" in caplog.text
    valid, test = (builders.load_split(c, s, tmp_path / "cache") for s in ("valid", "test"))
    assert [r["id"] for r in valid] == ["b/z44k.ogg"] and [r["id"] for r in test] == ["b/w44k.wav"]
    assert len(valid[0]["audio"]) == len(_reference(mixed_folder / "b/z44k.ogg", 16000)) == 3200
    np.testing.assert_allclose(
        test[0]["audio"], _reference(mixed_folder / "b/w44k.wav", 16000), atol=INT16_STEP / 2 + 1e-7
    )
    meta = train.metadata
    assert meta["builder_version"] == builders.VERSION and meta["jaxsr_version"]
    assert meta["options"]["sample_rate"] == 16000 and meta["options"]["split"].startswith("list:")


def test_float32_store_is_exact_and_int16_within_half_step(mixed_folder, tmp_path):
    spec = "tail:1"
    f32 = builders.load_split(
        _data(
            name="audio_folder",
            path=str(mixed_folder),
            split=spec,
            store_dtype="float32",
            sample_rate=24000,
        ),
        "train",
        tmp_path,
    )
    i16 = builders.load_split(
        _data(name="audio_folder", path=str(mixed_folder), split=spec, sample_rate=24000),
        "train",
        tmp_path,
    )
    assert f32.path != i16.path and len(f32) == len(i16) == 4
    for a, b in zip(f32, i16):
        want = _reference(mixed_folder / a["id"], 24000)
        np.testing.assert_array_equal(a["audio"], np.clip(want, -1, 1))
        err = np.max(np.abs(b["audio"] - a["audio"]))
        assert 0 < err <= INT16_STEP / 2 + 1e-7


def test_config_names_isolate_settings(mixed_folder, tmp_path):
    base = dict(name="audio_folder", path=str(mixed_folder), split="tail:2")
    s16 = builders.load_split(_data(**base), "train", tmp_path)
    s8 = builders.load_split(_data(**base, sample_rate=8000), "train", tmp_path)
    tail1 = builders.load_split(_data(**{**base, "split": "tail:1"}), "train", tmp_path)
    assert len({s16.path, s8.path, tail1.path}) == 3
    assert (len(s16), len(s8), len(tail1)) == (3, 3, 4)
    a, b = _by_id(s16)["a/y22k.flac"]["audio"], _by_id(s8)["a/y22k.flac"]["audio"]
    assert len(a) == int(np.ceil(0.4 * 16000)) and len(b) == int(np.ceil(0.4 * 8000))
    # A changed source file is a different dataset, not a stale cache hit.
    sf.write(mixed_folder / "a/x08k.wav", _tone(8000, 0.5, 300), 8000)
    changed = builders.load_split(_data(**base), "train", tmp_path)
    assert changed.path != s16.path and len(_by_id(changed)["a/x08k.wav"]["audio"]) == 8000


def test_hash_split_deterministic_disjoint(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    for i in range(30):
        sf.write(root / f"f{i:02d}.wav", _tone(8000, 0.05, 200 + 10 * i, seed=i), 8000)
    c = _data(name="audio_folder", path=str(root), split="hash:0.6,0.2,0.2", build_workers=1)
    ids = {s: [r["id"] for r in builders.load_split(c, s, tmp_path / "c1")] for s in sources.SPLITS}
    again = {
        s: [r["id"] for r in builders.load_split(c, s, tmp_path / "c2")] for s in sources.SPLITS
    }
    assert ids == again
    assert all(ids[s] == sorted(ids[s]) and ids[s] for s in sources.SPLITS)
    sets = [set(ids[s]) for s in sources.SPLITS]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert set.union(*sets) == {f"f{i:02d}.wav" for i in range(30)}
    # The assignment is a pure function of the relative path: check it independently.
    u = lambda s: int(hashlib.sha1(s.encode()).hexdigest()[:13], 16) / 16**13  # noqa: E731
    assert all(u(i) < 0.6 for i in ids["train"]) and all(0.6 <= u(i) < 0.8 for i in ids["valid"])


def test_tail_valid_is_test_and_split_errors(mixed_folder, tmp_path):
    c = _data(name="audio_folder", path=str(mixed_folder), split="tail:2")
    test = [r["id"] for r in builders.load_split(c, "test", tmp_path)]
    assert test == ["b/w44k.wav", "b/z44k.ogg"]  # the two good files that sort last
    assert [r["id"] for r in builders.load_split(c, "valid", tmp_path)] == test
    with pytest.raises(ValueError, match="tail:99"):
        builders.load_split(
            _data(name="audio_folder", path=str(mixed_folder), split="tail:99"), "train", tmp_path
        )
    with pytest.raises(ValueError, match="data.split='random'"):
        builders.build(_data(name="audio_folder", path=str(mixed_folder), split="random"), tmp_path)
    with pytest.raises(ValueError, match="hash needs three fractions"):
        builders.build(
            _data(name="audio_folder", path=str(mixed_folder), split="hash:0.5,0.5"), tmp_path
        )
    bad_list = tmp_path / "l.txt"
    bad_list.write_text("train a/x08k.wav\ntest nothere.wav\n")
    with pytest.raises(ValueError, match="nothere.wav"):
        builders.build(
            _data(name="audio_folder", path=str(mixed_folder), split=f"list:{bad_list}"), tmp_path
        )
    with pytest.raises(ValueError, match="split='bogus'"):
        builders.load_split(c, "bogus", tmp_path)


def test_tail_with_valid_holds_out_test_and_validation_by_sorted_name(tmp_path):
    # "tail:3,valid:2": the 3 files whose relative paths sort last are test, the 2 just before them valid.
    root = tmp_path / "names"
    names = ["z.wav", "a/b.wav", "a/a.wav", "m1.wav", "m10.wav", "m2.wav", "B.wav", "c/d/e.wav"]
    for i, name in enumerate(names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, _tone(8000, 0.05, 200 + 20 * i, seed=i), 8000)
    ordered = sorted(names)  # the reference: plain sorting of the relative paths
    c = _data(
        name="audio_folder",
        path=str(root),
        split="tail:3,valid:2",
        sample_rate=8000,
        build_workers=1,
    )
    ids = {
        s: [r["id"] for r in builders.load_split(c, s, tmp_path / "cache")] for s in sources.SPLITS
    }
    assert ids == {"train": ordered[:-5], "valid": ordered[-5:-3], "test": ordered[-3:]}
    # Plain tail:3 holds out the same test files (valid = test), and trains on the two valid ones too.
    plain = _data(
        name="audio_folder", path=str(root), split="tail:3", sample_rate=8000, build_workers=1
    )
    assert [r["id"] for r in builders.load_split(plain, "test", tmp_path / "cache")] == ordered[-3:]
    assert [r["id"] for r in builders.load_split(plain, "train", tmp_path / "cache")] == ordered[
        :-3
    ]
    for spec, match in (
        ("tail:3,valid:5", "holds out 8 files but .* found only 8"),
        ("tail:3,valid:0", "tail needs a positive number"),
        ("tail:3,val:2", "tail needs a positive number"),
        ("tail:3,", "tail needs a positive number"),
        ("tail:0,valid:2", "tail needs a positive number"),
    ):
        with pytest.raises(ValueError, match=match):
            builders.build(
                _data(name="audio_folder", path=str(root), split=spec), tmp_path / "cache"
            )


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="data.path is empty"):
        builders.build(_data(name="audio_folder"), tmp_path)
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        builders.build(_data(name="audio_folder", path=str(tmp_path / "does-not-exist")), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files under"):
        builders.build(_data(name="audio_folder", path=str(tmp_path / "empty")), tmp_path)
    with pytest.raises(ValueError, match="data.name='librivox'"):
        builders.build(_data(name="librivox"), tmp_path)
    with pytest.raises(ValueError, match="store_dtype"):
        builders.build(_data(store_dtype="int8"), tmp_path)
    # Every file corrupt: an error naming the split, never a silently empty dataset.
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"{i}.wav").write_bytes(b"RIFF garbage " * (i + 1))
    with pytest.raises(ValueError, match="split 'train' ended empty"):
        builders.build(_data(name="audio_folder", path=str(bad), split="tail:1"), tmp_path / "c")
    assert not list((tmp_path / "c").glob("audio_folder/*/1.0.0"))  # nothing half-built left


def test_recovers_from_half_built_dirs(mixed_folder, tmp_path, monkeypatch):
    c = _data(name="audio_folder", path=str(mixed_folder), split="tail:2")

    class Boom(Exception):
        pass

    calls = {"n": 0}
    real = builders.load_file

    def dies_midway(item, opts):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Boom("killed")
        return real(item, opts)

    monkeypatch.setattr(builders, "load_file", dies_midway)
    with pytest.raises(Boom):
        builders.build(c, tmp_path)
    monkeypatch.setattr(builders, "load_file", real)
    builder = builders.build(c, tmp_path)
    version_dir = pathlib.Path(builder.data_path)
    assert len(builders.load_split(c, "train", tmp_path)) == 3
    # Simulate a kill that left a temp dir and a version dir without its dataset_info.json.
    leftover = version_dir.parent / f"incomplete.ABC123_{version_dir.name}"
    leftover.mkdir()
    (version_dir / "dataset_info.json").unlink()
    (version_dir / "stale.txt").write_text("from an older build")
    assert len(builders.load_split(c, "train", tmp_path)) == 3
    assert not leftover.exists() and not (version_dir / "stale.txt").exists()
    # A deleted shard is detected too.
    next(version_dir.glob("*-test.array_record*")).unlink()
    assert len(builders.load_split(c, "test", tmp_path)) == 2


def test_concurrent_builds_of_one_config_take_turns(tmp_path, monkeypatch):
    c = _data(num_train_clips=3, num_eval_clips=1, clip_seconds=0.1, build_workers=1)
    prepared = []
    real = builders._Builder.download_and_prepare
    monkeypatch.setattr(
        builders._Builder,
        "download_and_prepare",
        lambda self, **kw: (prepared.append(1), real(self, **kw))[1],
    )
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        paths = list(ex.map(lambda _: builders.build(c, tmp_path).data_path, range(3)))
    assert len(set(map(str, paths))) == 1 and len(prepared) == 1
    assert len(builders.load_split(c, "train", tmp_path)) == 3


def test_synthetic_matches_corpus(tmp_path):
    c = _data(num_train_clips=3, num_eval_clips=2, clip_seconds=0.25, sample_rate=8000)
    train = builders.load_split(c, "train", tmp_path)
    assert len(train) == 3 and len(builders.load_split(c, "valid", tmp_path)) == 2
    want = synthetic.make_corpus("train", 3, 8000, 0.25)
    for r, w in zip(train, want):
        assert r["audio"].shape == (2000,) and r["source_sample_rate"] == 8000
        np.testing.assert_allclose(r["audio"], w, atol=INT16_STEP / 2 + 1e-7)
    test = builders.load_split(c, "test", tmp_path)
    np.testing.assert_allclose(
        test[1]["audio"],
        synthetic.make_corpus("test", 2, 8000, 0.25)[1],
        atol=INT16_STEP / 2 + 1e-7,
    )
    assert [r["id"] for r in test] == ["test-00000", "test-00001"]


def test_clip_source_access_and_env_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXSR_DATA_DIR", str(tmp_path / "env"))
    src = builders.load_split(_data(num_train_clips=4, num_eval_clips=1, clip_seconds=0.1), "train")
    assert src.path.startswith(str(tmp_path / "env"))
    assert src[-1]["id"] == src[3]["id"] == "train-00003"
    assert [r["id"] for r in src[1:3]] == ["train-00001", "train-00002"]
    assert [r["id"] for r in src.__getitems__([2, 0])] == ["train-00002", "train-00000"]
    with pytest.raises(IndexError):
        src[4]
    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(clone[2]["audio"], src[2]["audio"])


def test_segments(mixed_folder, tmp_path):
    c = _data(name="audio_folder", path=str(mixed_folder), split="tail:2", segment_seconds=0.1)
    recs = _by_id(builders.load_split(c, "train", tmp_path))
    pieces = [k for k in recs if k.startswith("a/y22k.flac#")]
    assert len(pieces) == 4  # 0.4 s -> four pieces of 0.1 s
    whole = _reference(mixed_folder / "a/y22k.flac", 16000)
    joined = np.concatenate([recs[k]["audio"] for k in sorted(pieces)])
    np.testing.assert_allclose(joined, whole, atol=INT16_STEP / 2 + 1e-7)


# ---------------------------------------------------------------------------------------------- VCTK


def _make_vctk(root, layout, speakers=("p225", "p226", "p227", "s5"), n_rec=(6, 3, 3, 2)):
    sr = 48000
    for s, n in zip(speakers, n_rec):
        for i in range(1, n + 1):
            x = _tone(sr, 0.06, 200 + 7 * i + int(s[1:]) % 50, seed=i)
            if layout == "0.92":
                d = root / "wav48_silence_trimmed" / s
                d.mkdir(parents=True, exist_ok=True)
                sf.write(d / f"{s}_{i:03d}_mic1.flac", x, sr)
                sf.write(
                    d / f"{s}_{i:03d}_mic2.flac", 0.5 * x, sr
                )  # mic2 is quieter: tells the mics apart
            else:
                d = root / "wav48" / s
                d.mkdir(parents=True, exist_ok=True)
                sf.write(d / f"{s}_{i:03d}.wav", x, sr)
        (root / "txt" / s).mkdir(parents=True, exist_ok=True)
        (root / "txt" / s / f"{s}_001.txt").write_text("Please call Stella.")
    (root / "speaker-info.txt").write_text("ID AGE GENDER\n")
    return root


def test_vctk_single_speaker(tmp_path):
    root = _make_vctk(tmp_path / "VCTK-Corpus-0.92", "0.92")
    c = _data(
        name="vctk",
        path=str(root),
        vctk_mode="single",
        vctk_train_recordings=4,
        num_valid_clips=1,
        sample_rate=16000,
    )
    ids = {s: [r["id"] for r in builders.load_split(c, s, tmp_path / "c")] for s in sources.SPLITS}
    assert ids["test"] == ["p225_005", "p225_006"]
    assert len(ids["train"]) == 3 and len(ids["valid"]) == 1
    assert sorted(ids["train"] + ids["valid"]) == [f"p225_{i:03d}" for i in range(1, 5)]
    test = builders.load_split(c, "test", tmp_path / "c")
    assert test[0]["speaker"] == "p225" and test[0]["source_sample_rate"] == 48000
    want = _reference(root / "wav48_silence_trimmed/p225/p225_005_mic1.flac", 16000)
    np.testing.assert_allclose(test[0]["audio"], want, atol=INT16_STEP / 2 + 1e-7)
    mic2 = builders.load_split(_data(**{**c.to_dict(), "vctk_mic": "mic2"}), "test", tmp_path / "c")
    assert mic2.path != test.path
    np.testing.assert_allclose(mic2[0]["audio"], 0.5 * want, atol=INT16_STEP + 1e-6)
    with pytest.raises(ValueError, match="vctk_speaker='p999'.*p225"):
        builders.build(_data(**{**c.to_dict(), "vctk_speaker": "p999"}), tmp_path / "c")
    with pytest.raises(ValueError, match="vctk_train_recordings=6: speaker p225 has 6"):
        builders.build(_data(**{**c.to_dict(), "vctk_train_recordings": 6}), tmp_path / "c")
    # A custom split spec applies to the chosen speaker only.
    tail = builders.load_split(_data(**{**c.to_dict(), "split": "tail:1"}), "train", tmp_path / "c")
    assert [r["id"] for r in tail] == [f"p225_{i:03d}" for i in range(1, 6)]


def test_vctk_multi_speaker_080_and_zip(tmp_path):
    _make_vctk(tmp_path / "old" / "VCTK-Corpus", "0.80")
    c = _data(
        name="vctk",
        path=str(tmp_path / "old"),
        vctk_mode="multi",
        vctk_train_speakers=2,
        num_valid_clips=2,
    )
    splits = {s: builders.load_split(c, s, tmp_path / "c") for s in sources.SPLITS}
    spk = {s: {r["speaker"] for r in src} for s, src in splits.items()}
    assert spk["train"] == {"p225", "p226"} and spk["test"] == {"p227", "s5"}
    assert spk["valid"] <= spk["train"] and len(splits["valid"]) == 2 and len(splits["train"]) == 7
    assert splits["train"].metadata["options"]["layout"] == "0.80"
    # The same corpus as a zip (0.92 layout inside a top folder) reads the same as the directory.
    tree = _make_vctk(tmp_path / "new" / "VCTK-Corpus-0.92", "0.92")
    zpath = tmp_path / "VCTK-Corpus-0.92.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(tree.rglob("*")):
            zf.write(f, f.relative_to(tree.parent).as_posix())
    cz = _data(
        name="vctk", path=str(zpath), vctk_mode="multi", vctk_train_speakers=3, num_valid_clips=1
    )
    cd = _data(
        name="vctk", path=str(tree), vctk_mode="multi", vctk_train_speakers=3, num_valid_clips=1
    )
    from_zip, from_dir = (builders.load_split(x, "test", tmp_path / "c") for x in (cz, cd))
    assert [r["id"] for r in from_zip] == [r["id"] for r in from_dir] == ["s5_001", "s5_002"]
    np.testing.assert_array_equal(from_zip[1]["audio"], from_dir[1]["audio"])


def test_vctk_rejects_other_trees_and_trims(tmp_path, mixed_folder):
    with pytest.raises(ValueError, match="does not look like VCTK.*wav48_silence_trimmed"):
        builders.build(_data(name="vctk", path=str(mixed_folder)), tmp_path)
    with pytest.raises(ValueError, match="vctk_mode"):
        builders.build(_data(name="vctk", path=str(mixed_folder), vctk_mode="both"), tmp_path)
    root = tmp_path / "trim"
    d = root / "wav48_silence_trimmed" / "p225"
    d.mkdir(parents=True)
    for i in range(1, 4):  # 0.1 s of silence, 0.1 s of tone, 0.1 s of silence
        x = np.concatenate([np.zeros(4800), _tone(48000, 0.1, 440)[:, 0], np.zeros(4800)])
        sf.write(d / f"p225_{i:03d}_mic1.flac", x, 48000)
    c = _data(
        name="vctk", path=str(root), vctk_train_recordings=2, num_valid_clips=0, sample_rate=16000
    )
    plain = builders.load_split(c, "test", tmp_path)
    trimmed = builders.load_split(
        _data(**{**c.to_dict(), "trim_silence": True, "trim_top_db": 30.0}), "test", tmp_path
    )
    assert len(plain[0]["audio"]) == 4800
    assert 1600 <= len(trimmed[0]["audio"]) <= 2600  # about the 0.1 s of tone, give or take a frame
    want, _ = librosa.effects.trim(
        _reference(d / "p225_003_mic1.flac", 16000), top_db=30.0, frame_length=512, hop_length=128
    )
    np.testing.assert_allclose(trimmed[0]["audio"], want, atol=INT16_STEP / 2 + 1e-7)


# ---------------------------------------------------------------------------------------------- MUSDB18


def test_musdb_hq(tmp_path):
    root = tmp_path / "musdb18hq"
    tracks = {"train": ["A - One", "B - Two", "C - Three"], "test": ["D - Four", "E - Five"]}
    for subset, names in tracks.items():
        for i, name in enumerate(names):
            (root / subset / name).mkdir(parents=True)
            sf.write(
                root / subset / name / "mixture.wav",
                _tone(44100, 0.1, 300 + 50 * i, channels=2),
                44100,
            )
            sf.write(root / subset / name / "vocals.wav", _tone(44100, 0.1, 900, channels=2), 44100)
    c = _data(name="musdb18", path=str(root), num_valid_clips=1, sample_rate=22050)
    splits = {s: builders.load_split(c, s, tmp_path / "c") for s in sources.SPLITS}
    assert [r["id"] for r in splits["test"]] == ["test/D - Four", "test/E - Five"]
    assert len(splits["train"]) == 2 and len(splits["valid"]) == 1
    assert {r["id"] for r in splits["train"]} | {r["id"] for r in splits["valid"]} == {
        f"train/{n}" for n in tracks["train"]
    }
    assert splits["test"][0]["speaker"] == "D"
    want = _reference(root / "test/D - Four/mixture.wav", 22050)
    np.testing.assert_allclose(splits["test"][0]["audio"], want, atol=INT16_STEP / 2 + 1e-7)
    assert splits["test"].metadata["build_summary"]["test"]["downmixed"] == 2


def test_musdb_stems_need_ffmpeg(tmp_path):
    root = tmp_path / "musdb18"
    for subset in ("train", "test"):
        (root / subset).mkdir(parents=True)
        (root / subset / "A - One.stem.mp4").write_bytes(b"\x00" * 64)
    c = _data(name="musdb18", path=str(root))
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        pytest.skip("ffmpeg is installed here: the no-decoder message cannot be exercised")
    with pytest.raises(ValueError, match="ffmpeg"):
        builders.build(c, tmp_path / "c")
    with pytest.raises(ValueError, match="does not look like MUSDB18"):
        builders.build(_data(name="musdb18", path=str(root / "train")), tmp_path / "c2")


# ---------------------------------------------------------------------------------------------- TF-free, real data


def test_tensorflow_never_imported(tmp_path, mixed_folder):
    code = f"""
import sys
from jaxsr.config import default_config
from jaxsr.data import builders
c = default_config().data
c.name, c.path, c.split = "audio_folder", {str(mixed_folder)!r}, "tail:2"
src = builders.load_split(c, "train", {str(tmp_path)!r})
assert len(src) == 3 and src[0]["audio"].dtype.name == "float32"
print("TF" if "tensorflow" in sys.modules else "NO-TF")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "NO-TF"


@pytest.fixture
def speech_44k(speech44k_dir):
    return speech44k_dir  # conftest: skips in a user's clone without ../shared, fails in CI


def test_speech_44k_split_of_configs_speech(speech_44k, tmp_path):
    """configs/speech.py's split ("tail:20,valid:10"): test is the 20 files that sort last (what the
    README reports), valid the 10 before them (what training evaluates and picks best/ on), train the
    rest; `launch/evaluate.py --data audio_folder:test` scores exactly the test files."""
    import importlib.util

    from configs import speech

    config = speech.get_config()
    config.data.update(path=str(speech_44k), data_dir=str(tmp_path), build_workers=0)
    c = config.data
    assert c.split == "tail:20,valid:10"
    start = time.time()
    train = builders.load_split(c, "train", tmp_path)
    elapsed = time.time() - start
    test, valid = (
        builders.load_split(c, "test", tmp_path),
        builders.load_split(c, "valid", tmp_path),
    )
    names = sorted(
        p.name for p in speech_44k.glob("*.flac")
    )  # the reference: the folder's sorted file names
    assert len(names) == 141
    assert [r["id"] for r in test] == names[-20:] and [r["id"] for r in valid] == names[-30:-20]
    assert [r["id"] for r in train] == names[:-30]
    assert (len(train), len(test), len(valid)) == (111, 20, 10)
    assert test[0]["id"] == "LJ003-0079.flac" and test[-1]["id"] == "LJ003-0098.flac"
    spec = importlib.util.spec_from_file_location(
        "evaluate_cli_split", REPO / "launch" / "evaluate.py"
    )
    cli = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = cli  # dataclasses look their module up here
    spec.loader.exec_module(cli)
    assert [item.id for item in cli.list_items("audio_folder:test", config)] == names[-20:]
    assert [item.id for item in cli.list_items("audio_folder:valid", config)] == names[-30:-20]
    want = _reference(speech_44k / "LJ003-0098.flac", 16000)
    np.testing.assert_allclose(test[-1]["audio"], np.clip(want, -1, 1), atol=INT16_STEP / 2 + 1e-7)
    assert test[-1]["source_sample_rate"] == 44100
    total_minutes = (
        sum(len(r["audio"]) for part in (train, valid) for r in part) / 16000 / 60
    )  # the 121 before test
    assert 14 < total_minutes < 17.9
    assert json.dumps(train.metadata["build_summary"])  # serialisable summary recorded
    assert elapsed < 60, f"building speech-44k took {elapsed:.1f}s"
