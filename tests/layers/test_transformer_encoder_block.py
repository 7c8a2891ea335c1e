"""TransformerEncoderBlock: keras-hub parity (post- and pre-norm, masks), mask flow, errors."""

import re

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from tests.layer_test_case import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6, 12)).astype("float32")  # 2 heads of 6: 1/sqrt(6) is inexact
PAD = np.ones((3, 6), bool)
PAD[1, 4:] = False
PAD[2, 1:] = False


def err(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def encoder_pair(norm_first, **kwargs):
    """Our block and keras-hub's with the same random weights, sublayer by sublayer."""
    reference = keras_hub.layers.TransformerEncoder(16, 2, normalize_first=norm_first, **kwargs)
    ours = TransformerEncoderBlock(2, 16, norm_first=norm_first, **kwargs)
    reference(X)
    ours(X)
    rng = np.random.default_rng(1)
    for mine, theirs in [(ours.attention, reference._self_attention_layer),
                         (ours.attention_norm, reference._self_attention_layer_norm),
                         (ours.intermediate_dense, reference._feedforward_intermediate_dense),
                         (ours.output_dense, reference._feedforward_output_dense),
                         (ours.feedforward_norm, reference._feedforward_layer_norm)]:
        weights = [rng.normal(size=w.shape).astype("float32") * 0.3 for w in theirs.get_weights()]
        theirs.set_weights(weights)
        mine.set_weights(weights)
    return ours, reference


@pytest.mark.parametrize("norm_first", [False, True])
def test_parity_with_keras_hub(norm_first):
    ours, reference = encoder_pair(norm_first, activation="gelu", layer_norm_epsilon=1e-6)
    assert len(ours.weights) == len(reference.weights) == 16
    assert err(ours(X), reference(X)) <= 1e-5
    attention_mask = RNG.random((3, 6, 6)) > 0.3
    attention_mask[:, np.arange(6), np.arange(6)] = True
    assert err(ours(X, attention_mask=attention_mask),
               reference(X, attention_mask=attention_mask)) <= 1e-5


@pytest.mark.parametrize("norm_first", [False, True])
def test_parity_with_keras_hub_under_a_padding_mask(norm_first):
    # keras-hub hides padded keys only; we (as Keras' MultiHeadAttention) also give padded
    # queries no key to see. Padded positions' outputs differ, nobody reads them; the real
    # positions agree.
    ours, reference = encoder_pair(norm_first)
    ours_out = np.asarray(ours(X, mask=PAD))
    assert np.abs(ours_out - np.asarray(reference(X, padding_mask=PAD)))[PAD].max() <= 1e-5
    # The same through Keras mask propagation, and for the gradients of the real positions.
    x = tf.constant(X)

    def real_loss(outputs):
        return tf.reduce_sum(tf.sin(outputs) * PAD[..., None])

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours_loss = real_loss(ours(keras.layers.Masking(0.0)(x * PAD[..., None])))
        ref_loss = real_loss(reference(x * PAD[..., None], padding_mask=PAD))
    assert abs(float(ours_loss) - float(ref_loss)) <= 1e-4
    ours_grads = tape.gradient(ours_loss, [x] + ours.trainable_weights)
    ref_grads = tape.gradient(ref_loss, [x] + reference.trainable_weights)
    assert max(err(a, b) for a, b in zip(ours_grads, ref_grads)) <= 1e-5


def test_mask_reaches_attention_and_passes_through():
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 8, mask_zero=True)(ids)
    y = TransformerEncoderBlock(2, 16)(x)
    assert y._keras_mask is not None
    model = keras.Model(ids, keras.layers.GlobalAveragePooling1D()(y))
    padded = np.asarray(model(np.array([[1, 2, 3, 0, 0]])))
    unpadded = np.asarray(model(np.array([[1, 2, 3]])))
    np.testing.assert_allclose(padded, unpadded, atol=1e-5)


def test_dropout_only_in_training():
    block = TransformerEncoderBlock(2, 16, dropout=0.5)
    np.testing.assert_array_equal(np.asarray(block(X)), np.asarray(block(X)))
    assert not np.allclose(np.asarray(block(X, training=True)), np.asarray(block(X)))


