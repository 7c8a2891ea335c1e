"""Multi-head scaled dot-product self-attention: queries, keys and values from one sequence."""

import math

import keras
from keras import ops


def large_negative(dtype):
    """The masking logit for `dtype`: far below any real score, yet finite in float16."""
    return -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9


@keras.saving.register_keras_serializable(package="seqmodels")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Self-attention with several heads: `softmax(Q K^T / sqrt(d_k)) V`, per head, then mixed.

    Each position's query is compared with every position's key; the softmax of the scaled
    scores weights the values. `num_heads` heads do this in parallel on their own projections and
    an output projection mixes them. Weights are interchangeable with
    `keras.layers.MultiHeadAttention` used as self-attention: query, key and value kernels
    (d, heads, key_dim) with biases (heads, key_dim), output kernel (heads, value_dim, output_dim)
    with bias (output_dim,), in that order.

    Masking: a Keras padding mask (batch, seq) masks padded keys and padded queries, as Keras
    does; `attention_mask` (batch, seq, seq) and `causal=True` add to it. Masked scores become a
    large negative number safe in float16 (-3e4) and bfloat16/float32 (-1e9), chosen with
    `where`, so a fully masked row gives uniform weights, never NaN. Without dropout and without
    returned scores the fused `keras.ops.dot_product_attention` does the work.

    Generation with a key/value cache: pass `cache` (batch, 2, max_length, heads, key_dim) and
    `cache_update_index`; the new keys and values are written at that index, the queries attend
    causally over the cache, and the call returns `(output, new_cache)`.

    Args:
        num_heads: number of heads.
        key_dim: size of each head's queries and keys.
        value_dim: size of each head's values (default `key_dim`).
        dropout: dropout rate on the attention weights (training only).
        use_bias: whether the projections have biases.
        output_dim: size of the output (default: the input's last dimension).
        causal: mask future positions (each position attends to itself and the past).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: for all four
            projections.
        seed: seed of the attention dropout.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: (batch, seq, d) floats.
        mask: optional (batch, seq) bool padding mask (propagated by Keras).
        attention_mask: optional (batch, seq, seq) bool; True where a query may attend to a key.
        training: whether dropout is active.
        return_attention_scores: also return the weights (batch, heads, seq, seq).
        cache: optional key/value cache (batch, 2, max_length, heads, key_dim).
        cache_update_index: where the new keys and values go in the cache.

    Example:

    >>> attention = MultiHeadSelfAttention(num_heads=2, key_dim=4, causal=True)
    >>> out, scores = attention(np.zeros((1, 5, 8), "float32"), return_attention_scores=True)
    >>> out.shape, scores.shape
    ((1, 5, 8), (1, 2, 5, 5))

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_dim=None, causal=False, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 seed=None, **kwargs):
        for name, value in (("num_heads", num_heads), ("key_dim", key_dim),
                            ("value_dim", key_dim if value_dim is None else value_dim),
                            ("output_dim", 1 if output_dim is None else output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = key_dim if value_dim is None else value_dim
        self.dropout = float(dropout)
        self.use_bias = use_bias
        self.output_dim = output_dim
        self.causal = causal
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError("MultiHeadSelfAttention expects inputs of shape (batch, seq, "
                             f"features). Received: inputs.shape={tuple(input_shape)}")
        d = input_shape[-1]
        out = d if self.output_dim is None else self.output_dim
        heads = self.num_heads

        def weight(name, shape, bias=False):
            return self.add_weight(
                shape=shape, name=name,
                initializer=self.bias_initializer if bias else self.kernel_initializer,
                regularizer=self.bias_regularizer if bias else self.kernel_regularizer)

        self.query_kernel = weight("query_kernel", (d, heads, self.key_dim))
        self.query_bias = weight("query_bias", (heads, self.key_dim), True) if self.use_bias else None
        self.key_kernel = weight("key_kernel", (d, heads, self.key_dim))
        self.key_bias = weight("key_bias", (heads, self.key_dim), True) if self.use_bias else None
        self.value_kernel = weight("value_kernel", (d, heads, self.value_dim))
        self.value_bias = (weight("value_bias", (heads, self.value_dim), True)
                           if self.use_bias else None)
        self.output_kernel = weight("output_kernel", (heads, self.value_dim, out))
        self.output_bias = weight("output_bias", (out,), True) if self.use_bias else None

    def _project(self, x, kernel, bias):
        y = ops.einsum("btd,dhk->bthk", x, kernel)  # (batch, seq, heads, dim)
        return y if bias is None else y + bias

    def _combined_mask(self, inputs, mask, attention_mask, query_positions, key_length):
        """(batch, 1, q, k) bool, or None: padding, explicit and causal masks ANDed."""
        combined = None
        if mask is not None and query_positions is None:
            mask = ops.cast(mask, "bool")
            combined = ops.expand_dims(mask, -1) & ops.expand_dims(mask, -2)  # (batch, q, k)
        if attention_mask is not None:
            attention_mask = ops.cast(attention_mask, "bool")
            combined = attention_mask if combined is None else combined & attention_mask
        if self.causal or query_positions is not None:
            if query_positions is None:
                query_positions = ops.arange(ops.shape(inputs)[1])
            causal = ops.expand_dims(query_positions, -1) >= ops.arange(key_length)  # (q, k)
            causal = ops.expand_dims(causal, 0)  # (1, q, k)
            combined = causal if combined is None else combined & causal
        return None if combined is None else ops.expand_dims(combined, 1)  # (batch, 1, q, k)

    def call(self, inputs, mask=None, attention_mask=None, training=None,
             return_attention_scores=False, cache=None, cache_update_index=None):
        query = self._project(inputs, self.query_kernel, self.query_bias)  # (b, q, heads, key_dim)
        key = self._project(inputs, self.key_kernel, self.key_bias)  # (b, k, heads, key_dim)
        value = self._project(inputs, self.value_kernel, self.value_bias)  # (b, k, heads, value_dim)
        query_positions = None
        if cache is not None:
            if cache_update_index is None:
                raise ValueError("`cache_update_index` is required when `cache` is given.")
            if self.value_dim != self.key_dim:
                raise ValueError("A key/value cache needs value_dim == key_dim. Received: "
                                 f"key_dim={self.key_dim}, value_dim={self.value_dim}")
            start = [0, 0, cache_update_index, 0, 0]
            cache = ops.slice_update(cache, start, ops.stack([key, value], axis=1))
            key, value = cache[:, 0], cache[:, 1]  # (batch, max_length, heads, key_dim)
            query_positions = cache_update_index + ops.arange(ops.shape(inputs)[1])
        combined = self._combined_mask(inputs, mask, attention_mask, query_positions,
                                       ops.shape(key)[1])
        scale = 1.0 / math.sqrt(self.key_dim)
        use_dropout = bool(training) and self.dropout > 0
        if not (return_attention_scores or use_dropout):
            context = ops.dot_product_attention(query, key, value, mask=combined, scale=scale)
            scores = None
        else:
            query = query * ops.cast(scale, query.dtype)
            logits = ops.einsum("bqhk,bshk->bhqs", query, key)  # (batch, heads, q, k)
            if combined is not None:
                logits = ops.where(combined, logits, large_negative(logits.dtype))
            scores = ops.softmax(logits, axis=-1)
            weights = (keras.random.dropout(scores, self.dropout, seed=self.seed_generator)
                       if use_dropout else scores)
            context = ops.einsum("bhqs,bshv->bqhv", weights, value)  # (batch, q, heads, value_dim)
        output = ops.einsum("bqhv,hvo->bqo", context, self.output_kernel)  # (batch, q, out)
        if self.output_bias is not None:
            output = output + self.output_bias
        result = (output, scores) if return_attention_scores else output
        if cache is not None:
            return result + (cache,) if return_attention_scores else (output, cache)
        return result

    def compute_output_shape(self, input_shape):
        out = input_shape[-1] if self.output_dim is None else self.output_dim
        return tuple(input_shape[:-1]) + (out,)

    def compute_output_spec(self, inputs, mask=None, attention_mask=None, training=None,
                            return_attention_scores=False, cache=None, cache_update_index=None):
        output = keras.KerasTensor(self.compute_output_shape(inputs.shape), self.compute_dtype)
        results = [output]
        if return_attention_scores:
            keys = inputs.shape[1] if cache is None else cache.shape[2]
            results.append(keras.KerasTensor(
                (inputs.shape[0], self.num_heads, inputs.shape[1], keys), self.compute_dtype))
        if cache is not None:
            results.append(keras.KerasTensor(cache.shape, cache.dtype))
        return tuple(results) if len(results) > 1 else output

    def compute_mask(self, inputs, mask=None, attention_mask=None, training=None,
                     return_attention_scores=False, cache=None, cache_update_index=None):
        if return_attention_scores or cache is not None:
            return None
        return mask

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_dim": self.output_dim,
            "causal": self.causal,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "seed": self.seed,
        })
        return config
