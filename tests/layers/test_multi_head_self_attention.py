"""MultiHeadSelfAttention: parity with keras.layers.MultiHeadAttention, masks, fp16, KV cache."""

import doctest
import re

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.layers import multi_head_self_attention as attention_module
from seqmodels.layers.multi_head_self_attention import MultiHeadSelfAttention
from tests.layer_test_case import run_layer_test

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 6, 8)).astype("float32")  # 2 heads of 3: the scale 1/sqrt(3) is inexact
IDS = RNG.integers(1, 20, size=(3, 6))
IDS[1, 4:] = 0  # right padding
IDS[2, :2] = 0  # left padding: with causal=True, query 0 of row 2 sees no key at all
PAD = IDS != 0
ATTENTION_MASK = RNG.random((3, 6, 6)) > 0.3
ATTENTION_MASK[:, np.arange(6), np.arange(6)] = True  # every query sees at least itself
EMBEDDINGS = RNG.normal(size=(20, 8)).astype("float32")


@pytest.fixture(params=["default", "fused"])
def path(request, monkeypatch):
    """Runs a test on this backend's default attention path and on the fused op."""
    if request.param == "fused":
        monkeypatch.setattr(attention_module, "FUSED_ATTENTION_BACKENDS", ("tensorflow",))
    return request.param


def paired(causal=False, **kwargs):
    """Our layer and Keras' with the same random weights (the same for every call)."""
    reference = keras.layers.MultiHeadAttention(2, 3, **kwargs)
    reference(X, X)
    ours = MultiHeadSelfAttention(2, 3, causal=causal, **kwargs)
    ours(X)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") * 0.5 for w in reference.get_weights()]
    reference.set_weights(weights)
    ours.set_weights(weights)
    return ours, reference


def err(a, b):
    a, b = (tf.convert_to_tensor(t) if isinstance(t, tf.IndexedSlices) else t for t in (a, b))
    return float(np.abs(np.asarray(a, "float32") - np.asarray(b, "float32")).max())


def test_weights_have_keras_shapes_and_order():
    ours, reference = paired()
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    # The same paths below the layer as Keras' (its sublayers' names), so weights interchange.
    paths = [w.path.split("/", 1)[1] for w in ours.weights]
    assert paths == [w.path.split("/", 1)[1] for w in reference.weights] == [
        "query/kernel", "query/bias", "key/kernel", "key/bias", "value/kernel", "value/bias",
        "attention_output/kernel", "attention_output/bias"]
    ours = MultiHeadSelfAttention(2, 3, use_bias=False, value_dim=5, output_dim=7)
    reference = keras.layers.MultiHeadAttention(2, 3, use_bias=False, value_dim=5,
                                                output_shape=7)
    ours(X)
    reference(X, X)
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]


def test_parity_without_masks(path):
    ours, reference = paired()
    assert err(ours(X), reference(X, X)) <= 1e-5
    out, scores = ours(X, return_attention_scores=True)
    ref_out, ref_scores = reference(X, X, return_attention_scores=True)
    assert err(out, ref_out) <= 1e-5 and err(scores, ref_scores) <= 1e-5


def propagated(layer, causal, **call_kwargs):
    """Embedding(mask_zero) -> layer: the padding mask reaches the layer by propagation."""
    ids = keras.Input((6,), dtype="int32")
    embedded = keras.layers.Embedding(
        20, 8, mask_zero=True, embeddings_initializer=keras.initializers.Constant(EMBEDDINGS))(ids)
    if isinstance(layer, MultiHeadSelfAttention):
        out = layer(embedded, **call_kwargs)
    else:
        out = layer(embedded, embedded, use_causal_mask=causal, **call_kwargs)
    return keras.Model(ids, out)


