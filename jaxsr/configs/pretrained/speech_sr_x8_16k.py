"""`speech-sr-x8-16k` (many voices): 2 kHz -> 16 kHz speech of any speaker, any resampler, either polarity.

As `speech_sr_x4_16k.py` at ratio 8, fine-tuned from the one-speaker model jaxsr shipped under this name
before (`git show 0a01e7f:jaxsr/pretrained/models/speech-sr-x8-16k.npz`).

    python launch/train.py --config configs/pretrained/speech_sr_x8_16k.py --workdir runs/pretrained/speech-sr-x8-16k
"""

from jaxsr.configs.pretrained import speech_sr_x4_16k


def get_config():
    config = speech_sr_x4_16k.get_config("1")
    config.seed = 12
    config.task.ratio = 8
    config.train.init_from = "speech-sr-x8-16k"
    config.train.num_train_steps = 1200
    return config
