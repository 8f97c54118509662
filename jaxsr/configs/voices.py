"""Many voices: `sr` x4 at 16 kHz on LibriSpeech speakers, judged on speakers it never heard.

The `librispeech` builder on ../shared/data/librispeech-261 (see its README there): 251 speakers in
`train/` (one recording each), of which 12, chosen by a hash of their ids, are held out as the validation
split that training evaluates on and picks `best/` by; the 10 speakers of `test/` are the test split, used
only by `launch/evaluate.py` and the benchmarks. Recordings whose 4-7.8 kHz band lies 30 dB or more under
their 0-1 kHz band were band-limited before LibriSpeech and would teach an empty top band: the build skips
them and its summary lists them.

The low-rate input comes from a resampling chain drawn per example (any ordinary resampler), either
polarity; the band it already has is interpolated (windowed sinc) and kept as it is, and the network adds
only what lies above 0.9 of its Nyquist (`task.sr_frontend`, `task.sr_keep_band`).

    python launch/train.py --config configs/voices.py --workdir runs/voices
"""

from jaxsr.configs import speech


def get_config():
    config = (
        speech.get_config()
    )  # the 0.9 M-parameter CPU recipe: width 0.125, lr 1e-3 cosine, clipping
    config.data.name = "librispeech"
    config.data.path = "../shared/data/librispeech-261"
    config.data.split = ""  # by speaker: data.num_valid_speakers of train/ validate, test/ tests
    config.data.num_valid_speakers = 12
    config.data.min_top_band_db = -30.0
    config.data.random_polarity = True
    config.task.sr_degradation = "random"
    config.task.sr_frontend = "sinc"
    config.task.sr_keep_band = 0.9
    config.train.num_train_steps = 4000
    config.train.eval_every = 1000
    config.train.checkpoint_every = 250
    config.eval.num_clips = 0  # every validation speaker
    return config