@pytest.mark.parametrize("causal", [False, True])
def test_parity_with_propagated_padding_mask(causal, path):
    ours, reference = paired(causal)
    reference_model = propagated(reference, causal)
    assert err(propagated(ours, causal)(IDS), reference_model(IDS)) <= 1e-5
    # The explicit path (scores requested) gives the same outputs, and Keras' scores on every
    # query that sees a key. On a query that sees none (padded), Keras' explicit path zeroes
    # the weights while its default path (above) and ours spread them uniformly. (Fresh layers:
    # a Keras layer called symbolically cannot later be called for another output structure.)
    ours, reference = paired(causal)
    out, scores = propagated(ours, causal, return_attention_scores=True)(IDS)
    _, ref_scores = propagated(reference, causal, return_attention_scores=True)(IDS)
    assert err(out, reference_model(IDS)) <= 1e-5
    sees_a_key = np.asarray(ref_scores).sum(-1) > 0.5  # (batch, heads, q)
    assert err(np.asarray(scores)[sees_a_key], np.asarray(ref_scores)[sees_a_key]) <= 1e-5
    assert not sees_a_key.all()  # the batch has queries that see no key


def test_parity_with_explicit_attention_mask_and_causal(path):
    ours, reference = paired()
    assert err(ours(X, attention_mask=ATTENTION_MASK),
               reference(X, X, attention_mask=ATTENTION_MASK)) <= 1e-5
    assert err(ours(X, attention_mask=ATTENTION_MASK, mask=PAD),
               reference(X, X, attention_mask=ATTENTION_MASK & PAD[:, :, None]
                         & PAD[:, None, :])) <= 1e-5
    ours.causal = True
    assert err(ours(X), reference(X, X, use_causal_mask=True)) <= 1e-5
    out, scores = ours(X, attention_mask=ATTENTION_MASK, return_attention_scores=True)
    ref_out, ref_scores = reference(X, X, attention_mask=ATTENTION_MASK, use_causal_mask=True,
                                    return_attention_scores=True)
    assert err(out, ref_out) <= 1e-5 and err(scores, ref_scores) <= 1e-5


def test_causal_scores_are_lower_triangular():
    layer = MultiHeadSelfAttention(2, 3, causal=True)
    _, scores = layer(X, return_attention_scores=True)
    upper = np.triu(np.ones((6, 6), bool), k=1)
    assert np.all(np.asarray(scores)[..., upper] == 0.0)
    np.testing.assert_allclose(np.asarray(scores).sum(-1), 1.0, rtol=1e-5)


def gradients(model, x):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sin(model(x)))
    return tape.gradient(loss, model.trainable_weights)


@pytest.mark.parametrize("causal", [False, True])
def test_gradient_parity(causal, path):
    ours, reference = paired(causal)
    x = tf.constant(X)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours_loss = tf.reduce_sum(tf.sin(ours(x, attention_mask=ATTENTION_MASK)))
        ref_loss = tf.reduce_sum(tf.sin(reference(x, x, attention_mask=ATTENTION_MASK,
                                                  use_causal_mask=causal)))
    ours_grads = tape.gradient(ours_loss, [x] + ours.trainable_weights)
    ref_grads = tape.gradient(ref_loss, [x] + reference.trainable_weights)
    assert max(err(a, b) for a, b in zip(ours_grads, ref_grads)) <= 1e-5
    # Through a propagated padding mask, embedding table included.
    ours_model, reference_model = propagated(ours, causal), propagated(reference, causal)
    ours_grads, ref_grads = gradients(ours_model, IDS), gradients(reference_model, IDS)
    assert len(ours_grads) == len(ref_grads) == 9
    assert max(err(a, b) for a, b in zip(ours_grads, ref_grads)) <= 1e-5


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_masks_are_safe_in_half_precision(dtype, path):
    layer = MultiHeadSelfAttention(2, 3, causal=True, dtype=f"mixed_{dtype}")
    mask = np.ones((3, 6), bool)
    mask[0] = False  # every query of row 0 sees no key
    mask[1, 3:] = False
    x = X * 100.0  # logits far beyond float16's comfort
    out, scores = layer(x, mask=mask, return_attention_scores=True)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    out, scores = np.asarray(out, "float32"), np.asarray(scores, "float32")
    assert np.isfinite(out).all() and np.isfinite(scores).all()
    assert np.abs(scores[1, :, :3, 3:]).max() < 1e-3  # padded keys get ~no weight
    assert np.isfinite(np.asarray(layer(x, mask=mask), "float32")).all()
    # On ordinary inputs the half-precision layer stays close to the float32 one.
    full = MultiHeadSelfAttention(2, 3, causal=True)
    full(X)
    full.set_weights(layer.get_weights())
    reference = np.asarray(full(X, mask=mask))
    tolerance = 3e-2 * np.abs(reference).max()
    assert err(layer(X, mask=mask), reference) <= tolerance
    assert err(layer(X, mask=mask, return_attention_scores=True)[0], reference) <= tolerance


