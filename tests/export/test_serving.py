"""export_for_serving's versioned layout: numbered versions, never overwritten, raw text in.

(The signatures of every model kind, bad inputs and argument errors: test_export_for_serving.py.)
"""

import os
import re

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


def test_a_version_appears_whole_or_not_at_all(trained, tmp_path, monkeypatch):
    """The version is written into a partial sibling TF Serving ignores, then renamed."""
    from seqmodels.export import serving, tf_serving

    model, vectorizer = trained
    seen = {}
    write_warmup = tf_serving.write_warmup

    def look_then_write(path, *args):
        seen["listing"] = sorted(os.listdir(tmp_path))  # mid-export, after the SavedModel
        return write_warmup(path, *args)

    monkeypatch.setattr(tf_serving, "write_warmup", look_then_write)
    # A partial version a killed process left (its pid is gone) is cleaned up.
    dead = os.path.join(tmp_path, f"{serving.PARTIAL_PREFIX}1-999999999-abcd1234")
    os.makedirs(dead)
    path = export_for_serving(model, str(tmp_path), vectorizer=vectorizer)
    assert not any(name.isdigit() for name in seen["listing"])
    assert [n for n in seen["listing"] if n.startswith(serving.PARTIAL_PREFIX)][0].startswith(
        f"{serving.PARTIAL_PREFIX}1-{os.getpid()}-")
    assert sorted(os.listdir(tmp_path)) == ["1", "models.config"]
    assert os.path.exists(os.path.join(path, "saved_model.pb"))


KILLED_EXPORT = """
import os, signal, sys
import tensorflow as tf
from seqmodels import data
from seqmodels.export import export_for_serving, tf_serving
from seqmodels.models.text_classifier import TextClassifier
vectorizer = data.text_vectorizer(["a good film", "a bad film"], vocab_size=20, sequence_length=8)
model = TextClassifier(20, 2, encoder="gru", hidden_dim=4)
tf_serving.write_warmup = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # after the SavedModel
export_for_serving(model, sys.argv[1], vectorizer=vectorizer)
"""


def test_a_sigkill_mid_export_leaves_no_version(trained, tmp_path):
    import subprocess
    import sys

    killed = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(tmp_path)],
                            capture_output=True, text=True, timeout=120,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not any(name.isdigit() for name in os.listdir(tmp_path))  # nothing TF Serving loads
    assert next_version(str(tmp_path)) == 1
    model, vectorizer = trained
    assert os.path.basename(export_for_serving(model, str(tmp_path), vectorizer=vectorizer)) == "1"
    assert sorted(os.listdir(tmp_path)) == ["1", "models.config"]  # the partial one is gone


def test_bad_arguments_are_named_before_anything_is_written(trained, tmp_path):
    model, vectorizer = trained
    big = data.text_vectorizer(TEXTS + ["many new words " + " ".join(f"w{i}" for i in range(30))],
                               vocab_size=100, sequence_length=8)
    with pytest.raises(ValueError, match=r"`vectorizer` yields ids up to \d+, but the model "
                                         r"embeds 20 ids \(its vocab_size\)"):
        export_for_serving(model, str(tmp_path / "a"), vectorizer=big)
    with pytest.raises(ValueError, match="`class_names` must name each of the model's 2 classes"):
        export_for_serving(model, str(tmp_path / "b"), vectorizer=vectorizer,
                           class_names=["only one"])
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match=re.escape(
            f"`export_dir` must be a directory, but it is the file {a_file}")):
        export_for_serving(model, str(a_file), vectorizer=vectorizer)
    with pytest.raises(NotADirectoryError, match="it lies under the file"):
        export_for_serving(model, str(a_file / "sentiment"), vectorizer=vectorizer)
    assert sorted(os.listdir(tmp_path)) == ["file"] and a_file.read_text() == "x"
