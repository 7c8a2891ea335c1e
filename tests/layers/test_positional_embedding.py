"""PositionalEmbedding: the paper's formula, keras-hub parity, masks, lengths, errors."""

import re

import keras
import keras_hub
import numpy as np
import pytest

from seqmodels.layers.positional_embedding import PositionalEmbedding, sinusoidal_encoding
from tests.layer_test_case import run_layer_test

X = np.random.default_rng(0).normal(size=(2, 9, 6)).astype("float32")


def test_sinusoidal_formula_by_hand():
    pe = np.asarray(sinusoidal_encoding(5, 4))
    for p in range(5):
        for i in range(2):
            np.testing.assert_allclose(pe[p, 2 * i], np.sin(p / 10000 ** (2 * i / 4)), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(pe[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / 4)), rtol=1e-5, atol=1e-6)


def test_sinusoidal_matches_keras_hub_and_any_length():
    # keras-hub's SinePositionEncoding computes the paper's interleaved layout too: angle
    # p * (1/10000)^(2 * (j // 2) / d), sine on even columns j, cosine on odd ones. So the
    # relation is plain equality, for even and odd widths, short and long sequences.
    for length, width in ((9, 6), (300, 6), (7, 5)):
        x = np.random.default_rng(1).normal(size=(2, length, width)).astype("float32")
        expected = x + np.asarray(keras_hub.layers.SinePositionEncoding()(x))
        np.testing.assert_allclose(np.asarray(PositionalEmbedding()(x)), expected, atol=1e-5)


def test_learned_positions_match_keras_hub():
    ours = PositionalEmbedding(kind="learned", max_length=12)
    reference = keras_hub.layers.PositionEmbedding(sequence_length=12)
    ours(X)
    reference(X)
    reference.set_weights(ours.get_weights())
    np.testing.assert_allclose(np.asarray(ours(X)), X + np.asarray(reference(X)), atol=1e-6)
    shorter = X[:, :4]  # any length up to max_length
    np.testing.assert_allclose(np.asarray(ours(shorter)), shorter + np.asarray(reference(shorter)),
                               atol=1e-6)


# keras-hub's TokenAndPositionEmbedding hands its token mask to its own PositionEmbedding.
@pytest.mark.filterwarnings("ignore:Layer 'position_embedding'")
def test_token_and_position_matches_keras_hub():
    ids = np.array([[3, 5, 1, 0], [2, 2, 0, 0]])
    ours = PositionalEmbedding(kind="learned", max_length=8, vocab_size=10, output_dim=6,
                               mask_zero=True)
    reference = keras_hub.layers.TokenAndPositionEmbedding(10, 8, 6, mask_zero=True)
    ours(ids)
    reference(ids)
    reference.set_weights(ours.get_weights())
    np.testing.assert_allclose(np.asarray(ours(ids)), np.asarray(reference(ids)), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(ours.compute_mask(ids)), ids != 0)


def test_mask_propagates_and_passes_through():
    ids = keras.Input((None,), dtype="int32")
    out = PositionalEmbedding(vocab_size=10, output_dim=4, mask_zero=True)(ids)
    assert out._keras_mask is not None
    floats = keras.Input((5, 4))
    masked = keras.layers.Masking()(floats)
    assert PositionalEmbedding()(masked)._keras_mask is not None


def test_layer_contract(tmp_path):
    run_layer_test(PositionalEmbedding, dict(kind="learned", max_length=12), X, (2, 9, 6),
                   tmp_path=tmp_path)
    run_layer_test(PositionalEmbedding, dict(kind="sinusoidal", vocab_size=10, output_dim=4),
                   np.array([[1, 2, 3], [4, 5, 0]]), (2, 3, 4), tmp_path=tmp_path)


def test_too_long_input_is_a_clear_error():
    for kind in ("learned", "sinusoidal"):
        with pytest.raises(ValueError, match=re.escape(
                "PositionalEmbedding covers sequences up to max_length=4. "
                "Received: a sequence of length 9.")):
            PositionalEmbedding(kind=kind, max_length=4)(X)


def test_wrong_input_ranks():
    with pytest.raises(ValueError, match=re.escape(
            "PositionalEmbedding without `vocab_size` expects inputs of shape (batch, seq, dim). "
            "Received: inputs.shape=(2, 9)")):
        PositionalEmbedding()(X[..., 0])
    with pytest.raises(ValueError, match=re.escape(
            "PositionalEmbedding with `vocab_size` expects token ids of shape (batch, seq). "
            "Received: inputs.shape=(2, 9, 6)")):
        PositionalEmbedding(vocab_size=10, output_dim=4)(X.astype("int32"))


