"""TransformerDecoderBlock: keras-hub parity (with and without cross-attention), masks, cache."""

import doctest
import re

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.layers import transformer_decoder_block as module_under_test
from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
from tests.layer_test_case import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6, 12)).astype("float32")  # 2 heads of 6: 1/sqrt(6) is inexact
ENC = RNG.normal(size=(3, 5, 12)).astype("float32")
PAD = np.ones((3, 6), bool)
PAD[1, 4:] = False
ENC_PAD = np.ones((3, 5), bool)
ENC_PAD[2, 3:] = False


def err(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def decoder_pair(norm_first, cross):
    """Our block and keras-hub's with the same random weights, sublayer by sublayer."""
    reference = keras_hub.layers.TransformerDecoder(16, 2, normalize_first=norm_first)
    ours = TransformerDecoderBlock(2, 16, norm_first=norm_first, cross_attention=cross)
    reference(X, ENC) if cross else reference(X)
    ours(X, ENC) if cross else ours(X)
    pairs = [(ours.self_attention, reference._self_attention_layer),
             (ours.self_attention_norm, reference._self_attention_layer_norm),
             (ours.intermediate_dense, reference._feedforward_intermediate_dense),
             (ours.output_dense, reference._feedforward_output_dense),
             (ours.feedforward_norm, reference._feedforward_layer_norm)]
    if cross:
        pairs += [(ours.cross_attention_layer, reference._cross_attention_layer),
                  (ours.cross_attention_norm, reference._cross_attention_layer_norm)]
    rng = np.random.default_rng(1)
    for mine, theirs in pairs:
        weights = [rng.normal(size=w.shape).astype("float32") * 0.3 for w in theirs.get_weights()]
        theirs.set_weights(weights)
        mine.set_weights(weights)
    assert len(ours.weights) == len(reference.weights)
    return ours, reference, pairs


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("cross", [False, True])
def test_parity_with_keras_hub(norm_first, cross):
    ours, reference, _ = decoder_pair(norm_first, cross)
    enc = (ENC,) if cross else ()
    assert err(ours(X, *enc), reference(X, *enc)) <= 1e-5
    # Padding: keras-hub hides padded keys only, we also padded queries (as Keras'
    # MultiHeadAttention does); the real positions agree.
    ours_out = np.asarray(ours(X, *enc, mask=PAD))
    ref_out = np.asarray(reference(X, *enc, decoder_padding_mask=PAD))
    assert np.abs(ours_out - ref_out)[PAD].max() <= 1e-5
    if cross:
        assert err(ours(X, ENC, encoder_mask=ENC_PAD),
                   reference(X, ENC, encoder_padding_mask=ENC_PAD)) <= 1e-5


def test_gradient_parity_with_keras_hub():
    ours, reference, pairs = decoder_pair(norm_first=True, cross=True)
    x, enc = tf.constant(X), tf.constant(ENC)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, enc])
        ours_loss = tf.reduce_sum(tf.sin(ours(x, enc, encoder_mask=ENC_PAD)))
        ref_loss = tf.reduce_sum(tf.sin(reference(x, enc, encoder_padding_mask=ENC_PAD)))
    ours_weights = [w for mine, _ in pairs for w in mine.trainable_weights]
    ref_weights = [w for _, theirs in pairs for w in theirs.trainable_weights]
    assert len(ours_weights) == len(ours.trainable_weights) == 26
    ours_grads = tape.gradient(ours_loss, [x, enc] + ours_weights)
    ref_grads = tape.gradient(ref_loss, [x, enc] + ref_weights)
    assert max(err(a, b) for a, b in zip(ours_grads, ref_grads)) <= 1e-5


def test_is_causal():
    block = TransformerDecoderBlock(2, 16, cross_attention=False)
    base = np.asarray(block(X))
    changed = X.copy()
    changed[:, 4:] += 5.0
    out = np.asarray(block(changed))
    np.testing.assert_allclose(out[:, :4], base[:, :4], atol=1e-5)
    assert not np.allclose(out[:, 4:], base[:, 4:])