def test_output_keeps_the_padding_mask():
    ids = keras.Input((6,), dtype="int32")
    y = MultiHeadSelfAttention(2, 3)(keras.layers.Embedding(20, 8, mask_zero=True)(ids))
    assert y._keras_mask is not None


def test_symbolic_calls_return_scores_and_cache():
    x = keras.Input((6, 8))
    out, scores = MultiHeadSelfAttention(2, 3)(x, return_attention_scores=True)
    assert (out.shape, scores.shape) == ((None, 6, 8), (None, 2, 6, 6))
    cache = keras.Input((2, 9, 2, 3))
    out, scores, new_cache = MultiHeadSelfAttention(2, 3)(
        x, return_attention_scores=True, cache=cache, cache_update_index=0)
    assert (scores.shape, new_cache.shape) == ((None, 2, 6, 9), (None, 2, 9, 2, 3))


def test_dropout_only_in_training_and_layer_contract(tmp_path):
    layer = MultiHeadSelfAttention(2, 3, dropout=0.5, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(X)), np.asarray(layer(X)))
    assert not np.allclose(np.asarray(layer(X, training=True)), np.asarray(layer(X)))
    run_layer_test(MultiHeadSelfAttention, dict(num_heads=2, key_dim=4, dropout=0.1,
                                                causal=True, output_dim=5),
                   X, (3, 6, 5), tmp_path=tmp_path)


def step_by_step(layer):
    """`layer` on X one position at a time through a key/value cache: (outputs, cache)."""
    cache = np.zeros((3, 2, 6, 2, 3), "float32")
    steps = []
    for t in range(6):
        out, cache = layer(X[:, t:t + 1], cache=cache, cache_update_index=t)
        steps.append(np.asarray(out))
    return np.concatenate(steps, axis=1), cache


def test_cached_step_by_step_equals_full_causal_pass(path):
    layer = MultiHeadSelfAttention(2, 3, causal=True)
    full = np.asarray(layer(X))
    outputs, cache = step_by_step(layer)
    assert err(outputs, full) <= 1e-5
    # The cache holds every position's keys and values, as a full pass computes them.
    kernel, bias = (np.asarray(w) for w in layer.key_dense.weights)
    keys = np.einsum("btd,dhk->bthk", X, kernel)  # (batch, seq, heads, key_dim)
    assert err(np.asarray(cache)[:, 0], keys + bias) <= 1e-5
    # A prefix of 3 at once, then one step, also agrees; scores cover the whole cache.
    cache = np.zeros((3, 2, 6, 2, 3), "float32")
    prefix, cache = layer(X[:, :3], cache=cache, cache_update_index=0)
    assert err(prefix, full[:, :3]) <= 1e-5
    nxt, scores, _ = layer(X[:, 3:4], cache=cache, cache_update_index=3,
                           return_attention_scores=True)
    assert err(nxt, full[:, 3:4]) <= 1e-5
    assert scores.shape == (3, 2, 1, 6) and np.all(np.asarray(scores)[..., 4:] == 0)



