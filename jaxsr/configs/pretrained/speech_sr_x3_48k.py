"""`speech-sr-x3-48k` with the kept band: 16 kHz -> 48 kHz speech, any resampler, either polarity.

LibriSpeech has no audio above 16 kHz, so this model still learns from speech-44k alone (one speaker; the
20 files that sort last are the test set, the 10 before them validate). What changes is the band the input
already has: the windowed-sinc front end and the residual high-pass (`task.sr_frontend`,
`task.sr_keep_band`) return the input's own 0-7.2 kHz for any speaker, and the network adds only above.
Fine-tuned from the model jaxsr shipped under this name before
(`git show 0a01e7f:jaxsr/pretrained/models/speech-sr-x3-48k.npz`).

    python launch/train.py --config configs/pretrained/speech_sr_x3_48k.py --workdir runs/pretrained/speech-sr-x3-48k
"""

from jaxsr.configs import speech


def get_config():
    config = speech.get_config()
    config.seed = 15
    config.data.sample_rate = 48000
    config.data.split = "tail:20,valid:10"
    config.data.random_polarity = True
    config.task.ratio = 3
    config.task.sr_degradation = "random"
    config.task.sr_frontend = "sinc"
    config.task.sr_keep_band = 0.9
    config.train.init_from = "speech-sr-x3-48k"
    config.train.num_train_steps = 1000
    config.train.learning_rate = 5e-4
    config.train.warmup_steps = 100
    config.train.eval_every = 500
    config.train.checkpoint_every = 250
    return config
