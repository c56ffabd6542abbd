"""Wrong answers to the exercises of docs/many-devices.md."""

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "7.1": [
        # Split the batch over both mesh axes: eight slices of 16 rows, not two of 64.
        ('PartitionSpec("data"))', 'PartitionSpec(("data", "model")))'),
        # Named the mesh axis in the first position: the kernel's rows are split, not its columns.
        ('PartitionSpec(None, "model")', 'PartitionSpec("model")'),
    ],
    "7.2": [
        # Split the biases too.
        ("if x.ndim == 2 else PartitionSpec()", 'if x.ndim == 2 else PartitionSpec("data")'),
        # Left the kernels whole: every device still holds all of every kernel.
        ('PartitionSpec(None, "data") if', "PartitionSpec() if"),
    ],
}
