"""Compiled searches: one trace per setting, and a model that decoded saves as one that did not."""

import keras
import numpy as np
import tensorflow as tf

from seqmodels.decoding import compiled
from seqmodels.models.mini_gpt import MiniGPT


def test_one_function_per_key():
    class Owner:
        pass

    owner, traces = Owner(), []

    def double(x):
        traces.append(1)
        return 2 * x

    spec = [tf.TensorSpec([None], tf.int32)]
    first = compiled(owner, "double", double, spec)
    assert compiled(owner, "double", double, spec) is first
    assert compiled(owner, "triple", lambda x: 3 * x, spec) is not first
    first(tf.constant([1, 2]))
    first(tf.constant([1, 2, 3]))  # another length: the same trace
    assert len(traces) == 1


def test_a_model_that_decoded_saves_and_exports_as_before(tmp_path):
    gpt = MiniGPT(12, max_length=10, hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16)
    prompt = np.array([[1, 2]])
    tokens = gpt.generate(prompt, 4)
    assert gpt.compiled_functions.functions  # the compiled loop is kept on the model
    gpt.save(tmp_path / "gpt.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "gpt.keras").generate(
        prompt, 4), tokens)
    # tf.saved_model.save walks the model's attributes: a tracked dict of functions would be
    # saved (and restored) with it; the plain holder is not.
    tf.saved_model.save(gpt, str(tmp_path / "saved"))
    assert not hasattr(tf.saved_model.load(str(tmp_path / "saved")), "compiled_functions")
