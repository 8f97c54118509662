"""The recipes of the packaged models (`jaxsr.pretrained`): one config per model, named after it.

Each recipe fine-tunes the one-speaker model jaxsr shipped under the same name before it learnt from many
voices (`train.init_from`). To reproduce one from scratch of that history, put that earlier model where
`train.init_from` finds it: `git show 0a01e7f:jaxsr/pretrained/models/NAME.{npz,json}` into a folder, and
point `$JAXSR_PRETRAINED_DIR` at it while training.
"""
