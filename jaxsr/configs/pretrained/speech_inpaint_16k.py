"""Pretrained `speech-inpaint-16k`: fills dropouts of 10-50 ms in 16 kHz speech.

The `configs/inpaint.py` recipe (0.9 M parameters, two gaps of 10-50 ms per 8192-sample patch), trained
only on speech-44k's 121 training files; the last 20 are held out and never used to pick a checkpoint
(the last step ships). At inference the samples outside the gaps are passed through unchanged.

    python launch/train.py --config configs/pretrained/speech_inpaint_16k.py --workdir runs/pretrained/speech-inpaint-16k
"""

from jaxsr.configs import inpaint


def get_config():
    config = inpaint.get_config()
    config.train.num_train_steps = 2500
    config.train.eval_every = 2500  # scored once, at the end, never to select
    config.train.checkpoint_every = 250
    config.data.split = "tail:20"  # held-out test files only; no checkpoint is selected (the last step ships)
    return config
