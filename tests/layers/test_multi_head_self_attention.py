"""MultiHeadSelfAttention: parity with keras.layers.MultiHeadAttention, masks, fp16, KV cache."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.layers.multi_head_self_attention import MultiHeadSelfAttention
from tests.layer_test_case import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6, 8)).astype("float32")
IDS = RNG.integers(1, 20, size=(3, 6))
IDS[1, 4:] = 0  # right padding
IDS[2, :2] = 0  # left padding
ATTENTION_MASK = RNG.random((3, 6, 6)) > 0.3


def paired(**kwargs):
    reference = keras.layers.MultiHeadAttention(2, 4, **kwargs)
    reference(X, X)
    ours = MultiHeadSelfAttention(2, 4, **kwargs)
    ours(X)
    weights = [RNG.normal(size=w.shape).astype("float32") * 0.5 for w in reference.get_weights()]
    reference.set_weights(weights)
    ours.set_weights(weights)
    return ours, reference


def err(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def test_weights_have_keras_shapes_and_order():
    ours, reference = paired()
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    assert [w.name for w in ours.weights] == [
        "query_kernel", "query_bias", "key_kernel", "key_bias", "value_kernel", "value_bias",
        "output_kernel", "output_bias"]


def test_parity_without_masks_fused_and_explicit_paths():
    ours, reference = paired()
    assert err(ours(X), reference(X, X)) <= 1e-5
    out, scores = ours(X, return_attention_scores=True)
    ref_out, ref_scores = reference(X, X, return_attention_scores=True)
    assert err(out, ref_out) <= 1e-5 and err(scores, ref_scores) <= 1e-5


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("scores", [False, True])
def test_parity_with_propagated_padding_mask(causal, scores):
    ours, reference = paired()
    ours.causal = causal
    embedding = keras.layers.Embedding(20, 8, mask_zero=True)
    ids = keras.Input((6,), dtype="int32")
    embedded = embedding(ids)
    reference_model = keras.Model(ids, reference(embedded, embedded, use_causal_mask=causal))
    ids = keras.Input((6,), dtype="int32")
    our_out = ours(embedding(ids), return_attention_scores=scores)
    our_model = keras.Model(ids, our_out[0] if scores else our_out)
    assert err(our_model(IDS), reference_model(IDS)) <= 1e-5


def test_parity_with_explicit_attention_mask_and_causal():
    ours, reference = paired()
    assert err(ours(X, attention_mask=ATTENTION_MASK),
               reference(X, X, attention_mask=ATTENTION_MASK)) <= 1e-5
    ours.causal = True
    assert err(ours(X), reference(X, X, use_causal_mask=True)) <= 1e-5
    assert err(ours(X, attention_mask=ATTENTION_MASK, return_attention_scores=True)[0],
               reference(X, X, attention_mask=ATTENTION_MASK, use_causal_mask=True)) <= 1e-5


def test_causal_scores_are_lower_triangular():
    layer = MultiHeadSelfAttention(2, 4, causal=True)
    _, scores = layer(X, return_attention_scores=True)
    upper = np.triu(np.ones((6, 6), bool), k=1)
    assert np.all(np.asarray(scores)[..., upper] == 0.0)
    np.testing.assert_allclose(np.asarray(scores).sum(-1), 1.0, rtol=1e-5)


def test_gradient_parity():
    ours, reference = paired()
    x = tf.constant(X)

    def grads(layer, call):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.sin(call(layer)))
        return tape.gradient(loss, [x] + layer.trainable_weights)

    ours_grads = grads(ours, lambda l: l(x, attention_mask=ATTENTION_MASK))
    ref_grads = grads(reference, lambda l: l(x, x, attention_mask=ATTENTION_MASK))
    assert max(err(a, b) for a, b in zip(ours_grads, ref_grads)) <= 1e-5


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_masks_are_safe_in_half_precision(dtype):
    layer = MultiHeadSelfAttention(2, 4, causal=True, dtype=f"mixed_{dtype}")
    mask = np.ones((3, 6), bool)
    mask[0] = False  # a fully masked row
    mask[1, 3:] = False
    out, scores = layer(X * 100.0, mask=mask, return_attention_scores=True)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    out, scores = np.asarray(out, "float32"), np.asarray(scores, "float32")
    assert np.isfinite(out).all() and np.isfinite(scores).all()
    assert np.abs(scores[1, :, :3, 3:]).max() < 1e-3  # padded keys get ~no weight
    fused = np.asarray(layer(X * 100.0, mask=mask), "float32")
    assert np.isfinite(fused).all()


def test_dropout_only_in_training_and_layer_contract(tmp_path):
    layer = MultiHeadSelfAttention(2, 4, dropout=0.5, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(X)), np.asarray(layer(X)))
    assert not np.allclose(np.asarray(layer(X, training=True)), np.asarray(layer(X)))
    run_layer_test(MultiHeadSelfAttention, dict(num_heads=2, key_dim=4, dropout=0.1,
                                                causal=True, output_dim=5),
                   X, (3, 6, 5), tmp_path=tmp_path)


def test_cached_step_by_step_equals_full_causal_pass():
    layer = MultiHeadSelfAttention(2, 4, causal=True)
    full = np.asarray(layer(X))
    cache = np.zeros((3, 2, 6, 2, 4), "float32")
    steps = []
    for t in range(6):
        out, cache = layer(X[:, t:t + 1], cache=cache, cache_update_index=t)
        steps.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    # A prefix of 3 at once, then one step, also agrees.
    cache = np.zeros((3, 2, 6, 2, 4), "float32")
    prefix, cache = layer(X[:, :3], cache=cache, cache_update_index=0)
    np.testing.assert_allclose(np.asarray(prefix), full[:, :3], atol=1e-5)
    nxt, _ = layer(X[:, 3:4], cache=cache, cache_update_index=3)
    np.testing.assert_allclose(np.asarray(nxt), full[:, 3:4], atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_heads=0, key_dim=4), "`num_heads` must be a positive integer. Received: num_heads=0"),
    (dict(num_heads=2, key_dim=4, dropout=1.5), "`dropout` must be in [0, 1). Received: dropout=1.5"),
    (dict(num_heads=2, key_dim=4, value_dim=-1),
     "`value_dim` must be a positive integer. Received: value_dim=-1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MultiHeadSelfAttention(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match=re.escape(
            "MultiHeadSelfAttention expects inputs of shape (batch, seq, features). "
            "Received: inputs.shape=(3, 8)")):
        MultiHeadSelfAttention(2, 4)(X[:, 0])
    layer = MultiHeadSelfAttention(2, 4)
    with pytest.raises(ValueError, match=re.escape(
            "`cache_update_index` is required when `cache` is given.")):
        layer(X, cache=np.zeros((3, 2, 6, 2, 4), "float32"))
