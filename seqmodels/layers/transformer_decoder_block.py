"""One transformer decoder block: causal self-attention, optional cross-attention, feed-forward."""

import keras
# Keras passes `mask` only to layers called on one tensor; this block takes two, so it reads the
# masks attached to them itself, as keras-hub's transformer layers do (no public API for it).
from keras.src.backend import get_keras_mask

from seqmodels.layers.hashed_dropout import HashedDropout
from seqmodels.layers.multi_head_self_attention import MultiHeadSelfAttention
from seqmodels.layers.transformer_encoder_block import (check_block_arguments, head_size, residual,
                                                        sublayer_initializers)


@keras.saving.register_keras_serializable(package="seqmodels")
class TransformerDecoderBlock(keras.layers.Layer):
    """Causal self-attention, cross-attention over an encoder's outputs, and a feed-forward net.

    Each position attends only to itself and earlier positions (so a language model cannot peek
    at the token it predicts); with `cross_attention=True` it then attends over
    `encoder_outputs` (translation, captioning); a feed-forward network follows. Each sub-block
    has a residual and a layer norm, after (`norm_first=False`) or before (`norm_first=True`).
    Masks: no query attends to a padded position of `inputs` (the Keras mask) or of
    `encoder_outputs` (`encoder_mask`, else their Keras mask); the output keeps the mask.
    Same computation and weight shapes as `keras_hub.layers.TransformerDecoder`: sublayers
    `self_attention`, `self_attention_norm`, `cross_attention_layer` (a
    `keras.layers.MultiHeadAttention`), `cross_attention_norm`, `intermediate_dense`,
    `output_dense`, `feedforward_norm` take its `_self_attention_layer`,
    `_self_attention_layer_norm`, `_cross_attention_layer`, `_cross_attention_layer_norm`,
    `_feedforward_intermediate_dense`, `_feedforward_output_dense`, `_feedforward_layer_norm`
    weights.

    For fast generation pass `self_attention_cache` (batch, 2, max_length, heads, key_dim) and
    `self_attention_cache_update_index` (keras-hub's convention): the block computes only the
    new positions and returns `(outputs, new_cache)`. With `self_attention_cache_mask`
    (batch, max_length), True at the cache positions that hold a real token (this call's
    included), the cached self-attention masks padding as the full pass masks its Keras mask:
    no real query attends to a padded position, and a padded query attends evenly to every
    position written so far (see `MultiHeadSelfAttention`), so each new position's output is
    the full pass's over the sequence up to it. (Without it the cache hides no position.)
    Cross-attention has no cache; it re-projects `encoder_outputs` at every step.

    Args:
        num_heads: attention heads.
        intermediate_dim: width of the feed-forward hidden layer.
        key_dim: size of each head (default: input width // num_heads).
        dropout: rate of attention dropout and of the dropout before each residual.
        activation: feed-forward activation.
        layer_norm_epsilon: epsilon of the layer norms.
        norm_first: pre-norm (True) or post-norm (False).
        cross_attention: whether the block attends over `encoder_outputs`.
        kernel_initializer: initializer of every projection kernel.
        bias_initializer: initializer of every projection bias.
        attention_kernel_initializer: initializer of the causal self-attention's four
            projection kernels (default: `kernel_initializer`; the cross-attention keeps
            `kernel_initializer`); see `seqmodels.models.initializers`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: (batch, seq, hidden) floats.
        encoder_outputs: (batch, source_seq, encoder_hidden); required with cross-attention,
            not allowed without.
        mask: optional (batch, seq) padding mask of `inputs` (default: their Keras mask).
        encoder_mask: optional (batch, source_seq) padding mask of `encoder_outputs` (default:
            their Keras mask).
        training: whether dropout is active.
        self_attention_cache: optional (batch, 2, max_length, heads, key_dim) key/value cache.
        self_attention_cache_update_index: int (or int tensor), the cache position of the
            first of `inputs`.
        self_attention_cache_mask: optional (batch, max_length) bool with a cache, True where
            a cache position holds a real token (what `mask` is to a full pass).
        return_attention_scores: also return `{"self_attention": (batch, heads, seq, seq),
            "cross_attention": (batch, heads, seq, source_seq)}` (for pictures; no cache).

    Returns:
        `outputs` (batch, seq, hidden), `(outputs, new_cache)` when a cache is passed, or
        `(outputs, scores)` with `return_attention_scores`.

    Example:

    >>> import numpy as np
    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    >>> target, source = np.zeros((2, 5, 16), "float32"), np.zeros((2, 7, 16), "float32")
    >>> tuple(block(target, source).shape)
    (2, 5, 16)

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(self, num_heads, intermediate_dim, key_dim=None, dropout=0.0,
                 activation="relu", layer_norm_epsilon=1e-5, norm_first=False,
                 cross_attention=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", attention_kernel_initializer=None, **kwargs):
        check_block_arguments(num_heads, intermediate_dim, key_dim, dropout, layer_norm_epsilon)
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.key_dim = key_dim
        self.dropout = float(dropout)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.cross_attention = cross_attention
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.attention_kernel_initializer = keras.initializers.get(attention_kernel_initializer)
        self.supports_masking = True

    def _check_encoder_outputs(self, encoder_outputs_shape):
        if self.cross_attention and encoder_outputs_shape is None:
            raise ValueError("TransformerDecoderBlock with cross_attention=True needs "
                             "`encoder_outputs`. Received: encoder_outputs=None")
        if not self.cross_attention and encoder_outputs_shape is not None:
            raise ValueError("TransformerDecoderBlock with cross_attention=False takes no "
                             "`encoder_outputs`. Received: encoder_outputs of shape "
                             f"{tuple(encoder_outputs_shape)}")

    @staticmethod
    def _check_encoder_mask(mask_shape, encoder_outputs_shape):
        expected = tuple(encoder_outputs_shape[:2])
        if len(mask_shape) != 2 or any(
                a is not None and b is not None and a != b for a, b in zip(mask_shape, expected)):
            raise ValueError(
                f"`encoder_mask` must have shape (batch, source_seq) = {expected}, the first two "
                f"dimensions of `encoder_outputs`. Received: encoder_mask.shape="
                f"{tuple(mask_shape)}")

    def build(self, inputs_shape, encoder_outputs_shape=None):
        input_shape = inputs_shape
        self._check_encoder_outputs(encoder_outputs_shape)
        key_dim = head_size("TransformerDecoderBlock", input_shape, self.num_heads, self.key_dim)
        hidden = input_shape[-1]

        def initializers(offset, kernel_initializer=None):
            # The self-attention copies its initializers per weight (seed offsets 0-3); Keras'
            # cross-attention copies its one per weight but keeps the seed (seeded, its query,
            # key and value kernels come out equal, as in keras.layers.MultiHeadAttention).
            return sublayer_initializers(kernel_initializer or self.kernel_initializer,
                                         self.bias_initializer, offset)

        def norm(name):
            layer = keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name)
            layer.build(input_shape)
            return layer

        self.self_attention = MultiHeadSelfAttention(
            self.num_heads, key_dim, dropout=self.dropout, causal=True, dtype=self.dtype_policy,
            name="self_attention", **initializers(0, self.attention_kernel_initializer))
        self.self_attention.build(input_shape)
        self.self_attention_norm = norm("self_attention_norm")
        if self.cross_attention:
            self.cross_attention_layer = keras.layers.MultiHeadAttention(
                self.num_heads, key_dim, dropout=self.dropout, dtype=self.dtype_policy,
                name="cross_attention", **initializers(4))
            self.cross_attention_layer.build(input_shape, encoder_outputs_shape)
            self.cross_attention_norm = norm("cross_attention_norm")
        self.feedforward_norm = norm("feedforward_norm")
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim, activation=self.activation, dtype=self.dtype_policy,
            name="intermediate_dense", **initializers(5))
        self.intermediate_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(hidden, dtype=self.dtype_policy,
                                               name="output_dense", **initializers(6))
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.residual_dropout = HashedDropout(self.dropout, dtype=self.dtype_policy)

    def call(self, inputs, encoder_outputs=None, mask=None, encoder_mask=None, training=None,
             self_attention_cache=None, self_attention_cache_update_index=None,
             return_attention_scores=False, self_attention_cache_mask=None):
        if return_attention_scores and self_attention_cache is not None:
            raise ValueError("`return_attention_scores` reads the scores of a whole sequence; it "
                             "does not combine with a `self_attention_cache`.")
        cache_attention_mask = self._cache_attention_mask(
            self_attention_cache_mask, self_attention_cache, self_attention_cache_update_index,
            inputs)
        self._check_encoder_outputs(None if encoder_outputs is None else encoder_outputs.shape)
        if mask is None:
            mask = get_keras_mask(inputs)
        source_mask = None
        if self.cross_attention:
            if encoder_mask is None:
                encoder_mask = get_keras_mask(encoder_outputs)
            if encoder_mask is not None:
                self._check_encoder_mask(encoder_mask.shape, encoder_outputs.shape)
                # (batch, 1, source_seq): every target position sees the real source positions.
                source_mask = keras.ops.expand_dims(keras.ops.cast(encoder_mask, "bool"), 1)
        new_cache = None
        scores = {}

        def self_attend(x):
            nonlocal new_cache
            if return_attention_scores:
                x, scores["self_attention"] = self.self_attention(
                    x, mask=mask, training=training, return_attention_scores=True)
                return x
            if self_attention_cache is None:
                return self.self_attention(x, mask=mask, training=training)
            x, new_cache = self.self_attention(
                x, attention_mask=cache_attention_mask, training=training,
                cache=self_attention_cache, cache_update_index=self_attention_cache_update_index)
            return x

        def cross_attend(x):
            if return_attention_scores:
                x, scores["cross_attention"] = self.cross_attention_layer(
                    x, encoder_outputs, attention_mask=source_mask, training=training,
                    return_attention_scores=True)
                return x
            return self.cross_attention_layer(x, encoder_outputs, attention_mask=source_mask,
                                              training=training)

        def feedforward(x):
            return self.output_dense(self.intermediate_dense(x))  # (batch, seq, hidden)

        def block(x, sublayer, norm):
            return residual(x, sublayer, norm, self.residual_dropout, self.norm_first, training)

        x = block(inputs, self_attend, self.self_attention_norm)
        if self.cross_attention:
            x = block(x, cross_attend, self.cross_attention_norm)
        x = block(x, feedforward, self.feedforward_norm)
        if return_attention_scores:
            return x, scores
        return x if new_cache is None else (x, new_cache)

    @staticmethod
    def _check_cache_mask(cache_mask, cache, inputs):
        if cache is None:
            raise ValueError("`self_attention_cache_mask` masks the positions of a "
                             "`self_attention_cache`. Received: self_attention_cache=None")
        expected = (inputs.shape[0], cache.shape[2])
        shape = tuple(cache_mask.shape)
        if len(shape) != 2 or any(
                a is not None and b is not None and a != b for a, b in zip(shape, expected)):
            raise ValueError(
                "`self_attention_cache_mask` must have shape (batch, max_length) = "
                f"{expected}, one entry per cache position. Received: "
                f"self_attention_cache_mask.shape={shape}")

    def _cache_attention_mask(self, cache_mask, cache, cache_update_index, inputs):
        """(batch, seq, max_length) bool from the (batch, max_length) `cache_mask`: True where a
        real query meets a real position; a padded query's row is all False."""
        if cache_mask is None:
            return None
        self._check_cache_mask(cache_mask, cache, inputs)
        cache_mask = keras.ops.cast(cache_mask, "bool")
        if cache_update_index is None:  # the attention names the missing index
            return None
        queries = keras.ops.arange(keras.ops.shape(inputs)[1]) + cache_update_index  # (seq,)
        real_queries = keras.ops.take(cache_mask, queries, axis=1)  # (batch, seq)
        return keras.ops.logical_and(keras.ops.expand_dims(real_queries, 2),  # (batch, seq, 1)
                                     keras.ops.expand_dims(cache_mask, 1))  # (batch, 1, length)

    def compute_output_shape(self, inputs_shape, encoder_outputs_shape=None):
        return tuple(inputs_shape)

    def compute_output_spec(self, inputs, encoder_outputs=None, mask=None, encoder_mask=None,
                            training=None, self_attention_cache=None,
                            self_attention_cache_update_index=None,
                            self_attention_cache_mask=None):
        if self_attention_cache_mask is not None:  # a model whose mask does not fit fails early
            self._check_cache_mask(self_attention_cache_mask, self_attention_cache, inputs)
        output = keras.KerasTensor(tuple(inputs.shape), self.compute_dtype)
        if self_attention_cache is None:
            return output
        return output, keras.KerasTensor(self_attention_cache.shape, self_attention_cache.dtype)

    def compute_mask(self, inputs, mask=None):
        # Keras calls this with the first input and its mask only: the output keeps that mask.
        return mask

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "norm_first": self.norm_first,
            "cross_attention": self.cross_attention,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "attention_kernel_initializer": keras.initializers.serialize(
                self.attention_kernel_initializer),
        })
        return config