def test_half_precision_policy():
    layer = PositionalEmbedding(vocab_size=10, output_dim=4, dtype="mixed_bfloat16")
    out = layer(np.array([[1, 2, 3]]))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    expected = np.asarray(layer.token_embeddings)[[1, 2, 3]] + np.asarray(sinusoidal_encoding(3, 4))
    np.testing.assert_allclose(np.asarray(out, "float32")[0], expected, atol=2e-2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="rotary"), "`kind` must be one of sinusoidal, learned. Received: kind='rotary'"),
    (dict(kind="learned"), "`max_length` is required for kind='learned'. Received: max_length=None"),
    (dict(vocab_size=10), "`output_dim` is required when `vocab_size` is set. Received: output_dim=None"),
    (dict(mask_zero=True), "`mask_zero=True` needs `vocab_size` (token ids to mask). Received: vocab_size=None"),
    (dict(vocab_size=0, output_dim=3), "`vocab_size` must be a positive integer. Received: vocab_size=0"),
    (dict(max_length=2.5), "`max_length` must be a positive integer. Received: max_length=2.5"),
    (dict(vocab_size=10, output_dim=-1), "`output_dim` must be a positive integer. Received: output_dim=-1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        PositionalEmbedding(**kwargs)


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_start_index_continues_the_positions(kind):
    layer = PositionalEmbedding(kind=kind, max_length=12, vocab_size=10, output_dim=6)
    ids = np.array([[1, 2, 3, 4, 5]])
    full = np.asarray(layer(ids))
    np.testing.assert_allclose(np.asarray(layer(ids[:, 3:], start_index=3)), full[:, 3:], atol=1e-6)
    with pytest.raises(ValueError, match=re.escape("Received: a sequence of length 13.")):
        layer(ids, start_index=8)


def test_token_ids_that_are_floats_or_out_of_range_are_named_errors():
    layer = PositionalEmbedding(kind="learned", max_length=8, vocab_size=10, output_dim=4)
    with pytest.raises(ValueError, match=re.escape(
            "PositionalEmbedding with `vocab_size` expects integer token ids. "
            "Received: inputs.dtype=float32")):
        layer(np.array([[1.0, 2.0]], "float32"))
    with pytest.raises(ValueError, match=re.escape(
            "PositionalEmbedding with `vocab_size` expects integer token ids. "
            "Received: inputs.dtype=float32")):
        layer(keras.Input((3,), dtype="float32"))  # known from the dtype alone
    for ids, low, high in (([[1, 10]], 1, 10), ([[-1, 3]], -1, 3), ([[12, 0], [3, 4]], 0, 12)):
        with pytest.raises(ValueError, match=re.escape(
                "PositionalEmbedding token ids must be in [0, vocab_size) = [0, 10). "
                f"Received: ids from {low} to {high}.")):
            layer(np.array(ids))
    np.asarray(layer(np.array([[0, 9]])))  # both ends of the range are fine


def test_start_index_as_an_eager_tensor_is_checked():
    import tensorflow as tf

    layer = PositionalEmbedding(kind="learned", max_length=6, vocab_size=10, output_dim=4)
    with pytest.raises(ValueError, match=re.escape(
            "PositionalEmbedding covers sequences up to max_length=6. "
            "Received: a sequence of length 7.")):
        layer(np.array([[1, 2]]), start_index=tf.constant(5))


def test_token_and_position_tables_are_drawn_apart():
    # One initializer object drew the same values for both tables (the position table was
    # the first rows of the token table); each table now gets its own copy.
    for initializer in ("uniform", keras.initializers.RandomUniform(seed=3)):
        layer = PositionalEmbedding(kind="learned", max_length=8, vocab_size=20, output_dim=4,
                                    embeddings_initializer=initializer)
        layer(np.array([[1, 2]]))
        tokens, positions = layer.get_weights()
        assert not np.allclose(tokens[:8], positions)


def test_static_and_dynamic_sinusoidal_tables_agree():
    import tensorflow as tf

    static = np.asarray(sinusoidal_encoding(50, 6, start_index=3))
    dynamic = tf.function(lambda n: sinusoidal_encoding(n, 6, start_index=3))(tf.constant(50))
    np.testing.assert_allclose(static, dynamic.numpy(), atol=2e-5)
