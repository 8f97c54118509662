"""Pretrained `speech-sr-x8-16k`: 2 kHz -> 16 kHz speech, robust to the resampler that made the input.

As `speech_sr_x4_16k.py` at ratio 8: the 0.9 M-parameter network on randomly drawn resampling chains,
trained only on speech-44k's training files; the last 20 are held out, the last step ships.

    python launch/train.py --config configs/pretrained/speech_sr_x8_16k.py --workdir runs/pretrained/speech-sr-x8-16k
"""

from jaxsr.configs.pretrained import speech_sr_x4_16k


def get_config():
    config = speech_sr_x4_16k.get_config()
    config.task.ratio = 8
    config.train.num_train_steps = 1500
    config.train.eval_every = 1500
    return config
