"""Post-training int8 of BERT classifiers (`hf:`, the packaged MiniLM): what is quantized, the
TF Serving export serving the quantized outputs, LoRA merged first, the named error.

The from-scratch TextClassifier's int8 tests are in tests/models/test_lora_and_int8.py.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import transfer
from seqmodels.export import export_for_serving
from tests.models.bert_checkpoints import CONFIG
from tests.transfer.conftest import SENTENCES

transformers = pytest.importorskip("transformers")

SEQUENCE_LENGTH = 16


def _int8_bytes(model):
    return sum(int(np.prod(w.shape)) for w in model.weights
               if keras.backend.standardize_dtype(w.dtype) == "int8")


def test_int8_hf_classifier_serves_its_quantized_outputs(tiny_hf, tmp_path):
    model = transfer.text_backbone_classifier("hf:" + tiny_hf, 2, seed=0,
                                              sequence_length=SEQUENCE_LENGTH)
    text = tf.constant(SENTENCES)
    float_logits = model(text).numpy()
    quantized = transfer.quantize_int8(model)
    blocks = [p for p in quantized if p.startswith("transformer_layer_")]
    assert len(blocks) == CONFIG["num_hidden_layers"] * 6  # q, k, v, output, 2 feed-forward
    assert {"pooled_dense", "logits", "segment_embedding"} <= set(quantized)
    hidden, intermediate = CONFIG["hidden_size"], CONFIG["intermediate_size"]
    projection_numbers = CONFIG["num_hidden_layers"] * (4 * hidden * hidden
                                                        + 2 * hidden * intermediate)
    assert _int8_bytes(model) >= projection_numbers
    int8_logits = model(text).numpy()
    difference = np.abs(int8_logits - float_logits).max()
    assert 0 < difference < 0.1 * np.abs(float_logits).max(), difference
    import tensorflow_text  # noqa: F401  (the WordPiece ops of the exported preprocessor)

    loaded = tf.saved_model.load(export_for_serving(model, str(tmp_path / "int8"), warmup=False))
    assert tf.int8 in {v.dtype for v in loaded.model_variables}
    served = loaded.signatures["serving_default"](text=text)["probabilities"].numpy()
    np.testing.assert_allclose(served, tf.nn.softmax(int8_logits).numpy(), atol=1e-6)


def test_int8_merges_lora_first(tiny_hf):
    model = transfer.text_backbone_classifier("hf:" + tiny_hf, 2, seed=0, lora_rank=2,
                                              sequence_length=SEQUENCE_LENGTH)
    for layer in transfer.lora_layers(model):  # a trained-looking update, not zeros
        layer.lora_kernel_b.assign(np.random.default_rng(0).normal(
            0, 0.3, layer.lora_kernel_b.shape))
    text = tf.constant(SENTENCES)
    tuned = model(text).numpy()
    transfer.quantize_int8(model)
    assert not transfer.lora_layers(model)
    assert not any("lora" in w.path for w in model.weights)
    int8_logits = model(text).numpy()
    # The int8 kernels hold the update: without it the logits would move by far more.
    assert np.abs(int8_logits - tuned).max() < 0.1 * np.abs(tuned).max()
    with pytest.raises(ValueError, match="no Dense, EinsumDense or Embedding"):
        transfer.quantize_int8(keras.Sequential([keras.Input((4,)),
                                                 keras.layers.LayerNormalization()]))


def test_minilm_int8_keeps_its_predictions():
    try:
        directory = transfer.minilm_preset_dir()
    except FileNotFoundError as error:
        pytest.skip(f"the packaged MiniLM is not installed (`make data`): {error}")
    model = transfer.text_backbone_classifier("hf:" + directory, 2, seed=0, sequence_length=64)
    text = tf.constant(SENTENCES)
    features = keras.Model(model.input, model.get_layer("mean_pooling").output)
    float_features = features(text).numpy()
    quantized = transfer.quantize_int8(model)
    assert len([p for p in quantized if p.startswith("transformer_layer_")]) == 6 * 6
    assert _int8_bytes(model) >= 6 * (4 * 384 * 384 + 2 * 384 * 1536)  # 10.6M int8 numbers
    int8_features = features(text).numpy()
    cosine = np.sum(float_features * int8_features, -1) / (
        np.linalg.norm(float_features, axis=-1) * np.linalg.norm(int8_features, axis=-1))
    # The sentence vectors barely move (measured: 0.981 for "", 0.989-0.997 for the others).
    assert cosine.min() > 0.97 and cosine.mean() > 0.99, cosine
