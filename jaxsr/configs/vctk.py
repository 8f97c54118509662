"""The paper's single-speaker experiment: VCTK p225, `sr` r=4, 16 kHz target, 8192-sample patches.

Kuleshov, Enam & Ermon 2017, "Audio Super Resolution using Neural Networks", section 5: the first 223
recordings of p225 train, the rest test. Point data.path at VCTK-Corpus (0.92 or 0.80, zip or folder):

    python launch/train.py --config configs/vctk.py --workdir runs/vctk \
        --config.data.path=/data/VCTK-Corpus-0.92.zip
"""

from jaxsr.config import default_config


def get_config():
    config = default_config()
    config.data.name = "vctk"
    config.data.path = ""
    config.data.vctk_mode = "single"  # paper: p225, the first 223 recordings train, the rest test
    config.data.vctk_mic = "mic1"
    config.data.trim_silence = (
        True  # ours: VCTK 0.92 recordings carry long leading/trailing silence
    )
    config.data.sample_rate = 16000  # paper: 16 kHz target
    config.data.patch_length = 8192  # reference code: --dimension 8192 --stride 4096
    config.task.name = "sr"
    config.task.ratio = 4  # paper: r = 2, 4, 6 (vctk_r2/ r6 via --config.task.ratio)
    config.model.num_blocks = 4  # paper: B = 4
    config.model.width = 1.0  # the paper's filter counts
    config.train.batch_size = 64  # reference code README: --batch-size 64
    config.train.learning_rate = 3e-4  # paper: Adam, lr 3e-4, b1 0.9, b2 0.999
    config.train.num_train_steps = 50_000  # ours: ~120 epochs of p225 patches (reference README: -e 120) is ~5k steps; longer helps
    config.train.schedule = "constant"  # paper: constant learning rate
    config.train.grad_clip = 0.0
    config.train.eval_every = 2000
    config.train.checkpoint_every = 2000
    config.eval.num_clips = 0
    return config