def test_masks_propagate_from_both_inputs():
    target = keras.Input((None,), dtype="int32")
    source = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 8, mask_zero=True)(target)
    enc = keras.layers.Embedding(10, 8, mask_zero=True)(source)
    y = TransformerDecoderBlock(2, 16, norm_first=True)(x, enc)
    assert y._keras_mask is not None
    model = keras.Model([target, source], y)
    padded = np.asarray(model([np.array([[1, 2, 0, 0]]), np.array([[3, 4, 5, 0, 0]])]))
    unpadded = np.asarray(model([np.array([[1, 2]]), np.array([[3, 4, 5]])]))
    np.testing.assert_allclose(padded[:, :2], unpadded, atol=1e-5)


def test_cache_equals_full_pass():
    block = TransformerDecoderBlock(2, 16, cross_attention=True)
    full = np.asarray(block(X, ENC, encoder_mask=ENC_PAD))
    cache = np.zeros((3, 2, 6, 2, 6), "float32")
    steps = []
    for t in range(6):
        out, cache = block(X[:, t:t + 1], ENC, encoder_mask=ENC_PAD, self_attention_cache=cache,
                           self_attention_cache_update_index=t)
        steps.append(np.asarray(out))
    assert err(np.concatenate(steps, axis=1), full) <= 1e-5



@pytest.mark.parametrize("norm_first", [False, True])
def test_cache_mask_gives_the_full_pass_of_each_prefix(norm_first):
    block = TransformerDecoderBlock(2, 16, norm_first=norm_first)
    pad = np.ones((3, 6), bool)
    pad[0, [2, 4]] = False  # padding inside the sequence, twice
    pad[1, 5] = False  # at the end
    pad[2, :2] = False  # at the start: query 0 of row 2 sees no real position
    cache_mask = np.pad(pad, [(0, 0), (0, 2)])  # (batch, max_length = 8)
    cache = np.zeros((3, 2, 8, 2, 6), "float32")
    for t in range(6):
        out, cache = block(X[:, t:t + 1], ENC, encoder_mask=ENC_PAD, self_attention_cache=cache,
                           self_attention_cache_update_index=t,
                           self_attention_cache_mask=cache_mask)
        full = np.asarray(block(X[:, :t + 1], ENC, mask=pad[:, :t + 1], encoder_mask=ENC_PAD))
        assert err(out[:, 0], full[:, -1]) <= 1e-5, t
    # The whole sequence at once through the cache is the full pass, padded positions included.
    out, _ = block(X, ENC, encoder_mask=ENC_PAD, self_attention_cache=np.zeros_like(cache),
                   self_attention_cache_update_index=0, self_attention_cache_mask=cache_mask)
    assert err(out, block(X, ENC, mask=pad, encoder_mask=ENC_PAD)) <= 1e-5
    # Without the cache mask the cache hides nothing, as before.
    unmasked, _ = block(X, ENC, encoder_mask=ENC_PAD, self_attention_cache=np.zeros_like(cache),
                        self_attention_cache_update_index=0)
    assert err(unmasked, block(X, ENC, encoder_mask=ENC_PAD)) <= 1e-5
    assert err(unmasked, out) > 1e-3


def test_cache_mask_errors_and_symbolic_call():
    block = TransformerDecoderBlock(2, 16, cross_attention=False)
    cache = np.zeros((3, 2, 8, 2, 6), "float32")
    with pytest.raises(ValueError, match=re.escape(
            "`self_attention_cache_mask` masks the positions of a `self_attention_cache`. "
            "Received: self_attention_cache=None")):
        block(X, self_attention_cache_mask=np.ones((3, 8), bool))
    with pytest.raises(ValueError, match=re.escape(
            "`self_attention_cache_mask` must have shape (batch, max_length) = (3, 8), one "
            "entry per cache position. Received: self_attention_cache_mask.shape=(3, 6)")):
        block(X[:, :1], self_attention_cache=cache, self_attention_cache_update_index=0,
              self_attention_cache_mask=PAD)
    block = TransformerDecoderBlock(2, 16, cross_attention=False)
    x, cache, cache_mask = (keras.Input((1, 8)), keras.Input((2, 6, 2, 4)),
                            keras.Input((6,), dtype="bool"))
    out, new_cache = block(x, self_attention_cache=cache, self_attention_cache_update_index=2,
                           self_attention_cache_mask=cache_mask)
    assert (out.shape, new_cache.shape) == ((None, 1, 8), (None, 2, 6, 2, 4))
    with pytest.raises(ValueError, match=re.escape(
            "Received: self_attention_cache_mask.shape=(None, 5)")):
        block(x, self_attention_cache=cache, self_attention_cache_update_index=2,
              self_attention_cache_mask=keras.Input((5,), dtype="bool"))


