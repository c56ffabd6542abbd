"""A training run on disk: its directory, its record, its checkpoints, and
the session that trains it.

- `record`: `run.json`, read once into a typed `Run`;
- `directory`: the directory's checks and `metrics.json`;
- `checkpoint`, `integrity`: Orbax checkpoints, and the checks that a
  restored one is what was saved;
- `restore`: a run's state of an epoch, resuming from the newest intact
  checkpoint, a finished run's model;
- `lock`: one writer per directory;
- `session`: a new, finetuned or resumed run, trained and measured.
"""
