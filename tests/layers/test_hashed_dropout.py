"""HashedDropout: the statistics of its mask, reproducibility, gradients, XLA, serialization."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.layers import HashedDropout
from seqmodels.layers.hashed_dropout import hashed_dropout, keep_mask


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_mask_keeps_one_minus_rate_without_pattern(rate):
    mask = keras.ops.convert_to_numpy(keep_mask((1000, 1000), rate, np.array([3, 5])))
    n = mask.size
    tolerance = 5 * np.sqrt(rate * (1 - rate) / n)  # 5 binomial standard deviations
    assert abs(mask.mean() - (1 - rate)) < tolerance
    # No structure along rows, columns or neighbours: per-row rates spread like binomials and
    # neighbouring elements are uncorrelated.
    row_std = np.sqrt(rate * (1 - rate) / 1000)
    assert 0.8 * row_std < mask.mean(axis=1).std() < 1.2 * row_std
    assert 0.8 * row_std < mask.mean(axis=0).std() < 1.2 * row_std
    for a, b in ((mask[:, :-1], mask[:, 1:]), (mask[:-1], mask[1:])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.01


def test_seeds_give_different_masks_and_the_same_seed_the_same_mask():
    masks = [keras.ops.convert_to_numpy(keep_mask((100, 100), 0.5, np.array(s)))
             for s in ([0, 0], [1, 0], [0, 1], [0, 0])]
    np.testing.assert_array_equal(masks[0], masks[3])
    for other in masks[1:3]:
        assert 0.4 < (masks[0] != other).mean() < 0.6  # independent halves disagree half the time


def test_layer_scales_kept_values_and_is_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(4, 50, 30)).astype("float32")
    layer = HashedDropout(0.2, seed=3)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.8, rtol=1e-6)
    assert abs(kept.mean() - 0.8) < 0.03
    # The generator advances: the next call draws another mask; a fresh layer with the same seed
    # repeats the first.
    again = keras.ops.convert_to_numpy(layer(x, training=True))
    assert (kept != (again != 0)).any()
    np.testing.assert_array_equal(HashedDropout(0.2, seed=3)(x, training=True), out)
    np.testing.assert_array_equal(HashedDropout(0.0)(x, training=True), x)


def test_gradient_is_the_mask_over_the_keep_rate():
    x = tf.ones((8, 64))
    generator = keras.random.SeedGenerator(7)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = hashed_dropout(x, 0.25, generator)
        total = tf.reduce_sum(out)
    gradient = tape.gradient(total, x).numpy()
    np.testing.assert_allclose(gradient, (out.numpy() != 0) / 0.75, rtol=1e-6)


def test_xla_gives_the_same_mask_as_eager():
    x = tf.ones((3, 17, 5))
    eager = HashedDropout(0.3, seed=11)(x, training=True)
    layer = HashedDropout(0.3, seed=11)
    compiled = tf.function(lambda inputs: layer(inputs, training=True), jit_compile=True)
    np.testing.assert_array_equal(compiled(x), eager)
    # A dynamic batch dimension inside a traced function.
    fresh = HashedDropout(0.3, seed=11)
    dynamic = tf.function(lambda inputs: fresh(inputs, training=True),
                          input_signature=[tf.TensorSpec((None, 17, 5))])
    np.testing.assert_array_equal(dynamic(x), eager)


def test_noise_shape_uses_keras_mask_and_config_round_trips(tmp_path):
    layer = HashedDropout(0.5, noise_shape=(2, 1), seed=1)
    out = keras.ops.convert_to_numpy(layer(np.ones((2, 6), "float32"), training=True))
    assert all(len(set(row)) == 1 for row in out)  # one draw per row, shared along axis 1
    assert HashedDropout.from_config(layer.get_config()).get_config() == layer.get_config()
    inputs = keras.Input((6,))
    model = keras.Model(inputs, HashedDropout(0.4, seed=2)(inputs))
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded.layers[1], HashedDropout)
    assert reloaded.layers[1].rate == 0.4


def test_rate_errors_are_keras_errors():
    with pytest.raises(ValueError, match="rate"):
        HashedDropout(1.5)
