"""Forecaster: shapes, persistence start, fit, save/load, parameter counts, errors."""

import re

import keras
import numpy as np
import pytest

from seqmodels.models.forecaster import ENCODERS, Forecaster

WINDOWS = np.random.default_rng(0).normal(size=(8, 10, 3)).astype("float32")


def _expected_params(encoder, f=3, h=4, horizon=2, targets=1, ff=8):
    head = h * horizon * targets + horizon * targets
    if encoder == "rnn":
        return f * h + h * h + h + head
    if encoder == "lstm":
        return 4 * (f * h + h * h + h) + head
    block = 4 * (h * h + h) + 2 * 2 * h + (h * ff + ff) + (ff * h + h)
    return (f * h + h) + block + head


@pytest.mark.parametrize("encoder", ENCODERS)
def test_shapes_counts_fit_and_round_trip(encoder, tmp_path):
    model = Forecaster(10, 3, horizon=2, num_targets=1, encoder=encoder, hidden_dim=4,
                       num_heads=2, intermediate_dim=8)
    assert model.count_params() == _expected_params(encoder)
    assert model(WINDOWS).shape == (8, 2, 1)
    targets = WINDOWS[:, -2:, :1] * 0.5
    # One batch an epoch, run eagerly: the same train steps without tracing a train function.
    model.compile(keras.optimizers.Adam(0.02), "mse", run_eagerly=True)
    losses = model.fit(WINDOWS, targets, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    model.save(tmp_path / "f.keras")
    loaded = keras.saving.load_model(tmp_path / "f.keras")
    # Called in inference mode rather than through `predict`: the same outputs, without a
    # trace of a predict function for each model.
    np.testing.assert_allclose(np.asarray(loaded(WINDOWS, training=False)),
                               np.asarray(model(WINDOWS, training=False)), atol=1e-5)


def test_forecast_is_a_residual_on_the_last_value():
    model = Forecaster(10, 3, horizon=2, encoder="lstm", hidden_dim=4)
    head = model.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    np.testing.assert_allclose(np.asarray(model(WINDOWS)),
                               np.repeat(WINDOWS[:, -1:, :], 2, axis=1), atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match=re.escape(
            "`encoder` must be one of rnn, lstm, transformer. Received: encoder='gru'")):
        Forecaster(10, 3, encoder="gru")
    with pytest.raises(ValueError, match=re.escape(
            "`num_targets` must be at most `num_features` (targets are the first features). "
            "Received: num_targets=4, num_features=3")):
        Forecaster(10, 3, num_targets=4)
