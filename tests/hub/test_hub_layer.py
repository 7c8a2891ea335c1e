"""HubLayer on SavedModels built by the tests: fine-tuning, dicts, signatures, losses, saving.

(Resolving handles, local and remote: test_handles.py.)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.saving.serialization_lib import SafeModeScope

from seqmodels.hub import HubLayer, export_reusable
from tests.hub.saved_models import (ENCODER_KEYS, REGULARIZATION, WIDTH, WORDS,
                                    VocabPreprocessor, build_backbone, encoder_inputs)
from tests.layer_test_case import run_layer_test

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IDS = [[2, 3, 4, 0], [5, 6, 0, 0], [7, 8, 9, 10], [3, 0, 0, 0]]
LABELS = np.array([1, 0, 1, 0])


def _run_python(code, timeout=120, env=None):
    """Runs `code` in a fresh interpreter from the repository root; returns its last stdout line."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO, **(env or {}))
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout, env=full_env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def _classifier(encoder_dir, trainable=True):
    inputs = {key: keras.Input((None,), dtype="int32", name=key) for key in ENCODER_KEYS}
    encoder = HubLayer(encoder_dir, trainable=trainable, output_key="pooled_output")
    logits = keras.layers.Dense(2, name="head")(encoder(inputs))
    return keras.Model(inputs, logits), encoder


def test_layer_contract_on_a_keras_backbone(backbone_dir, tmp_path):
    x = np.random.RandomState(0).randn(4, 6).astype("float32")
    with SafeModeScope(False):
        output = run_layer_test(HubLayer, {"handle": backbone_dir, "trainable": True}, x,
                                expected_output_shape=(4, 3), tmp_path=tmp_path)
    expected = build_backbone()(x, training=False)
    np.testing.assert_allclose(np.array(output), np.array(expected), atol=1e-6)


