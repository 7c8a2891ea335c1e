"""GRU: the Keras contract and parity with keras.layers.GRU (reset_after True and False)."""

import keras
import numpy as np
import pytest

from seqmodels.layers.gru import GRU
from tests.layer_test_case import run_layer_test
from tests.layers.rnn_parity import MASK, X, check_parity, gradients, max_error, paired


@pytest.mark.parametrize("kwargs", [
    dict(), dict(return_sequences=True), dict(return_state=True),
    dict(go_backwards=True, return_sequences=True, return_state=True),
    dict(reset_after=False, return_sequences=True), dict(use_bias=False),
])
def test_parity_with_keras(kwargs):
    check_parity(GRU, keras.layers.GRU, **kwargs)


def test_layer_contract(tmp_path):
    run_layer_test(GRU, dict(units=4, return_sequences=True, recurrent_dropout=0.1), X,
                   (4, 7, 4), tmp_path=tmp_path)
    run_layer_test(GRU, dict(units=4, reset_after=False), X, (4, 4), tmp_path=tmp_path)


def test_initial_state_parity():
    ours, reference = paired(GRU, keras.layers.GRU, return_sequences=True, return_state=True)
    h0 = np.random.default_rng(3).normal(size=(4, 5)).astype("float32")
    assert max_error(ours(X, initial_state=[h0], mask=MASK),
                     reference(X, initial_state=[h0], mask=MASK)) <= 1e-5
    assert max_error(gradients(ours, X, MASK, [h0]), gradients(reference, X, MASK, [h0])) <= 1e-5


def test_bias_shapes():
    assert paired(GRU, keras.layers.GRU)[0].cell.bias.shape == (2, 15)
    assert paired(GRU, keras.layers.GRU, reset_after=False)[0].cell.bias.shape == (15,)
