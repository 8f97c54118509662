"""Quickstart: a small AudioUNet on the embedded synthetic corpus, `sr` r=4 at 16 kHz, a few minutes on CPU.

python launch/train.py --config configs/quickstart.py --workdir runs/quickstart
"""

from jaxsr.config import default_config


def get_config():
    config = default_config()
    config.model.width = 0.125  # filters 16, 32, 64, 64 (the full model is width 1.0)
    config.data.name = "synthetic"
    config.data.sample_rate = 16000
    config.data.patch_length = 4096
    config.data.num_train_clips = 128
    config.data.num_eval_clips = 16
    config.data.clip_seconds = 2.0
    config.task.name = "sr"
    config.task.ratio = 4
    config.train.batch_size = 16
    config.train.num_train_steps = 400
    config.train.learning_rate = 1e-3  # higher than the paper's 3e-4: few steps, small model
    config.train.schedule = "cosine"
    config.train.warmup_steps = 20
    config.train.log_every = 20
    config.train.eval_every = 400
    config.train.checkpoint_every = 200
    config.eval.num_clips = 16
    return config
