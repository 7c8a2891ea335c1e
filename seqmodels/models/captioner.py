"""An image captioner (one-to-many): an image encoder and a transformer decoder."""

import keras
import numpy as np

from seqmodels.layers.patch_encoder import PatchEncoder
from seqmodels.layers.positional_embedding import PositionalEmbedding
from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from seqmodels.models.arguments import check_positive_integers
from seqmodels.models.beam_search import beam_search

ENCODERS = ("cnn", "vit")


@keras.saving.register_keras_serializable(package="seqmodels")
class Captioner(keras.Model):
    """Describes an image in words: image features attended to by a causal text decoder.

    A functional model with inputs `[images (batch, h, w, c) float in [0, 1], caption_ids
    (batch, t)]` and logits (batch, t, vocab_size), position t predicting caption token t + 1.
    `encoder="cnn"`: two stride-2 convolutions, then each column of the feature map (all rows
    of it) becomes one token, read left to right, with sinusoidal positions; `encoder="vit"`:
    patches (`PatchEncoder`, no class token). One transformer encoder block then mixes the
    tokens, and decoder blocks write the caption with cross-attention over them. `caption`
    decodes greedily or with beam search.

    Args:
        image_shape: `(height, width, channels)`.
        vocab_size: caption vocabulary size (id 0 is padding).
        max_length: longest caption, start and end tokens included.
        encoder: `"cnn"` or `"vit"`.
        patch_size: ViT patch size.
        hidden_dim, num_layers, num_heads, intermediate_dim, dropout: the transformer parts.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> model = Captioner((28, 112, 1), vocab_size=16, hidden_dim=16, num_heads=2,
    ...                   intermediate_dim=32)
    >>> model([np.zeros((1, 28, 112, 1), "float32"), np.array([[2, 5]])]).shape
    (1, 2, 16)

    References:
        Vinyals et al., "Show and Tell: A Neural Image Caption Generator", 2015.
        Xu et al., "Show, Attend and Tell", 2015.
    """

    def __init__(self, image_shape, vocab_size, max_length=8, encoder="cnn", patch_size=4,
                 hidden_dim=64, num_layers=1, num_heads=4, intermediate_dim=128, dropout=0.1,
                 **kwargs):
        if encoder not in ENCODERS:
            raise ValueError(f"`encoder` must be one of {', '.join(ENCODERS)}. "
                             f"Received: encoder={encoder!r}")
        check_positive_integers(vocab_size=vocab_size, max_length=max_length,
                                patch_size=patch_size, hidden_dim=hidden_dim,
                                num_layers=num_layers, num_heads=num_heads,
                                intermediate_dim=intermediate_dim)
        image_shape = tuple(image_shape)
        images = keras.Input(shape=image_shape, name="images")
        captions = keras.Input(shape=(None,), dtype="int32", name="caption_ids")
        parts = dict(
            caption_embedding=PositionalEmbedding(
                kind="learned", max_length=max_length, vocab_size=vocab_size,
                output_dim=hidden_dim, mask_zero=True, name="caption_embedding"),
            encoder_block=TransformerEncoderBlock(num_heads, intermediate_dim, dropout=dropout,
                                                  name="image_encoder_block"),
            decoder_blocks=[TransformerDecoderBlock(num_heads, intermediate_dim, dropout=dropout,
                                                    name=f"decoder_block_{i}")
                            for i in range(num_layers)],
            head=keras.layers.Dense(vocab_size, name="logits"))
        if encoder == "cnn":
            parts["convolutions"] = [
                keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu",
                                    name="conv_0"),
                keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu",
                                    name="conv_1")]
            parts["column_projection"] = keras.layers.Dense(hidden_dim, name="column_projection")
            parts["positions"] = PositionalEmbedding(kind="sinusoidal", name="column_positions")
        else:
            parts["patches"] = PatchEncoder(patch_size, hidden_dim, use_class_token=False,
                                            name="patch_encoder")
        features = self._encode(parts, images)
        logits = self._decode(parts, captions, features)
        super().__init__(inputs=[images, captions], outputs=logits, **kwargs)
        self.image_shape = image_shape
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.encoder = encoder
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.parts = parts

    @staticmethod
    def _encode(parts, images, training=None):
        if "patches" in parts:
            x = parts["patches"](images)  # (batch, patches, hidden)
        else:
            x = images
            for conv in parts["convolutions"]:
                x = conv(x)  # (batch, h / 4, w / 4, 64) after both
            x = keras.ops.transpose(x, (0, 2, 1, 3))  # (batch, columns, rows, channels)
            x = keras.ops.reshape(x, (-1, x.shape[1], x.shape[2] * x.shape[3]))  # (batch, columns, rows * channels)
            x = parts["positions"](parts["column_projection"](x))  # (batch, columns, hidden)
        return parts["encoder_block"](x, training=training)

    @staticmethod
    def _decode(parts, caption_ids, features, training=None):
        y = parts["caption_embedding"](caption_ids)  # (batch, t, hidden)
        for block in parts["decoder_blocks"]:
            y = block(y, features, training=training)
        return parts["head"](y)  # (batch, t, vocab)

    def caption(self, images, start_id, end_id, beam_size=1):
        """Caption ids for `images`: greedy (beam_size=1) or beam search, image encoded once."""
        features = np.asarray(self._encode(self.parts, np.asarray(images, np.float32),
                                           training=False))

        def log_probs(prefixes, rows):
            logits = self._decode(self.parts, prefixes, features[rows], training=False)
            return np.asarray(keras.ops.log_softmax(logits[:, -1, :], axis=-1))

        return beam_search(log_probs, len(features), start_id, end_id, self.max_length,
                           beam_size)

    def get_config(self):
        # Not chained to super: a functional model's config is its graph, not these arguments.
        return {"name": self.name, "trainable": self.trainable,
                "image_shape": list(self.image_shape), "vocab_size": self.vocab_size,
                "max_length": self.max_length, "encoder": self.encoder,
                "patch_size": self.patch_size, "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
