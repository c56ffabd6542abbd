"""Chapter 7's code: what XLA made of a sharded epoch, parameters sharded too
(FSDP-style), and two processes that train as one.

Run as a script, it is one process of a many-host run on this machine:

    python -m flaxguide.chapters.many_devices PORT NUM_PROCESSES PROCESS_ID
        OUT.npz [CHECKPOINTS]

Each process sees 4 CPU devices; together they train chapter 7's slice for
one epoch on one global mesh and process 0 writes the parameters to
`OUT.npz`. Given `CHECKPOINTS`, every process also saves the trained state
there with Orbax.
"""

from __future__ import annotations

import math
import re

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from flaxguide.training.sharding import DATA_AXIS

COLLECTIVES = (
    "all-reduce",
    "all-gather",
    "reduce-scatter",
    "all-to-all",
    "collective-permute",
)


# --8<-- [start:collectives]
def collectives(hlo: str) -> dict[str, int]:
    """How many of each cross-device operation the text of a compiled program
    holds."""
    # An instruction reads `%name = shape opcode(operands)`: count the
    # opcodes.
    return {
        name: len(re.findall(rf" {name}(?:-start)?\(", hlo))
        for name in COLLECTIVES
    }


def collective_shapes(hlo: str, name: str) -> list[list[str]]:
    """For each `name` operation of a compiled program, in program order, the
    shapes it returns: one array, or each array of a tuple that XLA combined
    into one call."""
    # The result's shapes stand left of the opcode: `%x = (f32[16,64],
    # f32[16,64]) all-to-all(`.
    return [
        re.findall(r"f32\[[\d,]*\]", line.split(f" {name}(")[0])
        for line in hlo.splitlines()
        if f" {name}(" in line
    ]


# --8<-- [end:collectives]


# --8<-- [start:fsdp]
def fsdp_shardings(tree, mesh: Mesh, min_size: int = 2**16):
    """A sharding for each array of `tree`: an array of at least `min_size`
    elements is split over the mesh along its longest axis that divides
    evenly; the rest are replicated.

    Each device then holds a slice of every large kernel and of its Adam
    moments; `jit` gathers a kernel where a matmul needs it whole and splits
    its gradient back.
    """

    def choose(x):
        if x.size >= min_size:
            # longest first
            for axis in sorted(range(x.ndim), key=lambda a: -x.shape[a]):
                if x.shape[axis] % mesh.size == 0:
                    spec = [None] * x.ndim
                    # e.g. P(None, "data"): columns split
                    spec[axis] = DATA_AXIS
                    return NamedSharding(mesh, PartitionSpec(*spec))
        return NamedSharding(mesh, PartitionSpec())

    return jax.tree.map(choose, tree)


def bytes_per_device(tree) -> int:
    """The bytes of `tree` that its first device holds."""
    first = jax.devices()[0]
    return sum(
        shard.data.nbytes
        for x in jax.tree.leaves(tree)
        for shard in x.addressable_shards
        if shard.device == first
    )


# --8<-- [end:fsdp]


# --8<-- [start:one_host_of_many]
def one_host_of_many(
    port: int,
    processes: int,
    process_id: int,
    out: str,
    checkpoints: str | None = None,
) -> None:
    """One process of a run on many hosts (here, many processes on one
    machine)."""
    # before JAX starts: XLA_FLAGS, in code
    jax.config.update("jax_num_cpu_devices", 4)
    # CPU collectives
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    # Every process calls this first; process 0's address is the
    # coordinator's.
    jax.distributed.initialize(f"127.0.0.1:{port}", processes, process_id)

    from flaxguide.config import get_config
    from flaxguide.data import load_mnist, prepare
    from flaxguide.run.checkpoint import checkpoint_manager, save_checkpoint
    from flaxguide.training.linen import (
        create_state_epoch,
        create_train_state,
    )
    from flaxguide.training.sharding import (
        batch_sharding,
        data_mesh,
        place,
        replicated,
    )

    config = get_config("quick")
    images, labels = load_mnist("train")
    # the page's slice: 20 batches of 128
    data = prepare(images[:2560], labels[:2560])
    state = create_train_state(config, jax.random.key(0), 20)
    # one mesh over every process's devices
    mesh = data_mesh(len(jax.devices()))
    # The same value in every process: JAX checks that, then fills this
    # process's devices.
    data = jax.device_put(data, replicated(mesh))
    # no check, and it takes the typed key, which device_put refuses
    state = place(state, mesh)
    state, _ = create_state_epoch(
        config, batch_sharding=batch_sharding(mesh)
    )(state, *data)
    # every process holds the same replicated result
    if jax.process_index() == 0:
        np.savez(
            out,
            *[
                np.asarray(x.addressable_data(0))
                for x in jax.tree.leaves(state.params)
            ],
        )
    if checkpoints:  # every process saves; Orbax coordinates them
        with checkpoint_manager(
            checkpoints, save_every=1, keep=1
        ) as manager:
            # epoch 1, no test score
            save_checkpoint(manager, 1, state, [], math.inf)


# --8<-- [end:one_host_of_many]


if __name__ == "__main__":
    import sys

    port, processes, process_id = map(int, sys.argv[1:4])
    one_host_of_many(port, processes, process_id, *sys.argv[4:6])
