"""One process of the two-process `jax.distributed` test (tests/test_train.py).

Usage: python distributed_worker.py PROCESS_ID PORT [single]. Trains a tiny AudioUNet for a few steps on
fixed global batches, each process feeding its own half, and prints the params' digest as JSON. With
`single`, runs one process over the whole batch instead (the reference).
"""

import hashlib
import json
import os
import sys

import jax
import numpy as np

pid, port = int(sys.argv[1]), int(sys.argv[2])
single = len(sys.argv) > 3 and sys.argv[3] == "single"
if not single:
    os.environ.update(
        JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(pid)
    )
    from jaxsr import parallel

    parallel.initialize_distributed(True)
from jaxsr import parallel  # noqa: E402
from jaxsr.config import default_config  # noqa: E402
from jaxsr.models import model_from_config  # noqa: E402
from jaxsr.train import create_train_state, make_jitted_step  # noqa: E402

config = default_config()
config.dtype = "float32"
config.model.update(width=0.0625, num_blocks=2, dropout=0.0)
config.data.patch_length = 256
config.train.batch_size = 4
mesh = parallel.make_mesh()
model = model_from_config(config)
rng = jax.random.key(0)
state = parallel.replicate(create_train_state(config, model, rng), mesh)
step = make_jitted_step(config, model, mesh)  # the sharded, donated step of train_and_evaluate
data_rng = np.random.default_rng(1)
n_proc, idx = jax.process_count(), jax.process_index()
for _ in range(3):
    y = data_rng.standard_normal((4, 256, 1)).astype(np.float32) * 0.1
    x = y + 0.05 * data_rng.standard_normal(y.shape).astype(np.float32)
    rows = slice(
        idx * 4 // n_proc, (idx + 1) * 4 // n_proc
    )  # this process's slice of the global batch
    batch = parallel.shard_batch({"x": x[rows], "y": y[rows]}, mesh)
    state, metrics = step(state, batch, rng)
# Params are replicated: every process holds a full copy on its own device.
flat = np.concatenate(
    [np.asarray(p.addressable_data(0)).ravel() for p in jax.tree_util.tree_leaves(state.params)]
)
print(
    json.dumps(
        {
            "process": idx,
            "devices": jax.device_count(),
            "loss": float(metrics["loss"].addressable_data(0)),
            "digest": hashlib.sha256(flat.tobytes()).hexdigest(),
            "params": flat[:64].tolist(),
        }
    )
)
