"""Shared checks: a from-scratch recurrent layer against its Keras built-in, weight for weight."""

import keras
import numpy as np
import tensorflow as tf

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 7, 3)).astype("float32")
MASK = np.ones((4, 7), bool)
MASK[1, 5:] = False   # right padding
MASK[2, :2] = False   # left padding
MASK[3, 3] = False    # a hole


def paired(ours_class, keras_class, units=5, **kwargs):
    """Builds both layers and gives ours the built-in's (random) weights."""
    reference, ours = keras_class(units, **kwargs), ours_class(units, **kwargs)
    reference(X)
    ours(X)
    weights = [RNG.normal(size=w.shape).astype("float32") * 0.5 for w in reference.get_weights()]
    reference.set_weights(weights)
    ours.set_weights(weights)
    return ours, reference


def max_error(a, b):
    a, b = keras.tree.flatten(a), keras.tree.flatten(b)
    assert len(a) == len(b)
    return max(float(np.abs(np.asarray(p) - np.asarray(q)).max()) for p, q in zip(a, b))


def gradients(layer, x, mask=None, initial_state=None):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = keras.tree.flatten(layer(x, mask=mask, initial_state=initial_state))
        loss = sum(tf.reduce_sum(tf.sin(o) * (i + 1)) for i, o in enumerate(outputs))
    return tape.gradient(loss, [x] + layer.trainable_weights)


def check_parity(ours_class, keras_class, tol=1e-5, **kwargs):
    """Outputs and gradients equal to the built-in, with and without a padding mask."""
    ours, reference = paired(ours_class, keras_class, **kwargs)
    for mask in (None, MASK):
        assert max_error(ours(X, mask=mask), reference(X, mask=mask)) <= tol
        assert max_error(gradients(ours, X, mask), gradients(reference, X, mask)) <= tol
