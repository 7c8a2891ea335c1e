"""LiteRT export: the text and image classifiers run through LiteRT's interpreter within 1e-5 of
Keras, recurrent encoders with a fixed batch, LoRA merged, and the named refusals."""

import os

import keras
import numpy as np
import pytest

from seqmodels import transfer
from seqmodels.export import UnsupportedLiteRTModelError, export_litert, litert_predict
from seqmodels.export.litert import litert_interpreter
from seqmodels.models import CNNClassifier, TextClassifier, VisionTransformer

TOLERANCE = 1e-5
VOCAB, LENGTH = 60, 10


def _token_ids(batch, seed=0):
    """Ids with padding after rows of several lengths (one row a single token)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, LENGTH + 1, batch)
    lengths[0] = 1
    mask = np.arange(LENGTH)[None, :] < lengths[:, None]
    return (rng.integers(1, VOCAB, (batch, LENGTH)) * mask).astype("int32")


def _randomise_batch_norm(model, seed=0):
    """Moving statistics other than 0 and 1, so that inference-mode BatchNorm does something."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))


def _check_parity(model, path, inputs):
    interpreter = litert_interpreter(path)
    for batch in inputs:  # one interpreter, batches of several sizes
        expected = np.asarray(model(batch, training=False))
        got = litert_predict(interpreter, batch)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)


def test_transformer_text_classifier_on_token_ids(tmp_path):
    keras.utils.set_random_seed(0)
    model = TextClassifier(vocab_size=VOCAB, num_classes=3, sequence_length=LENGTH,
                           hidden_dim=16, num_layers=2, num_heads=2, intermediate_dim=32)
    path = export_litert(model, tmp_path / "text.tflite")
    signature = litert_interpreter(path).get_signature_list()["serving_default"]
    assert signature["inputs"] == ["token_ids"]
    _check_parity(model, path, [_token_ids(1), _token_ids(7, seed=1)])
    # float32 weights, stored once: the file is about the weights' size.
    assert 4 * model.count_params() <= os.path.getsize(path) < 4 * model.count_params() + 100_000
    assert sorted(os.listdir(tmp_path)) == ["text.tflite"]  # no partial file left


def test_recurrent_text_classifier_with_a_fixed_batch(tmp_path):
    keras.utils.set_random_seed(0)
    model = TextClassifier(vocab_size=VOCAB, num_classes=2, encoder="lstm", hidden_dim=8,
                           sequence_length=LENGTH)
    path = export_litert(model, tmp_path / "lstm.tflite", batch_size=4)
    _check_parity(model, path, [_token_ids(4, seed=2)])
    with pytest.raises(ValueError, match=r"`token_ids` has shape \[4, 10\]"):
        litert_predict(path, _token_ids(3))
    # Over an unknown number of steps, the time loop's tensor lists need the fixed batch.
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    any_length = keras.Model(ids, model(ids), name="any_length")
    with pytest.raises(UnsupportedLiteRTModelError, match="pass batch_size") as error:
        export_litert(any_length, tmp_path / "any_length.tflite")
    assert "tf.TensorListReserve" in str(error.value)
    assert sorted(os.listdir(tmp_path)) == ["lstm.tflite"]  # the failed one left nothing
    path = export_litert(any_length, tmp_path / "any_length.tflite", batch_size=4)
    _check_parity(any_length, path, [_token_ids(4, seed=3)])


@pytest.mark.parametrize("build", [
    lambda: CNNClassifier((28, 28, 1), 10, filters=(8, 16)),
    lambda: VisionTransformer((28, 28, 1), 10, hidden_dim=16, depth=2, num_heads=2, mlp_dim=32,
                              patch_size=7),
], ids=["cnn", "vit"])
def test_image_classifiers_on_float_images(build, tmp_path):
    keras.utils.set_random_seed(0)
    model = build()
    _randomise_batch_norm(model)
    path = export_litert(model, tmp_path / "images.tflite")
    images = np.random.default_rng(0).random((5, 28, 28, 1)).astype("float32")
    _check_parity(model, path, [images[:1], images])


def test_lora_classifier_exports_merged(tmp_path):
    keras.utils.set_random_seed(0)
    model = TextClassifier(vocab_size=VOCAB, num_classes=2, sequence_length=LENGTH,
                           hidden_dim=16, num_heads=2, intermediate_dim=32)
    transfer.enable_lora(model, 2, train=("logits",))
    for layer in transfer.lora_layers(model):
        layer.lora_kernel_b.assign(np.random.default_rng(0).normal(
            0, 0.3, layer.lora_kernel_b.shape))
    weights = [id(w) for w in model.weights]
    path = export_litert(model, tmp_path / "lora.tflite")
    _check_parity(model, path, [_token_ids(6)])
    assert [id(w) for w in model.weights] == weights  # the adapters are back


def test_refusals_are_named(tmp_path):
    text = keras.Input((), dtype="string", name="text")
    vectorizer = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorizer.adapt(["a good film", "a dull film"])
    strings = keras.Model(text, keras.layers.Dense(2)(keras.ops.cast(vectorizer(text),
                                                                     "float32")))
    with pytest.raises(UnsupportedLiteRTModelError, match=r"takes strings \(text\)"):
        export_litert(strings, tmp_path / "strings.tflite")
    model = CNNClassifier((8, 8, 1), 2, filters=(4,))
    with pytest.raises(ValueError, match="must be a file name ending with .tflite"):
        export_litert(model, tmp_path / "model.keras")
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        export_litert(model, tmp_path / "model.tflite", batch_size=0)
    assert issubclass(UnsupportedLiteRTModelError, ValueError)
    assert not os.listdir(tmp_path)
