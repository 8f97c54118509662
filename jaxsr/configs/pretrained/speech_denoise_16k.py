"""Pretrained `speech-denoise-16k`: removes noise from 16 kHz speech, including babble of other voices.

The `configs/denoise.py` network (0.9 M parameters) trained on a realistic mix instead of stationary
noise and same-speaker babble alone (issue 13: that recipe gains +5.8 dB SI-SDR on its own test mixes but
+0.5 dB on real babble of other people). Per example one noise type, drawn uniformly from: white, pink
and brown noise; `varying` noise whose tilt (white to brown) and level (3-20 dB swings) drift over
0.2-2 s; `babble` of 4 other training clips; and `babble_voices`, 3-8 talkers unlike the training
speaker (synthetic voices of the embedded corpus and other training clips pitch-shifted by 0.7-1.5x, at
least 10% away from the original, and formant-shifted by 0.85-1.2x). Input SNR uniform in -5..15 dB.
About a third of the examples go through a generated room first (RT60 0.1-0.6 s, direct-to-reverberant ratio
3-15 dB); the target is then the reverberant speech, so the model removes noise and keeps the room
(see jaxsr/degrade.py). Trained only on speech-44k's 121 training files and the embedded synthetic
voices; its last 20 files are held out and never used to pick a checkpoint (the last step ships).
`benchmarks/denoise_robustness.py` scores it per noise type and input SNR on those files.

    python launch/train.py --config configs/pretrained/speech_denoise_16k.py --workdir runs/pretrained/speech-denoise-16k
"""

from jaxsr.configs import denoise


def get_config():
    config = denoise.get_config()
    config.task.noise_types = ("white", "pink", "brown", "varying", "babble", "babble_voices")
    config.task.snr_db = (-5.0, 15.0)
    config.task.reverb_prob = 0.3
    config.train.num_train_steps = 3000
    config.train.eval_every = 3000  # the held-out files are scored once, at the end, never to select
    config.train.checkpoint_every = 250
    config.data.split = "tail:20"  # held-out test files only; no checkpoint is selected (the last step ships)
    return config
