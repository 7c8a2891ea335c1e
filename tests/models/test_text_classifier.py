"""TextClassifier: every encoder builds, fits, masks padding, round-trips; parameter counts."""

import re

import keras
import numpy as np
import pytest

from seqmodels.models.text_classifier import ENCODERS, TextClassifier

IDS = np.array([[5, 8, 2, 9, 0, 0], [3, 3, 7, 1, 4, 2], [6, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 0]])
LABELS = np.array([0, 1, 0, 1])
SMALL = dict(vocab_size=12, num_classes=2, sequence_length=6, hidden_dim=4, num_layers=1,
             num_heads=2, intermediate_dim=8, dropout=0.0)


def _expected_params(encoder, v=12, h=4, ff=8, classes=2, seq=6):
    """Parameter counts worked out by hand for SMALL."""
    if encoder == "transformer":
        embedding = v * h + seq * h
        attention = 4 * (h * h + h)
        block = attention + 2 * 2 * h + (h * ff + ff) + (ff * h + h)
        return embedding + block + h * classes + classes
    rnn = {"simple_rnn": h * h + h * h + h, "lstm": 4 * (h * h + h * h + h),
           "gru": 3 * (h * h + h * h) + 2 * 3 * h, "bilstm": 2 * 4 * (h * h + h * h + h)}[encoder]
    width = 2 * h if encoder == "bilstm" else h
    return v * h + rnn + width * classes + classes


@pytest.mark.parametrize("encoder", ENCODERS)
def test_parameter_count_per_encoder(encoder):
    assert TextClassifier(encoder=encoder, **SMALL).count_params() == _expected_params(encoder)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_fit_step_and_save_load(encoder, tmp_path):
    model = TextClassifier(encoder=encoder, **SMALL)
    # One batch an epoch, run eagerly: the same train steps without tracing a train function.
    model.compile(keras.optimizers.Adam(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    losses = model.fit(IDS, LABELS, epochs=4, batch_size=4, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, TextClassifier) and loaded.get_config() == model.get_config()
    # Called in inference mode rather than through `predict`: the same outputs, without a
    # trace of a predict function for each model.
    np.testing.assert_allclose(np.asarray(loaded(IDS, training=False)),
                               np.asarray(model(IDS, training=False)), atol=1e-5)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_padding_does_not_change_the_prediction(encoder):
    model = TextClassifier(encoder=encoder, **SMALL)
    short = np.asarray(model(np.array([[5, 8, 2]])))
    padded = np.asarray(model(np.array([[5, 8, 2, 0, 0, 0]])))
    np.testing.assert_allclose(short, padded, atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match=re.escape(
            "`encoder` must be one of simple_rnn, lstm, gru, bilstm, transformer. "
            "Received: encoder='cnn'")):
        TextClassifier(12, 2, encoder="cnn")
    with pytest.raises(ValueError, match=re.escape(
            "`num_classes` must be a positive integer. Received: num_classes=0")):
        TextClassifier(12, 0)
