"""flaxguide: a literate guide to JAX, Flax and Optax.

The package holds the code the chapters embed: what a reader sees on a page
is the code the tests run. Its training spine (everything `python -m
flaxguide` runs) is laid out by concern, each package importing only those
below it (the contracts in `pyproject.toml`):

- `cli`: the command line;
- `figures`: the figures the site shows and their manifest;
- `run`: a run on disk (its record, checkpoints, lock) and the session that
  trains it;
- `evaluate`: metrics, the judge, the likelihood, the latent code;
- `training`: the optimiser, the epoch, the loop, and one backend per Flax
  API behind `training.backend`;
- `model`: the VAE in Linen and in NNX, and its loss;
- `config`, `data`, `provenance`: the settings, MNIST, and where a run was
  made.

`flaxguide.chapters` holds code that only a chapter needs, which may import
the spine and is never imported by it.

The public API is importable from `flaxguide` itself, by concern:

```python
from flaxguide import (
    Config, create_train_state, fit, get_config, load_splits,
)

config = get_config("quick")
print(type(config).__name__, config.epochs, callable(fit))
```

```text title="Output"
Config 2 True
```

Names load their module on first use, so `import flaxguide` stays cheap.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Each public name, by concern, with the module that defines it. The API
# reference page follows the same groups.
API: dict[str, dict[str, str]] = {
    "Configuration": {
        "Config": "config",
        "ConfigError": "config",
        "PRESETS": "config",
        "get_config": "config",
        "seed_for": "config",
    },
    "Data": {
        "load_mnist": "data",
        "load_splits": "data",
        "prepare": "data",
        "select_digits": "data",
        "check_digits": "data",
        "binarize": "data",
        "binarize_split": "data",
        "to_unit": "data",
    },
    "Model and loss": {
        "VAE": "model.linen",
        "build_model": "model.linen",
        "generate": "model.linen",
        "product_options": "model.precision",
        "bf16_dot_general": "model.precision",
        "make_loss_fn": "model.loss",
        "kl_divergence": "model.loss",
        "reconstruction_loss": "model.loss",
    },
    "Training": {
        "TrainState": "training.linen",
        "create_train_state": "training.linen",
        "make_optimiser": "training.optim",
        "learning_rate_schedule": "training.optim",
        "scan_epoch": "training.epoch",
        "create_state_epoch": "training.linen",
        "jit_state_epoch": "training.epoch",
        "create_eval_step": "training.epoch",
        "fit": "training.loop",
        "DivergedError": "training.loop",
        "StopSignals": "training.stops",
        "Stopped": "training.stops",
        "train_run": "run.session",
        "resume_run": "run.session",
    },
    "Finetuning": {
        "FROZEN": "training.linen",
        "finetune_state": "training.linen",
        "create_finetune_epoch": "training.linen",
        "make_finetune_optimiser": "training.linen",
        "trainable_grad": "training.linen",
    },
    "NNX": {
        "initial_state": "training.backend",
        "as_linen": "training.backend",
        "from_linen_state": "training.nnx",
        "NNXTrainState": "training.nnx",
        "create_nnx_train_state": "training.nnx",
        "create_nnx_state_epoch": "training.nnx",
        "trainable": "training.nnx",
        "nnx_finetune_state": "training.nnx",
    },
    "Many devices": {
        "data_mesh": "training.sharding",
        "batch_sharding": "training.sharding",
        "replicated": "training.sharding",
        "place": "training.sharding",
        "on_devices": "training.sharding",
        "check_batch_divides": "training.sharding",
    },
    "Runs and checkpoints": {
        "RunError": "run.record",
        "read_run": "run.record",
        "restore_run": "run.restore",
        "load_trained": "run.restore",
        "compare_runs": "run.directory",
        "run_lock": "run.lock",
        "CheckpointError": "run.integrity",
        "CheckpointMismatchError": "run.integrity",
        "CheckpointCorruptError": "run.integrity",
        "CheckpointWriteError": "run.integrity",
        "checkpoint_manager": "run.checkpoint",
        "save_checkpoint": "run.checkpoint",
        "restore_checkpoint": "run.checkpoint",
    },
    "Measuring quality": {
        "evaluate_nelbo": "evaluate.metrics",
        "conditional_accuracy": "evaluate.metrics",
        "final_metrics": "evaluate.metrics",
        "test_log_likelihood": "evaluate.metrics",
        "vae_log_weights": "evaluate.likelihood",
        "iwae": "evaluate.likelihood",
        "create_log_likelihood": "evaluate.likelihood",
        "estimate_by_k": "evaluate.likelihood",
        "latent_means": "evaluate.latents",
        "pca_2d": "evaluate.latents",
        "active_units": "evaluate.latents",
        "class_probe": "evaluate.latents",
        "Classifier": "evaluate.judge",
        "train_classifier": "evaluate.judge",
    },
    "Figures": {
        "draw_all": "figures.draw",
        "sample_rows": "figures.draw",
        "style_transfer": "figures.draw",
        "carry_tables": "figures.manifest",
        "image_table": "figures.plots",
        "schedule_plot": "figures.plots",
    },
}
_MODULE_OF = {
    name: module for group in API.values() for name, module in group.items()
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'flaxguide' has no attribute {name!r}")
    return getattr(
        importlib.import_module(f"flaxguide.{_MODULE_OF[name]}"), name
    )


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
