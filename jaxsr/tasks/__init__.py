"""The restoration tasks' degradations: how a clean signal becomes a model input, host side (numpy/scipy).

    options     the task fields (names, defaults, `task_option`) and the checks and draws all share
    resampling  sr: the paper's decimator, the named resamplers and the random resampling chains
    codecs      sr: codecs on the low-rate signal
    upsampling  sr: the front ends (cubic spline, windowed sinc) back to the target rate
    noise       denoise: coloured, time-varying, babble, shifted voices, rooms; mixing at an SNR
    gaps        inpaint: gap masks and the linear fill
    degrade     the per-task entry points (`degrade`, `degrade_sr`, `sr_batch`, ...)
    validation  `validate_task`: a config's task section checked at start-up

Imports run one way: options <- resampling, codecs, upsampling, noise, gaps <- degrade, validation.
Nothing here imports the rest of jaxsr: the config (`jaxsr.config`) and the data layer call in, and
pass in what the tasks need from them (the synthetic voices of babble come from the caller).
"""
