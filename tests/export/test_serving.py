"""Text-classifier export: versioned layout, raw text in, equal outputs outside our code."""

import json
import os
import re
import subprocess
import sys

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


def test_versions_and_fresh_process_parity(trained, tmp_path):
    model, vectorizer = trained
    first = export_text_classifier(model, vectorizer, ["rotten", "fresh"], str(tmp_path))
    second = export_text_classifier(model, vectorizer, ["rotten", "fresh"], str(tmp_path))
    assert (os.path.basename(first), os.path.basename(second)) == ("1", "2")
    assert next_version(str(tmp_path)) == 3
    with pytest.raises(FileExistsError, match="TF Serving versions are immutable"):
        export_text_classifier(model, vectorizer, ["rotten", "fresh"], str(tmp_path), version=1)
    expected = tf.nn.softmax(model(vectorizer(tf.constant(TEXTS)))).numpy()
    # A process that never imports seqmodels loads the export and gets the same numbers.
    script = (
        "import json, sys, tensorflow as tf\n"
        "f = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "out = f(text=tf.constant(json.loads(sys.argv[2])))\n"
        "print(json.dumps({k: v.numpy().tolist() if v.dtype != tf.string else "
        "[x.decode() for x in v.numpy()] for k, v in out.items()}))\n")
    result = subprocess.run([sys.executable, "-c", script, first, json.dumps(TEXTS)],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "seqmodels" not in result.stderr
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    assert outputs["class_name"] == [["rotten", "fresh"][i] for i in expected.argmax(-1)]


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