def test_a_cache_masks_padding_as_the_full_pass(path):
    # The padded queries (a row of `attention_mask` showing nothing) attend evenly to the
    # written positions, as they attend evenly to the whole sequence without a cache; the
    # positions after them (random here) take no weight.
    layer = MultiHeadSelfAttention(2, 3, causal=True)
    full = np.asarray(layer(X, mask=PAD))
    written = np.pad(PAD, [(0, 0), (0, 3)])  # (batch, max_length = 9)
    attention_mask = PAD[:, :, None] & written[:, None, :]  # (batch, seq, max_length)
    cache = RNG.normal(size=(3, 2, 9, 2, 3)).astype("float32")
    out, scores, _ = layer(X, cache=cache, cache_update_index=0,
                           attention_mask=attention_mask, return_attention_scores=True)
    assert err(out, full) <= 1e-5
    np.testing.assert_allclose(np.asarray(scores)[1, :, 4], [[1 / 6] * 6 + [0] * 3] * 2,
                               atol=1e-7)
    # One position at a time: the last output of each prefix's full pass, padded or not.
    cache = np.zeros((3, 2, 9, 2, 3), "float32")
    for t in range(6):
        step_mask = PAD[:, t:t + 1, None] & written[:, None, :]  # (batch, 1, max_length)
        out, cache = layer(X[:, t:t + 1], cache=cache, cache_update_index=t,
                           attention_mask=step_mask)
        prefix = np.asarray(layer(X[:, :t + 1], mask=PAD[:, :t + 1]))
        assert err(out[:, 0], prefix[:, -1]) <= 1e-5, t


def test_cache_in_a_compiled_loop_with_a_tensor_index():
    layer = MultiHeadSelfAttention(2, 3, causal=True)
    full = np.asarray(layer(X))

    @tf.function(jit_compile=False)
    def generate(x):
        def body(t, cache, outputs):
            step = tf.expand_dims(tf.gather(x, t, axis=1), 1)  # (batch, 1, d)
            out, cache = layer(step, cache=cache, cache_update_index=t)
            return t + 1, cache, outputs.write(t, out[:, 0])
        _, _, outputs = tf.while_loop(
            lambda t, *_: t < 6, body,
            (tf.constant(0), tf.zeros((3, 2, 6, 2, 3)), tf.TensorArray(tf.float32, size=6)))
        return tf.transpose(outputs.stack(), [1, 0, 2])  # (batch, seq, d)

    assert err(generate(tf.constant(X)), full) <= 1e-5


