"""The lecture's pictures as PNG files: training curves, attention maps, positional encodings."""

import os

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from seqmodels.layers.positional_embedding import sinusoidal_encoding  # noqa: E402
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock  # noqa: E402
from seqmodels.models.translator import Translator  # noqa: E402


def _save(figure, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def plot_training_curves(history, path):
    """Plots every metric of `history` (a dict of per-epoch lists) against the epoch.

    Metrics with a `val_` twin share a panel with it.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> plot_training_curves({"loss": [0.7, 0.5], "val_loss": [0.6, 0.55]}, path) == path
    True
    """
    names = [k for k in history if not k.startswith("val_") and k in history
             and all(isinstance(v, (int, float)) for v in history[k])
             and k not in ("seconds", "input_wait_fraction")]
    if not names:
        raise ValueError(f"`history` holds no metric to plot. Received keys: {sorted(history)}")
    figure, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        epochs = np.arange(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
    return _save(figure, path)


def plot_attention(scores, tokens, path, title="attention"):
    """Draws one heat map per head of `scores` (heads, queries, keys) labelled with `tokens`."""
    scores = np.asarray(scores, np.float32)
    if scores.ndim != 3:
        raise ValueError("`scores` must be (heads, queries, keys). "
                         f"Received: scores.shape={scores.shape}")
    heads = scores.shape[0]
    figure, axes = plt.subplots(1, heads, figsize=(3.2 * heads + 1, 3.6), squeeze=False)
    for h, axis in enumerate(axes[0]):
        image = axis.imshow(scores[h], cmap="viridis")  # scaled per head: weights may be flat
        figure.colorbar(image, ax=axis, fraction=0.046)
        axis.set_title(f"{title}, head {h}")
        axis.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=7)
        axis.set_yticks(range(len(tokens)), tokens, fontsize=7)
    return _save(figure, path)


def plot_positional_encoding(length, dim, path):
    """Draws the (length, dim) sinusoidal positional-encoding matrix of Vaswani et al."""
    matrix = np.asarray(sinusoidal_encoding(length, dim))
    figure, axis = plt.subplots(figsize=(7, 4))
    image = axis.imshow(matrix, cmap="RdBu", aspect="auto", vmin=-1, vmax=1)
    axis.set_xlabel("dimension")
    axis.set_ylabel("position")
    axis.set_title("sinusoidal positional encoding")
    figure.colorbar(image, ax=axis)
    return _save(figure, path)


def encoder_attention_scores(model, token_ids):
    """Attention weights of every `TransformerEncoderBlock` of a functional `model`.

    Args:
        model: a functional Keras model (e.g. `TextClassifier(encoder="transformer")`).
        token_ids: (batch, seq) int ids, 0 = padding.

    Returns:
        A list, one (batch, heads, seq, seq) array per encoder block, in model order.
    """
    import keras

    blocks = [layer for layer in model.layers if isinstance(layer, TransformerEncoderBlock)]
    if not blocks:
        raise ValueError(f"Model {model.name!r} has no TransformerEncoderBlock to read.")
    token_ids = np.asarray(token_ids)
    mask = token_ids != 0
    # A block's `input` lists every tensor of its call (the sequence first, then e.g. the mask).
    sequences = [b.input[0] if isinstance(b.input, (list, tuple)) else b.input for b in blocks]
    block_inputs = keras.Model(model.inputs[0], sequences)(token_ids)
    block_inputs = block_inputs if isinstance(block_inputs, (list, tuple)) else [block_inputs]
    maps = []
    for block, x in zip(blocks, block_inputs):
        x = block.attention_norm(x) if block.norm_first else x
        _, scores = block.attention(x, mask=mask, return_attention_scores=True)
        maps.append(np.asarray(scores))
    return maps


def decoder_attention_scores(model, source_ids, target_ids):
    """Self- and cross-attention weights of every decoder block of a `Translator`.

    The lecture's alignment picture: which source words each target word looks at.

    Args:
        model: a `seqmodels.models.Translator`.
        source_ids: (batch, source_seq) int ids, 0 = padding.
        target_ids: (batch, target_seq) int ids the decoder reads (start token first).

    Returns:
        A list, one dict per decoder block in model order, with `self_attention` (batch, heads,
        target_seq, target_seq) and `cross_attention` (batch, heads, target_seq, source_seq)
        arrays.

    Example:

    >>> import os, tempfile
    >>> translator = Translator(20, 24, hidden_dim=8, num_layers=1, num_heads=2,
    ...                         intermediate_dim=16)
    >>> maps = decoder_attention_scores(translator, np.array([[5, 6, 7]]), np.array([[1, 9]]))
    >>> maps[-1]["cross_attention"].shape  # (batch, heads, target, source)
    (1, 2, 2, 3)
    >>> path = os.path.join(tempfile.mkdtemp(), "alignment.png")
    >>> plot_cross_attention(maps[-1]["cross_attention"][0], ["le", "chat", "noir"],
    ...                      ["<s>", "the"], path) == path
    True
    """
    if not isinstance(model, Translator):
        raise ValueError(f"Model {model.name!r} is not a Translator: it has no decoder blocks "
                         "with cross-attention to read.")
    encoded, source_mask = model.encode(np.asarray(source_ids))
    _, maps = model.decode(np.asarray(target_ids), encoded, source_mask,
                           return_attention_scores=True)
    return [{name: np.asarray(value) for name, value in scores.items()} for scores in maps]


def plot_cross_attention(scores, source_tokens, target_tokens, path, title="cross-attention"):
    """Draws one heat map per head of `scores` (heads, target, source): targets down, sources across."""
    scores = np.asarray(scores, np.float32)
    if scores.ndim != 3 or scores.shape[1:] != (len(target_tokens), len(source_tokens)):
        raise ValueError("`scores` must be (heads, len(target_tokens), len(source_tokens)) = "
                         f"(heads, {len(target_tokens)}, {len(source_tokens)}). Received: "
                         f"scores.shape={scores.shape}")
    heads = scores.shape[0]
    figure, axes = plt.subplots(1, heads, figsize=(0.28 * len(source_tokens) * heads + 2,
                                                   0.28 * len(target_tokens) + 1.5),
                                squeeze=False)
    for h, axis in enumerate(axes[0]):
        image = axis.imshow(scores[h], cmap="viridis", aspect="auto")
        figure.colorbar(image, ax=axis, fraction=0.046)
        axis.set_title(f"{title}, head {h}")
        axis.set_xticks(range(len(source_tokens)), source_tokens, rotation=90, fontsize=7)
        axis.set_yticks(range(len(target_tokens)), target_tokens, fontsize=7)
    return _save(figure, path)
