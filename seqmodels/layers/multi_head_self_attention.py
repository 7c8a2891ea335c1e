"""Multi-head scaled dot-product self-attention: queries, keys and values from one sequence."""

import math

import keras
from keras import ops

from seqmodels.layers.hashed_dropout import hashed_dropout

# Backends on which `keras.ops.dot_product_attention` beats the explicit einsums below.
# Measured forward+backward on 2 CPU cores (batch 64, T=128, 4 heads of 32): on TensorFlow the
# backend op is the same einsum/softmax/einsum, but its `einsum(optimize="optimal")` makes it
# 1.6x slower than ours (39 ms vs 25 ms for the attention core); torch's op calls
# `scaled_dot_product_attention` and is 1.3x faster than the einsums (185 ms vs 248 ms).
# JAX (not installed here, unmeasured) takes the backend op like torch. Both paths agree to
# float32 rounding (tested).
FUSED_ATTENTION_BACKENDS = ("jax", "torch")


def large_negative(dtype):
    """The logit given to masked keys: far below any real score, yet finite in `dtype`."""
    return -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9


def clone_initializer(initializer, offset=0):
    """A fresh copy of `initializer` for one weight, so that no two weights draw the same values.

    One initializer object called twice gives the same values (its seed is fixed when it is
    made, even when none is passed), so every weight gets its own copy, as keras-hub does. An
    integer seed becomes `seed + offset`: weights stay reproducible but differ from each other
    (Keras' own copies keep the seed, and seeded query, key and value kernels come out equal).
    An initializer seeded by a `keras.random.SeedGenerator` advances on every call and is
    returned as it is, and so are plain functions.

    Example:

    >>> init = keras.initializers.GlorotUniform(seed=3)
    >>> clone_initializer(init, offset=2).seed
    5
    """
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    config = initializer.get_config()
    seed = config.get("seed")
    if seed is not None and not isinstance(seed, int):
        return initializer
    if seed is not None:
        config["seed"] = seed + offset
    return initializer.__class__.from_config(config)


def known_int(value):
    """`value` as a Python int when it is known now (an int, or a tensor in eager execution).

    Inside a traced function (`tf.function`, `jax.jit`, a symbolic Keras call) a tensor has no
    value yet: None.

    Example:

    >>> known_int(np.int64(4)), known_int(keras.ops.convert_to_tensor(7))
    (4, 7)
    """
    try:
        return int(value)
    except TypeError:
        return None


