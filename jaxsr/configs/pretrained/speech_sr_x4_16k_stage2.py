"""Stage 2 of `speech-sr-x4-16k`: the stage-1 network (`speech_sr_x4_16k.py`) trained further.

Stage 1's cosine schedule ends at 4000 steps; resuming it with more steps would change its schedule
(refused), so stage 2 is a fine-tuning run: it starts from stage 1's last params and BatchNorm statistics
(`train.init_from`), with a fresh optimizer and a second, lower cosine schedule, on the same randomly drawn
resampling chains and the same 121 training files (the last 20 held out; the last step ships).

    python launch/train.py --config configs/pretrained/speech_sr_x4_16k.py --workdir runs/pretrained/speech-sr-x4-16k
    python launch/train.py --config configs/pretrained/speech_sr_x4_16k_stage2.py \
        --workdir runs/pretrained/speech-sr-x4-16k-stage2
"""

from jaxsr.configs.pretrained import next_stage, speech_sr_x4_16k


def get_config():
    return next_stage(speech_sr_x4_16k.get_config(), "runs/pretrained/speech-sr-x4-16k")