@pytest.mark.parametrize("norm_first", [False, True])
def test_cache_parity_with_keras_hub(norm_first):
    ours, reference, _ = decoder_pair(norm_first, cross=False)
    ours_cache = ref_cache = np.zeros((3, 2, 6, 2, 6), "float32")
    for start, stop in [(0, 3), (3, 4), (4, 6)]:  # a prompt, then single steps
        ours_out, ours_cache = ours(X[:, start:stop], self_attention_cache=ours_cache,
                                    self_attention_cache_update_index=start)
        ref_out, ref_cache = reference(X[:, start:stop], self_attention_cache=ref_cache,
                                       self_attention_cache_update_index=start)
        assert err(ours_out, ref_out) <= 1e-5 and err(ours_cache, ref_cache) <= 1e-5


def test_symbolic_call_with_cache():
    x, cache = keras.Input((1, 8)), keras.Input((2, 6, 2, 4))
    out, new_cache = TransformerDecoderBlock(2, 16, cross_attention=False)(
        x, self_attention_cache=cache, self_attention_cache_update_index=0)
    assert (out.shape, new_cache.shape) == ((None, 1, 8), (None, 2, 6, 2, 4))


def test_layer_contract(tmp_path):
    run_layer_test(TransformerDecoderBlock, dict(num_heads=2, intermediate_dim=16, dropout=0.1),
                   (X, ENC), (3, 6, 12), tmp_path=tmp_path)
    run_layer_test(TransformerDecoderBlock, dict(num_heads=2, intermediate_dim=16,
                                                 cross_attention=False, norm_first=True),
                   X, (3, 6, 12), tmp_path=tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_heads=2, intermediate_dim=0),
     "`intermediate_dim` must be a positive integer. Received: intermediate_dim=0"),
    (dict(num_heads=2, intermediate_dim=16, dropout=-0.1),
     "`dropout` must be in [0, 1). Received: dropout=-0.1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TransformerDecoderBlock(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match=re.escape(
            "TransformerDecoderBlock with cross_attention=True needs `encoder_outputs`. "
            "Received: encoder_outputs=None")):
        TransformerDecoderBlock(2, 16)(X)
    with pytest.raises(ValueError, match=re.escape(
            "TransformerDecoderBlock with cross_attention=False takes no `encoder_outputs`. "
            "Received: encoder_outputs of shape (3, 5, 12)")):
        TransformerDecoderBlock(2, 16, cross_attention=False)(X, ENC)
    with pytest.raises(ValueError, match=re.escape(
            "TransformerDecoderBlock needs an input width divisible by `num_heads` when "
            "`key_dim` is None. Received: input width=12, num_heads=5")):
        TransformerDecoderBlock(5, 16, cross_attention=False)(X)


