"""PyTorch weights in, seqmodels layers out: `from_torch(module)`.

One converter per concern: `basic` (embeddings, linear layers, layer norms, activations),
`recurrent` (RNN, LSTM, GRU), `attention` (multi-head attention and transformer encoders);
`from_torch` picks one by the module's type and converts containers module by module.
"""

from seqmodels.transfer.pytorch import attention, basic, recurrent
from seqmodels.transfer.pytorch.common import UnsupportedTorchModuleError, sequential, torch_name

CONVERTERS = {
    "Embedding": basic.embedding, "Linear": basic.linear, "LayerNorm": basic.layer_norm,
    "RNN": recurrent.recurrent, "LSTM": recurrent.recurrent, "GRU": recurrent.recurrent,
    "MultiheadAttention": attention.multihead_attention,
    "TransformerEncoderLayer": attention.transformer_encoder_layer,
    "TransformerEncoder": attention.transformer_encoder,
}
ELEMENTWISE = tuple(basic.ACTIVATIONS) + ("Dropout", "Identity")
RECURRENT = ("RNN", "LSTM", "GRU")


def _batch_first(module):
    """A module's `batch_first`, or None for one that does not care about the layout."""
    name = type(module).__name__
    if name == "TransformerEncoder":
        return _batch_first(module.layers[0])
    if name == "TransformerEncoderLayer":
        return module.self_attn.batch_first
    return getattr(module, "batch_first", None) if name in CONVERTERS else None


def _sequential(module, mask_zero):
    import keras

    children = list(module)
    if not children:
        raise UnsupportedTorchModuleError("nn.Sequential", "len(modules)", 0,
                                          "at least one module")
    layouts = {_batch_first(child) for child in children} - {None}
    if len(layouts) > 1:
        raise UnsupportedTorchModuleError(
            "nn.Sequential", "batch_first", "mixed",
            "one layout in all its modules (the converted model is batch-major)")
    for index, child in enumerate(children):
        name = type(child).__name__
        if name == "MultiheadAttention" or (name in RECURRENT and index < len(children) - 1):
            raise UnsupportedTorchModuleError(
                "nn.Sequential", f"modules[{index}]", torch_name(child),
                "an nn.MultiheadAttention outside nn.Sequential (it takes query, key and "
                "value) and an RNN last (it returns a tuple the next module cannot take)")
    converted = [from_torch(child, mask_zero=mask_zero) for child in children]
    first = children[0]
    if type(first).__name__ == "Embedding":
        converted.insert(0, keras.Input((None,), dtype="int32"))
    elif type(first).__name__ in RECURRENT:
        converted.insert(0, keras.Input((None, first.input_size)))
    elif type(first).__name__ == "TransformerEncoderLayer":
        converted.insert(0, keras.Input((None, first.self_attn.embed_dim)))
    return sequential(converted)


def from_torch(module, mask_zero=None):
    """Converts a torch module into the matching seqmodels / Keras layer, holding its weights.

    Converts `nn.Embedding`, `nn.Linear`, `nn.LayerNorm`, `nn.RNN` / `nn.LSTM` / `nn.GRU` (to
    our `SimpleRNN` / `LSTM` / `GRU`; `num_layers > 1` to a `keras.Sequential`, `bidirectional`
    to `keras.layers.Bidirectional`), `nn.MultiheadAttention` (to our
    `MultiHeadSelfAttention`), `nn.TransformerEncoderLayer` (to our `TransformerEncoderBlock`)
    and `nn.TransformerEncoder` (a `keras.Sequential` of blocks); `nn.Sequential` of any of
    those (and of activations, `nn.Dropout`, `nn.Identity`) becomes a `keras.Sequential`. In
    inference the outputs equal the module's to float32 rounding (tested within 1e-5).

    Keras layers are batch-major: every converted layer takes (batch, seq, ...) inputs, also
    for a module built with `batch_first=False` (the weights do not depend on it). Masks:
    torch's `key_padding_mask` is our `mask=~key_padding_mask`, a packed sequence our `mask`
    at its real steps; an `nn.Embedding` with `padding_idx=0` masks id 0 for the layers after
    it (see `seqmodels.transfer.pytorch.attention` and `.recurrent`). A recurrent module returns
    torch's `output` (the top layer's sequence), not its final states.

    Args:
        module: a `torch.nn.Module` of the types above.
        mask_zero: for `nn.Embedding`s: None (mask id 0 where `padding_idx == 0`), True (id 0
            is padding, e.g. for `TextVectorization` ids) or False.

    Returns:
        A Keras layer (a `keras.Sequential` for containers and stacks), built, with the
        module's weights, trainable.

    Raises:
        UnsupportedTorchModuleError: (a ValueError) for another module type, or an option that
            does not convert (e.g. `nn.LSTM(proj_size=4)`); the message names both.

    Example:

    >>> import numpy as np
    >>> import torch
    >>> torch_lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    >>> lstm = from_torch(torch_lstm)
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    >>> expected = torch_lstm(torch.from_numpy(x))[0].detach().numpy()
    >>> bool(np.abs(np.asarray(lstm(x)) - expected).max() < 1e-5)
    True
    >>> try:
    ...     from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    ... except UnsupportedTorchModuleError as error:
    ...     print(error)
    Cannot convert nn.LSTM with proj_size=2: convertible with proj_size=0.
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ValueError("`module` must be a torch.nn.Module. Received: "
                         f"{type(module).__name__} {module!r:.80}")
    name = type(module).__name__
    if getattr(torch.nn, name, None) is not type(module):  # e.g. a subclass with its own forward
        name = None
    if name == "Sequential":
        return _sequential(module, mask_zero)
    if name == "Embedding":
        return basic.embedding(module, mask_zero=mask_zero)
    if name in CONVERTERS:
        return CONVERTERS[name](module)
    if name in ELEMENTWISE:
        return basic.elementwise(module)
    supported = ", ".join(f"nn.{key}" for key in ("Sequential",) + tuple(CONVERTERS)
                          + ELEMENTWISE)
    raise UnsupportedTorchModuleError(torch_name(module), "type", torch_name(module),
                                      f"one of {supported}")


__all__ = ["UnsupportedTorchModuleError", "from_torch"]
