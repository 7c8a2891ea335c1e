"""One transformer encoder block: self-attention and a feed-forward network, each with a residual."""

import keras

from seqmodels.layers.hashed_dropout import HashedDropout
from seqmodels.layers.multi_head_self_attention import MultiHeadSelfAttention, clone_initializer


def check_block_arguments(num_heads, intermediate_dim, key_dim, dropout, layer_norm_epsilon):
    """Validates the arguments the encoder and decoder blocks share."""
    for name, value in (("num_heads", num_heads), ("intermediate_dim", intermediate_dim),
                        ("key_dim", 1 if key_dim is None else key_dim)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if not isinstance(layer_norm_epsilon, (int, float)) or not layer_norm_epsilon > 0:
        raise ValueError("`layer_norm_epsilon` must be a positive number. "
                         f"Received: layer_norm_epsilon={layer_norm_epsilon!r}")


def head_size(block_name, input_shape, num_heads, key_dim):
    """`key_dim`, or the input width // `num_heads` when it is None (which must then divide)."""
    if len(input_shape) != 3:
        raise ValueError(f"{block_name} expects inputs of shape (batch, seq, hidden). "
                         f"Received: inputs.shape={tuple(input_shape)}")
    if key_dim is not None:
        return key_dim
    hidden = input_shape[-1]
    if hidden % num_heads:
        raise ValueError(
            f"{block_name} needs an input width divisible by `num_heads` when `key_dim` is "
            f"None. Received: input width={hidden}, num_heads={num_heads}")
    return hidden // num_heads


def sublayer_initializers(kernel_initializer, bias_initializer, offset):
    """Initializer arguments for one sublayer: its own copies (seed + `offset` when seeded)."""
    return dict(kernel_initializer=clone_initializer(kernel_initializer, offset),
                bias_initializer=clone_initializer(bias_initializer, offset))


def residual(x, sublayer, norm, dropout, norm_first, training):
    """Post-norm `norm(x + dropout(sublayer(x)))` or pre-norm `x + dropout(sublayer(norm(x)))`."""
    y = sublayer(norm(x) if norm_first else x)
    x = x + dropout(y, training=training)
    return x if norm_first else norm(x)


@keras.saving.register_keras_serializable(package="seqmodels")
class TransformerEncoderBlock(keras.layers.Layer):
    """Self-attention, then a position-wise feed-forward network; residuals and layer norms.

    `norm_first=False` is the original post-norm block (`x = LN(x + Attention(x))`,
    `x = LN(x + FFN(x))`); `norm_first=True` the pre-norm block of the ViT and GPT-2
    (`x = x + Attention(LN(x))`, `x = x + FFN(LN(x))`). A Keras padding mask reaches the
    attention, where no query attends to a padded key, and passes through to the output.
    Same computation and weight shapes as `keras_hub.layers.TransformerEncoder` (sublayers
    `attention`, `attention_norm`, `intermediate_dense`, `output_dense`, `feedforward_norm`
    take its `_self_attention_layer`, `_self_attention_layer_norm`,
    `_feedforward_intermediate_dense`, `_feedforward_output_dense`, `_feedforward_layer_norm`
    weights).

    Args:
        num_heads: attention heads.
        intermediate_dim: width of the feed-forward hidden layer.
        key_dim: size of each head (default: input width // num_heads).
        dropout: rate of the dropout before each residual (and of the attention dropout
            unless `attention_dropout` is given).
        activation: feed-forward activation.
        attention_dropout: rate of the dropout on the attention weights (default: `dropout`;
            BERT checkpoints give the two apart, `attention_probs_dropout_prob` and
            `hidden_dropout_prob`).
        layer_norm_epsilon: epsilon of the layer norms.
        norm_first: pre-norm (True) or post-norm (False).
        kernel_initializer: initializer of every projection kernel.
        bias_initializer: initializer of every projection bias.
        attention_kernel_initializer: initializer of the self-attention's four projection
            kernels (default: `kernel_initializer`); see `seqmodels.models.initializers`,
            which the package's models start their attention with.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: (batch, seq, hidden) floats.
        mask: optional (batch, seq) padding mask (propagated by Keras).
        attention_mask: optional (batch, seq, seq) bool.
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> tuple(block(np.zeros((2, 5, 16), "float32")).shape)
    (2, 5, 16)

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
        Xiong et al., "On Layer Normalization in the Transformer Architecture", 2020.
    """

    def __init__(self, num_heads, intermediate_dim, key_dim=None, dropout=0.0,
                 activation="relu", layer_norm_epsilon=1e-5, norm_first=False,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 attention_dropout=None, attention_kernel_initializer=None, **kwargs):
        check_block_arguments(num_heads, intermediate_dim, key_dim, dropout, layer_norm_epsilon)
        if attention_dropout is not None and (not isinstance(attention_dropout, (int, float))
                                              or not 0.0 <= attention_dropout < 1.0):
            raise ValueError("`attention_dropout` must be None or in [0, 1). "
                             f"Received: attention_dropout={attention_dropout!r}")
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.key_dim = key_dim
        self.dropout = float(dropout)
        self.attention_dropout = None if attention_dropout is None else float(attention_dropout)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.attention_kernel_initializer = keras.initializers.get(attention_kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        key_dim = head_size("TransformerEncoderBlock", input_shape, self.num_heads, self.key_dim)
        hidden = input_shape[-1]

        def initializers(offset, kernel_initializer=None):
            # The attention copies its initializers per weight (seed offsets 0-3).
            return sublayer_initializers(kernel_initializer or self.kernel_initializer,
                                         self.bias_initializer, offset)

        self.attention = MultiHeadSelfAttention(
            self.num_heads, key_dim,
            dropout=self.dropout if self.attention_dropout is None else self.attention_dropout,
            dtype=self.dtype_policy, name="self_attention",
            **initializers(0, self.attention_kernel_initializer))
        self.attention.build(input_shape)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_norm")
        self.attention_norm.build(input_shape)
        self.feedforward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="feedforward_norm")
        self.feedforward_norm.build(input_shape)
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim, activation=self.activation, dtype=self.dtype_policy,
            name="intermediate_dense", **initializers(4))
        self.intermediate_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(hidden, dtype=self.dtype_policy,
                                               name="output_dense", **initializers(5))
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.residual_dropout = HashedDropout(self.dropout, dtype=self.dtype_policy)

    def call(self, inputs, mask=None, attention_mask=None, training=None):
        def attend(x):
            return self.attention(x, mask=mask, attention_mask=attention_mask, training=training)

        def feedforward(x):
            return self.output_dense(self.intermediate_dense(x))  # (batch, seq, hidden)

        x = residual(inputs, attend, self.attention_norm, self.residual_dropout, self.norm_first,
                     training)
        return residual(x, feedforward, self.feedforward_norm, self.residual_dropout,
                        self.norm_first, training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
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
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "attention_dropout": self.attention_dropout,
            "attention_kernel_initializer": keras.initializers.serialize(
                self.attention_kernel_initializer),
        })
        return config
