"""The data path, one stage per file; it knows nothing of models, inference or training.

    sources.py    finding a dataset's files and planning its train / valid / test splits (`data.split`)
    decode.py     one source file (or zip member, or .stem.mp4) -> mono float32 samples at the data rate
    builders.py   TFDS builders (no TensorFlow): build once into array_record, `load_split` reads clips back
    records.py    source records, per-example generators (`example_rng`), the noise a denoise task adds
    pipeline.py   grain: clips -> random patches -> task degradation -> training batches
    eval_clips.py whole validation / test clips, each degraded deterministically (`eval_examples`)
    synthetic.py  the embedded speech-like corpus (no download needed)

Nothing is imported here, so `import jaxsr.data` stays light; import the module you need.
"""
