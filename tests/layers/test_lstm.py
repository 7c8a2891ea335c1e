"""LSTM: the Keras contract and parity with keras.layers.LSTM."""

import keras
import numpy as np
import pytest

from seqmodels.layers.lstm import LSTM, LSTMCell
from tests.layer_test_case import run_layer_test
from tests.layers.rnn_parity import MASK, X, check_parity, gradients, max_error, paired


@pytest.mark.parametrize("kwargs", [
    dict(), dict(return_sequences=True), dict(return_state=True),
    dict(go_backwards=True, return_sequences=True, return_state=True),
    dict(recurrent_activation="hard_sigmoid", unit_forget_bias=False),
])
def test_parity_with_keras(kwargs):
    check_parity(LSTM, keras.layers.LSTM, **kwargs)


def test_layer_contract(tmp_path):
    run_layer_test(LSTM, dict(units=4, return_sequences=True, dropout=0.1), X, (4, 7, 4),
                   tmp_path=tmp_path)
    run_layer_test(LSTM, dict(units=4, return_state=True, go_backwards=True), X,
                   [(4, 4), (4, 4), (4, 4)], tmp_path=tmp_path)


def test_initial_state_parity():
    ours, reference = paired(LSTM, keras.layers.LSTM, return_state=True)
    rng = np.random.default_rng(2)
    state = [rng.normal(size=(4, 5)).astype("float32") for _ in range(2)]
    assert max_error(ours(X, initial_state=state, mask=MASK),
                     reference(X, initial_state=state, mask=MASK)) <= 1e-5
    assert max_error(gradients(ours, X, MASK, state), gradients(reference, X, MASK, state)) <= 1e-5


def test_forget_bias_starts_at_one():
    layer = LSTM(3)
    layer(X)
    np.testing.assert_array_equal(np.asarray(layer.cell.bias)[3:6], np.ones(3))
    np.testing.assert_array_equal(np.asarray(layer.cell.bias)[:3], np.zeros(3))


def test_weight_shapes_match_keras():
    ours, reference = paired(LSTM, keras.layers.LSTM)
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    assert [w.name for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_cell_state_size():
    assert LSTMCell(3).state_size == [3, 3]
    assert LSTM(3, return_state=True).compute_output_shape((2, 5, 4)) == [(2, 3), (2, 3), (2, 3)]