def test_cache_convention_matches_keras_hub():
    ours = MultiHeadSelfAttention(2, 3)
    reference = keras_hub.layers.CachedMultiHeadAttention(2, 3)
    ours(X)
    reference(X, X)
    weights = [RNG.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    ours.set_weights(weights)
    cache = RNG.normal(size=(3, 2, 6, 2, 3)).astype("float32")
    index = 2
    causal = np.arange(6)[None, None, :] <= index + np.arange(2)[None, :, None]  # (1, q, k)
    causal = np.broadcast_to(causal, (3, 2, 6))
    out, new_cache = ours(X[:, :2], cache=cache, cache_update_index=index)
    ref_out, ref_cache = reference(X[:, :2], X[:, :2], attention_mask=causal, cache=cache,
                                   cache_update_index=index)
    assert err(out, ref_out) <= 1e-5 and err(new_cache, ref_cache) <= 1e-5


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_heads=0, key_dim=4), "`num_heads` must be a positive integer. Received: num_heads=0"),
    (dict(num_heads=2, key_dim=None),
     "`key_dim` must be a positive integer. Received: key_dim=None"),
    (dict(num_heads=2, key_dim=4, value_dim=-1),
     "`value_dim` must be a positive integer. Received: value_dim=-1"),
    (dict(num_heads=2, key_dim=4, output_dim=2.5),
     "`output_dim` must be a positive integer. Received: output_dim=2.5"),
    (dict(num_heads=2, key_dim=4, dropout=1.5),
     "`dropout` must be in [0, 1). Received: dropout=1.5"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MultiHeadSelfAttention(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match=re.escape(
            "MultiHeadSelfAttention expects inputs of shape (batch, seq, features). "
            "Received: inputs.shape=(3, 8)")):
        MultiHeadSelfAttention(2, 3)(X[:, 0])
    layer = MultiHeadSelfAttention(2, 3)
    cache = np.zeros((3, 2, 6, 2, 3), "float32")
    with pytest.raises(ValueError, match=re.escape(
            "`cache_update_index` is required when `cache` is given. "
            "Received: cache_update_index=None")):
        layer(X, cache=cache)
    with pytest.raises(ValueError, match=re.escape(
            "`cache_update_index` needs a `cache`. Received: cache=None, cache_update_index=0")):
        layer(X, cache_update_index=0)
    with pytest.raises(ValueError, match=re.escape(
            "`cache` must have shape (batch, 2, max_length, 2, 3), i.e. (batch, key/value, "
            "position, num_heads, key_dim). Received: cache.shape=(3, 2, 6, 3, 2)")):
        layer(X, cache=np.zeros((3, 2, 6, 3, 2), "float32"), cache_update_index=0)
    with pytest.raises(ValueError, match=re.escape(
            "A key/value cache needs value_dim == key_dim. Received: key_dim=3, value_dim=4")):
        MultiHeadSelfAttention(2, 3, value_dim=4)(X, cache=cache, cache_update_index=0)
    with pytest.raises(ValueError, match=re.escape(
            "`attention_mask` must have shape (batch, query_length, key_length). "
            "Received: attention_mask.shape=(3, 6)")):
        layer(X, attention_mask=PAD)


def test_masks_that_do_not_fit_the_inputs_are_named_errors():
    layer = MultiHeadSelfAttention(2, 3)
    with pytest.raises(ValueError, match=re.escape(
            "`mask` must have shape (batch, seq) = (3, 6), the first two dimensions of the "
            "inputs. Received: mask.shape=(3, 5)")):
        layer(X, mask=PAD[:, :5])
    with pytest.raises(ValueError, match=re.escape(
            "`mask` must have shape (batch, seq) = (3, 6), the first two dimensions of the "
            "inputs. Received: mask.shape=(3, 6, 6)")):
        layer(X, mask=ATTENTION_MASK)
    with pytest.raises(ValueError, match=re.escape(
            "`attention_mask` must have shape (batch, query_length, key_length) = (3, 6, 6) "
            "(a dimension of 1 broadcasts). Received: attention_mask.shape=(3, 6, 5)")):
        layer(X, attention_mask=ATTENTION_MASK[:, :, :5])
    with pytest.raises(ValueError, match=re.escape(
            "`attention_mask` must have shape (batch, query_length, key_length) = (2, 6, 6) "
            "(a dimension of 1 broadcasts). Received: attention_mask.shape=(3, 6, 6)")):
        layer(X[:2], attention_mask=ATTENTION_MASK)
    # With a cache the keys are the cache's positions.
    cache = np.zeros((3, 2, 9, 2, 3), "float32")
    with pytest.raises(ValueError, match=re.escape(
            "`attention_mask` must have shape (batch, query_length, key_length) = (3, 1, 9) "
            "(a dimension of 1 broadcasts). Received: attention_mask.shape=(3, 1, 6)")):
        layer(X[:, :1], cache=cache, cache_update_index=0,
              attention_mask=np.ones((3, 1, 6), bool))
    # A functional model fails as it is built.
    with pytest.raises(ValueError, match=re.escape(
            "`attention_mask` must have shape (batch, query_length, key_length) = (None, 6, 6) "
            "(a dimension of 1 broadcasts). Received: attention_mask.shape=(None, 6, 4)")):
        layer(keras.Input((6, 8)), attention_mask=keras.Input((6, 4), dtype="bool"))
    # A dimension of 1 broadcasts, as it does in Keras' layer.
    shared = ATTENTION_MASK[:1]
    np.testing.assert_allclose(np.asarray(layer(X, attention_mask=shared)),
                               np.asarray(layer(X, attention_mask=np.repeat(shared, 3, 0))),
                               atol=1e-6)


def test_cache_update_index_beyond_the_cache_is_a_named_error():
    layer = MultiHeadSelfAttention(2, 3, causal=True)
    cache = np.zeros((3, 2, 6, 2, 3), "float32")
    message = ("`cache_update_index` must be in [0, 4]: this call writes 2 positions into a "
               "cache of max_length=6. Received: cache_update_index={}")
    for index in (5, -1, tf.constant(5)):  # an int, a negative one, an eager tensor
        with pytest.raises(ValueError, match=re.escape(message.format(int(index)))):
            layer(X[:, :2], cache=cache, cache_update_index=index)
    _, new_cache = layer(X[:, :2], cache=cache, cache_update_index=4)  # the last that fits
    assert np.abs(np.asarray(new_cache)[:, :, 4:]).max() > 0


def test_initializers_are_copied_per_weight():
    def kernels(initializer):
        layer = MultiHeadSelfAttention(2, 3, kernel_initializer=initializer)
        layer(X)
        return [np.asarray(dense.kernel) for dense in (
            layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense)]

    for initializer in (keras.initializers.GlorotUniform(seed=0), "glorot_uniform"):
        query, key, value, _ = kernels(initializer)
        assert not np.allclose(query, key) and not np.allclose(key, value)
        assert not np.allclose(query, value)
    # A seeded initializer stays reproducible, and is not consumed by the layer.
    seeded = keras.initializers.GlorotUniform(seed=0)
    for a, b in zip(kernels(seeded), kernels(keras.initializers.GlorotUniform(seed=0))):
        np.testing.assert_array_equal(a, b)
    assert seeded.seed == 0


def test_kernel_and_bias_constraints_hold_after_training(tmp_path):
    kwargs = dict(num_heads=2, key_dim=3, kernel_constraint="non_neg",
                  bias_constraint=keras.constraints.MaxNorm(0.01, axis=None),
                  bias_initializer="ones")
    run_layer_test(MultiHeadSelfAttention, kwargs, X, (3, 6, 8), tmp_path=tmp_path)
    layer = MultiHeadSelfAttention(**kwargs)
    inputs = keras.Input((6, 8))
    model = keras.Model(inputs, layer(inputs))
    model.compile("sgd", "mse")
    model.fit(X, np.zeros((3, 6, 8), "float32"), epochs=1, verbose=0)
    for dense in (layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense):
        assert dense.kernel_constraint is layer.kernel_constraint
        assert float(np.asarray(dense.kernel).min()) >= 0.0  # glorot drew negatives
        assert float(np.linalg.norm(np.asarray(dense.bias))) <= 0.01 + 1e-6  # was >= 1


def test_lora_on_the_projections_trains_only_the_low_rank_weights():
    layer = MultiHeadSelfAttention(2, 3, causal=True)
    inputs = keras.Input((6, 8))
    model = keras.Model(inputs, layer(inputs))
    projections = [layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense]
    assert all(isinstance(p, keras.layers.EinsumDense) for p in projections)
    for weight in layer.weights:
        weight.trainable = False
    for projection in projections:
        projection.enable_lora(2)
    lora = [w for p in projections for w in (p.lora_kernel_a, p.lora_kernel_b)]
    assert [w.path for w in model.trainable_weights] == [w.path for w in lora]
    frozen = [np.asarray(w) for w in layer.weights if not w.trainable]
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit(X, np.asarray(model(X)) + 1.0, epochs=3, verbose=0)
    after = [np.asarray(w) for w in layer.weights if not w.trainable]
    assert all(np.array_equal(a, b) for a, b in zip(frozen, after))
    assert all(np.abs(np.asarray(p.lora_kernel_b)).max() > 0 for p in projections)  # from 0
    # The layer computes with the merged kernels: a plain layer holding them agrees.
    plain = MultiHeadSelfAttention(2, 3, causal=True)
    plain(X)
    plain.set_weights([np.asarray(w) for p in projections for w in (p.kernel, p.bias)])
    assert err(layer(X), plain(X)) <= 1e-5


@pytest.mark.filterwarnings("ignore:Layer InputLayer does not have a `quantize`")
@pytest.mark.usefixtures("young_heap")  # tests/conftest.py: quantize's gc passes
def test_int8_quantization_reaches_the_projections(path):
    layer = MultiHeadSelfAttention(2, 3, causal=True)
    inputs = keras.Input((6, 8))
    model = keras.Model(inputs, layer(inputs))
    reference = np.asarray(model(X))
    model.quantize("int8")
    for projection in (layer.query_dense, layer.key_dense, layer.value_dense,
                       layer.output_dense):
        assert projection.quantization_mode == "int8"
        assert keras.backend.standardize_dtype(projection._kernel.dtype) == "int8"
    quantized = np.asarray(model(X))
    assert 0 < err(quantized, reference) <= 0.02 * np.abs(reference).max()
    assert err(step_by_step(layer)[0], quantized) <= 1e-5  # the cache works quantized too


def test_docstring_examples_run():
    results = doctest.testmod(attention_module, extraglobs={"np": np})
    assert results.attempted > 0 and results.failed == 0
