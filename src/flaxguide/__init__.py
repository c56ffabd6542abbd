"""flaxguide: a literate guide to JAX, Flax and Optax.

The package holds the code the chapters embed: what a reader sees on a page
is the code the tests run. Its training spine (everything `python -m
flaxguide` runs) lives in this package's top-level modules;
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
        "VAE": "models",
        "build_model": "models",
        "generate": "models",
        "make_loss_fn": "losses",
        "kl_divergence": "losses",
        "reconstruction_loss": "losses",
    },
    "Training": {
        "TrainState": "state",
        "create_train_state": "state",
        "make_optimiser": "optim",
        "learning_rate_schedule": "optim",
        "scan_epoch": "steps",
        "create_state_epoch": "steps",
        "jit_state_epoch": "steps",
        "create_eval_step": "steps",
        "fit": "train",
        "DivergedError": "train",
        "train_run": "runner",
    },
    "Finetuning": {
        "FROZEN": "finetune",
        "finetune_state": "finetune",
        "create_finetune_epoch": "finetune",
        "make_finetune_optimiser": "finetune",
        "trainable_grad": "finetune",
    },
    "NNX": {
        "initial_state": "apis",
        "as_linen": "apis",
        "from_linen_state": "apis",
        "NNXTrainState": "nnx_train",
        "create_nnx_train_state": "nnx_train",
        "create_nnx_state_epoch": "nnx_train",
        "trainable": "nnx_train",
        "nnx_finetune_state": "nnx_train",
    },
    "Many devices": {
        "data_mesh": "sharding",
        "batch_sharding": "sharding",
        "replicated": "sharding",
        "place": "sharding",
        "on_devices": "sharding",
        "check_batch_divides": "sharding",
    },
    "Runs and checkpoints": {
        "RunError": "runs",
        "read_run": "runs",
        "restore_run": "runs",
        "load_trained": "runs",
        "compare_runs": "runs",
        "run_lock": "lock",
        "CheckpointError": "integrity",
        "CheckpointMismatchError": "integrity",
        "CheckpointCorruptError": "integrity",
        "CheckpointWriteError": "integrity",
        "checkpoint_manager": "checkpoint",
        "save_checkpoint": "checkpoint",
        "restore_checkpoint": "checkpoint",
    },
    "Measuring quality": {
        "evaluate_nelbo": "metrics",
        "conditional_accuracy": "metrics",
        "final_metrics": "metrics",
        "test_log_likelihood": "metrics",
        "vae_log_weights": "likelihood",
        "iwae": "likelihood",
        "create_log_likelihood": "likelihood",
        "estimate_by_k": "likelihood",
        "latent_means": "latents",
        "pca_2d": "latents",
        "active_units": "latents",
        "class_probe": "latents",
        "Classifier": "judge",
        "train_classifier": "judge",
    },
    "Figures": {
        "draw_all": "figures",
        "sample_rows": "figures",
        "style_transfer": "figures",
        "carry_tables": "manifest",
        "image_table": "plots",
        "schedule_plot": "plots",
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