def test_masks_and_cache_indices_that_do_not_fit_are_named_errors():
    block = TransformerDecoderBlock(2, 16)
    with pytest.raises(ValueError, match=re.escape(
            "`encoder_mask` must have shape (batch, source_seq) = (3, 5), the first two "
            "dimensions of `encoder_outputs`. Received: encoder_mask.shape=(3, 6)")):
        block(X, ENC, encoder_mask=PAD)
    with pytest.raises(ValueError, match=re.escape(
            "`mask` must have shape (batch, seq) = (3, 6), the first two dimensions of the "
            "inputs. Received: mask.shape=(3, 5)")):
        block(X, ENC, mask=ENC_PAD)
    cache = np.zeros((3, 2, 6, 2, 6), "float32")
    with pytest.raises(ValueError, match=re.escape(
            "`cache_update_index` must be in [0, 5]: this call writes 1 positions into a "
            "cache of max_length=6. Received: cache_update_index=6")):
        block(X[:, :1], ENC, self_attention_cache=cache, self_attention_cache_update_index=6)


@pytest.mark.filterwarnings("ignore:Layer .* does not have a `quantize`")
@pytest.mark.usefixtures("young_heap")  # tests/conftest.py: quantize's gc passes
def test_int8_reaches_self_attention_cross_attention_and_feedforward():
    block = TransformerDecoderBlock(2, 16)
    target, source = keras.Input((6, 12)), keras.Input((5, 12))
    model = keras.Model([target, source], block(target, source))
    reference = np.asarray(model([X, ENC]))
    model.quantize("int8")
    cross = block.cross_attention_layer
    projections = [block.self_attention.query_dense, block.self_attention.key_dense,
                   block.self_attention.value_dense, block.self_attention.output_dense,
                   cross.query_dense, cross.key_dense, cross.value_dense, cross.output_dense,
                   block.intermediate_dense, block.output_dense]
    for projection in projections:
        assert projection.quantization_mode == "int8", projection.path
    assert 0 < err(model([X, ENC]), reference) <= 0.05 * np.abs(reference).max()


def test_docstring_examples_run():
    results = doctest.testmod(module_under_test, extraglobs={"np": np})
    assert results.attempted > 0 and results.failed == 0


def test_attention_scores_are_the_weights_the_block_uses():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=16)
    rng = np.random.default_rng(0)
    target = rng.normal(size=(2, 5, 8)).astype("float32")
    source = rng.normal(size=(2, 7, 8)).astype("float32")
    source_mask = np.array([[True] * 7, [True] * 4 + [False] * 3])
    plain = block(target, source, encoder_mask=source_mask)
    outputs, scores = block(target, source, encoder_mask=source_mask,
                            return_attention_scores=True)
    np.testing.assert_allclose(outputs, plain, atol=1e-6)
    self_scores = np.asarray(scores["self_attention"])
    cross = np.asarray(scores["cross_attention"])
    assert self_scores.shape == (2, 2, 5, 5) and cross.shape == (2, 2, 5, 7)
    # Causal: no weight on later target positions; none on padded source positions.
    assert np.all(np.triu(self_scores, k=1) == 0)
    assert np.all(cross[1, :, :, 4:] == 0)
    np.testing.assert_allclose(cross.sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="does not combine with a `self_attention_cache`"):
        block(target, source, return_attention_scores=True,
              self_attention_cache=np.zeros((2, 2, 5, 2, 4), "float32"),
              self_attention_cache_update_index=0)


def test_attention_kernel_initializer_reaches_the_self_attention_only():
    block = TransformerDecoderBlock(2, 12, kernel_initializer="ones",
                                    attention_kernel_initializer=keras.initializers.Constant(0.5))
    block(X, ENC)
    attention = block.self_attention
    for dense in (attention.query_dense, attention.key_dense, attention.value_dense,
                  attention.output_dense):
        np.testing.assert_array_equal(np.asarray(dense.kernel), 0.5)
    cross = block.cross_attention_layer
    for dense in (cross.query_dense, cross.key_dense, cross.value_dense, cross.output_dense,
                  block.intermediate_dense, block.output_dense):
        np.testing.assert_array_equal(np.asarray(dense.kernel), 1.0)
    again = TransformerDecoderBlock.from_config(block.get_config())
    again(X, ENC)
    np.testing.assert_array_equal(np.asarray(again.self_attention.value_dense.kernel), 0.5)
    assert TransformerDecoderBlock(2, 12).get_config()["attention_kernel_initializer"] is None
