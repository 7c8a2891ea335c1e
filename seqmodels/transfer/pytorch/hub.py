"""PyTorch Hub text encoders: `torch.hub.load` of a local repository, converted to Keras.

What a text backbone from PyTorch Hub must be (`--backbone=torch_hub:<repo dir>:<entry>`):
the repository's `hubconf.py` entry returns an `nn.Sequential` that maps token ids (batch,
seq) to token vectors (batch, seq, width), its first module an `nn.Embedding` and the others
modules `from_torch` converts (e.g. `nn.TransformerEncoder` with `batch_first=True`, or an
`nn.LSTM` / `nn.GRU` last, of which the output sequence counts), and that carries its
vocabulary as an attribute `vocabulary`: a list of strings, the token of each embedding row,
`""` (padding) at 0 and `"[UNK]"` (out of vocabulary) at 1, as
`keras.layers.TextVectorization.get_vocabulary()` returns it. Texts are lower-cased, stripped
of punctuation and split on whitespace (TextVectorization's defaults) into those ids; id 0 is
padding and is masked in every layer (torch's `src_key_padding_mask`, packed sequences).
"""

import os

import keras

from seqmodels.transfer.pytorch import from_torch
from seqmodels.transfer.pytorch.common import UnsupportedTorchModuleError, torch_name

SPECIAL_TOKENS = ("", "[UNK]")


def load_torch_hub(value):
    """`torch.hub.load(dir, entry, source="local")` for `"<repo dir>:<entry>"`.

    Example:

    >>> try:
    ...     load_torch_hub("no_such_dir:encoder")
    ... except ValueError as error:
    ...     print(str(error).split("Received: ")[1])
    backbone='torch_hub:no_such_dir:encoder' (no no_such_dir/hubconf.py)
    """
    directory, _, entry = value.rpartition(":")
    expected = ("A torch_hub backbone must be 'torch_hub:<repo dir>:<entry>', the directory "
                f"holding a hubconf.py. Received: backbone='torch_hub:{value}'")
    if not directory or not entry:
        raise ValueError(expected)
    if not os.path.isfile(os.path.join(directory, "hubconf.py")):
        raise ValueError(f"{expected} (no {os.path.join(directory, 'hubconf.py')})")
    import torch

    return torch.hub.load(directory, entry, source="local")


def _check_text_module(module, value):
    import torch

    where = f"the torch_hub:{value} entry"
    if not isinstance(module, torch.nn.Sequential) or not isinstance(
            module[0] if len(module) else None, torch.nn.Embedding):
        raise UnsupportedTorchModuleError(
            f"{torch_name(module)} (from {where})", "type", torch_name(module),
            "an nn.Sequential that starts with an nn.Embedding (token ids -> token vectors; "
            "see seqmodels.transfer.pytorch.hub)")
    vocabulary = getattr(module, "vocabulary", None)
    if (not isinstance(vocabulary, (list, tuple)) or len(vocabulary) < 3
            or not all(isinstance(token, str) for token in vocabulary)
            or tuple(vocabulary[:2]) != SPECIAL_TOKENS):
        raise ValueError(f"The module of {where} must carry `vocabulary`, a list of strings "
                         "(the token of each embedding row) starting with '' (padding) and "
                         f"'[UNK]'. Received: vocabulary={vocabulary!r:.120}")
    if len(vocabulary) > module[0].num_embeddings:
        raise ValueError(f"The module of {where} has {len(vocabulary)} tokens in `vocabulary`, "
                         f"more than its nn.Embedding's num_embeddings="
                         f"{module[0].num_embeddings}")
    return list(vocabulary)


def torch_hub_text_encoder(value, sequence_length):
    """The vectorizer and the converted encoder of a PyTorch Hub text backbone.

    Args:
        value: `"<repo dir>:<entry>"` (the backbone string after `torch_hub:`).
        sequence_length: the vectorizer's padded length (longer texts keep their first tokens).

    Returns:
        `(vectorizer, encoder)`: a `keras.layers.TextVectorization` (strings (batch,) -> int64
        ids (batch, sequence_length)) and the `from_torch` conversion of the module (ids ->
        (batch, seq, width), id 0 masked).

    Raises:
        ValueError: for a module of another shape (see the module docstring), or an encoder
            whose output is not (batch, seq, width).
    """
    module = load_torch_hub(value)
    vocabulary = _check_text_module(module, value)
    encoder = from_torch(module, mask_zero=True)
    shape = encoder.compute_output_spec(keras.KerasTensor((None, None), "int32")).shape
    if len(shape) != 3:
        raise ValueError(f"The module of the torch_hub:{value} entry must return token vectors "
                         f"(batch, seq, width). Received: outputs of shape {tuple(shape)}")
    vectorizer = keras.layers.TextVectorization(
        vocabulary=vocabulary, output_sequence_length=sequence_length, name="preprocessor")
    return vectorizer, encoder


def token_counts(vectorizer, texts):
    """Tokens per text as `vectorizer` splits them, before it cuts them to its length.

    Example:

    >>> vectorizer = keras.layers.TextVectorization(
    ...     vocabulary=["", "[UNK]", "good", "film"], output_sequence_length=2)
    >>> token_counts(vectorizer, ["a good film", "film"])
    array([3, 1])
    """
    uncut = keras.layers.TextVectorization.from_config(
        {**vectorizer.get_config(), "output_sequence_length": None, "ragged": True,
         "vocabulary": vectorizer.get_vocabulary()})
    return uncut(texts).row_lengths().numpy()  # (batch,)
