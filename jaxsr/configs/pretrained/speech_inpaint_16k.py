"""`speech-inpaint-16k` (many voices): fills dropouts of 10-50 ms in 16 kHz speech of any speaker.

LibriSpeech speakers (`configs/voices.py`'s data and splits), two gaps of 10-50 ms per 8192-sample patch,
either polarity; fine-tuned from the one-speaker model jaxsr shipped under this name before
(`git show 0a01e7f:jaxsr/pretrained/models/speech-inpaint-16k.npz`). At inference the samples outside the
gaps come back exactly as given.

    python launch/train.py --config configs/pretrained/speech_inpaint_16k.py --workdir runs/pretrained/speech-inpaint-16k
"""

from jaxsr.configs import voices


def get_config():
    config = voices.get_config()
    config.seed = 14
    config.data.min_top_band_db = None  # gap filling needs no top band: every recording trains
    config.task.name = "inpaint"
    config.task.num_gaps = 2
    config.task.gap_ms = (10.0, 50.0)
    config.train.init_from = "speech-inpaint-16k"
    config.train.num_train_steps = 1200
    config.train.learning_rate = 5e-4
    config.train.warmup_steps = 100
    config.train.eval_every = 600
    return config