@keras.saving.register_keras_serializable(package="seqmodels")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Self-attention with several heads: `softmax(Q K^T / sqrt(d_k)) V`, per head, then mixed.

    Each position's query is compared with every position's key; the softmax of the scaled
    scores weights the values. `num_heads` heads do this in parallel on their own projections and
    an output projection mixes them. The four projections are `keras.layers.EinsumDense`
    sublayers named as Keras' (`query`, `key`, `value`, `attention_output`; attributes
    `query_dense`, `key_dense`, `value_dense`, `output_dense`), so weights are interchangeable
    with `keras.layers.MultiHeadAttention` used as self-attention (`mha(x, x)`): query, key and
    value kernels (d, heads, key_dim) with biases (heads, key_dim), output kernel
    (heads, value_dim, output_dim) with bias (output_dim,), in that order, at the same paths
    (`.../query/kernel`, ...). Keras' `enable_lora(rank)` works on each projection, and
    `model.quantize("int8")` quantizes them. Each weight gets its own copy of the initializer
    (see `clone_initializer`): query, key and value kernels differ, even with a seeded one.

    Masking: a Keras padding mask (batch, seq) hides padded keys and padded queries, as Keras
    does; `attention_mask` (batch, seq, seq) and `causal=True` are ANDed with it. Masked logits
    are replaced (`where`, not added) by -1e9 in a float32 softmax, also under float16 and
    bfloat16 policies, so nothing overflows. A query that may see no key at all (a padded
    position) gets uniform weights, as in Keras' default path; its output is never NaN. The
    output carries the input's mask. On backends where it is faster (see
    `FUSED_ATTENTION_BACKENDS`) `keras.ops.dot_product_attention` does the work, unless the
    scores are returned or attention dropout is active.

    Generation with a key/value cache (the convention of keras-hub's
    `CachedMultiHeadAttention`): pass `cache` (batch, 2, max_length, heads, key_dim), index 0
    of axis 1 the keys and 1 the values, and `cache_update_index`. This call's keys and values
    are written into the cache at that index, its queries (positions `cache_update_index`
    onwards) attend to every cache position up to their own, and the call returns
    `(output, new_cache)`. With a cache the Keras `mask` is ignored; hide padded cache positions
    with `attention_mask` (batch, seq, max_length). A query whose row shows no position (a
    padded query) weighs positions 0 .. `cache_update_index` + seq - 1 evenly, as a full pass
    over them would: a cached call gives that pass's outputs. `cache_update_index` + seq must fit in
    max_length: checked when the index is an int or an eager tensor; inside a traced function
    an index beyond the cache is not an error (the backends clamp the write).

    Masks whose shape does not fit the inputs are errors where the shapes are known: `mask`
    must be (batch, seq) and `attention_mask` (batch, seq, keys), a dimension of 1 broadcasting.

    Args:
        num_heads: number of heads.
        key_dim: size of each head's queries and keys.
        value_dim: size of each head's values (default `key_dim`).
        dropout: dropout rate on the attention weights (training only; the mask comes from
            `hashed_dropout`, cheap under XLA).
        use_bias: whether the projections have biases.
        output_dim: size of the output (default: the input's last dimension).
        causal: mask future positions (each position attends to itself and the past).
        kernel_initializer: initializer of the four projection kernels (copied per weight).
        bias_initializer: initializer of their biases (copied per weight).
        kernel_regularizer: regularizer of the kernels.
        bias_regularizer: regularizer of the biases.
        kernel_constraint: constraint of the kernels.
        bias_constraint: constraint of the biases.
        seed: seed of the attention dropout.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: (batch, seq, d) floats.
        mask: optional (batch, seq) bool padding mask (propagated by Keras).
        attention_mask: optional (batch, seq, seq) bool, True where a query may attend to a key
            ((batch, seq, max_length) with a cache).
        training: whether dropout is active.
        return_attention_scores: also return the weights (batch, heads, seq, keys).
        cache: optional key/value cache (batch, 2, max_length, heads, key_dim).
        cache_update_index: int (or int tensor), where this call's keys and values go.

    Returns:
        `output` (batch, seq, output_dim); `(output, scores)` with `return_attention_scores`;
        `(output, new_cache)` with a cache; `(output, scores, new_cache)` with both.

    Example:

    >>> attention = MultiHeadSelfAttention(num_heads=2, key_dim=4, causal=True)
    >>> out, scores = attention(np.zeros((1, 5, 8), "float32"), return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((1, 5, 8), (1, 2, 5, 5))

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_dim=None, causal=False, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, **kwargs):
        for name, value, optional in (("num_heads", num_heads, False),
                                      ("key_dim", key_dim, False),
                                      ("value_dim", value_dim, True),
                                      ("output_dim", output_dim, True)):
            if (value is not None or not optional) and (
                    not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
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
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError("MultiHeadSelfAttention expects inputs of shape (batch, seq, "
                             f"features). Received: inputs.shape={tuple(input_shape)}")
        out = input_shape[-1] if self.output_dim is None else self.output_dim
        heads = self.num_heads

        def projection(name, equation, output_shape, bias_axes, offset, projection_input):
            layer = keras.layers.EinsumDense(
                equation, output_shape, bias_axes=bias_axes if self.use_bias else None,
                kernel_initializer=clone_initializer(self.kernel_initializer, offset),
                bias_initializer=clone_initializer(self.bias_initializer, offset),
                kernel_regularizer=self.kernel_regularizer,
                bias_regularizer=self.bias_regularizer, kernel_constraint=self.kernel_constraint,
                bias_constraint=self.bias_constraint, dtype=self.dtype_policy, name=name)
            # Our call hands the projections the masked inputs; they keep (and never read) it.
            layer.supports_masking = True
            layer.build(projection_input)
            return layer

        # Built in keras.layers.MultiHeadAttention's order, under its names, so that weight
        # lists and paths interchange. Kernels (d, heads, key_dim) and (heads, value_dim, out).
        self.query_dense = projection("query", "btd,dhk->bthk", (None, heads, self.key_dim),
                                      "hk", 0, input_shape)
        self.key_dense = projection("key", "btd,dhk->bthk", (None, heads, self.key_dim),
                                    "hk", 1, input_shape)
        self.value_dense = projection("value", "btd,dhv->bthv", (None, heads, self.value_dim),
                                      "hv", 2, input_shape)
        self.output_dense = projection(
            "attention_output", "bthv,hvo->bto", (None, out), "o", 3,
            tuple(input_shape[:-1]) + (heads, self.value_dim))

    def _check_cache(self, cache, cache_update_index, length):
        if cache_update_index is None:
            raise ValueError("`cache_update_index` is required when `cache` is given. "
                             "Received: cache_update_index=None")
        if self.value_dim != self.key_dim:
            raise ValueError("A key/value cache needs value_dim == key_dim. Received: "
                             f"key_dim={self.key_dim}, value_dim={self.value_dim}")
        shape = tuple(cache.shape)
        if len(shape) != 5 or (shape[1], shape[3], shape[4]) != (2, self.num_heads, self.key_dim):
            raise ValueError(
                f"`cache` must have shape (batch, 2, max_length, {self.num_heads}, "
                f"{self.key_dim}), i.e. (batch, key/value, position, num_heads, key_dim). "
                f"Received: cache.shape={shape}")
        index, max_length = known_int(cache_update_index), shape[2]
        if index is None:
            return
        known = isinstance(length, int) and isinstance(max_length, int)
        if index < 0 or (known and index + length > max_length):
            last = f"{max_length - length}" if known else "max_length - seq"
            raise ValueError(
                f"`cache_update_index` must be in [0, {last}]: this call writes {length} "
                f"positions into a cache of max_length={max_length}. "
                f"Received: cache_update_index={index}")

    def _check_masks(self, inputs, mask, attention_mask, key_length):
        """Named errors for masks whose (known) shape does not fit the inputs."""
        batch, seq = inputs.shape[0], inputs.shape[1]

        def fits(actual, expected, broadcast):
            return (actual is None or expected is None or actual == expected
                    or (broadcast and actual == 1))

        if mask is not None:
            shape = tuple(mask.shape)
            if len(shape) != 2 or not all(map(fits, shape, (batch, seq), (False, False))):
                raise ValueError(
                    f"`mask` must have shape (batch, seq) = ({batch}, {seq}), the first two "
                    f"dimensions of the inputs. Received: mask.shape={shape}")
        if attention_mask is not None:
            shape = tuple(attention_mask.shape)
            if len(shape) != 3:
                raise ValueError(
                    "`attention_mask` must have shape (batch, query_length, key_length). "
                    f"Received: attention_mask.shape={shape}")
            expected = (batch, seq, key_length)
            if not all(map(fits, shape, expected, (True, True, True))):
                raise ValueError(
                    "`attention_mask` must have shape (batch, query_length, key_length) = "
                    f"({batch}, {seq}, {key_length}) (a dimension of 1 broadcasts). "
                    f"Received: attention_mask.shape={shape}")

    def _attention_mask(self, mask, attention_mask, query_length, key_length, query_start):
        """(batch or 1, 1, q, k) bool, True where a query sees a key; None when all see all.

        `query_start` is None without a cache (queries and keys are the same positions), else
        the cache position of the first query.
        """
        combined = None
        if mask is not None and query_start is None:
            mask = ops.cast(mask, "bool")
            combined = ops.expand_dims(mask, -1) & ops.expand_dims(mask, -2)  # (batch, q, k)
        if attention_mask is not None:
            attention_mask = ops.cast(attention_mask, "bool")
            combined = attention_mask if combined is None else combined & attention_mask
        if self.causal or query_start is not None:
            query_positions = ops.arange(query_length)  # (q,)
            if query_start is not None:
                query_positions = query_positions + query_start
            causal = ops.expand_dims(query_positions, -1) >= ops.arange(key_length)  # (q, k)
            causal = ops.expand_dims(causal, 0)  # (1, q, k)
            combined = causal if combined is None else combined & causal
        return None if combined is None else ops.expand_dims(combined, 1)  # (batch, 1, q, k)

    @staticmethod
    def _blind_cached_queries(visible, query, query_start, query_length, key_length):
        """With a cache, a query that may see no position looks evenly at all written ones.

        Without a cache such a query (a padded one) weighs every key of the sequence evenly.
        With a cache that sequence is positions 0 .. query_start + query_length - 1: they
        become visible to it and its query is zeroed, so that its scores there are equal (0).
        """
        blind = ops.logical_not(ops.any(visible, axis=-1, keepdims=True))  # (batch, 1, q, 1)
        written = ops.arange(key_length) < query_start + query_length  # (k,)
        visible = ops.logical_or(visible, ops.logical_and(blind, written))  # (batch, 1, q, k)
        blind = ops.transpose(blind, (0, 2, 1, 3))  # (batch, q, 1, 1)
        return visible, ops.where(blind, ops.zeros_like(query), query)

    def call(self, inputs, mask=None, attention_mask=None, training=None,
             return_attention_scores=False, cache=None, cache_update_index=None):
        if cache is None and cache_update_index is not None:
            raise ValueError("`cache_update_index` needs a `cache`. Received: cache=None, "
                             f"cache_update_index={cache_update_index!r}")
        if cache is not None:
            self._check_cache(cache, cache_update_index, inputs.shape[1])
        self._check_masks(inputs, mask, attention_mask,
                          inputs.shape[1] if cache is None else cache.shape[2])
        query = self.query_dense(inputs)  # (batch, seq, heads, key_dim)
        key = self.key_dense(inputs)  # (batch, seq, heads, key_dim)
        value = self.value_dense(inputs)  # (batch, seq, heads, value_dim)
        if cache is not None:
            update = ops.stack([key, value], axis=1)  # (batch, 2, seq, heads, key_dim)
            update = ops.cast(update, cache.dtype)
            cache = ops.slice_update(cache, [0, 0, cache_update_index, 0, 0], update)
            key = ops.cast(cache[:, 0], query.dtype)  # (batch, max_length, heads, key_dim)
            value = ops.cast(cache[:, 1], query.dtype)  # (batch, max_length, heads, key_dim)
        query_length, key_length = ops.shape(query)[1], ops.shape(key)[1]
        only_causal = self.causal and mask is None and attention_mask is None and cache is None
        visible = self._attention_mask(mask, attention_mask, query_length, key_length,
                                       None if cache is None else cache_update_index)
        if cache is not None and attention_mask is not None:
            visible, query = self._blind_cached_queries(visible, query, cache_update_index,
                                                        query_length, key_length)
        scale = 1.0 / math.sqrt(self.key_dim)
        use_dropout = bool(training) and self.dropout > 0
        scores = None
        if (keras.backend.backend() in FUSED_ATTENTION_BACKENDS
                and not (return_attention_scores or use_dropout)):
            context = ops.dot_product_attention(  # (batch, q, heads, value_dim)
                query, key, value, mask=None if only_causal else visible, scale=scale,
                is_causal=only_causal)
        else:
            context, scores = self._explicit_attention(query, key, value, visible, scale,
                                                       use_dropout)
        output = self.output_dense(context)  # (batch, q, out)
        results = (output,) + ((scores,) if return_attention_scores else ()) + (
            (cache,) if cache is not None else ())
        return results if len(results) > 1 else output

    def _explicit_attention(self, query, key, value, visible, scale, use_dropout):
        """Attention by einsums, the softmax in float32 (as the fused op does)."""
        query = query * ops.cast(scale, query.dtype)
        logits = ops.einsum("bqhk,bshk->bhqs", query, key)  # (batch, heads, q, k)
        logits = ops.cast(logits, keras.backend.result_type(logits.dtype, "float32"))
        if visible is not None:
            logits = ops.where(visible, logits, large_negative(logits.dtype))
        scores = ops.cast(ops.softmax(logits, axis=-1), value.dtype)  # (batch, heads, q, k)
        weights = (hashed_dropout(scores, self.dropout, self.seed_generator)
                   if use_dropout else scores)
        context = ops.einsum("bhqs,bshv->bqhv", weights, value)  # (batch, q, heads, value_dim)
        return context, scores

    def compute_output_shape(self, input_shape):
        out = input_shape[-1] if self.output_dim is None else self.output_dim
        return tuple(input_shape[:-1]) + (out,)

    def compute_output_spec(self, inputs, mask=None, attention_mask=None, training=None,
                            return_attention_scores=False, cache=None, cache_update_index=None):
        # A functional model whose masks or cache do not fit fails as it is built.
        if cache is not None:
            self._check_cache(cache, cache_update_index, inputs.shape[1])
        self._check_masks(inputs, mask, attention_mask,
                          inputs.shape[1] if cache is None else cache.shape[2])
        output = keras.KerasTensor(self.compute_output_shape(inputs.shape), self.compute_dtype)
        results = [output]
        if return_attention_scores:
            keys = inputs.shape[1] if cache is None else cache.shape[2]
            results.append(keras.KerasTensor(
                (inputs.shape[0], self.num_heads, inputs.shape[1], keys), self.compute_dtype))
        if cache is not None:
            results.append(keras.KerasTensor(cache.shape, cache.dtype))
        return tuple(results) if len(results) > 1 else output

    def compute_mask(self, inputs, mask=None):
        # Keras calls this with the input and its mask only; the (first) output keeps the mask.
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
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "seed": self.seed,
        })
        return config
