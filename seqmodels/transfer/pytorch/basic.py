"""Converters of the stateless and position-wise torch modules: embeddings, linear, norms."""

import keras

from seqmodels.transfer.pytorch.common import assign, require, to_numpy

# Element-wise torch modules and the Keras activation of the same function.
ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "SiLU": "silu",
               "GELU": "gelu", "Softmax": "softmax"}


def embedding(module, mask_zero=None):
    """`nn.Embedding` -> `keras.layers.Embedding` with the same table.

    `mask_zero=None` masks id 0 when the module's `padding_idx` is 0 (torch's padding id: the
    Keras mask then reaches the layers downstream); True or False decide it regardless.
    `max_norm` and `scale_grad_by_freq` (which change the lookups and training) do not convert.
    """
    require(module, "max_norm", "max_norm=None", (None,))
    require(module, "scale_grad_by_freq", "scale_grad_by_freq=False", (False,))
    if mask_zero is None:
        mask_zero = module.padding_idx == 0
    layer = keras.layers.Embedding(module.num_embeddings, module.embedding_dim,
                                   mask_zero=bool(mask_zero))
    layer.build((None, None))
    assign(layer.embeddings, to_numpy(module.weight))  # (vocabulary, width)
    return layer


def set_dense(layer, module):
    """Copies an `nn.Linear` into a built `keras.layers.Dense`: kernel `weight.T` (in, out)."""
    assign(layer.kernel, to_numpy(module.weight).T)  # (in_features, out_features)
    if module.bias is not None:
        assign(layer.bias, to_numpy(module.bias))


def linear(module):
    """`nn.Linear` -> `keras.layers.Dense` with the same weights."""
    layer = keras.layers.Dense(module.out_features, use_bias=module.bias is not None)
    layer.build((None, module.in_features))
    set_dense(layer, module)
    return layer


def set_layer_norm(layer, module):
    """Copies an `nn.LayerNorm`'s weight and bias into a built `LayerNormalization`."""
    if module.elementwise_affine:
        assign(layer.gamma, to_numpy(module.weight))  # normalized_shape
    if module.elementwise_affine and module.bias is not None:
        assign(layer.beta, to_numpy(module.bias))


def layer_norm(module):
    """`nn.LayerNorm` -> `keras.layers.LayerNormalization` over the same trailing axes."""
    shape = tuple(module.normalized_shape)
    affine = module.elementwise_affine
    layer = keras.layers.LayerNormalization(
        axis=-1 if len(shape) == 1 else tuple(range(-len(shape), 0)), epsilon=module.eps,
        center=affine and module.bias is not None, scale=affine)
    layer.build((None,) + shape)
    set_layer_norm(layer, module)
    return layer


def elementwise(module):
    """Activations, `nn.Dropout` and `nn.Identity` -> the Keras layer doing the same."""
    name = type(module).__name__
    if name == "Dropout":
        return keras.layers.Dropout(module.p)
    if name == "Identity":
        return keras.layers.Identity()
    if name == "GELU":
        require(module, "approximate", "approximate='none' (Keras' exact 'gelu')", ("none",))
    if name == "Softmax":
        require(module, "dim", "dim=-1", (-1,))
    return keras.layers.Activation(ACTIVATIONS[name])
