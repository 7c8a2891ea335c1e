"""SimpleRNN: the Keras contract, parity with keras.layers.SimpleRNN, the recurrence by hand."""

import re

import keras
import numpy as np
import pytest

from seqmodels.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from tests.layer_test_case import run_layer_test
from tests.layers.test_rnn import (
    BATCH, CONTRACT_TIME, FEATURES, PARITY_CASES, PARITY_IDS, TIME, UNITS,
    check_bidirectional_parity, check_dropout, check_dynamic_time_parity,
    check_masking_from_upstream, check_parity, inputs, paired)


@pytest.mark.parametrize("kwargs, mask_kind, with_initial_state, time", PARITY_CASES,
                         ids=PARITY_IDS)
def test_parity_with_keras(kwargs, mask_kind, with_initial_state, time):
    check_parity(SimpleRNN, keras.layers.SimpleRNN, kwargs, mask_kind, with_initial_state, time)


@pytest.mark.parametrize("kwargs", [dict(activation="relu", use_bias=False),
                                    dict(activation="sigmoid", return_sequences=True)])
def test_parity_other_options(kwargs):
    check_parity(SimpleRNN, keras.layers.SimpleRNN, kwargs, "arbitrary")


def test_parity_unknown_time_and_bidirectional():
    check_dynamic_time_parity(SimpleRNN, keras.layers.SimpleRNN)
    check_bidirectional_parity(SimpleRNN, keras.layers.SimpleRNN)


def test_layer_contract(tmp_path):
    x = inputs(time=CONTRACT_TIME)
    run_layer_test(SimpleRNN, dict(units=UNITS, return_sequences=True, dropout=0.1,
                                   recurrent_dropout=0.1, seed=2), x,
                   (BATCH, CONTRACT_TIME, UNITS), tmp_path=tmp_path)
    run_layer_test(SimpleRNN, dict(units=UNITS, return_state=True, go_backwards=True,
                                   activation="relu", kernel_regularizer="l2"),
                   x, [(BATCH, UNITS), (BATCH, UNITS)], tmp_path=tmp_path)


def test_config_is_flat_and_matches_keras():
    layer = SimpleRNN(UNITS, activation="relu", dropout=0.25, go_backwards=True,
                      bias_initializer="ones", name="rnn")
    config = layer.get_config()
    assert "cell" not in config
    keras_config = keras.layers.SimpleRNN(UNITS).get_config()
    assert set(keras_config) <= set(config), set(keras_config) - set(config)
    revived = SimpleRNN.from_config(config)
    assert revived.get_config() == config
    assert (revived.units, revived.dropout, revived.go_backwards) == (UNITS, 0.25, True)
    assert revived.activation is keras.activations.relu


def test_weights_match_keras():
    ours, reference = paired(SimpleRNN, keras.layers.SimpleRNN)
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    assert [w.name for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_hand_computed_recurrence():
    # h_t = tanh(W_xh x_t + W_hh h_{t-1} + b) with constant weights, worked out by hand.
    layer = SimpleRNN(1, kernel_initializer="ones", recurrent_initializer="ones",
                      bias_initializer=keras.initializers.Constant(0.5), return_sequences=True)
    out = np.asarray(layer(np.array([[[1.0], [2.0]]], "float32")))
    h1 = np.tanh(1.0 + 0.0 + 0.5)
    h2 = np.tanh(2.0 + h1 + 0.5)
    np.testing.assert_allclose(out[0, :, 0], [h1, h2], rtol=1e-6)


def test_masks():
    check_masking_from_upstream(SimpleRNN)


def test_dropout_only_in_training():
    check_dropout(SimpleRNN)


def test_one_dropout_mask_per_sequence():
    # Identity input kernel, no recurrence, linear: h_t = x_t * input_mask, the same every step
    # for constant inputs; entries are 0 or 1 / (1 - rate).
    layer = SimpleRNN(FEATURES, activation=None, kernel_initializer="identity",
                      recurrent_initializer="zeros", use_bias=False, dropout=0.5, seed=4,
                      return_sequences=True)
    out = np.asarray(layer(np.ones((BATCH, TIME, FEATURES), "float32"), training=True))
    np.testing.assert_array_equal(out, np.repeat(out[:, :1], TIME, axis=1))
    assert set(np.unique(out)) == {0.0, 2.0}
    # No input weight, identity recurrence, linear, h_0 = 1: h_t = h_{t-1} * recurrent_mask,
    # so h_t = m ** t with one mask m per sequence.
    layer = SimpleRNN(UNITS, activation=None, kernel_initializer="zeros",
                      recurrent_initializer="identity", use_bias=False, recurrent_dropout=0.5,
                      seed=5, return_sequences=True)
    out = np.asarray(layer(inputs(time=3), initial_state=[np.ones((BATCH, UNITS), "float32")],
                           training=True))
    np.testing.assert_allclose(out, out[:, :1] ** np.arange(1, 4)[None, :, None])
    assert 0 < (out[:, 0] == 0).mean() < 1


def test_cell_alone_matches_one_step():
    cell = SimpleRNNCell(UNITS)
    x = inputs()
    out, [h] = cell(x[:, 0], [np.zeros((BATCH, UNITS), "float32")])
    layer = SimpleRNN(UNITS)
    layer(x[:, :1])
    layer.set_weights(cell.get_weights())
    np.testing.assert_allclose(np.asarray(layer(x[:, :1])), np.asarray(out), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(h))
    assert (cell.state_size, cell.output_size) == (UNITS, UNITS)


@pytest.mark.parametrize("kwargs, message", [
    (dict(units=0), "`units` must be a positive integer. Received: units=0"),
    (dict(units=2.5), "`units` must be a positive integer. Received: units=2.5"),
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
        SimpleRNN(2)(inputs(), initial_state=[np.zeros((BATCH, 2), "float32")] * 2)
    with pytest.raises(ValueError, match=re.escape(
            "SimpleRNN expects initial_state[0] of shape (batch, 2). "
            "Received: initial_state[0].shape=(5, 3)")):
        SimpleRNN(2)(inputs(), initial_state=[np.zeros((BATCH, 3), "float32")])
    with pytest.raises(ValueError, match=re.escape(
            "SimpleRNN expects inputs of shape (batch, time, features). "
            "Received: inputs.shape=(None, 3)")):
        SimpleRNN(2)(keras.Input((3,)))
