"""Real speech: the `audio_folder` builder on ../shared/data/speech-44k, `sr` r=4 at 16 kHz.

The split (`tail:20,valid:10`): the 20 files that sort last are the held-out test set, as in the folder's
README; the 10 that sort just before them are the validation set, which training evaluates on and picks
`best/` by; the other 111 train. Test numbers come from `launch/evaluate.py --data audio_folder:test` only.

    python launch/train.py --config configs/speech.py --workdir runs/speech \
        --config.data.path=../shared/data/speech-44k
"""

from jaxsr.config import default_config


def get_config():
    config = default_config()
    config.data.name = "audio_folder"
    config.data.path = "../shared/data/speech-44k"
    config.data.split = (
        "tail:20,valid:10"  # test: the last 20 files; valid: the 10 before them; train: the rest
    )
    config.data.sample_rate = 16000
    config.data.patch_length = 8192
    config.task.name = "sr"
    config.task.ratio = 4
    # The recipe that beats the spline within an hour on a 2-core CPU (README, Results): a small model
    # trained for many steps rather than a wide one for few; no dropout (it slows a small model's
    # convergence more than it regularises in a short run); warmup + cosine at a higher rate; clipping.
    config.model.width = 0.125  # 0.9 M parameters
    config.model.dropout = 0.0
    config.train.batch_size = 16
    config.train.num_train_steps = 2000
    config.train.learning_rate = 1e-3
    config.train.schedule = "cosine"
    config.train.warmup_steps = 100
    config.train.grad_clip = 1.0
    config.train.log_every = 50
    config.train.eval_every = 500
    config.train.checkpoint_every = 500
    config.eval.num_clips = 0  # all 10 validation files (never the 20 test files)
    return config