def test_layer_contract(tmp_path):
    run_layer_test(TransformerEncoderBlock, dict(num_heads=2, intermediate_dim=16, dropout=0.1,
                                                 norm_first=True, key_dim=3), X, (3, 6, 12),
                   tmp_path=tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_heads=0, intermediate_dim=16),
     "`num_heads` must be a positive integer. Received: num_heads=0"),
    (dict(num_heads=2, intermediate_dim=0),
     "`intermediate_dim` must be a positive integer. Received: intermediate_dim=0"),
    (dict(num_heads=2, intermediate_dim=16, key_dim=-2),
     "`key_dim` must be a positive integer. Received: key_dim=-2"),
    (dict(num_heads=2, intermediate_dim=16, dropout=1.0),
     "`dropout` must be in [0, 1). Received: dropout=1.0"),
    (dict(num_heads=2, intermediate_dim=16, layer_norm_epsilon=0),
     "`layer_norm_epsilon` must be a positive number. Received: layer_norm_epsilon=0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TransformerEncoderBlock(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match=re.escape(
            "TransformerEncoderBlock needs an input width divisible by `num_heads` when "
            "`key_dim` is None. Received: input width=12, num_heads=5")):
        TransformerEncoderBlock(5, 16)(X)
    with pytest.raises(ValueError, match=re.escape(
            "TransformerEncoderBlock expects inputs of shape (batch, seq, hidden). "
            "Received: inputs.shape=(3, 12)")):
        TransformerEncoderBlock(2, 16)(X[:, 0])


def test_a_mask_that_does_not_fit_is_a_named_error():
    with pytest.raises(ValueError, match=re.escape(
            "`mask` must have shape (batch, seq) = (3, 6), the first two dimensions of the "
            "inputs. Received: mask.shape=(3, 4)")):
        TransformerEncoderBlock(2, 16)(X, mask=PAD[:, :4])
    with pytest.raises(ValueError, match=re.escape(
            "`attention_mask` must have shape (batch, query_length, key_length) = (3, 6, 6) "
            "(a dimension of 1 broadcasts). Received: attention_mask.shape=(3, 4, 4)")):
        TransformerEncoderBlock(2, 16)(X, attention_mask=np.ones((3, 4, 4), bool))


def test_every_sublayer_gets_its_own_initializer():
    block = TransformerEncoderBlock(2, 12, kernel_initializer=keras.initializers.RandomNormal(
        seed=0))
    block(X)
    kernels = [np.asarray(d.kernel).ravel()[:100] for d in (
        block.attention.query_dense, block.attention.key_dense, block.attention.value_dense,
        block.attention.output_dense, block.intermediate_dense, block.output_dense)]
    for i, a in enumerate(kernels):  # same-seeded draws would share their first values
        assert not any(np.allclose(a, b) for b in kernels[i + 1:])


@pytest.mark.filterwarnings("ignore:Layer .* does not have a `quantize`")
@pytest.mark.usefixtures("young_heap")  # tests/conftest.py: quantize's gc passes
def test_lora_and_int8_reach_attention_and_feedforward():
    block = TransformerEncoderBlock(2, 16, activation="gelu")
    inputs = keras.Input((6, 12))
    model = keras.Model(inputs, block(inputs))
    projections = [block.attention.query_dense, block.attention.key_dense,
                   block.attention.value_dense, block.attention.output_dense,
                   block.intermediate_dense, block.output_dense]
    for weight in model.weights:
        weight.trainable = False
    for projection in projections:
        projection.enable_lora(2)
    assert len(model.trainable_weights) == 12  # a, b for each projection, nothing else
    reference = np.asarray(model(X))
    model.quantize("int8")  # LoRA and int8 combine: int8 kernels, float adapters
    for projection in projections:
        assert projection.quantization_mode == "int8", projection.path
        assert keras.backend.standardize_dtype(projection._kernel.dtype) == "int8"
    assert 0 < err(model(X), reference) <= 0.05 * np.abs(reference).max()
    assert len(model.trainable_weights) == 12


def test_attention_kernel_initializer_reaches_the_self_attention_only():
    block = TransformerEncoderBlock(2, 12, kernel_initializer="ones",
                                    attention_kernel_initializer=keras.initializers.Constant(0.5))
    block(X)
    attention = block.attention
    for dense in (attention.query_dense, attention.key_dense, attention.value_dense,
                  attention.output_dense):
        np.testing.assert_array_equal(np.asarray(dense.kernel), 0.5)
    for dense in (block.intermediate_dense, block.output_dense):
        np.testing.assert_array_equal(np.asarray(dense.kernel), 1.0)
    again = TransformerEncoderBlock.from_config(block.get_config())
    again(X)
    np.testing.assert_array_equal(np.asarray(again.attention.query_dense.kernel), 0.5)
    default = TransformerEncoderBlock(2, 12, kernel_initializer="ones")
    default(X)
    assert default.get_config()["attention_kernel_initializer"] is None
    np.testing.assert_array_equal(np.asarray(default.attention.query_dense.kernel), 1.0)
