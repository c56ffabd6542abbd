"""The judge: its augmentation and its predictions."""

import jax
import jax.numpy as jnp
import numpy as np

from flaxguide.evaluate.judge import Classifier, predict, random_shift


def test_random_shift_moves_pixels_without_changing_them(key):
    image = jnp.zeros((1, 28, 28), jnp.uint8).at[0, 14, 14].set(255).reshape(1, 784)
    shifted = random_shift(key, jnp.repeat(image, 64, axis=0), max_shift=2).reshape(64, 28, 28)
    rows, cols = np.nonzero(np.asarray(shifted).sum(axis=0))
    assert shifted.dtype == jnp.uint8
    assert set(rows) <= set(range(12, 17)) and set(cols) <= set(range(12, 17))
    assert len(set(zip(rows, cols, strict=True))) > 10  # many offsets were drawn
    np.testing.assert_array_equal(np.asarray(shifted).reshape(64, -1).sum(axis=1), 255)


def test_predict_accepts_uint8_rows_and_float_squares(key):
    model = Classifier(hidden=(16,))
    params = model.init(key, jnp.zeros((1, 784)), train=False)
    x = jax.random.randint(key, (5, 784), 0, 256).astype(jnp.uint8)
    as_float = (x.astype(jnp.float32) / 255.0).reshape(5, 28, 28)
    np.testing.assert_array_equal(predict(model, params, x), predict(model, params, as_float))


def test_a_judge_is_trained_once_per_key_data_and_epochs(mnist_mirror, tmp_path, monkeypatch):
    from conftest import mnist_slices

    import flaxguide.evaluate.judge

    (images, labels), _ = mnist_slices(mnist_mirror, tmp_path, train=256, test=1)
    trained = []
    real = flaxguide.evaluate.judge._train
    monkeypatch.setattr(flaxguide.evaluate.judge, "_TRAINED", {})
    monkeypatch.setattr(
        flaxguide.evaluate.judge, "_train", lambda *args: trained.append(args[2]) or real(*args)
    )
    key = jax.random.key(3)
    first = flaxguide.evaluate.judge.train_classifier(key, (images, labels), epochs=1)
    again = flaxguide.evaluate.judge.train_classifier(
        jax.random.key(3), (images + 0, labels), epochs=1
    )
    assert again is first and trained == [1]  # equal inputs, not the same objects: no retraining
    flaxguide.evaluate.judge.train_classifier(key, (images, labels), epochs=2)
    flaxguide.evaluate.judge.train_classifier(jax.random.key(4), (images, labels), epochs=1)
    flaxguide.evaluate.judge.train_classifier(key, (images.at[0, 0].add(1), labels), epochs=1)
    assert trained == [1, 2, 1, 1]  # another epoch count, key or image: trained anew
