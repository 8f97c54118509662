"""Tests for jaxsr.data.pipeline: batches, determinism, silence rejection, sharding, resume, eval clips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from jaxsr.data import records
from jaxsr.data import eval_clips
from jaxsr import config as config_lib
from jaxsr.data import pipeline
from jaxsr.data.synthetic import make_corpus
from jaxsr.tasks.degrade import degrade

SR = 16000
PATCH = 512


def _config(task: str = "sr", batch: int = 4, **data):
    c = config_lib.default_config()
    c.seed = 3
    c.model.num_blocks = 2
    c.data.sample_rate = SR
    c.data.patch_length = PATCH
    c.data.num_workers = 0
    c.data.prefetch = 0
    c.train.batch_size = batch
    c.task.name = task
    for k, v in data.items():
        setattr(c.data, k, v)
    config_lib.validate(c)
    return c


@pytest.fixture(scope="module")
def speech():
    """Six synthetic speech clips of 0.25 s (4000 samples) as a source."""
    return records.records_from_clips(make_corpus("train", 6, SR, 0.25, base_seed=1), SR)


def _noise_source(n: int, length: int = 2000, scale: float = 0.3) -> list[dict]:
    """Loud white-noise clips, each distinct, so a patch identifies its clip unambiguously."""
    clips = [
        scale * np.random.default_rng(100 + i).standard_normal(length).astype(np.float32)
        for i in range(n)
    ]
    return records.records_from_clips(clips, SR, "noise")


def _take(config, source, n, **kw):
    with pipeline.train_loader(config, source, **kw) as it:
        return [next(it) for _ in range(n)]


def _equal(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x["x"], y["x"]) and np.array_equal(x["y"], y["y"]) for x, y in zip(a, b)
    )


def _find_window(patch: np.ndarray, source: list[dict]) -> tuple[int, int] | None:
    """(clip, start) of the source window equal to `patch`, or None."""
    for c, rec in enumerate(source):
        a = rec["audio"]
        if len(a) < len(patch):
            continue
        windows = np.lib.stride_tricks.sliding_window_view(a, len(patch))
        hits = np.flatnonzero((windows == patch).all(axis=1))
        if hits.size:
            return c, int(hits[0])
    return None


@pytest.mark.parametrize("task", ["sr", "denoise", "inpaint"])
def test_batch_shapes_and_dtypes(task, speech):
    (b,) = _take(_config(task), speech, 1)
    assert set(b) == {"x", "y"}
    for k in ("x", "y"):
        assert type(b[k]) is np.ndarray and b[k].shape == (4, PATCH, 1) and b[k].dtype == np.float32
        assert np.all(np.isfinite(b[k]))
    assert not np.array_equal(b["x"], b["y"])


@pytest.mark.parametrize("task", ["sr", "denoise", "inpaint"])
def test_x_is_the_degradation_of_y(task, speech):
    c = _config(task)
    c.task.noise_types = (
        "white",
        "pink",
        "babble",
    )  # babble exercises the default pool (the source)
    pool = [r["audio"] for r in speech]
    batches = _take(c, speech, 2)
    for b_idx, b in enumerate(batches):
        for row in range(4):
            g = b_idx * 4 + row  # global example index
            rng = np.random.default_rng([c.seed, 1, g])  # the documented DEGRADE stream
            # Babble made from the source never uses the clip the patch was cut from.
            clip = _find_window(b["y"][row, :, 0], speech)[0] if task == "denoise" else None
            expect = degrade(b["y"][row, :, 0], c.task, rng, SR, noise_pool=pool, exclude=clip).x
            np.testing.assert_array_equal(b["x"][row, :, 0], expect)


@pytest.mark.parametrize("task", ["sr", "denoise"])
def test_random_polarity_negates_whole_examples_and_changes_nothing_else(task, speech):
    """`data.random_polarity`: each example's clean patch is negated or not (its own generator stream), and
    degraded after that: the patch, the chain and the noise drawn are those of the run without it."""
    c, flipped = _config(task, batch=16), _config(task, batch=16, random_polarity=True)
    for cfg in (c, flipped):
        cfg.task.noise_types = (
            "white",
        )  # noise independent of the clean patch: x - y must not change
        cfg.task.sr_degradation = "random"
    plain, signed = _take(c, speech, 2), _take(flipped, speech, 2)
    signs = []
    for a, b in zip(plain, signed):
        for row in range(16):
            y0, y1 = a["y"][row, :, 0], b["y"][row, :, 0]
            s = -1.0 if np.array_equal(y1, -y0) else 1.0
            np.testing.assert_array_equal(y1, s * y0)
            signs.append(s)
            if task == "denoise":  # the same white noise added to the negated speech
                np.testing.assert_allclose(
                    b["x"][row, :, 0] - y1, a["x"][row, :, 0] - y0, atol=1e-6
                )
            else:  # a random chain is linear (zero-phase IIR / polyphase / soxr, then the spline): odd
                np.testing.assert_allclose(b["x"][row, :, 0], s * a["x"][row, :, 0], atol=1e-6)
    signs = np.array(signs)
    assert 8 <= (signs < 0).sum() <= 24, signs  # 32 fair coins: both signs, about half each


def test_random_polarity_flips_about_half_of_many_examples(speech):
    fn = pipeline._BatchFn(_config(random_polarity=True), speech, 0, 1, [], [])
    signs = fn.polarities(range(4000))
    assert set(np.unique(signs)) == {-1.0, 1.0}
    assert abs((signs < 0).mean() - 0.5) < 0.03  # 4000 fair coins: sd 0.008
    np.testing.assert_array_equal(signs, fn.polarities(range(4000)))  # a function of the example


def test_targets_are_windows_of_source_clips(speech):
    (b,) = _take(_config(batch=6), speech, 1)
    for row in b["y"][:, :, 0]:
        assert _find_window(row, speech) is not None


def test_each_epoch_visits_every_clip_once():
    source = _noise_source(6)
    c = _config(batch=6)
    batches = _take(c, source, 3)
    orders = [[_find_window(row, source)[0] for row in b["y"][:, :, 0]] for b in batches]
    for order in orders:
        assert sorted(order) == list(range(6))
    assert orders[0] != orders[1] or orders[1] != orders[2]  # reshuffled per epoch


def test_deterministic_and_seed_dependent(speech):
    c = _config("denoise")
    a, b = _take(c, speech, 3), _take(c, speech, 3)
    assert _equal(a, b)
    c.seed = 4
    assert not np.array_equal(a[0]["y"], _take(c, speech, 1)[0]["y"])


def test_state_restores_exactly_and_across_worker_counts(speech):
    c = _config("inpaint")
    with pipeline.train_loader(c, speech) as it:
        for _ in range(3):
            next(it)
        state = pipeline.get_iterator_state(it)
        expected = [next(it) for _ in range(2)]
    assert json.loads(state)["next_batch"] == 3

    with pipeline.train_loader(c, speech) as it:  # same worker count (in-process)
        next(it)  # the restored state must win over where this iterator already is
        pipeline.set_iterator_state(it, state)
        assert _equal([next(it) for _ in range(2)], expected)

    # One worker process reproduces the in-process stream (the only test that starts a worker: slow).
    c.data.num_workers, c.data.prefetch = 1, 2
    with pipeline.train_loader(c, speech) as it:
        pipeline.set_iterator_state(it, state)
        assert _equal([next(it) for _ in range(2)], expected)


def test_state_rejects_other_runs_and_garbage(speech):
    with pipeline.train_loader(_config(), speech) as it:
        state = pipeline.get_iterator_state(it)
    with pipeline.train_loader(_config(batch=8), speech) as other:
        with pytest.raises(ValueError, match="train.batch_size"):
            pipeline.set_iterator_state(other, state)
        with pytest.raises(ValueError, match="get_iterator_state"):
            pipeline.set_iterator_state(other, "not json")
    with pytest.raises(ValueError, match="train_loader"):
        pipeline.get_iterator_state(iter([]))


def test_shards_are_disjoint_slices_of_the_global_batch(speech):
    c = _config("denoise", batch=4)
    full = _take(c, speech, 2)
    shards = [_take(c, speech, 2, shard_index=k, shard_count=2) for k in range(2)]
    for step in range(2):
        s0, s1 = shards[0][step], shards[1][step]
        assert s0["x"].shape == (2, PATCH, 1)
        assert not np.array_equal(s0["y"], s1["y"])
        for k in ("x", "y"):
            np.testing.assert_array_equal(np.concatenate([s0[k], s1[k]]), full[step][k])


def test_silent_patches_are_never_yielded():
    rng = np.random.default_rng(0)
    quiet = [np.zeros(3000, np.float32) for _ in range(4)]
    quiet += [
        1e-4 * rng.standard_normal(3000).astype(np.float32) for _ in range(3)
    ]  # about -80 dBFS
    loud = np.zeros(3000, np.float32)
    loud[2000:2600] = 0.5 * rng.standard_normal(600)  # a burst inside an otherwise silent clip
    source = records.records_from_clips(quiet + [loud], SR)
    c = _config(batch=8)
    thresh = c.data.silence_threshold_db
    for b in _take(c, source, 3):
        rms_db = 10 * np.log10(np.mean(b["y"][:, :, 0].astype(np.float64) ** 2, axis=1))
        assert np.all(rms_db >= thresh), rms_db


def test_all_silent_source_raises():
    source = records.records_from_clips([np.zeros(2000, np.float32)] * 3, SR)
    with pytest.raises(ValueError, match="silence_threshold_db"):
        _take(_config(), source, 1)


def test_short_clips_are_zero_padded_at_the_end():
    clip = 0.5 * np.random.default_rng(1).standard_normal(300).astype(np.float32)
    (b,) = _take(_config(batch=2), records.records_from_clips([clip], SR), 1)
    for row in b["y"][:, :, 0]:
        np.testing.assert_array_equal(row[:300], clip)
        assert not row[300:].any()


def test_user_errors(speech):
    with pytest.raises(ValueError, match="train.batch_size"):
        pipeline.train_loader(_config(batch=6), speech, shard_index=0, shard_count=4)
    with pytest.raises(ValueError, match="shard_index"):
        pipeline.train_loader(_config(), speech, shard_index=2, shard_count=2)
    with pytest.raises(ValueError, match="empty"):
        pipeline.train_loader(_config(), [])
    with pytest.raises(ValueError, match="empty"):
        eval_clips.eval_examples(_config(), [])
    c = _config()
    c.data.num_workers = -1
    with pytest.raises(ValueError, match="num_workers"):
        pipeline.train_loader(c, speech)


def test_eval_examples_whole_clips_deterministic(speech):
    c = _config("sr")
    ex = eval_clips.eval_examples(c, speech, 2)
    assert len(ex) == 2 and [e["id"] for e in ex] == [speech[0]["id"], speech[1]["id"]]
    again = eval_clips.eval_examples(c, speech, 2)
    for e, f, rec in zip(ex, again, speech):
        assert e["y"].shape == e["x"].shape == rec["audio"].shape  # whole length
        np.testing.assert_array_equal(e["y"], rec["audio"])
        np.testing.assert_array_equal(e["x"], f["x"])
        assert e["x"] is e["baseline"] and e["mask"] is None
    assert (
        len(eval_clips.eval_examples(c, speech)) == len(eval_clips.eval_examples(c, speech, 0)) == 6
    )


def test_eval_inpaint_gaps_scale_with_length():
    c = _config("inpaint")
    c.task.num_gaps = 2
    long = 0.3 * np.random.default_rng(2).standard_normal(8 * PATCH).astype(np.float32)
    short = 0.3 * np.random.default_rng(3).standard_normal(PATCH // 4).astype(np.float32)
    source = records.records_from_clips([long, short], SR)
    ex = eval_clips.eval_examples(c, source)
    for i, (clip, gaps) in enumerate([(long, 16), (short, 1)]):  # 2 per 512 samples, at least 1
        task = dict(c.task.to_dict(), num_gaps=gaps)
        ref = degrade(
            clip, task, np.random.default_rng([c.seed, 2, i]), SR
        )  # the documented EVAL stream
        np.testing.assert_array_equal(ex[i]["mask"], ref.mask)
        np.testing.assert_array_equal(ex[i]["x"], ref.x)
        assert ex[i]["mask"].dtype == bool and ex[i]["mask"].any()
        np.testing.assert_array_equal(ex[i]["x"][~ex[i]["mask"]], clip[~ex[i]["mask"]])


def test_noise_files_from_noise_dir(tmp_path, speech):
    rng = np.random.default_rng(5)
    (tmp_path / "sub").mkdir()
    sf.write(
        tmp_path / "a.wav", 0.2 * rng.standard_normal(4000), 8000
    )  # resampled to 16 kHz on load
    sf.write(
        tmp_path / "sub" / "b.flac", 0.2 * rng.standard_normal((2000, 2)), SR
    )  # stereo -> mono
    (tmp_path / "notes.txt").write_text("not audio")
    files = records.load_noise_files(str(tmp_path), SR)
    assert [len(f) for f in files] == [8000, 2000] and all(f.dtype == np.float32 for f in files)

    c = _config("denoise")
    c.task.noise_types = ("folder",)
    c.task.noise_dir = str(tmp_path)
    (b,) = _take(c, speech, 1)
    for row in range(4):
        ref = degrade(
            b["y"][row, :, 0],
            c.task,
            np.random.default_rng([c.seed, 1, row]),
            SR,
            noise_files=files,
        )
        np.testing.assert_array_equal(b["x"][row, :, 0], ref.x)

    with pytest.raises(FileNotFoundError, match="noise_dir"):
        records.load_noise_files(str(tmp_path / "missing"), SR)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no audio files"):
        records.load_noise_files(str(tmp_path / "empty"), SR)


def test_works_on_the_tfds_source_from_builders(tmp_path):
    from jaxsr.data import builders

    c = _config("denoise")
    c.data.num_train_clips, c.data.num_eval_clips, c.data.clip_seconds = 3, 2, 0.25
    c.task.noise_types = ("white", "babble")
    train = builders.load_split(c.data, "train", str(tmp_path))
    records = [train[i] for i in range(len(train))]
    (b,) = _take(c, train, 1)
    assert b["x"].shape == (4, PATCH, 1)
    for row in b["y"][:, :, 0]:
        assert _find_window(row, records) is not None
    (again,) = _take(c, records, 1)  # the same clips in a list give the same batch
    np.testing.assert_array_equal(b["x"], again["x"])
    valid = builders.load_split(c.data, "valid", str(tmp_path))
    ex = eval_clips.eval_examples(c, valid)
    assert [e["id"] for e in ex] == [valid[i]["id"] for i in range(len(valid))]
    assert all(len(e["x"]) == len(valid[i]["audio"]) for i, e in enumerate(ex))
