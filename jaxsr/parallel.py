"""Data parallelism the current JAX way: one `Mesh` over every device, `NamedSharding`s, XLA does the rest.

The global batch is split over the mesh's `data` axis; params, batch statistics and optimizer state are
replicated. Under `jax.jit` with these shardings XLA inserts the gradient all-reduce, which gives the
same update as `pmap` + `pmean` (and BatchNorm statistics over the global batch, so the result matches a
single-device run of the same global batch). Multi-host runs call `initialize_distributed()` first;
each process then feeds only its own slice of the global batch.
"""

from __future__ import annotations

import logging
import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def initialize_distributed(enabled: bool | None = None) -> None:
    """Call `jax.distributed.initialize()` when asked, by flag or by `JAXSR_DISTRIBUTED=1`.

    With no arguments JAX discovers the cluster on TPU pods, SLURM and similar; for a hand-made cluster
    set `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID` (read here and passed on).
    """
    if enabled is None:
        enabled = os.environ.get("JAXSR_DISTRIBUTED", "0") not in ("", "0", "false", "False")
    if not enabled:
        return
    # CPU processes need a collectives backend to all-reduce across hosts; GPU/TPU ignore this setting.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = {}
    if "JAX_COORDINATOR_ADDRESS" in os.environ:
        kwargs = dict(
            coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["JAX_PROCESS_ID"]),
        )
    jax.distributed.initialize(**kwargs)
    logging.info(
        "jax.distributed: process %d of %d, %d local / %d global devices",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )


def barrier(name: str) -> None:
    """Wait until every process has reached the barrier `name` (a no-op in a single process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def make_mesh(devices=None) -> Mesh:
    """A 1-D mesh named `data` over `devices` (default: every device of every process)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def data_sharded(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over the `data` axis, the rest replicated."""
    return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(global_batch: int, mesh: Mesh) -> int:
    """Return the per-process batch; raise if `global_batch` does not split evenly over devices."""
    n = mesh.devices.size
    if global_batch % n:
        lo = max(n, global_batch // n * n)
        raise ValueError(
            f"config.train.batch_size={global_batch} does not divide over {n} devices; "
            f"use a multiple of {n} such as {lo} or {lo + n}."
        )
    return global_batch // jax.process_count()


def shard_batch(batch: dict, mesh: Mesh) -> dict:
    """Turn this process's slice of the global batch (numpy `[local_batch, ...]`) into global jax Arrays."""
    sharding = data_sharded(mesh)
    return jax.tree_util.tree_map(
        lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), batch
    )


def replicate(tree, mesh: Mesh):
    """Place a pytree on every device of the mesh (params, optimizer state)."""
    return jax.device_put(tree, replicated(mesh))
