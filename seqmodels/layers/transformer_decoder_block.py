"""One transformer decoder block: causal self-attention, optional cross-attention, feed-forward."""

import keras

from seqmodels.layers.multi_head_self_attention import MultiHeadSelfAttention
from seqmodels.layers.transformer_encoder_block import check_block_arguments, head_size


@keras.saving.register_keras_serializable(package="seqmodels")
class TransformerDecoderBlock(keras.layers.Layer):
    """Causal self-attention, cross-attention over an encoder's outputs, and a feed-forward net.

    Each position attends only to itself and earlier positions (so a language model cannot peek
    at the token it predicts); with `cross_attention=True` it then attends over
    `encoder_outputs` (translation, captioning); a feed-forward network follows. Each sub-block
    has a residual and a layer norm, after (`norm_first=False`) or before (`norm_first=True`).
    Same computation and weight shapes as `keras_hub.layers.TransformerDecoder`.

    For fast generation pass `self_attention_cache` (batch, 2, max_length, heads, key_dim) and
    `self_attention_cache_update_index`: the block then returns `(outputs, new_cache)`, having
    computed only the new positions.

    Args:
        num_heads: attention heads.
        intermediate_dim: width of the feed-forward hidden layer.
        key_dim: size of each head (default: input width // num_heads).
        dropout: rate of attention dropout and of the dropout before each residual.
        activation: feed-forward activation.
        layer_norm_epsilon: epsilon of the layer norms.
        norm_first: pre-norm (True) or post-norm (False).
        cross_attention: whether the block attends over `encoder_outputs`.
        kernel_initializer, bias_initializer: for every projection.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: (batch, seq, hidden) floats.
        encoder_outputs: (batch, source_seq, encoder_hidden), required with cross-attention.
        mask: optional (batch, seq) padding mask of `inputs` (propagated by Keras).
        encoder_mask: optional (batch, source_seq) padding mask of `encoder_outputs` (taken
            from `encoder_outputs`' Keras mask when not given).
        training: whether dropout is active.
        self_attention_cache, self_attention_cache_update_index: see above.

    Example:

    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    >>> block(np.zeros((2, 5, 16), "float32"), np.zeros((2, 7, 16), "float32")).shape
    (2, 5, 16)

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(self, num_heads, intermediate_dim, key_dim=None, dropout=0.0,
                 activation="relu", layer_norm_epsilon=1e-5, norm_first=False,
                 cross_attention=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        check_block_arguments(num_heads, intermediate_dim, key_dim, dropout)
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
        self.supports_masking = True

    def build(self, inputs_shape, encoder_outputs_shape=None):
        input_shape = inputs_shape
        hidden = input_shape[-1]
        key_dim = head_size("TransformerDecoderBlock", hidden, self.num_heads, self.key_dim)
        initializers = dict(kernel_initializer=self.kernel_initializer,
                            bias_initializer=self.bias_initializer)

        def norm(name):
            layer = keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name)
            layer.build(input_shape)
            return layer

        self.self_attention = MultiHeadSelfAttention(
            self.num_heads, key_dim, dropout=self.dropout, causal=True, dtype=self.dtype_policy,
            name="self_attention", **initializers)
        self.self_attention.build(input_shape)
        self.self_attention_norm = norm("self_attention_norm")
        if self.cross_attention:
            if encoder_outputs_shape is None:
                raise ValueError("TransformerDecoderBlock with cross_attention=True needs "
                                 "`encoder_outputs`. Received: encoder_outputs=None")
            self.cross_attention_layer = keras.layers.MultiHeadAttention(
                self.num_heads, key_dim, dropout=self.dropout, dtype=self.dtype_policy,
                name="cross_attention", **initializers)
            self.cross_attention_layer.build(input_shape, encoder_outputs_shape)
            self.cross_attention_norm = norm("cross_attention_norm")
        self.feedforward_norm = norm("feedforward_norm")
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim, activation=self.activation, dtype=self.dtype_policy,
            name="intermediate_dense", **initializers)
        self.intermediate_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(hidden, dtype=self.dtype_policy,
                                               name="output_dense", **initializers)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def _residual(self, inputs, sublayer, norm, training):
        x = norm(inputs) if self.norm_first else inputs
        x = inputs + self.residual_dropout(sublayer(x), training=training)
        return x if self.norm_first else norm(x)

    def call(self, inputs, encoder_outputs=None, mask=None, encoder_mask=None, training=None,
             self_attention_cache=None, self_attention_cache_update_index=None):
        if self.cross_attention and encoder_outputs is None:
            raise ValueError("TransformerDecoderBlock with cross_attention=True needs "
                             "`encoder_outputs`. Received: encoder_outputs=None")
        new_cache = None

        def self_attend(x):
            nonlocal new_cache
            if self_attention_cache is None:
                return self.self_attention(x, mask=mask, training=training)
            x, new_cache = self.self_attention(
                x, training=training, cache=self_attention_cache,
                cache_update_index=self_attention_cache_update_index)
            return x

        x = self._residual(inputs, self_attend, self.self_attention_norm, training)
        if self.cross_attention:
            if encoder_mask is None:
                encoder_mask = getattr(encoder_outputs, "_keras_mask", None)
            attention_mask = None
            if encoder_mask is not None:
                # (batch, 1, source_seq): every target position sees the real source tokens.
                attention_mask = keras.ops.expand_dims(keras.ops.cast(encoder_mask, "bool"), 1)

            def cross_attend(x):
                return self.cross_attention_layer(x, encoder_outputs,
                                                  attention_mask=attention_mask, training=training)

            x = self._residual(x, cross_attend, self.cross_attention_norm, training)
        x = self._residual(x, lambda y: self.output_dense(self.intermediate_dense(y)),
                           self.feedforward_norm, training)
        return x if new_cache is None else (x, new_cache)

    def compute_output_shape(self, inputs_shape, encoder_outputs_shape=None):
        return tuple(inputs_shape)

    def compute_output_spec(self, inputs, encoder_outputs=None, mask=None, encoder_mask=None,
                            training=None, self_attention_cache=None,
                            self_attention_cache_update_index=None):
        output = keras.KerasTensor(tuple(inputs.shape), self.compute_dtype)
        if self_attention_cache is None:
            return output
        return output, keras.KerasTensor(self_attention_cache.shape, self_attention_cache.dtype)

    def compute_mask(self, inputs, encoder_outputs=None, mask=None, encoder_mask=None,
                     training=None, self_attention_cache=None,
                     self_attention_cache_update_index=None):
        return None if self_attention_cache is not None else mask

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
        })
        return config
