"""Converters of `nn.MultiheadAttention`, `nn.TransformerEncoderLayer`, `nn.TransformerEncoder`.

torch packs the query, key and value projections into `in_proj_weight` (3 * width, width),
rows `[W_q; W_k; W_v]`, each output feature `head * head_dim + k`; our
`MultiHeadSelfAttention` keeps them as `EinsumDense` kernels (width, heads, head_dim) (Keras'
`MultiHeadAttention` shapes), so each kernel is `W.T` reshaped, and the output kernel
(heads, head_dim, width) is `out_proj.weight.T` reshaped. The scale is `1 / sqrt(head_dim)`
in both.

Masks: torch's `key_padding_mask` / `src_key_padding_mask` (batch, seq), True at padding, is
our Keras `mask = ~key_padding_mask` (True at real tokens). Ours also hides padded queries,
whose outputs then differ from torch's (torch's own fast path returns zeros there); the real
tokens' outputs agree. For torch's outputs at every position, pass `attention_mask =
~key_padding_mask[:, None, :]` instead. A boolean `attn_mask` / `mask` (seq, seq), True where
attention is not allowed, is our `attention_mask = ~attn_mask[None]`.
"""

import keras
import numpy as np

from seqmodels import layers
from seqmodels.transfer.pytorch.basic import layer_norm, set_dense, set_layer_norm
from seqmodels.transfer.pytorch.common import (UnsupportedTorchModuleError, assign, require,
                                               sequential, to_numpy, torch_name)


def _check_attention(module):
    if not module._qkv_same_embed_dim:
        raise UnsupportedTorchModuleError(
            torch_name(module), "kdim, vdim", (module.kdim, module.vdim),
            f"kdim = vdim = embed_dim = {module.embed_dim} (our layer is self-attention)")
    if module.bias_k is not None:
        raise UnsupportedTorchModuleError(torch_name(module), "add_bias_kv", True,
                                          "add_bias_kv=False")
    require(module, "add_zero_attn", "add_zero_attn=False", (False,))


def set_attention(layer, module):
    """Copies an `nn.MultiheadAttention` into a built `MultiHeadSelfAttention`."""
    width, heads, head_dim = module.embed_dim, module.num_heads, module.head_dim
    kernels = np.split(to_numpy(module.in_proj_weight), 3)  # 3 x (width, width), rows q, k, v
    denses = (layer.query_dense, layer.key_dense, layer.value_dense)
    for dense, kernel in zip(denses, kernels):
        assign(dense.kernel, kernel.T.reshape(width, heads, head_dim))  # (width, heads, hd)
    if module.in_proj_bias is not None:
        for dense, bias in zip(denses, np.split(to_numpy(module.in_proj_bias), 3)):
            assign(dense.bias, bias.reshape(heads, head_dim))  # (heads, head_dim)
    output = to_numpy(module.out_proj.weight).T  # (heads * head_dim, width)
    assign(layer.output_dense.kernel, output.reshape(heads, head_dim, width))  # (heads, hd, w)
    if module.out_proj.bias is not None:
        assign(layer.output_dense.bias, to_numpy(module.out_proj.bias))


def multihead_attention(module):
    """`nn.MultiheadAttention` (self-attention) -> our `MultiHeadSelfAttention`.

    The converted layer is called on one sequence, `layer(x)` for torch's `module(x, x, x)`,
    (batch, seq, width) whatever `batch_first` says; see the module docstring for the masks.
    `kdim`/`vdim` other than `embed_dim`, `add_bias_kv` and `add_zero_attn` do not convert.
    """
    _check_attention(module)
    layer = layers.MultiHeadSelfAttention(module.num_heads, module.head_dim,
                                          dropout=module.dropout,
                                          use_bias=module.in_proj_bias is not None)
    layer.build((None, None, module.embed_dim))
    set_attention(layer, module)
    return layer


def _activation(module):
    import torch

    activation = module.activation
    if activation is torch.nn.functional.relu or isinstance(activation, torch.nn.ReLU):
        return "relu"
    if activation is torch.nn.functional.gelu or (
            isinstance(activation, torch.nn.GELU) and activation.approximate == "none"):
        return "gelu"
    raise UnsupportedTorchModuleError(torch_name(module), "activation", activation,
                                      "activation='relu' or 'gelu' (exact, not tanh)")


def transformer_encoder_layer(module):
    """`nn.TransformerEncoderLayer` -> our `TransformerEncoderBlock`, post- or pre-norm.

    `norm_first` and the activation (relu, exact gelu) carry over, and so do the epsilon and
    the dropout rate (our block drops the attention weights and each residual branch; torch
    also drops inside the feed-forward network: training differs, outputs do not). Takes
    (batch, seq, width) whatever `batch_first` says; see the module docstring for the masks.
    `bias=False` does not convert.
    """
    _check_attention(module.self_attn)
    if module.linear1.bias is None or module.norm1.bias is None:
        raise UnsupportedTorchModuleError(torch_name(module), "bias", False, "bias=True")
    if module.norm1.eps != module.norm2.eps:
        raise UnsupportedTorchModuleError(torch_name(module), "norm1.eps, norm2.eps",
                                          (module.norm1.eps, module.norm2.eps), "equal epsilons")
    attention = module.self_attn
    block = layers.TransformerEncoderBlock(
        attention.num_heads, module.linear1.out_features, key_dim=attention.head_dim,
        dropout=module.dropout.p, activation=_activation(module),
        layer_norm_epsilon=module.norm1.eps, norm_first=module.norm_first)
    block.build((None, None, attention.embed_dim))
    set_attention(block.attention, attention)
    set_layer_norm(block.attention_norm, module.norm1)
    set_layer_norm(block.feedforward_norm, module.norm2)
    set_dense(block.intermediate_dense, module.linear1)
    set_dense(block.output_dense, module.linear2)
    return block


def transformer_encoder(module):
    """`nn.TransformerEncoder` -> a `keras.Sequential` of blocks (and its final `norm`)."""
    width = module.layers[0].self_attn.embed_dim
    stack = [keras.Input((None, width))]
    stack += [transformer_encoder_layer(layer) for layer in module.layers]
    if module.norm is not None:
        stack.append(layer_norm(module.norm))
    return sequential(stack)
