"""Chapter 2's modules: setup/compact equivalence, parameters as a pytree, torch-like init."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

from flaxguide.chapters.flax_modules import (
    Model,
    ModelCompact,
    NNXModel,
    dense_params_from_torch,
    linear_from_torch,
    torch_like_dense,
    torch_like_linear,
    torch_linear_bias_init,
    torch_linear_kernel_init,
)

FAN_IN, FAN_OUT = 1024, 1024


def test_setup_and_compact_build_the_same_tree(key):
    x = jnp.zeros((1, 8))
    params = Model(dim=4).init(key, x)
    params_compact = ModelCompact(dim=4).init(key, x)
    assert jax.tree.structure(params) == jax.tree.structure(params_compact)
    shapes = {"params": {"layer": {"kernel": (8, 4), "bias": (4,)}}}
    assert jax.tree.map(jnp.shape, params) == shapes
    # Same names, same key: the same numbers, not just the same shapes.
    assert jax.tree.all(jax.tree.map(jnp.array_equal, params, params_compact))


def test_setup_and_compact_compute_the_same_function(key):
    init_key, x_key = jax.random.split(key)
    x = jax.random.normal(x_key, (5, 8))
    params = Model(dim=4, activation_fn=nn.tanh).init(init_key, x)
    y = Model(dim=4, activation_fn=nn.tanh).apply(params, x)
    y_compact = ModelCompact(dim=4, activation_fn=nn.tanh).apply(params, x)
    np.testing.assert_array_equal(y, y_compact)
    kernel, bias = params["params"]["layer"]["kernel"], params["params"]["layer"]["bias"]
    np.testing.assert_allclose(y, jnp.tanh(x @ kernel + bias[None, :]), rtol=1e-6, atol=1e-6)


def test_pre_activation_is_the_layer_output(key):
    x = jax.random.normal(key, (3, 8))
    params = Model(dim=4).init(key, x)
    pre = Model(dim=4).apply(params, x, method=Model.pre_activation)
    np.testing.assert_array_equal(nn.relu(pre), Model(dim=4).apply(params, x))


def test_parameter_count(key):
    params = Model(dim=4).init(key, jnp.zeros((1, 8)))
    assert sum(p.size for p in jax.tree.leaves(params)) == 8 * 4 + 4


def test_zero_kernel_gives_bias_only_output(key):
    model = Model(dim=4)
    params = model.init(key, jnp.zeros((1, 3)))
    x = jax.random.normal(key, (6, 3))
    zeros = jax.tree.map(jnp.zeros_like, params)
    np.testing.assert_array_equal(model.apply(zeros, x), np.zeros((6, 4), np.float32))
    zeros["params"]["layer"]["bias"] = jnp.array([1.0, -1.0, 2.0, 0.5])
    expected = np.tile(np.array([[1.0, 0.0, 2.0, 0.5]], np.float32), (6, 1))
    np.testing.assert_array_equal(model.apply(zeros, x), expected)


def test_calling_an_unbound_module_fails():
    with pytest.raises(AttributeError, match="only accessible from inside 'init' or 'apply'"):
        Model(dim=4)(jnp.zeros((1, 3)))


def test_init_returns_a_plain_dict(key):
    assert type(Model(dim=4).init(key, jnp.zeros((1, 3)))) is dict


def test_nnx_model_holds_the_linen_tree_without_the_collection_level(key):
    model = NNXModel(8, 4, rngs=nnx.Rngs(0))
    shapes = jax.tree.map(jnp.shape, nnx.to_pure_dict(nnx.state(model)))
    linen_shapes = jax.tree.map(jnp.shape, Model(dim=4).init(key, jnp.zeros((1, 8))))
    assert shapes == linen_shapes["params"] == {"layer": {"kernel": (8, 4), "bias": (4,)}}


def test_nnx_model_computes_the_linen_function_on_the_same_arrays(key):
    init_key, x_key = jax.random.split(key)
    x = jax.random.normal(x_key, (5, 8))
    params = Model(dim=4, activation_fn=nn.tanh).init(init_key, x)
    model = NNXModel(8, 4, rngs=nnx.Rngs(1), activation_fn=nn.tanh)
    nnx.update(model, params["params"])  # the same names: the Linen arrays fit as they are
    np.testing.assert_array_equal(model(x), Model(dim=4, activation_fn=nn.tanh).apply(params, x))
    pre = Model(dim=4).apply(params, x, method=Model.pre_activation)
    np.testing.assert_array_equal(model.pre_activation(x), pre)


def test_nnx_model_is_built_with_its_parameters_and_split_merge_round_trips():
    model = NNXModel(3, 4, rngs=nnx.Rngs(0))
    x = jnp.ones((2, 3))
    graphdef, state = nnx.split(model)
    zeros = nnx.merge(graphdef, jax.tree.map(jnp.zeros_like, state))
    np.testing.assert_array_equal(zeros(x), np.zeros((2, 4), np.float32))
    np.testing.assert_array_equal(nnx.merge(graphdef, state)(x), model(x))
    # The same seed gives the same parameters; another seed, others.
    same, other = NNXModel(3, 4, rngs=nnx.Rngs(0)), NNXModel(3, 4, rngs=nnx.Rngs(1))
    np.testing.assert_array_equal(same.layer.kernel[...], model.layer.kernel[...])
    assert not np.array_equal(other.layer.kernel[...], model.layer.kernel[...])


def _check_uniform(sample: np.ndarray, bound: float) -> None:
    """`sample` looks drawn from U(-bound, bound), at four standard errors of tolerance.

    For n draws of U(-b, b): std b/sqrt(3); the sample mean has standard error
    b/sqrt(3n), and the sample std a relative standard error of sqrt(0.2/n) (kurtosis 1.8).
    """
    n = sample.size
    std = bound / math.sqrt(3)
    assert np.abs(sample).max() <= bound
    assert np.abs(sample).max() > 0.99 * bound  # fails with probability 0.99**n
    assert abs(float(sample.mean())) < 4 * std / math.sqrt(n)
    assert float(sample.std()) == pytest.approx(std, rel=4 * math.sqrt(0.2 / n))


def test_torch_linear_itself_is_uniform_in_one_over_sqrt_fan_in():
    # The claim the chapter corrects: PyTorch's bias is uniform, not LeCun normal.
    torch.manual_seed(0)
    linear = torch.nn.Linear(FAN_IN, FAN_OUT)
    bound = 1 / math.sqrt(FAN_IN)
    _check_uniform(linear.weight.detach().numpy().ravel(), bound)
    _check_uniform(linear.bias.detach().numpy(), bound)


def test_torch_kernel_init_matches_theory(key):
    kernel = np.asarray(torch_linear_kernel_init()(key, (FAN_IN, FAN_OUT)))
    _check_uniform(kernel.ravel(), 1 / math.sqrt(FAN_IN))


def test_torch_bias_init_matches_theory(key):
    # The bound comes from fan_in, whatever the shape; draw many values to pin the std.
    bias = np.asarray(torch_linear_bias_init(FAN_IN)(key, (100_000,)))
    _check_uniform(bias, 1 / math.sqrt(FAN_IN))
    assert torch_linear_bias_init(FAN_IN)(key, (3,), jnp.bfloat16).dtype == jnp.bfloat16


def test_torch_like_dense_has_dense_layout_and_torch_spread(key):
    params = torch_like_dense(FAN_IN, FAN_OUT).init(key, jnp.zeros((1, FAN_IN)))["params"]
    assert jax.tree.map(jnp.shape, params) == {"kernel": (FAN_IN, FAN_OUT), "bias": (FAN_OUT,)}
    bound = 1 / math.sqrt(FAN_IN)
    _check_uniform(np.asarray(params["kernel"]).ravel(), bound)
    _check_uniform(np.asarray(params["bias"]), bound)


def test_torch_like_linear_has_linear_layout_and_torch_spread():
    layer = torch_like_linear(FAN_IN, FAN_OUT, rngs=nnx.Rngs(0))
    assert (layer.kernel.shape, layer.bias.shape) == ((FAN_IN, FAN_OUT), (FAN_OUT,))
    bound = 1 / math.sqrt(FAN_IN)
    _check_uniform(np.asarray(layer.kernel[...]).ravel(), bound)
    _check_uniform(np.asarray(layer.bias[...]), bound)


def test_flax_dense_default_is_lecun_normal_and_zero_bias(key):
    params = nn.Dense(FAN_OUT).init(key, jnp.zeros((1, FAN_IN)))["params"]
    kernel = np.asarray(params["kernel"])
    std = 1 / math.sqrt(FAN_IN)
    assert kernel.std() == pytest.approx(std, rel=0.005)
    # Truncated at two standard deviations of the widened normal (std / 0.8796...).
    assert np.abs(kernel).max() <= 2 * std / 0.87962566 * (1 + 1e-6)
    np.testing.assert_array_equal(params["bias"], np.zeros(FAN_OUT, np.float32))


def test_copied_torch_weights_give_the_same_outputs():
    torch.manual_seed(0)
    linear = torch.nn.Linear(16, 5)
    variables = dense_params_from_torch(linear)
    assert jax.tree.map(jnp.shape, variables) == {"params": {"kernel": (16, 5), "bias": (5,)}}
    x = np.random.default_rng(0).standard_normal((7, 16), dtype=np.float32)
    expected = linear(torch.from_numpy(x)).detach().numpy()
    actual = nn.Dense(5).apply(variables, jnp.asarray(x))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    # Without the transpose the shapes would not even fit: (16, 5) is not (5, 16).
    assert variables["params"]["kernel"].shape == linear.weight.T.shape


def test_copied_torch_weights_give_the_same_outputs_in_nnx():
    torch.manual_seed(0)
    linear = torch.nn.Linear(16, 5)
    layer = linear_from_torch(linear)
    assert (layer.in_features, layer.out_features, layer.kernel.shape) == (16, 5, (16, 5))
    x = np.random.default_rng(0).standard_normal((7, 16), dtype=np.float32)
    expected = linear(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(layer(jnp.asarray(x)), expected, rtol=1e-5, atol=1e-6)
