"""export_reusable: Keras backbones and text preprocessors as TF2 reusable SavedModels."""

import os
import re
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.hub import HubLayer, export_reusable
from seqmodels.hub.handles import import_tensorflow_hub
from tests.hub.saved_models import ENCODER_KEYS, REGULARIZATION, VocabPreprocessor, build_backbone


def test_keras_backbone_loads_with_hub_load(tmp_path):
    hub = import_tensorflow_hub()
    # The stand-in for the pkg_resources that tensorflow_hub imports does not outlive the import.
    pkg_resources = sys.modules.get("pkg_resources")
    assert pkg_resources is None or hasattr(pkg_resources, "working_set")  # absent, or the real one
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu",
                           kernel_regularizer=keras.regularizers.L2(REGULARIZATION)),
        keras.layers.Dropout(0.5),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(3),
    ])
    path = export_reusable(model, str(tmp_path / "backbone"))
    loaded = hub.load(path)
    # Kernel, bias, gamma, beta, kernel, bias; moving mean and variance, the dropout's seed.
    assert len(loaded.trainable_variables) == len(model.trainable_variables) == 6
    assert len(loaded.variables) == 9
    assert len(loaded.__call__.concrete_functions) == 2  # training False and True
    x = np.random.RandomState(0).randn(5, 6).astype("float32")
    np.testing.assert_allclose(loaded(x).numpy(), model(x, training=False).numpy(), atol=1e-6)
    np.testing.assert_allclose(loaded(x, training=False).numpy(), loaded(x).numpy())
    assert not np.allclose(loaded(x, training=True).numpy(), loaded(x).numpy())
    model(x)
    assert len(loaded.regularization_losses) == 1
    np.testing.assert_allclose(float(loaded.regularization_losses[0]()),
                               float(model.losses[0]), rtol=1e-6)
    serving = loaded.signatures["serving_default"]
    np.testing.assert_allclose(serving(inputs=tf.constant(x))["output_0"].numpy(),
                               loaded(x).numpy(), atol=1e-6)


def test_training_call_updates_batch_statistics_through_hub_layer(tmp_path):
    path = export_reusable(build_backbone(), str(tmp_path / "backbone"))
    layer = HubLayer(path, trainable=True)
    moving_mean = [w for w in layer.non_trainable_weights if "moving_mean" in w.name][0]
    x = np.random.RandomState(0).randn(8, 6).astype("float32") + 3.0
    layer(x, training=False)
    np.testing.assert_array_equal(moving_mean.numpy(), np.zeros(8))
    layer(x, training=True)
    assert not np.allclose(moving_mean.numpy(), 0.0)


def test_dict_encoder_round_trip(tmp_path):
    inputs = {key: keras.Input((None,), dtype="int32", name=key) for key in ENCODER_KEYS}
    embedded = keras.layers.Embedding(12, 4)(inputs["input_word_ids"])
    embedded = embedded + keras.layers.Embedding(2, 4)(inputs["input_type_ids"])
    mask = keras.ops.expand_dims(keras.ops.cast(inputs["input_mask"], "float32"), -1)
    sequence = keras.layers.Dense(4, activation="tanh")(embedded) * mask
    pooled = keras.layers.Dense(4, activation="tanh")(keras.ops.mean(sequence, axis=1))
    encoder = keras.Model(inputs, {"pooled_output": pooled, "sequence_output": sequence})
    path = export_reusable(encoder, str(tmp_path / "encoder"))
    ids = np.array([[2, 3, 0], [4, 0, 0]], "int32")
    x = {"input_word_ids": ids, "input_mask": (ids > 0).astype("int32"),
         "input_type_ids": np.zeros_like(ids)}
    expected = encoder(x)
    layer = HubLayer(path, output_key="sequence_output")
    np.testing.assert_allclose(layer(x).numpy(), expected["sequence_output"].numpy(), atol=1e-6)
    signature = tf.saved_model.load(path).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == sorted(ENCODER_KEYS)
    outputs = signature(**{key: tf.constant(value) for key, value in x.items()})
    np.testing.assert_allclose(outputs["pooled_output"].numpy(),
                               expected["pooled_output"].numpy(), atol=1e-6)


def test_text_preprocessor_carries_its_vocabulary_as_an_asset(tmp_path):
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("good\nbad\nfilm\n")
    preprocessor = VocabPreprocessor(str(vocabulary), seq_length=4)
    text = tf.constant(["Good film", "bad bad plot"])
    expected = preprocessor(text)
    path = export_reusable(preprocessor, str(tmp_path / "preprocessor"),
                           input_signature=tf.TensorSpec([None], tf.string))
    os.remove(vocabulary)
    assert os.listdir(os.path.join(path, "assets")) == ["vocab.txt"]
    outputs = HubLayer(path)(text)
    np.testing.assert_array_equal(outputs["input_word_ids"].numpy(), [[2, 4, 0, 0], [3, 3, 1, 0]])
    for key in ENCODER_KEYS:
        np.testing.assert_array_equal(outputs[key].numpy(), expected[key].numpy())


def test_module_and_plain_function_with_a_lookup_table(tmp_path):
    vocabulary = tmp_path / "words.txt"
    vocabulary.write_text("[PAD]\n[UNK]\nhello\nworld\n")
    initializer = tf.lookup.TextFileInitializer(
        str(vocabulary), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
    table = tf.lookup.StaticHashTable(initializer, default_value=1)

    class Tokenizer(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = table

        def __call__(self, text):
            return self.table.lookup(tf.strings.split(text).to_tensor(""))

    traces = []

    def tokenize(text):
        traces.append(text)
        return table.lookup(tf.strings.split(text).to_tensor(""))

    spec = tf.TensorSpec([None], tf.string)
    module_dir = export_reusable(Tokenizer(), str(tmp_path / "module"), input_signature=spec)
    function_dir = export_reusable(tokenize, str(tmp_path / "function"), input_signature=spec,
                                   track=[table])
    # Traced once for each `training` value: the save and the signature reuse those graphs.
    assert len(traces) == 2
    os.remove(vocabulary)
    text = tf.constant(["hello world", "world again"])
    for path in (module_dir, function_dir):
        assert os.listdir(os.path.join(path, "assets")) == ["words.txt"]
        loaded = tf.saved_model.load(path)
        np.testing.assert_array_equal(loaded(text).numpy(), [[2, 3], [3, 1]])
        np.testing.assert_array_equal(loaded(text, training=True).numpy(), [[2, 3], [3, 1]])


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "`obj` must be built before export: call the Dense once or build it. Received: an "
            "unbuilt layer")):
        export_reusable(keras.layers.Dense(2), str(tmp_path / "x"))
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match=re.escape(
            "`input_signature` is required when the inputs cannot be read from a functional or "
            "Sequential model")):
        export_reusable(layer, str(tmp_path / "x"))
    with pytest.raises(ValueError, match=re.escape(
            "`obj` must be a Keras model or layer, a tf.Module or a callable. Received: obj of "
            "type int")):
        export_reusable(3, str(tmp_path / "x"))
    with pytest.raises(ValueError, match=re.escape(
            "`track` must be a list or tuple. Received: track='table'")):
        export_reusable(layer, str(tmp_path / "x"), input_signature=tf.TensorSpec([None, 3]),
                        track="table")
    # A Dense layer given its signature exports fine.
    path = export_reusable(layer, str(tmp_path / "dense"),
                           input_signature=tf.TensorSpec([None, 3], tf.float32))
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(HubLayer(path)(x).numpy(), layer(x).numpy(), atol=1e-6)
