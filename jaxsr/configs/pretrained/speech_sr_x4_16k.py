"""Pretrained `speech-sr-x4-16k`: 4 kHz -> 16 kHz speech, robust to the resampler that made the input.

The `configs/speech.py` network (0.9 M parameters) trained on randomly drawn resampling chains
(`task.sr_degradation = "random"`: zero-phase IIR low-passes of five families, Kaiser polyphase FIRs,
soxr at every quality, rare causal and unfiltered decimation, random gain) so that it restores low-rate
audio made by an ordinary resampler, not only the paper's decimator. Trained only on speech-44k's 121
training files; its last 20 files are held out and never used to pick a checkpoint (the last step ships).

    python launch/train.py --config configs/pretrained/speech_sr_x4_16k.py --workdir runs/pretrained/speech-sr-x4-16k
"""

from jaxsr.configs import speech


def get_config():
    config = speech.get_config()
    config.task.sr_degradation = "random"
    # Pinned: the 20 files that sort last are the held-out test set, scored once at the end; no validation
    # split is needed because no checkpoint is selected (the last step ships).
    config.data.split = "tail:20"
    config.train.num_train_steps = 4000
    config.train.eval_every = 4000  # the held-out files are scored once, at the end, never to select
    config.train.checkpoint_every = 250
    return config
