"""The paper's multi-speaker experiment: VCTK, the first 99 speakers train, the other speakers test."""

from jaxsr.configs import vctk


def get_config():
    config = vctk.get_config()
    config.data.vctk_mode = (
        "multi"  # paper: the first 99 speakers train, the remaining speakers test
    )
    config.train.num_train_steps = 200_000  # ours: ~100x more audio than p225
    config.eval.num_clips = (
        64  # evaluation during training on a fixed subset; launch/evaluate.py does all
    )
    return config
