"""GRU: the Keras contract and parity with keras.layers.GRU (reset_after True and False)."""

import re

import keras
import numpy as np
import pytest

from seqmodels.layers.gru import GRU, GRUCell
from tests.layer_test_case import run_layer_test
from tests.layers.test_rnn import (
    BATCH, CONTRACT_TIME, PARITY_CASES, PARITY_IDS, UNITS, check_bidirectional_parity,
    check_dropout, check_dynamic_time_parity, check_masking_from_upstream, check_parity,
    inputs, paired)


@pytest.mark.parametrize("kwargs, mask_kind, with_initial_state, time", PARITY_CASES,
                         ids=PARITY_IDS)
def test_parity_with_keras(kwargs, mask_kind, with_initial_state, time):
    check_parity(GRU, keras.layers.GRU, kwargs, mask_kind, with_initial_state, time)


@pytest.mark.parametrize("kwargs, mask_kind, with_initial_state", [
    (dict(reset_after=False, return_sequences=True), "arbitrary", False),
    (dict(reset_after=False, return_state=True, go_backwards=True), "right", True),
    (dict(use_bias=False, return_sequences=True), "arbitrary", False),
    (dict(reset_after=False, use_bias=False, recurrent_activation="hard_sigmoid"), None, True),
])
def test_parity_other_options(kwargs, mask_kind, with_initial_state):
    check_parity(GRU, keras.layers.GRU, kwargs, mask_kind, with_initial_state)


def test_parity_unknown_time_and_bidirectional():
    check_dynamic_time_parity(GRU, keras.layers.GRU, reset_after=False)
    check_bidirectional_parity(GRU, keras.layers.GRU)


def test_layer_contract(tmp_path):
    x = inputs(time=CONTRACT_TIME)
    run_layer_test(GRU, dict(units=UNITS, return_sequences=True, recurrent_dropout=0.1, seed=3),
                   x, (BATCH, CONTRACT_TIME, UNITS), tmp_path=tmp_path)
    run_layer_test(GRU, dict(units=UNITS, reset_after=False, return_state=True), x,
                   [(BATCH, UNITS), (BATCH, UNITS)], tmp_path=tmp_path)


def test_config_is_flat():
    config = GRU(UNITS, reset_after=False, go_backwards=True).get_config()
    assert "cell" not in config
    missing = set(keras.layers.GRU(UNITS).get_config()) - set(config)
    assert not missing, missing
    revived = GRU.from_config(config)
    assert revived.get_config() == config
    assert not revived.reset_after and revived.go_backwards


def test_weights_match_keras():
    for reset_after, bias_shape in ((True, (2, 12)), (False, (12,))):
        ours, reference = paired(GRU, keras.layers.GRU, reset_after=reset_after)
        assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
        assert [tuple(w.shape) for w in ours.weights] == [(3, 12), (4, 12), bias_shape]
        assert [w.name for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_hand_computed_step():
    # z = r = sigmoid(x + h + 2) (both biases 1), candidate tanh(x + 1 + r * (h + 1)).
    layer = GRU(1, kernel_initializer="ones", recurrent_initializer="ones",
                bias_initializer="ones")
    h = np.asarray(layer(np.array([[[0.5]]], "float32"),
                         initial_state=[np.full((1, 1), 0.25, "float32")]))[0, 0]
    gate = 1 / (1 + np.exp(-(0.5 + 0.25 + 2.0)))
    candidate = np.tanh(0.5 + 1.0 + gate * (0.25 + 1.0))
    np.testing.assert_allclose(h, gate * 0.25 + (1 - gate) * candidate, rtol=1e-6)


def test_masks():
    check_masking_from_upstream(GRU)


def test_dropout_only_in_training():
    check_dropout(GRU, reset_after=False)


@pytest.mark.parametrize("reset_after", [True, False])
def test_recurrent_dropout_keeps_the_carried_state(reset_after):
    # Update gate saturated at 1 (z = sigmoid(40)): h_t = h_{t-1}. Recurrent dropout drops the
    # inputs of the recurrent products only, so the state still carries over untouched.
    layer = GRU(UNITS, kernel_initializer="zeros", recurrent_initializer="zeros",
                bias_initializer=keras.initializers.Constant(20.0), recurrent_dropout=0.5,
                reset_after=reset_after, seed=6)
    h0 = np.random.default_rng(7).normal(size=(BATCH, UNITS)).astype("float32")
    out = layer(inputs(), initial_state=[h0], training=True)
    np.testing.assert_allclose(out, h0, atol=1e-6)


def test_cell_alone():
    cell = GRUCell(UNITS)
    out, [h] = cell(inputs()[:, 0], [np.zeros((BATCH, UNITS), "float32")])
    assert out.shape == (BATCH, UNITS)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(h))


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=re.escape(
            "`dropout` must be in [0, 1). Received: dropout=1.5")):
        GRU(2, dropout=1.5)
    with pytest.raises(ValueError, match=re.escape(
            "GRU expects initial_state[0] of shape (batch, 2). "
            "Received: initial_state[0].shape=(5, 4)")):
        GRU(2)(inputs(), initial_state=[np.zeros((BATCH, 4), "float32")])
