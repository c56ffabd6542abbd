"""The published run's model for the playground page: its weights in a
compact file the page's JavaScript reads, and the latent directions its
sliders move along.

`weights.bin` holds every kernel and bias of the encoder, `to_latent` and
the decoder, one after another, as float16: the high bytes of all the values
(sign and exponent, which compress well), then their low bytes, gzipped
(1.93 MB, where the values alone are 2.2 MB). `weights.json` says where each
array starts, its shape, the file's sha256 (the page refuses a file that does
not match), the principal directions of the test set's latent means, and the
run the weights come from. A kernel is stored as Flax stores it,
`(in_features, out_features)`: a layer computes `x @ kernel + bias`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from flaxguide.config import Config
from flaxguide.evaluate.latents import latent_means
from flaxguide.model.linen import VAE
from flaxguide.run.record import Run

WEIGHTS_FORMAT = "flaxguide-weights/2"
# Not ".gz": a server might send that with `Content-Encoding: gzip`, and the
# browser would hand the page other bytes than those the sha256 is of.
WEIGHTS_FILE = "weights.bin"
# Half the bytes of float32; the page computes in float32 from them.
WEIGHTS_DTYPE = "float16"
DIRECTIONS = 4  # sliders: the latent means' first principal directions


def layer_names(config: Config) -> list[str]:
    """Every dense layer of the model, in the order the page reads them:
    the encoder's, `to_latent`, then the decoder's."""
    encoder = [f"encoder/Dense_{i}" for i in range(len(config.encoder_dims))]
    decoder = [f"decoder/Dense_{i}" for i in range(len(config.decoder_dims))]
    return [*encoder, "to_latent", *decoder]


def latent_directions(z: np.ndarray, count: int = DIRECTIONS) -> dict:
    """The centre of the latent means `z` `(N, D)`, their first `count`
    principal directions `(count, D)` (unit length), and the standard
    deviation of the means along each."""
    centre = z.mean(axis=0)
    _, singular, vt = np.linalg.svd(z - centre, full_matrices=False)
    spreads = singular[:count] / np.sqrt(len(z))
    return {
        "centre": centre.tolist(),
        "directions": vt[:count].tolist(),
        "spreads": spreads.tolist(),
    }


def export_weights(
    config: Config, params: dict, latent: dict, run: dict, out: Path
) -> dict:
    """Write `weights.bin` and `weights.json` into `out`.

    Args:
        config: the run's config (its layer sizes).
        params: the Linen variables to export, `{"params": ...}` (the
            published numbers use the EMA parameters).
        latent: the sliders' directions, from `latent_directions`.
        run: what the manifest says of the run (name, epoch, commit,
            versions), copied into the header.
        out: the folder to write into.

    Returns:
        The manifest's entry: the two files, the weights' sha256, bytes and
            dtype.
    """
    out.mkdir(parents=True, exist_ok=True)
    arrays, parts, offset = [], [], 0
    for layer in layer_names(config):
        node = params["params"]
        for part in layer.split("/"):
            node = node[part]
        for kind in ("kernel", "bias"):
            value = np.asarray(node[kind], dtype=np.float32)
            arrays.append(
                {
                    "name": f"{layer}/{kind}",
                    "shape": list(value.shape),
                    "offset": offset,
                }
            )
            parts.append(value.astype(np.float16).ravel())
            offset += value.size
    data = _pack(np.concatenate(parts))
    digest = hashlib.sha256(data).hexdigest()
    (out / WEIGHTS_FILE).write_bytes(data)
    header = {
        "format": WEIGHTS_FORMAT,
        "file": WEIGHTS_FILE,
        "dtype": WEIGHTS_DTYPE,
        "encoding": "gzip of the high bytes, then the low bytes",
        "bytes": len(data),
        "sha256": digest,
        "parameters": offset,
        "image_size": 28,
        "latent_dim": config.latent_dim,
        "num_classes": config.num_classes,
        "binarize": config.binarize,
        "layers": layer_names(config),
        "arrays": arrays,
        "latent": latent,
        "run": run,
    }
    (out / "weights.json").write_text(json.dumps(header, indent=1) + "\n")
    return {
        "weights": f"playground/{WEIGHTS_FILE}",
        "header": "playground/weights.json",
        "sha256": digest,
        "bytes": len(data),
        "dtype": WEIGHTS_DTYPE,
        "parameters": offset,
    }


def _pack(values: np.ndarray) -> bytes:
    """float16 `values` as the file stores them: high bytes, low bytes,
    gzipped (with no timestamp, so the same weights make the same file)."""
    bits = values.view(np.uint16)
    planes = np.concatenate([bits >> 8, bits & 0xFF]).astype(np.uint8)
    return gzip.compress(planes.tobytes(), compresslevel=9, mtime=0)


def _unpack(data: bytes) -> np.ndarray:
    """The inverse of `_pack`: the float16 values."""
    planes = np.frombuffer(gzip.decompress(data), dtype=np.uint8)
    high, low = np.split(planes.astype(np.uint16), 2)
    return ((high << 8) | low).view(np.float16)


def read_weights(folder: Path) -> tuple[dict, dict]:
    """The header and the arrays (float32, by name) of an export, checked
    against its sha256."""
    header = json.loads((folder / "weights.json").read_text())
    data = (folder / header["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != header["sha256"]:
        raise ValueError(
            f"{folder / header['file']} does not match its sha256"
        )
    flat = _unpack(data)
    arrays = {
        a["name"]: flat[a["offset"] : a["offset"] + int(np.prod(a["shape"]))]
        .astype(np.float32)
        .reshape(a["shape"])
        for a in header["arrays"]
    }
    return header, arrays


def as_variables(arrays: dict) -> dict:
    """Exported arrays as the Linen `VAE`'s variables, `{"params": ...}`."""
    params: dict = {}
    for name, value in arrays.items():
        *path, kind = name.split("/")
        node = params
        for part in path:
            node = node.setdefault(part, {})
        node[kind] = jnp.asarray(value)
    return {"params": params}


def restyle(model: VAE, params: dict, x: jax.Array, label: int) -> jax.Array:
    """One image's style drawn as every class: encode `x` `(784,)` (in
    `[0, 1]`) with `label`, decode its latent mean with each class 0-9. The
    style-transfer figure and the playground's test both use it.

    Returns:
        `(num_classes, 28, 28)` pixel probabilities.
    """
    mean, _ = model.apply(
        params, x[None], jnp.asarray([label]), method=VAE.encode
    )
    classes = jnp.arange(model.num_classes, dtype=jnp.int32)
    z = jnp.repeat(mean, model.num_classes, axis=0)
    logits = model.apply(params, z, classes, method=VAE.decode)
    return jax.nn.sigmoid(logits).reshape(-1, 28, 28)


def export_playground(run: Run, model: VAE, state, test, out: Path) -> dict:
    """The playground's files for a finished run, in `out / "playground"`:
    its EMA parameters (what every published number measures) and the
    principal directions of the latent means of `test`, the split the run
    is scored on. Returns the manifest's entry (see `export_weights`)."""
    z = latent_means(model, state.ema_params, *test)
    about = {
        "run": run.directory.name,
        "preset": run.preset,
        "epoch": run.config.epochs,
        **{
            key: run.provenance[key]
            for key in ("commit", "date", "device", "versions")
            if key in run.provenance
        },
    }
    return export_weights(
        run.config,
        state.ema_params,
        latent_directions(z),
        about,
        out / "playground",
    )
