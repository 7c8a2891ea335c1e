"""TransformerEncoderBlock and TransformerDecoderBlock: keras-hub parity, masks, cache, errors."""

import re

import keras
import keras_hub
import numpy as np
import pytest

from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from tests.layer_test_case import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6, 8)).astype("float32")
ENC = RNG.normal(size=(3, 5, 8)).astype("float32")
PAD = np.ones((3, 6), bool)
PAD[1, 4:] = False
ENC_PAD = np.ones((3, 5), bool)
ENC_PAD[2, 3:] = False


def copy_weights(pairs):
    for ours, theirs in pairs:
        weights = [RNG.normal(size=w.shape).astype("float32") * 0.3 for w in theirs.get_weights()]
        theirs.set_weights(weights)
        ours.set_weights(weights)


def encoder_pair(norm_first):
    reference = keras_hub.layers.TransformerEncoder(16, 2, normalize_first=norm_first)
    ours = TransformerEncoderBlock(2, 16, norm_first=norm_first)
    reference(X)
    ours(X)
    copy_weights([(ours.attention, reference._self_attention_layer),
                  (ours.attention_norm, reference._self_attention_layer_norm),
                  (ours.feedforward_norm, reference._feedforward_layer_norm),
                  (ours.intermediate_dense, reference._feedforward_intermediate_dense),
                  (ours.output_dense, reference._feedforward_output_dense)])
    return ours, reference


def decoder_pair(norm_first, cross):
    reference = keras_hub.layers.TransformerDecoder(16, 2, normalize_first=norm_first)
    ours = TransformerDecoderBlock(2, 16, norm_first=norm_first, cross_attention=cross)
    if cross:
        reference(X, ENC)
        ours(X, ENC)
    else:
        reference(X)
        ours(X)
    pairs = [(ours.self_attention, reference._self_attention_layer),
             (ours.self_attention_norm, reference._self_attention_layer_norm),
             (ours.feedforward_norm, reference._feedforward_layer_norm),
             (ours.intermediate_dense, reference._feedforward_intermediate_dense),
             (ours.output_dense, reference._feedforward_output_dense)]
    if cross:
        pairs += [(ours.cross_attention_layer, reference._cross_attention_layer),
                  (ours.cross_attention_norm, reference._cross_attention_layer_norm)]
    copy_weights(pairs)
    return ours, reference


def err(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_parity_with_keras_hub(norm_first):
    ours, reference = encoder_pair(norm_first)
    assert err(ours(X), reference(X)) <= 1e-5
    # keras-hub masks padded keys only; Keras (and we) also mask padded queries, whose outputs
    # nobody reads: the real positions agree.
    ours_out = np.asarray(ours(X, mask=PAD))
    ref_out = np.asarray(reference(X, padding_mask=PAD))
    assert np.abs(ours_out - ref_out)[PAD].max() <= 1e-5


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("cross", [False, True])
def test_decoder_parity_with_keras_hub(norm_first, cross):
    ours, reference = decoder_pair(norm_first, cross)
    if cross:
        assert err(ours(X, ENC), reference(X, ENC)) <= 1e-5
        assert err(ours(X, ENC, encoder_mask=ENC_PAD),
                   reference(X, ENC, encoder_padding_mask=ENC_PAD)) <= 1e-5
    else:
        assert err(ours(X), reference(X)) <= 1e-5


def test_decoder_is_causal():
    block = TransformerDecoderBlock(2, 16, cross_attention=False)
    base = np.asarray(block(X))
    changed = X.copy()
    changed[:, 4:] += 5.0
    out = np.asarray(block(changed))
    np.testing.assert_allclose(out[:, :4], base[:, :4], atol=1e-5)
    assert not np.allclose(out[:, 4:], base[:, 4:])


def test_decoder_cache_equals_full_pass():
    block = TransformerDecoderBlock(2, 16, cross_attention=True)
    full = np.asarray(block(X, ENC))
    cache = np.zeros((3, 2, 6, 2, 4), "float32")
    steps = []
    for t in range(6):
        out, cache = block(X[:, t:t + 1], ENC, self_attention_cache=cache,
                           self_attention_cache_update_index=t)
        steps.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_encoder_mask_reaches_attention_and_passes_through():
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 8, mask_zero=True)(ids)
    y = TransformerEncoderBlock(2, 16)(x)
    assert y._keras_mask is not None
    model = keras.Model(ids, keras.layers.GlobalAveragePooling1D()(y))
    a = np.asarray(model(np.array([[1, 2, 3, 0, 0]])))
    b = np.asarray(model(np.array([[1, 2, 3]])))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_layer_contracts(tmp_path):
    run_layer_test(TransformerEncoderBlock, dict(num_heads=2, intermediate_dim=16, dropout=0.1,
                                                 norm_first=True), X, (3, 6, 8), tmp_path=tmp_path)
    run_layer_test(TransformerDecoderBlock, dict(num_heads=2, intermediate_dim=16),
                   (X, ENC), (3, 6, 8), tmp_path=tmp_path)
    run_layer_test(TransformerDecoderBlock, dict(num_heads=2, intermediate_dim=16,
                                                 cross_attention=False), X, (3, 6, 8),
                   tmp_path=tmp_path)


def test_errors():
    with pytest.raises(ValueError, match=re.escape(
            "`intermediate_dim` must be a positive integer. Received: intermediate_dim=0")):
        TransformerEncoderBlock(2, 0)
    with pytest.raises(ValueError, match=re.escape(
            "TransformerEncoderBlock: the input width 8 must be divisible by num_heads=3 when "
            "key_dim is not given.")):
        TransformerEncoderBlock(3, 16)(X)
    with pytest.raises(ValueError, match=re.escape(
            "TransformerDecoderBlock with cross_attention=True needs `encoder_outputs`. "
            "Received: encoder_outputs=None")):
        TransformerDecoderBlock(2, 16)(X)
