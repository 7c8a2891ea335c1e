"""LSTM: the Keras contract and parity with keras.layers.LSTM (gates i, f, c, o)."""

import re

import keras
import numpy as np
import pytest

from seqmodels.layers.lstm import LSTM, LSTMCell
from tests.layer_test_case import run_layer_test
from tests.layers.test_rnn import (
    BATCH, CONTRACT_TIME, PARITY_CASES, PARITY_IDS, SHORT_TIME, UNITS,
    check_bidirectional_parity, check_dropout, check_dynamic_time_parity,
    check_masking_from_upstream, check_parity, inputs, paired)


@pytest.mark.parametrize("kwargs, mask_kind, with_initial_state, time", PARITY_CASES,
                         ids=PARITY_IDS)
def test_parity_with_keras(kwargs, mask_kind, with_initial_state, time):
    check_parity(LSTM, keras.layers.LSTM, kwargs, mask_kind, with_initial_state, time)


@pytest.mark.parametrize("kwargs", [
    dict(recurrent_activation="hard_sigmoid", unit_forget_bias=False, return_sequences=True),
    dict(activation="relu", use_bias=False),
])
def test_parity_other_options(kwargs):
    check_parity(LSTM, keras.layers.LSTM, kwargs, "arbitrary")


def test_parity_unknown_time_and_bidirectional():
    check_dynamic_time_parity(LSTM, keras.layers.LSTM)
    check_bidirectional_parity(LSTM, keras.layers.LSTM)


def test_layer_contract(tmp_path):
    x = inputs(time=CONTRACT_TIME)
    run_layer_test(LSTM, dict(units=UNITS, return_sequences=True, dropout=0.1, seed=1),
                   x, (BATCH, CONTRACT_TIME, UNITS), tmp_path=tmp_path)
    run_layer_test(LSTM, dict(units=UNITS, return_state=True, go_backwards=True,
                              recurrent_dropout=0.2, unit_forget_bias=False), x,
                   [(BATCH, UNITS)] * 3, tmp_path=tmp_path)


def test_config_is_flat():
    layer = LSTM(UNITS, recurrent_activation="hard_sigmoid", unit_forget_bias=False,
                 return_state=True)
    config = layer.get_config()
    assert "cell" not in config
    missing = set(keras.layers.LSTM(UNITS).get_config()) - set(config)
    assert not missing, missing
    revived = LSTM.from_config(config)
    assert revived.get_config() == config
    assert revived.recurrent_activation is keras.activations.hard_sigmoid
    assert not revived.unit_forget_bias and revived.return_state


def test_weights_match_keras():
    ours, reference = paired(LSTM, keras.layers.LSTM)
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    assert [tuple(w.shape) for w in ours.weights] == [(3, 16), (4, 16), (16,)]
    assert [w.name for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_forget_bias_starts_at_one():
    layer = LSTM(3, bias_initializer="zeros")
    layer(inputs())
    np.testing.assert_array_equal(np.asarray(layer.cell.bias), [0] * 3 + [1] * 3 + [0] * 6)
    layer = LSTM(3, unit_forget_bias=False)
    layer(inputs())
    np.testing.assert_array_equal(np.asarray(layer.cell.bias), np.zeros(12))


def test_hand_computed_step():
    # One step from (h, c) = (1, 1) with all-ones weights on one unit: z = x + h + 1 per gate.
    layer = LSTM(1, kernel_initializer="ones", recurrent_initializer="ones",
                 bias_initializer="ones", unit_forget_bias=False, return_state=True)
    _, h, c = [np.asarray(t)[0, 0] for t in layer(
        np.array([[[0.5]]], "float32"), initial_state=[np.ones((1, 1), "float32")] * 2)]
    z = 0.5 + 1.0 + 1.0
    sigmoid = 1 / (1 + np.exp(-z))
    expected_c = sigmoid * 1.0 + sigmoid * np.tanh(z)
    np.testing.assert_allclose([h, c], [sigmoid * np.tanh(expected_c), expected_c], rtol=1e-6)


def test_masks():
    check_masking_from_upstream(LSTM)


def test_dropout_only_in_training():
    check_dropout(LSTM)


def test_mixed_precision_close_to_float32():
    full = LSTM(UNITS, return_sequences=True)
    half = LSTM(UNITS, return_sequences=True, dtype="mixed_float16")
    x = inputs()
    full(x)
    half(x)
    half.set_weights(full.get_weights())
    out = half(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert half.cell.kernel.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out, "float32"), full(x), atol=1e-2)


def test_cell_state_size_and_output_shapes():
    assert LSTMCell(3).state_size == [3, 3]
    assert LSTM(3, return_state=True).compute_output_shape((2, 5, 4)) == [(2, 3), (2, 3), (2, 3)]
    assert LSTM(3, return_sequences=True).compute_output_shape((2, 5, 4)) == (2, 5, 3)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=re.escape(
            "`units` must be a positive integer. Received: units=-2")):
        LSTM(-2)
    with pytest.raises(ValueError, match=re.escape(
            "LSTM expects inputs of shape (batch, time, features). "
            "Received: inputs.shape=(5, 23, 3, 1)")):
        LSTM(2)(inputs()[..., None])
    with pytest.raises(ValueError, match=re.escape(
            "LSTM expects 2 initial state tensor(s) of sizes [2, 2]. Received: 1 tensor(s).")):
        LSTM(2)(inputs(), initial_state=[np.zeros((BATCH, 2), "float32")])



def test_stateful_fit_over_batches_matches_keras():
    """`fit(shuffle=False)` over three batches of one stateful model, then `predict`.

    Sequences of `SHORT_TIME` steps: the loop still runs two chunks (of 6), and the states
    carried from batch to batch do not depend on the length. Tracing the train and predict
    steps costs per step written out: 13 at 23 steps (a chunk of 10, a remainder of 3), 6 here.
    """
    def model(layer_class):
        x = keras.Input((SHORT_TIME, 3), batch_size=BATCH)
        return keras.Model(x, keras.layers.Dense(1)(layer_class(UNITS, stateful=True)(x)))

    ours, reference = model(LSTM), model(keras.layers.LSTM)
    reference.set_weights([w * 2 for w in reference.get_weights()])
    ours.set_weights(reference.get_weights())
    x = np.concatenate([inputs(time=SHORT_TIME, seed=seed) for seed in range(3)])
    y = np.random.default_rng(3).normal(size=(len(x), 1))
    results = []
    for model_ in (ours, reference):
        model_.compile(keras.optimizers.SGD(0.1), "mse")
        history = model_.fit(x, y, batch_size=BATCH, shuffle=False, epochs=2, verbose=0)
        states = [np.asarray(state) for state in model_.layers[1].states]
        model_.layers[1].reset_states()
        results.append([np.array(history.history["loss"])] + model_.get_weights() + states
                       + [model_.predict(x, batch_size=BATCH, verbose=0)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_stateful_streaming_one_step_at_a_time_equals_the_whole_sequence():
    """The README's streaming forecaster: feeding one step per call continues the states."""
    whole = LSTM(UNITS, return_sequences=True)
    stream = LSTM(UNITS, return_sequences=True, stateful=True)
    x = inputs(SHORT_TIME)
    expected = np.asarray(whole(x))
    stream(x[:, :1])
    stream.set_weights(whole.get_weights())
    for _ in range(2):  # a second pass after a reset gives the same outputs
        stream.reset_states()
        steps = [np.asarray(stream(x[:, t:t + 1])) for t in range(SHORT_TIME)]
        np.testing.assert_allclose(np.concatenate(steps, axis=1), expected, atol=1e-5)
