"""export_text_classifier (the training binary's path): versioned layout, raw text in."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.export import export_text_classifier, next_version
from seqmodels.models.text_classifier import TextClassifier

TEXTS = ["a good film", "a bad film", "good acting", "bad plot and bad acting"]


@pytest.fixture(scope="module")
def trained():
    vectorizer = data.text_vectorizer(TEXTS, vocab_size=20, sequence_length=8)
    model = TextClassifier(20, 2, encoder="gru", hidden_dim=4)
    return model, vectorizer


def test_versions_and_parity(trained, tmp_path):
    model, vectorizer = trained
    first = export_text_classifier(model, vectorizer, ["rotten", "fresh"], str(tmp_path))
    second = export_text_classifier(model, vectorizer, ["rotten", "fresh"], str(tmp_path))
    assert (os.path.basename(first), os.path.basename(second)) == ("1", "2")
    assert next_version(str(tmp_path)) == 3
    with pytest.raises(FileExistsError, match="TF Serving versions are immutable"):
        export_text_classifier(model, vectorizer, ["rotten", "fresh"], str(tmp_path), version=1)
    expected = tf.nn.softmax(model(vectorizer(tf.constant(TEXTS)))).numpy()
    # (test_export_for_serving runs the same text signature in a process without seqmodels.)
    out = tf.saved_model.load(first).signatures["serving_default"](text=tf.constant(TEXTS))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-6)
    assert [c.decode() for c in out["class_name"].numpy()] == [
        ["rotten", "fresh"][i] for i in expected.argmax(-1)]


def test_signature_and_bad_inputs(trained, tmp_path):
    model, vectorizer = trained
    path = export_text_classifier(model, vectorizer, ["rotten", "fresh"], str(tmp_path))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    assert serve.structured_input_signature[1]["text"].dtype == tf.string
    assert set(serve.structured_outputs) == {"probabilities", "label", "class_name"}
    empty = serve(text=tf.constant([], tf.string))
    assert empty["probabilities"].shape == (0, 2)
    odd = serve(text=tf.constant(["", b"\xff\xfe not utf-8", "word " * 500]))
    assert np.isfinite(odd["probabilities"].numpy()).all()
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serve(text=tf.constant([1.0, 2.0]))


def test_class_names_must_match(trained, tmp_path):
    model, vectorizer = trained
    with pytest.raises(ValueError, match=re.escape(
            "`class_names` must name each of the model's 2 classes. Received: 3 names")):
        export_text_classifier(model, vectorizer, ["a", "b", "c"], str(tmp_path))
