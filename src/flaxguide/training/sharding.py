"""Data parallelism: a mesh over the devices, each batch split across it, all
else replicated.

The training epoch is unchanged:
[`scan_epoch`][flaxguide.training.epoch.scan_epoch] constrains each batch
to `batch_sharding(mesh)`, the state and the data are placed
`replicated(mesh)`, and `jax.jit` partitions the program, adding the
all-reduce of the gradients itself.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from flaxguide.config import ConfigError

DATA_AXIS = "data"  # the mesh axis the batch is split along


# --8<-- [start:mesh]
def data_mesh(devices: int) -> Mesh:
    """A one-axis mesh over the first `devices` devices (of all processes,
    for many hosts).

    Args:
        devices: how many devices, from 1 to `len(jax.devices())`.

    Returns:
        A `Mesh` of shape `(devices,)`, its one axis named `"data"`.

    Raises:
        ConfigError: `devices` is below 1 or above the devices JAX sees.
    """
    available = jax.devices()
    if not 1 <= devices <= len(available):
        raise ConfigError(
            f"devices must be between 1 and the {len(available)} "
            "device(s) JAX sees here "
            f"({available[0].platform}), got {devices}",
            "devices",
        )
    # Auto axes: jit's partitioner (GSPMD) propagates the shardings we set
    # and picks the rest. `jax.make_mesh` defaults to Explicit axes, which
    # put shardings into the arrays' types.
    return jax.make_mesh(
        (devices,),
        (DATA_AXIS,),
        axis_types=(AxisType.Auto,),
        devices=available[:devices],
    )


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Split the leading (batch) axis over the mesh's devices.

    Args:
        mesh: a mesh from `data_mesh`.

    Returns:
        The `NamedSharding` that splits axis 0 along `"data"`.
    """
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of the mesh.

    Args:
        mesh: a mesh from `data_mesh`.

    Returns:
        The `NamedSharding` that splits no axis.
    """
    return NamedSharding(mesh, PartitionSpec())


# --8<-- [end:mesh]


def check_batch_divides(batch_size: int, devices: int) -> None:
    """Raise `ConfigError` unless a batch splits evenly across `devices`.

    Args:
        batch_size: examples per training step.
        devices: how many devices the batch is split across.

    Returns:
        None.

    Raises:
        ConfigError: `batch_size` is not a multiple of `devices`; the
            message suggests a device count and a batch size that fit.
    """
    if batch_size % devices:
        fits = next(n for n in range(devices, 0, -1) if batch_size % n == 0)
        raise ConfigError(
            f"batch_size {batch_size} does not split evenly across "
            f"{devices} devices "
            f"({batch_size} / {devices} = {batch_size / devices:g}); "
            f"use --devices {fits}, or "
            f"a batch size that is a multiple of {devices} (e.g. "
            f"{devices * -(-batch_size // devices)})",
            "devices",
        )


def place(tree, mesh: Mesh):
    """`tree` (a training state, a data split) copied to every device of
    `mesh`.

    Every process passes the same `tree` and fills the copies on its own
    devices (`jax.make_array_from_process_local_data`, which trusts that the
    processes agree). `jax.device_put(x, replicated(mesh))` also takes a mesh
    over many processes' devices, given a host value or an array not yet
    committed to a device (a typed PRNG key it refuses), but first gathers
    every process's copy to check that they are equal.

    Args:
        tree (Any): a pytree of arrays, typed PRNG keys or Python numbers.
        mesh: the mesh to copy it over.

    Returns:
        (Any): `tree` with each leaf a JAX array replicated over `mesh`.
    """
    sharding = replicated(mesh)

    def copy(x):
        # a fresh state's step is a Python 0
        x = x if hasattr(x, "dtype") else np.asarray(x)
        # typed keys: their raw data
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = copy(jax.random.key_data(x))
            return jax.random.wrap_key_data(
                data, impl=jax.random.key_impl(x)
            )
        return jax.make_array_from_process_local_data(
            sharding, np.asarray(x)
        )

    return jax.tree.map(copy, tree)


def on_devices(tree, devices: int) -> tuple:
    """`tree` ready for data parallelism over the first `devices` devices,
    and the sharding each batch takes there: `(place(tree, mesh),
    batch_sharding(mesh))`.

    With one device nothing moves: `(tree, None)`, and the epoch is the plain
    one.

    Args:
        tree (Any): a pytree to place, e.g. a training state and a data
            split.
        devices: how many devices; 1 for no data parallelism.

    Returns:
        `(tree, batch_sharding)`: the placed tree, and the sharding for
            `scan_epoch`, `None` on one device.

    Raises:
        ConfigError: `devices` is below 1 or above the devices JAX sees.
    """
    if devices == 1:
        return tree, None
    mesh = data_mesh(devices)
    return place(tree, mesh), batch_sharding(mesh)
