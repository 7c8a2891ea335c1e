"""export_for_serving's versioned layout: numbered versions, never overwritten, raw text in.

(The signatures of every model kind, bad inputs and argument errors: test_export_for_serving.py.)
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.export import export_for_serving, next_version
from seqmodels.models.text_classifier import TextClassifier

TEXTS = ["a good film", "a bad film", "good acting", "bad plot and bad acting"]


@pytest.fixture(scope="module")
def trained():
    vectorizer = data.text_vectorizer(TEXTS, vocab_size=20, sequence_length=8)
    model = TextClassifier(20, 2, encoder="gru", hidden_dim=4)
    return model, vectorizer


def test_versions_and_parity(trained, tmp_path):
    model, vectorizer = trained
    names = ["rotten", "fresh"]
    first = export_for_serving(model, str(tmp_path), vectorizer=vectorizer, class_names=names)
    second = export_for_serving(model, str(tmp_path), vectorizer=vectorizer, class_names=names)
    assert (os.path.basename(first), os.path.basename(second)) == ("1", "2")
    assert next_version(str(tmp_path)) == 3
    with pytest.raises(FileExistsError, match="TF Serving versions are immutable"):
        export_for_serving(model, str(tmp_path), vectorizer=vectorizer, class_names=names,
                           version=1)
    expected = tf.nn.softmax(model(vectorizer(tf.constant(TEXTS)))).numpy()
    # (test_export_for_serving runs the same text signature in a process without seqmodels.)
    out = tf.saved_model.load(first).signatures["serving_default"](text=tf.constant(TEXTS))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-6)
    assert [c.decode() for c in out["class_name"].numpy()] == [
        ["rotten", "fresh"][i] for i in expected.argmax(-1)]
