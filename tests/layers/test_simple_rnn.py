"""SimpleRNN: the Keras contract, parity with keras.layers.SimpleRNN, errors, the RNN loop."""

import re

import keras
import numpy as np
import pytest

from seqmodels.layers.rnn import RNN
from seqmodels.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from tests.layer_test_case import run_layer_test
from tests.layers.rnn_parity import MASK, X, check_parity, gradients, max_error, paired


@pytest.mark.parametrize("kwargs", [
    dict(), dict(return_sequences=True), dict(return_state=True),
    dict(go_backwards=True, return_sequences=True, return_state=True),
    dict(activation="relu", use_bias=False),
])
def test_parity_with_keras(kwargs):
    check_parity(SimpleRNN, keras.layers.SimpleRNN, **kwargs)


def test_layer_contract(tmp_path):
    run_layer_test(SimpleRNN, dict(units=4, return_sequences=True, dropout=0.1,
                                   recurrent_dropout=0.1), X, (4, 7, 4), tmp_path=tmp_path)
    run_layer_test(SimpleRNN, dict(units=4, return_state=True), X, [(4, 4), (4, 4)],
                   tmp_path=tmp_path)


def test_hand_computed_recurrence():
    # h_t = tanh(W_xh x_t + W_hh h_{t-1} + b) with constant weights, worked out by hand.
    layer = SimpleRNN(1, kernel_initializer="ones", recurrent_initializer="ones",
                      bias_initializer=keras.initializers.Constant(0.5), return_sequences=True)
    out = np.asarray(layer(np.array([[[1.0], [2.0]]], "float32")))
    h1 = np.tanh(1.0 + 0.0 + 0.5)
    h2 = np.tanh(2.0 + h1 + 0.5)
    np.testing.assert_allclose(out[0, :, 0], [h1, h2], rtol=1e-6)


def test_initial_state_parity():
    ours, reference = paired(SimpleRNN, keras.layers.SimpleRNN, return_sequences=True)
    h0 = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    assert max_error(ours(X, initial_state=[h0], mask=MASK),
                     reference(X, initial_state=[h0], mask=MASK)) <= 1e-5
    assert max_error(gradients(ours, X, MASK, [h0]), gradients(reference, X, MASK, [h0])) <= 1e-5


def test_mask_from_upstream_layer_and_mask_propagation():
    ids = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 3, mask_zero=True)(ids)
    sequences = SimpleRNN(4, return_sequences=True)(embedded)
    assert sequences._keras_mask is not None
    last = SimpleRNN(4)(embedded)
    model = keras.Model(ids, last)
    padded = model(np.array([[1, 2, 3, 0, 0]]))
    unpadded = model(np.array([[1, 2, 3]]))
    np.testing.assert_allclose(padded, unpadded, atol=1e-6)


def test_dropout_only_in_training():
    layer = SimpleRNN(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    inference = [np.asarray(layer(X)) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    assert not np.allclose(np.asarray(layer(X, training=True)), inference[0])


def test_user_cell_runs_in_the_rnn_loop():
    class MinimalCell(keras.layers.Layer):
        state_size = 2

        def build(self, input_shape):
            self.kernel = self.add_weight((input_shape[-1], 2), initializer="ones")

        def call(self, x, states):
            h = keras.ops.matmul(x, self.kernel) + states[0]
            return h * 2.0, [h]  # an output that differs from the state

    cell = MinimalCell()
    out = RNN(cell, return_sequences=True)(np.ones((1, 3, 1), "float32"))
    # h: 1, 2, 3 (running sum); output 2h.
    np.testing.assert_allclose(np.asarray(out)[0, :, 0], [2.0, 4.0, 6.0])
    masked = RNN(cell, return_sequences=True)(np.ones((1, 3, 1), "float32"),
                                             mask=np.array([[True, False, True]]))
    np.testing.assert_allclose(np.asarray(masked)[0, :, 0], [2.0, 2.0, 4.0])


def test_bidirectional_wraps_our_layer():
    layer = keras.layers.Bidirectional(SimpleRNN(3, return_sequences=True))
    assert layer(X, mask=MASK).shape == (4, 7, 6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(units=0), "`units` must be a positive integer. Received: units=0"),
    (dict(units=4, dropout=1.0), "`dropout` must be in [0, 1). Received: dropout=1.0"),
    (dict(units=4, recurrent_dropout=-0.1),
     "`recurrent_dropout` must be in [0, 1). Received: recurrent_dropout=-0.1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SimpleRNN(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match=re.escape(
            "SimpleRNN expects inputs of shape (batch, time, features). "
            "Received: inputs.shape=(4, 3)")):
        SimpleRNN(2)(np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match=re.escape(
            "SimpleRNN expects 1 initial state tensor(s) of sizes [2]. Received: 2 tensor(s).")):
        SimpleRNN(2)(X, initial_state=[np.zeros((4, 2), "float32")] * 2)
    with pytest.raises(ValueError, match=re.escape(
            "SimpleRNN expects initial_state[0] of shape (batch, 2). "
            "Received: initial_state[0].shape=(4, 3)")):
        SimpleRNN(2)(X, initial_state=[np.zeros((4, 3), "float32")])
    with pytest.raises(ValueError, match=re.escape("`cell` must be a Keras layer")):
        RNN(cell="lstm")


def test_cell_alone_matches_one_step():
    cell = SimpleRNNCell(3)
    out, [h] = cell(X[:, 0], [np.zeros((4, 3), "float32")])
    layer = SimpleRNN(3)
    layer(X[:, :1])
    layer.set_weights(cell.get_weights())
    np.testing.assert_allclose(np.asarray(layer(X[:, :1])), np.asarray(out), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(h))


def test_jit_compiled_fit():
    model = keras.Sequential([keras.Input((7, 3)), SimpleRNN(4), keras.layers.Dense(1)])
    model.compile("sgd", "mse", jit_compile=True)
    history = model.fit(X, np.ones((4, 1)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
