"""Chapter 3's gradient transformations, and the Adam step the chapter explains."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from flaxguide.chapters.optax_transforms import ClipByRunningNormState, clip_by_running_norm


def run(tx, gradients, params=None):
    """Feed `gradients` to `tx` in turn; return its outputs and its states after each one."""
    state = tx.init(params if params is not None else gradients[0])
    outputs, states = [], []
    for g in gradients:
        out, state = tx.update(g, state, params)
        outputs.append(out)
        states.append(state)
    return outputs, states


# clip_by_running_norm


def test_init_is_two_scalars_whatever_the_params():
    state = clip_by_running_norm().init({"w": jnp.ones((3, 4)), "b": jnp.ones(4)})
    assert isinstance(state, ClipByRunningNormState)
    assert state.count.shape == () and state.count.dtype == jnp.int32 and int(state.count) == 0
    assert state.ema_norm.shape == () and state.ema_norm.dtype == jnp.float32
    assert float(state.ema_norm) == 0.0


def test_first_update_passes_through_and_starts_the_average():
    g = jnp.array([3.0, 4.0])  # norm 5
    (out,), (state,) = run(clip_by_running_norm(factor=2.0, decay=0.9), [g])
    np.testing.assert_array_equal(out, g)
    assert int(state.count) == 1
    assert float(state.ema_norm) == pytest.approx(5.0)


def test_spike_is_clipped_to_factor_times_average_and_average_takes_the_clipped_norm():
    grads = [jnp.array([3.0, 4.0]), jnp.array([30.0, 40.0]), jnp.array([0.3, 0.4])]
    outs, states = run(clip_by_running_norm(factor=2.0, decay=0.9), grads)
    # Step 2: norm 50 > 2 * 5 = 10, so the gradient is scaled by 10 / 50, direction kept.
    np.testing.assert_allclose(outs[1], [6.0, 8.0], rtol=1e-6)
    # EMA of the *clipped* norm: 0.9 * 5 + 0.1 * 10.
    assert float(states[1].ema_norm) == pytest.approx(5.5)
    # Step 3: norm 0.5 < 2 * 5.5, untouched; EMA 0.9 * 5.5 + 0.1 * 0.5.
    np.testing.assert_allclose(outs[2], [0.3, 0.4], rtol=1e-6)
    assert float(states[2].ema_norm) == pytest.approx(5.0)
    assert [int(s.count) for s in states] == [1, 2, 3]


def test_factor_and_decay_are_used():
    grads = [jnp.array([3.0, 4.0]), jnp.array([30.0, 40.0])]
    outs, states = run(clip_by_running_norm(factor=3.0, decay=0.5), grads)
    np.testing.assert_allclose(outs[1], [9.0, 12.0], rtol=1e-6)  # clipped to norm 3 * 5 = 15
    assert float(states[1].ema_norm) == pytest.approx(0.5 * 5 + 0.5 * 15)


def test_global_norm_is_over_the_whole_pytree():
    tx = clip_by_running_norm(factor=1.0)
    first = {"a": jnp.array([3.0]), "b": jnp.array([[4.0]])}  # global norm 5
    second = {"a": jnp.array([6.0]), "b": jnp.array([[8.0]])}  # global norm 10
    outs, _ = run(tx, [first, second])
    np.testing.assert_allclose(outs[1]["a"], [3.0], rtol=1e-6)
    np.testing.assert_allclose(outs[1]["b"], [[4.0]], rtol=1e-6)


def test_zero_gradients_stay_zero_and_leave_no_history():
    outs, states = run(clip_by_running_norm(), [jnp.zeros(3), jnp.zeros(3), jnp.ones(3)])
    np.testing.assert_array_equal(outs[0], jnp.zeros(3))  # 0 / 0 gives 0, not NaN
    np.testing.assert_array_equal(outs[1], jnp.zeros(3))
    assert float(states[1].ema_norm) == 0.0
    # The first non-zero gradient has nothing to be compared with: it passes and starts the EMA.
    np.testing.assert_array_equal(outs[2], jnp.ones(3))
    assert float(states[2].ema_norm) == pytest.approx(3**0.5)
    assert int(states[2].count) == 3


def test_norm_may_grow_by_decay_plus_one_minus_decay_times_factor_per_step():
    # With decay 0.9 and factor 2 the limit grows by at most 1.1x per step: a steady 1.2x
    # growth is clipped, a steady 1.05x growth is not.
    tx = clip_by_running_norm(factor=2.0, decay=0.9)
    slow = [jnp.array([1.05**k]) for k in range(30)]
    fast = [jnp.array([1.2**k]) for k in range(30)]
    slow_outs, _ = run(tx, slow)
    fast_outs, _ = run(tx, fast)
    np.testing.assert_allclose(jnp.stack(slow_outs), jnp.stack(slow), rtol=1e-6)
    assert float(fast_outs[-1][0]) < 0.5 * float(fast[-1][0])


def test_keeps_the_dtype_of_bfloat16_gradients():
    g = {"w": jnp.ones(4, jnp.bfloat16)}
    (out,), (state,) = run(clip_by_running_norm(), [g])
    assert out["w"].dtype == jnp.bfloat16
    assert state.ema_norm.dtype == jnp.float32


def test_runs_under_strict_dtype_promotion():
    tx = clip_by_running_norm()
    grads = [{"w": jnp.ones(4, jnp.bfloat16)}, {"w": jnp.full(4, 9.0, jnp.bfloat16)}]
    with jax.numpy_dtype_promotion("strict"):
        outs, states = run(tx, grads)
    assert outs[1]["w"].dtype == jnp.bfloat16
    np.testing.assert_allclose(outs[1]["w"].astype(jnp.float32), 2.0, rtol=1e-2)  # norm 18 -> 4
    assert int(states[1].count) == 2


def test_update_is_pure():
    tx = clip_by_running_norm()
    state = tx.init(jnp.zeros(2))
    a = tx.update(jnp.array([3.0, 4.0]), state)
    b = tx.update(jnp.array([3.0, 4.0]), state)
    assert jax.tree.all(jax.tree.map(jnp.array_equal, a, b))
    assert int(state.count) == 0


def test_jit_gives_the_same_results():
    tx = clip_by_running_norm(factor=2.0, decay=0.9)
    grads = [jnp.array([3.0, 4.0]), jnp.array([30.0, 40.0]), jnp.array([0.3, 0.4])]
    eager_outs, eager_states = run(tx, grads)
    update = jax.jit(tx.update)
    state = jax.jit(tx.init)(grads[0])
    for g, want_out, want_state in zip(grads, eager_outs, eager_states, strict=True):
        out, state = update(g, state)
        np.testing.assert_allclose(out, want_out, rtol=1e-6)
        assert int(state.count) == int(want_state.count)
        assert float(state.ema_norm) == pytest.approx(float(want_state.ema_norm))


def test_composes_in_chain_before_an_optimiser():
    tx = optax.chain(clip_by_running_norm(factor=2.0), optax.scale(-0.1))
    params = jnp.zeros(2)
    state = tx.init(params)
    assert isinstance(state[0], ClipByRunningNormState)
    updates, state = tx.update(jnp.array([3.0, 4.0]), state, params)
    np.testing.assert_allclose(updates, [-0.3, -0.4], rtol=1e-6)
    updates, state = tx.update(jnp.array([30.0, 40.0]), state, params)
    np.testing.assert_allclose(updates, [-0.6, -0.8], rtol=1e-6)  # clipped to norm 10 first
    assert int(state[0].count) == 2


def test_chained_with_adam_inside_jit_trains():
    tx = optax.chain(clip_by_running_norm(), optax.adam(0.1))
    target = jnp.array([1.0, -2.0])

    @jax.jit
    def step(w, state):
        grads = w - target  # gradient of 0.5 * |w - target|^2
        updates, state = tx.update(grads, state, w)
        return optax.apply_updates(w, updates), state

    w = jnp.zeros(2)
    state = tx.init(w)
    for _ in range(100):
        w, state = step(w, state)
    np.testing.assert_allclose(w, target, atol=0.05)
    assert int(state[0].count) == 100
    assert int(state[1][0].count) == 100


# Adam's first step, as chapter 3 explains it


PARAMS = jnp.array([0.0, 1.0, 2.0])
GRADS = jnp.array([4.0, 0.6, -3.0])


def test_adam_first_step_moves_every_param_by_the_learning_rate():
    tx = optax.adam(learning_rate=0.01)
    state = tx.init(PARAMS)
    updates, state = tx.update(GRADS, state, PARAMS)
    new_params = optax.apply_updates(PARAMS, updates)
    # Bias-corrected m / sqrt(v) is g / |g| on the first step.
    np.testing.assert_allclose(updates, -0.01 * jnp.sign(GRADS), atol=1e-6)
    np.testing.assert_allclose(new_params, [-0.01, 0.99, 2.01], atol=1e-6)
    adam_state = state[0]
    assert int(adam_state.count) == 1
    np.testing.assert_allclose(adam_state.mu, 0.1 * GRADS, rtol=1e-6)
    np.testing.assert_allclose(adam_state.nu, 0.001 * GRADS**2, rtol=1e-5)


def test_adamw_needs_params():
    tx = optax.adamw(learning_rate=0.01, weight_decay=0.1)
    with pytest.raises(ValueError, match="params"):
        tx.update(GRADS, tx.init(PARAMS))
    updates, _ = tx.update(GRADS, tx.init(PARAMS), PARAMS)
    # First Adam step -0.01 * sign(g), plus the decay -lr * wd * params.
    np.testing.assert_allclose(updates, [-0.01, -0.011, 0.008], atol=1e-6)


def test_adam_first_step_matches_pytorch():
    torch = pytest.importorskip("torch")
    p = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    optimizer = torch.optim.Adam([p], lr=0.01)
    p.grad = torch.tensor([4.0, 0.6, -3.0])
    optimizer.step()
    tx = optax.adam(learning_rate=0.01)
    updates, _ = tx.update(GRADS, tx.init(PARAMS), PARAMS)
    np.testing.assert_allclose(optax.apply_updates(PARAMS, updates), p.detach().numpy(), atol=1e-6)