def test_fine_tuning_updates_the_loaded_variables_and_lowers_the_loss(encoder_dir):
    model, encoder = _classifier(encoder_dir)
    x = encoder_inputs(IDS)
    loaded = encoder._loaded.trainable_variables
    initial = [v.numpy() for v in loaded]
    model.compile(keras.optimizers.Adam(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss_before = model.evaluate(x, LABELS, verbose=0)
    model.fit(x, LABELS, batch_size=4, epochs=6, verbose=0)
    loss_after = model.evaluate(x, LABELS, verbose=0)
    assert loss_after < loss_before, (loss_before, loss_after)
    assert len(encoder.trainable_weights) == 3
    for variable, weight, start in zip(loaded, encoder.trainable_weights, initial):
        assert weight.value is variable  # adopted, not copied
        assert not np.allclose(variable.numpy(), start)
    # fit() ran the SavedModel in training mode: its counter moved once a step.
    assert encoder._loaded.variables[3].numpy() == 6


def test_training_reaches_the_saved_model_only_when_trainable(encoder_dir):
    x = encoder_inputs(IDS)
    layer = HubLayer(encoder_dir, trainable=True, output_key="sequence_output")
    calls = layer._loaded.variables[3]
    inference = layer(x, training=False).numpy()
    np.testing.assert_array_equal(layer(x).numpy(), inference)
    assert not np.allclose(layer(x, training=True).numpy(), inference)  # dropout
    assert calls.numpy() == 1

    frozen = HubLayer(encoder_dir, trainable=False, output_key="sequence_output")
    np.testing.assert_array_equal(frozen(x, training=True).numpy(), inference)
    assert frozen._loaded.variables[3].numpy() == 0


def test_frozen_layer_keeps_its_weights(encoder_dir):
    model, encoder = _classifier(encoder_dir, trainable=False)
    assert encoder.trainable_weights == []
    assert len(encoder.non_trainable_weights) == 4
    assert [w.name for w in model.trainable_weights] == ["kernel", "bias"]
    before = [w.numpy() for w in encoder.weights]
    head_before = model.get_layer("head").kernel.numpy()
    model.compile(keras.optimizers.SGD(0.5),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(encoder_inputs(IDS), LABELS, epochs=2, verbose=0)
    for weight, start in zip(encoder.weights, before):
        np.testing.assert_array_equal(weight.numpy(), start)
    assert not np.allclose(model.get_layer("head").kernel.numpy(), head_before)
    assert model.losses == []  # regularization only while trainable
    encoder.trainable = True  # the second stage of a fine-tune schedule
    assert [w.name for w in encoder.trainable_weights] == [
        "encoder_embeddings", "encoder_type_embeddings", "encoder_pooler_kernel"]
    model(encoder_inputs(IDS))
    assert len(model.losses) == 1


def test_dict_inputs_and_outputs_and_output_key(encoder_dir):
    x = encoder_inputs(IDS)
    layer = HubLayer(encoder_dir)
    outputs = layer(x)
    assert sorted(outputs) == ["pooled_output", "sequence_output"]
    assert tuple(outputs["pooled_output"].shape) == (4, WIDTH)
    assert tuple(outputs["sequence_output"].shape) == (4, 4, WIDTH)
    shapes = {key: (None, 7) for key in ENCODER_KEYS}
    assert layer.compute_output_shape(shapes) == {"pooled_output": (None, WIDTH),
                                                 "sequence_output": (None, 7, WIDTH)}
    pooled = HubLayer(encoder_dir, output_key="pooled_output")
    np.testing.assert_array_equal(pooled(x).numpy(), outputs["pooled_output"].numpy())
    assert pooled.compute_output_shape(shapes) == (None, WIDTH)
    # int64 ids (numpy's default) are cast to the int32 the SavedModel was traced for.
    x64 = {key: value.astype("int64") for key, value in x.items()}
    np.testing.assert_array_equal(pooled(x64).numpy(), outputs["pooled_output"].numpy())


def test_arguments_are_passed_to_every_call(encoder_dir):
    x = encoder_inputs(IDS)
    plain = HubLayer(encoder_dir, output_key="pooled_output")(x).numpy()
    scaled = HubLayer(encoder_dir, output_key="pooled_output", arguments={"output_scale": 2.0})
    np.testing.assert_allclose(scaled(x).numpy(), 2.0 * plain, rtol=1e-6)
    assert scaled.get_config()["arguments"] == {"output_scale": 2.0}


def test_signature(encoder_dir, backbone_dir):
    x = encoder_inputs(IDS)
    expected = HubLayer(encoder_dir)(x)
    layer = HubLayer(encoder_dir, signature="serving_default")
    outputs = layer(x)
    for key in ("pooled_output", "sequence_output"):
        np.testing.assert_allclose(outputs[key].numpy(), expected[key].numpy(), atol=1e-6)
    pooled = HubLayer(encoder_dir, signature="serving_default", output_key="pooled_output")
    inputs = {key: keras.Input((None,), dtype="int32", name=key) for key in ENCODER_KEYS}
    model = keras.Model(inputs, pooled(inputs))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected["pooled_output"].numpy(),
                               atol=1e-6)
    # A one-input signature takes the tensor itself; export_reusable names its output output_0.
    features = np.random.RandomState(0).randn(3, 6).astype("float32")
    served = HubLayer(backbone_dir, signature="serving_default", output_key="output_0")
    np.testing.assert_allclose(served(features).numpy(),
                               HubLayer(backbone_dir)(features).numpy(), atol=1e-6)
    assert served.compute_output_shape((None, 6)) == (None, 3)


def test_regularization_losses_appear_in_model_losses(encoder_dir, backbone_dir):
    model, encoder = _classifier(encoder_dir)
    model(encoder_inputs(IDS))
    kernel = encoder._loaded.variables[2].numpy()
    assert len(model.losses) == 1
    np.testing.assert_allclose(float(model.losses[0]), REGULARIZATION * np.sum(kernel ** 2),
                               rtol=1e-6)
    # The regularizer of a Keras backbone travels through export_reusable.
    source = build_backbone()
    features = np.ones((2, 6), "float32")
    source(features)
    layer = HubLayer(backbone_dir, trainable=True)
    layer(features)
    np.testing.assert_allclose(float(layer.losses[0]), float(source.losses[0]), rtol=1e-6)


def test_sequential_model_fits(backbone_dir):
    layer = HubLayer(backbone_dir, trainable=True)
    model = keras.Sequential([keras.Input((6,)), layer, keras.layers.Dense(1)])
    x = np.random.RandomState(0).randn(16, 6).astype("float32")
    y = x[:, :1] - x[:, 1:2]
    model.compile(keras.optimizers.Adam(0.02), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=8, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    assert model.layers[0] is layer and layer.output.shape == (None, 3)


def test_keras_round_trip_keeps_the_fine_tuned_values(encoder_dir, tmp_path):
    model, encoder = _classifier(encoder_dir)
    x = encoder_inputs(IDS)
    original = [v.numpy() for v in encoder.weights]
    model.compile(keras.optimizers.Adam(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, LABELS, epochs=2, verbose=0)
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    with pytest.raises(ValueError, match=re.escape(
            f"Requested the deserialization of a HubLayer, which loads the SavedModel at "
            f"{encoder_dir!r}; a SavedModel's graph can run arbitrary TensorFlow ops, so this "
            "is disallowed in safe mode.")):
        keras.saving.load_model(path)
    loaded = keras.saving.load_model(path, safe_mode=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    reloaded = [layer for layer in loaded.layers if isinstance(layer, HubLayer)][0]
    assert reloaded.get_config()["handle"] == encoder_dir
    for weight, tuned, start in zip(reloaded.weights, encoder.weights, original):
        np.testing.assert_array_equal(weight.numpy(), tuned.numpy())
    assert not np.allclose(reloaded.weights[0].numpy(), original[0])
    # The restored values live in the reloaded SavedModel's own variables.
    np.testing.assert_array_equal(reloaded._loaded.variables[0].numpy(),
                                  encoder.weights[0].numpy())


def _export_text_model(encoder_dir, tmp_path):
    """Exports a raw-text model (VocabPreprocessor + encoder + head) fitted one epoch; returns its
    directory and sentences (its predictions saved to expected.npy). The vocabulary file and the
    preprocessor's SavedModel are deleted: the export must carry the vocabulary itself."""
    vocabulary = tmp_path / "vocab" / "words.txt"
    vocabulary.parent.mkdir()
    vocabulary.write_text("\n".join(WORDS) + "\n")
    preprocessor = VocabPreprocessor(str(vocabulary))
    preprocessor(tf.constant(["good film"]))
    preprocessor_dir = export_reusable(preprocessor, str(tmp_path / "preprocessor"),
                                       input_signature=tf.TensorSpec([None], tf.string))
    text = keras.Input(shape=(), dtype="string", name="text")
    encoder_inputs_ = HubLayer(preprocessor_dir)(text)
    pooled = HubLayer(encoder_dir, trainable=True, output_key="pooled_output")(encoder_inputs_)
    model = keras.Model(text, keras.layers.Dense(2)(pooled))
    sentences = ["Good film", "dull plot", "great acting fun story", "bad"]
    model.compile(keras.optimizers.Adam(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(tf.constant(sentences), LABELS, epochs=1, verbose=0)
    export_dir = str(tmp_path / "served")
    model.export(export_dir, format="tf_saved_model", verbose=False)
    np.save(tmp_path / "expected.npy", model.predict(tf.constant(sentences), verbose=0))
    os.remove(vocabulary)
    shutil.rmtree(preprocessor_dir)
    return export_dir, sentences


def _export_keras_hub_pair(tmp_path):
    """Exports a keras-hub BERT preprocessor (tensorflow_text ops) and encoder under `tmp_path`
    (keras_hub/...); returns their directories and sentences, the pooled outputs saved to
    keras_hub/expected.npy."""
    import keras_hub
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "plot"]
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        keras_hub.tokenizers.BertTokenizer(vocabulary=vocabulary), sequence_length=6)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=6)
    sentences = ["good film", "bad plot"]
    expected = backbone(preprocessor(tf.constant(sentences)))["pooled_output"].numpy()
    preprocessor_dir = export_reusable(preprocessor, str(tmp_path / "keras_hub" / "preprocessor"),
                                       input_signature=tf.TensorSpec([None], tf.string))
    encoder_dir = export_reusable(backbone, str(tmp_path / "keras_hub" / "encoder"))
    np.save(tmp_path / "keras_hub" / "expected.npy", expected)
    return preprocessor_dir, encoder_dir, sentences


def test_fresh_process_serves_the_text_export_builds_keras_hub_text_ops_and_two_replicas(
        encoder_dir, backbone_dir, tmp_path):
    """Three checks that each need a fresh process, run in one (its start is most of their time;
    the first was a test of its own, the last two already shared a process).

    Text model exports and serves in a fresh process: a raw-text model (VocabPreprocessor +
    HubLayer encoder, fitted) exported with `model.export` carries its vocabulary as its only
    asset, and a process without our code (seqmodels is imported only after this check) serves
    it through `serve` and `serving_default` with Keras' predictions.

    keras-hub preprocessor with tensorflow_text ops: a process that has not imported
    tensorflow_text builds a raw-text model from an exported keras-hub preprocessor and
    encoder; HubLayer imports tensorflow_text for the tokenizer's ops and casts the
    preprocessor's bool padding_mask to the encoder's int32.

    Strategy scope with two replicas: under a MirroredStrategy over two logical CPUs (set
    before TensorFlow starts, hence the fresh process) a HubLayer's variables are mirrored,
    the replicas agree, fit changes every trainable weight and lowers the loss.
    """
    export_dir, served_sentences = _export_text_model(encoder_dir, tmp_path)
    assert os.listdir(os.path.join(export_dir, "assets")) == ["words.txt"]
    preprocessor_dir, keras_hub_encoder_dir, sentences = _export_keras_hub_pair(tmp_path)
    result = _run_python(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        # The text export, served without our code.
        served = tf.saved_model.load({export_dir!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        out = served.serve(tf.constant({served_sentences!r}))
        signature = served.signatures["serving_default"](
            text=tf.constant({served_sentences[:1]!r}))
        serving = {{
            "serve": float(np.abs(out.numpy() - expected).max()),
            "signature": float(np.abs(list(signature.values())[0].numpy() - expected[:1]).max()),
            "seqmodels": any(name.startswith("seqmodels") for name in sys.modules)}}
        import keras
        from seqmodels.hub import HubLayer
        before = "tensorflow_text" in sys.modules
        # The keras-hub preprocessor and encoder, raw text in.
        text = keras.Input(shape=(), dtype="string")
        encoder_inputs = HubLayer({preprocessor_dir!r})(text)
        pooled = HubLayer({keras_hub_encoder_dir!r}, output_key="pooled_output")(encoder_inputs)
        out = keras.Model(text, pooled).predict(tf.constant({sentences!r}), verbose=0)
        error = float(np.abs(out - np.load({str(tmp_path / "keras_hub" / "expected.npy")!r})).max())
        text_ops = {{"before": before, "after": "tensorflow_text" in sys.modules,
                     "error": error}}
        # Two replicas.
        keras.utils.set_random_seed(0)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            layer = HubLayer({backbone_dir!r}, trainable=True)
            model = keras.Sequential([keras.Input((6,)), layer, keras.layers.Dense(1)])
            model.compile(keras.optimizers.Adam(0.02), "mse")
        x = np.random.RandomState(0).randn(32, 6).astype("float32")
        y = x[:, :1] - x[:, 1:2]
        before = [w.numpy() for w in layer.trainable_weights]
        # The mean squared error, called eagerly on the mirrored variables (evaluate would trace
        # a distributed test step for two numbers).
        mse = lambda: float(np.mean((model(x).numpy() - y) ** 2))
        loss_before = mse()
        # The 8 steps of 4 epochs of batch 16 in one epoch over 4 shuffled copies of x: each
        # epoch of a distributed fit costs seconds of its own.
        model.fit(np.tile(x, (4, 1)), np.tile(y, (4, 1)), batch_size=16, epochs=1, verbose=0)
        kernel = layer.trainable_weights[0].value
        print(json.dumps({{"serving": serving, "text_ops": text_ops, "strategy": {{
            "replicas": strategy.num_replicas_in_sync,
            "mirrored": type(kernel).__name__,
            "replicas_agree": all(np.array_equal(v.numpy(), kernel.values[0].numpy())
                                  for v in kernel.values),
            "changed": [bool(not np.allclose(b, w.numpy()))
                        for b, w in zip(before, layer.trainable_weights)],
            "loss": [loss_before, mse()],
        }}}}))
    """, timeout=240)
    result = json.loads(result)
    serving = result["serving"]
    assert serving["serve"] < 1e-6 and serving["signature"] < 1e-6, serving
    assert not serving["seqmodels"]
    text_ops = result["text_ops"]
    assert text_ops == {"before": False, "after": True, "error": text_ops["error"]}
    assert text_ops["error"] < 1e-5
    result = result["strategy"]
    assert result["replicas"] == 2
    assert result["mirrored"] == "MirroredVariable"
    assert result["replicas_agree"]
    assert all(result["changed"]), result
    assert result["loss"][1] < result["loss"][0], result


def test_errors_name_what_is_wrong(encoder_dir, backbone_dir, tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "`output_key` must be one of the SavedModel's outputs ['pooled_output', "
            "'sequence_output']. Received: output_key='pooled'")):
        HubLayer(encoder_dir, output_key="pooled")
    with pytest.raises(ValueError, match=re.escape(
            f"`output_key` selects one output of a dict, but the SavedModel at "
            f"{backbone_dir!r} returns a Tensor")):
        HubLayer(backbone_dir, output_key="pooled_output")
    with pytest.raises(ValueError, match=re.escape(
            f"`signature` must name a signature of the SavedModel at {encoder_dir!r}: "
            "['serving_default']. Received: signature='serve'")):
        HubLayer(encoder_dir, signature="serve")
    with pytest.raises(ValueError, match=re.escape(
            "`trainable` must be a bool. Received: trainable='yes'")):
        HubLayer(encoder_dir, trainable="yes")
    with pytest.raises(ValueError, match=re.escape(
            "`arguments` must be None or a dict of keyword arguments. "
            "Received: arguments=[('output_scale', 2.0)]")):
        HubLayer(encoder_dir, arguments=[("output_scale", 2.0)])
    layer = HubLayer(encoder_dir)
    with pytest.raises(ValueError, match=re.escape(
            f"The SavedModel at {encoder_dir!r} accepts inputs {{'input_mask': int32[None, "
            "None], 'input_type_ids': int32[None, None], 'input_word_ids': int32[None, None]}. "
            "Received: {'input_word_ids': int32[4, 4]}")):
        layer({"input_word_ids": np.array(IDS, "int32")})
    with pytest.raises(ValueError, match=re.escape(
            "`arguments` must be JSON-serializable to save the layer; arguments['output_scale'] "
            "is")):
        HubLayer(encoder_dir, arguments={"output_scale": tf.constant(2.0)}).get_config()

    # A SavedModel with signatures but no __call__ needs signature=.
    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.double = tf.function(lambda x: {"y": x * module.scale},
                                input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    plain_dir = str(tmp_path / "plain")
    tf.saved_model.save(module, plain_dir, signatures={"double": module.double})
    with pytest.raises(ValueError, match=re.escape(
            f"The SavedModel at {plain_dir!r} has no __call__ (it is not a reusable "
            "SavedModel): pass `signature=`, one of ['double'].")):
        HubLayer(plain_dir)
    doubled = HubLayer(plain_dir, signature="double", output_key="y")
    np.testing.assert_allclose(doubled(np.array([1.0, 3.0], "float32")).numpy(), [2.0, 6.0])
    assert len(doubled.weights) == 1  # found through the signature's captures
