"""The faults the test suite tries, what the program does about each, and what is kept.

The table on the checkpoints page is drawn from this list at build time; each row names the
test that tries it, and `test_faults.py` checks that every row has its test and every fault
test has its row.
"""

FAULTS = [
    {
        "fault": "`train --learning-rate inf` (or `nan`, or above 1)",
        "does": "exit 2 before anything runs: `argument --learning-rate: learning_rate must be "
        "a positive finite number, got inf`",
        "kept": "nothing is created",
        "test": "tests/test_faults.py::test_absurd_hyperparameters_are_refused_up_front",
    },
    {
        "fault": "a NaN reaches the loss in one batch (a diverging run)",
        "does": "the run stops after that epoch, naming it and its first bad step; the "
        "command exits 3",
        "kept": "the last finished epoch, saved as a checkpoint; no `metrics.json`",
        "test": "tests/test_faults.py::test_a_nan_batch_stops_the_run_and_keeps_the_last_epoch",
    },
    {
        "fault": "1,000 random bytes in any one file of a checkpoint: array data, array "
        "metadata, JSON items, the checkpoint metadata",
        "does": "restoring raises `CheckpointCorruptError` naming the checkpoint, unless "
        "what is read is still exactly what was saved (its sha256 digest matches)",
        "kept": "the damaged checkpoint, untouched",
        "test": "tests/test_faults.py::test_a_damaged_checkpoint_is_never_restored",
    },
    {
        "fault": "`train --resume` when the newest checkpoint is damaged",
        "does": "says which checkpoint and why, moves it to `OUT/damaged/`, and resumes "
        "from the newest intact one",
        "kept": "every checkpoint; the damaged one aside",
        "test": "tests/test_faults.py::test_resume_sets_a_damaged_checkpoint_aside",
    },
    {
        "fault": "a second `train --resume` on a run directory that is being trained",
        "does": "exit 2 at once, naming the PID that holds the run's lock",
        "kept": "the first run, undisturbed",
        "test": "tests/test_faults.py::test_a_second_trainer_exits_2_naming_the_holder",
    },
    {
        "fault": "the process holding a run's lock is killed",
        "does": "the operating system releases the lock; the next `--resume` starts",
        "kept": "the run as its last checkpoint left it",
        "test": "tests/test_faults.py::test_a_second_trainer_exits_2_naming_the_holder",
    },
    {
        "fault": "`train --batch-size 100000` (more than the training set)",
        "does": "exit 2 with one line: `batch_size 100000 is larger than the training set "
        "(60,000 examples)`",
        "kept": "no run directory is left behind",
        "test": "tests/test_faults.py::test_a_batch_larger_than_the_data_exits_2",
    },
    {
        "fault": "`train --out FILE/run` (a folder that cannot be created: inside a file)",
        "does": "exit 2 with one line: `cannot create the run directory ...`",
        "kept": "nothing is created",
        "test": "tests/test_faults.py::test_an_impossible_out_exits_2",
    },
    {
        "fault": "300 random argument combinations for `train`, `sample` and `figures`",
        "does": "exit 0 or 2, never a traceback",
        "kept": "no file written outside the `--out` given",
        "test": "tests/test_faults.py::test_random_arguments_exit_0_or_2",
    },
    {
        "fault": "the disk fills up (`ENOSPC`) while a checkpoint is written",
        "does": "the run stops: `could not write checkpoint N ...`; the command exits 1",
        "kept": "the checkpoints before it, restorable",
        "test": "tests/test_faults.py::test_a_failed_write_keeps_the_previous_checkpoint",
    },
    {
        "fault": "the process is killed in the middle of a checkpoint write",
        "does": "the half-written checkpoint is ignored, and deleted by the next save",
        "kept": "the previous checkpoint, restorable bit for bit",
        "test": "tests/test_run_checkpoint.py::test_a_killed_save_leaves_the_previous_checkpoint",
    },
    {
        "fault": "Ctrl-C during training",
        "does": "the epoch in flight finishes; exit 130, saying how to resume",
        "kept": "every finished epoch, the last saved as a checkpoint",
        "test": "tests/test_training_loop.py::test_a_stop_signal_waits_for_the_epoch_in_flight",
    },
    {
        "fault": "Ctrl-C twice, or once in a notebook (`fit` called without `stops`)",
        "does": "training stops at once; exit 130 (a notebook: `KeyboardInterrupt`)",
        "kept": "the last finished epoch, saved as a checkpoint",
        "test": "tests/test_training_loop.py::test_ctrl_c_saves_the_last_finished_epoch",
    },
    {
        "fault": "`SIGTERM` or `SIGHUP` during training (a cluster scheduler, a container "
        "stop, a closed terminal or notebook)",
        "does": "as Ctrl-C: the epoch in flight finishes; exit 143 (`SIGTERM`) or 129 "
        "(`SIGHUP`), naming the signal and saying how to resume",
        "kept": "every finished epoch, the last saved as a checkpoint; no `metrics.json`",
        "test": "tests/test_faults.py::test_a_stop_signal_saves_the_last_finished_epoch",
    },
    {
        "fault": 'a `run.json` edited by hand, a field of the wrong kind (`"latent_dim": "many"`)',
        "does": "exit 2 naming the file and the field: `config.latent_dim: latent_dim must be "
        "a whole number, got 'many'`",
        "kept": "the run as it is",
        "test": "tests/test_cli.py::test_resume_names_a_run_json_field_of_the_wrong_kind",
    },
    {
        "fault": "`sample -n 100000`, more images than one picture holds",
        "does": "exit 2 at once: `argument -n: at most 1,000 samples at a time`",
        "kept": "nothing is drawn",
        "test": "tests/test_cli.py::test_sample_refuses_more_than_it_can_draw_in_one_go",
    },
]


def table() -> str:
    """The faults as a Markdown table, for the checkpoints page."""
    lines = ["| fault | what happens | what is kept | tried by |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {f['fault']} | {f['does']} | {f['kept']} | `{f['test'].split('::')[1]}` |"
        for f in FAULTS
    ]
    return "\n".join(lines)
