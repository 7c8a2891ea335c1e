"""Positional encodings: sinusoidal (Vaswani et al.) or learned, optionally with token embeddings."""

import keras
import numpy as np
from keras import ops

from seqmodels.layers.multi_head_self_attention import clone_initializer, known_int

KINDS = ("sinusoidal", "learned")


def sinusoidal_encoding(length, dim, dtype="float32", start_index=0):
    """The (length, dim) matrix PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(...).

    Rows are positions `start_index` .. `start_index + length - 1`.

    Example:

    >>> np.asarray(sinusoidal_encoding(3, 4))[1]  # position 1
    array([0.84147096, 0.5403023 , 0.00999983, 0.99995   ], dtype=float32)
    """
    if isinstance(length, int) and isinstance(start_index, int):
        # Shapes known when the graph is built: the table becomes a constant, computed once in
        # float64 with numpy instead of two transcendental ops per element at every step.
        positions = np.arange(start_index, start_index + length, dtype=np.float64)[:, None]
        pair = (np.arange(dim) // 2).astype(np.float64)
        angles = positions / np.power(10000.0, 2.0 * pair / dim)  # (length, dim)
        table = np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))
        return ops.convert_to_tensor(table.astype(dtype))
    positions = ops.cast(ops.arange(length) + start_index, "float32")[:, None]  # (length, 1)
    pair = ops.cast(ops.arange(dim) // 2, "float32")  # i for columns 2i and 2i+1
    angles = positions / ops.power(10000.0, 2.0 * pair / dim)  # (length, dim)
    is_even = (ops.arange(dim) % 2) == 0
    return ops.cast(ops.where(is_even, ops.sin(angles), ops.cos(angles)), dtype)


@keras.saving.register_keras_serializable(package="seqmodels")
class PositionalEmbedding(keras.layers.Layer):
    """Adds position information to a sequence, and embeds token ids first if asked to.

    Self-attention is blind to order; this layer tells each position where it is.
    `kind="sinusoidal"` adds the fixed encoding of Vaswani et al. (any length);
    `kind="learned"` adds a trained (max_length, dim) table (lengths up to `max_length`).
    Without `vocab_size` the input is a float sequence (batch, seq, dim) and the output is
    `inputs + PE`, its mask passing through. With `vocab_size` the input is token ids
    (batch, seq) and the output is `token_embedding(ids) + PE` (batch, seq, output_dim); with
    `mask_zero=True` id 0 is padding and the layer emits the padding mask. A sequence longer
    than `max_length` is an error (when its length is known at call time). The sinusoidal
    encoding is the one keras-hub's `SinePositionEncoding` computes; the learned table loads
    into `keras_hub.layers.PositionEmbedding`, and `[token_embeddings, position_embeddings]`
    into `keras_hub.layers.TokenAndPositionEmbedding`.

    Token ids must be integers in [0, vocab_size). Float ids are an error. Ids outside the
    range are an error where their values are known at call time (eager calls, `run_eagerly`,
    the torch backend); inside a traced function (`fit`, `tf.function`, XLA, `jax.jit`) they
    cannot be checked: for ids >= vocab_size TensorFlow on CPU raises its own
    `InvalidArgumentError`, XLA clamps them to the last row and a GPU gather returns zeros; a
    negative id counts from the end of the table (`keras.ops.take`). Each table gets its own
    copy of `embeddings_initializer`.

    Args:
        kind: `"sinusoidal"` or `"learned"`.
        max_length: longest sequence (required for `"learned"`; optional limit for sinusoidal).
        vocab_size: number of token ids; `None` for float inputs.
        output_dim: embedding size (required with `vocab_size`).
        mask_zero: treat id 0 as padding and emit a mask (only with `vocab_size`).
        embeddings_initializer: initializer of the token and learned position tables.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: token ids (batch, seq), or floats (batch, seq, dim) without `vocab_size`.
        mask: optional (batch, seq) mask of float inputs, passed through.
        start_index: position of the first element (generation with a key/value cache feeds
            one token at a time, at positions 0, 1, 2, ...).

    Example:

    >>> layer = PositionalEmbedding(kind="learned", max_length=16, vocab_size=100,
    ...                             output_dim=8, mask_zero=True)
    >>> tuple(layer(np.array([[4, 7, 0]])).shape)
    (1, 3, 8)

    References:
        Vaswani et al., "Attention Is All You Need", 2017 (section 3.5).
    """

    def __init__(self, kind="sinusoidal", max_length=None, vocab_size=None, output_dim=None,
                 mask_zero=False, embeddings_initializer="uniform", **kwargs):
        if kind not in KINDS:
            raise ValueError(f"`kind` must be one of {', '.join(KINDS)}. Received: kind={kind!r}")
        if kind == "learned" and max_length is None:
            raise ValueError("`max_length` is required for kind='learned'. Received: max_length=None")
        for name, value in (("max_length", max_length), ("vocab_size", vocab_size),
                            ("output_dim", output_dim)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < 1):
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if vocab_size is not None and output_dim is None:
            raise ValueError("`output_dim` is required when `vocab_size` is set. "
                             "Received: output_dim=None")
        if mask_zero and vocab_size is None:
            raise ValueError("`mask_zero=True` needs `vocab_size` (token ids to mask). "
                             "Received: vocab_size=None")
        super().__init__(**kwargs)
        self.kind = kind
        self.max_length = max_length
        self.vocab_size = vocab_size
        self.output_dim = output_dim
        self.mask_zero = mask_zero
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if self.vocab_size is not None:
            if len(input_shape) != 2:
                raise ValueError(
                    "PositionalEmbedding with `vocab_size` expects token ids of shape "
                    f"(batch, seq). Received: inputs.shape={tuple(input_shape)}")
            self.token_embeddings = self.add_weight(
                shape=(self.vocab_size, self.output_dim), name="token_embeddings",
                initializer=clone_initializer(self.embeddings_initializer, 0))
            dim = self.output_dim
        else:
            if len(input_shape) != 3:
                raise ValueError(
                    "PositionalEmbedding without `vocab_size` expects inputs of shape "
                    f"(batch, seq, dim). Received: inputs.shape={tuple(input_shape)}")
            dim = input_shape[-1]
        if self.kind == "learned":
            self.position_embeddings = self.add_weight(
                shape=(self.max_length, dim), name="position_embeddings",
                initializer=clone_initializer(self.embeddings_initializer, 1))

    def _check_token_dtype(self, dtype):
        dtype = keras.backend.standardize_dtype(dtype)
        if self.vocab_size is not None and "int" not in dtype:
            raise ValueError("PositionalEmbedding with `vocab_size` expects integer token ids. "
                             f"Received: inputs.dtype={dtype}")

    def _check_token_ids(self, inputs):
        """Named errors for float ids, and for ids outside [0, vocab_size) when they are known."""
        self._check_token_dtype(inputs.dtype)
        if 0 in tuple(inputs.shape):
            return
        low, high = known_int(ops.min(inputs)), known_int(ops.max(inputs))  # None when traced
        if low is not None and (low < 0 or high >= self.vocab_size):
            raise ValueError(
                f"PositionalEmbedding token ids must be in [0, vocab_size) = [0, "
                f"{self.vocab_size}). Received: ids from {low} to {high}.")

    def call(self, inputs, mask=None, start_index=0):
        length, start = inputs.shape[1], known_int(start_index)
        if (self.max_length is not None and isinstance(length, int) and start is not None
                and start + length > self.max_length):
            raise ValueError(
                f"PositionalEmbedding covers sequences up to max_length={self.max_length}. "
                f"Received: a sequence of length {start + length}.")
        if self.vocab_size is not None:
            self._check_token_ids(inputs)
            x = ops.take(self.token_embeddings, ops.cast(inputs, "int32"), axis=0)  # (b, s, dim)
        else:
            x = inputs
        seq = ops.shape(x)[1]
        if self.kind == "learned":
            positions = ops.slice(self.position_embeddings, (start_index, 0),
                                  (seq, x.shape[-1]))  # (seq, dim)
        else:
            static_seq = x.shape[1] if isinstance(x.shape[1], int) else seq
            positions = sinusoidal_encoding(static_seq, x.shape[-1], start_index=start_index)
        return x + ops.cast(positions, x.dtype)

    def compute_mask(self, inputs, mask=None, start_index=0):
        if self.vocab_size is not None:
            return ops.not_equal(inputs, 0) if self.mask_zero else None
        return mask

    def compute_output_spec(self, inputs, mask=None, start_index=0):
        self._check_token_dtype(inputs.dtype)  # a model with float ids fails as it is built
        return super().compute_output_spec(inputs, mask=mask, start_index=start_index)

    def compute_output_shape(self, input_shape):
        if self.vocab_size is not None:
            return tuple(input_shape) + (self.output_dim,)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "kind": self.kind,
            "max_length": self.max_length,
            "vocab_size": self.vocab_size,
            "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        })
        return config
