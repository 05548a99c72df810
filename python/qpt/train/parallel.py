"""Data parallelism on JAX's own machinery: a 1-d device mesh ("data"), replicated parameters, a batch of
geometries split along the mesh, and (for several hosts) jax.distributed.

One code path for 1 device, N local devices and N processes: the trainer always builds a Mesh and runs
its step under shard_map; each process builds only the geometries its own devices hold and assembles
the global batch with jax.make_array_from_callback.
"""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from qpt.ops.platform import default_platform

AXIS = "data"

# Seconds a process waits for its peers at start-up, and for a silent peer before the coordination
# service declares it dead: a killed process ends the run with an error, not a hang.
DEFAULT_INITIALIZATION_TIMEOUT = 120
DEFAULT_HEARTBEAT_TIMEOUT = 30


def initialize_distributed(coordinator_address=None, num_processes=None, process_id=None, *,
                           initialization_timeout=DEFAULT_INITIALIZATION_TIMEOUT,
                           heartbeat_timeout=DEFAULT_HEARTBEAT_TIMEOUT) -> None:
    """jax.distributed.initialize with bounded timeouts. Arguments left None come from the environment
    variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID, and failing those from
    JAX's cluster auto-detection (SLURM, Open MPI, ...). Must run before anything touches a device."""
    coordinator_address = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS") or None
    if num_processes is None and os.environ.get("JAX_NUM_PROCESSES"):
        num_processes = int(os.environ["JAX_NUM_PROCESSES"])
    if process_id is None and os.environ.get("JAX_PROCESS_ID"):
        process_id = int(os.environ["JAX_PROCESS_ID"])
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"--num-processes must be >= 1, got {num_processes}")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id must be in 0..{num_processes - 1}, got {process_id}")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, initialization_timeout=int(initialization_timeout),
                               heartbeat_timeout_seconds=int(heartbeat_timeout))


def platform_devices() -> list:
    """The devices of the platform JAX computes on by default: that of `jax.default_device` when one is set
    (e.g. the CPU on a GPU machine, as the CPU half of the tests does), else the default backend's."""
    if jax.config.jax_default_device is None:
        return jax.devices()
    return jax.devices(default_platform())


def make_data_mesh(devices: int | None = None) -> Mesh:
    """The 1-d mesh over the first `devices` of platform_devices() (all of them when None). With several
    processes the mesh must span every process' devices, so only None or the full count is allowed."""
    available = platform_devices()
    count = len(available) if devices is None else devices
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"devices must be a positive integer, got {devices!r}")
    if count > len(available):
        raise ValueError(f"{count} devices asked for, JAX sees {len(available)} ({available[0].platform}); on CPU "
                         "set XLA_FLAGS=--xla_force_host_platform_device_count=N before JAX starts")
    if jax.process_count() > 1 and count != len(available):
        raise ValueError(f"with {jax.process_count()} processes the mesh must use all {len(available)} devices, "
                         f"got devices={count}")
    return Mesh(np.asarray(available[:count]), (AXIS,))


def check_batch_size(batch_size: int, mesh: Mesh) -> int:
    """Geometries per device; the batch must split evenly over the mesh."""
    devices = mesh.devices.size
    if batch_size % devices:
        raise ValueError(f"batch size {batch_size} does not split evenly over {devices} devices")
    return batch_size // devices


def local_rows(mesh: Mesh, batch_size: int) -> list[int]:
    """The rows of the global batch that this process' devices hold, ascending."""
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    rows = set()
    for index in sharding.addressable_devices_indices_map((batch_size,)).values():
        rows.update(range(*index[0].indices(batch_size)))
    return sorted(rows)


def replicated(tree, mesh: Mesh):
    """Every leaf as a global array replicated on all devices of the mesh (the same value on every
    process is assumed: parameters from one seed, or one checkpoint)."""
    sharding = NamedSharding(mesh, PartitionSpec())

    def put(leaf):
        leaf = np.asarray(leaf)
        return jax.make_array_from_callback(leaf.shape, sharding, lambda index: leaf[index])

    return jax.tree_util.tree_map(put, tree)


def sharded_batch(local_tree, rows, mesh: Mesh, batch_size: int):
    """Global arrays [batch_size, ...] split along the mesh from this process' rows (`local_tree` leaves
    are [len(rows), ...], in the order of `rows`)."""
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    position = {row: i for i, row in enumerate(rows)}

    def put(leaf):
        leaf = np.asarray(leaf)

        def rows_of(index):
            wanted = range(*index[0].indices(batch_size))
            return leaf[[position[row] for row in wanted]]

        return jax.make_array_from_callback((batch_size,) + leaf.shape[1:], sharding, rows_of)

    return jax.tree_util.tree_map(put, local_tree)


def host_local(tree):
    """A replicated global tree as numpy arrays on this host (no communication: each process holds a copy)."""
    return jax.tree_util.tree_map(
        lambda leaf: np.asarray(leaf.addressable_data(0) if isinstance(leaf, jax.Array) else leaf), tree)
