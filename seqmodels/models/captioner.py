"""An image captioner (one-to-many): an image encoder and a transformer decoder."""

import keras
import numpy as np
import tensorflow as tf

from seqmodels.decoding import (cached_decoder_step, compiled_search, empty_decoder_cache,
                                encoder_decoder_search)
from seqmodels.layers.patch_encoder import PatchEncoder
from seqmodels.layers.positional_embedding import PositionalEmbedding
from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from seqmodels.models.arguments import check_positive_integers
from seqmodels.models.initializers import small_attention_initializer

ENCODERS = ("cnn", "vit")


def _encode(images, patches, convolutions, column_projection, column_positions,
            encoder_block, training):
    """Image tokens mixed by the encoder block; see `Captioner.encode`."""
    if patches is not None:
        x = patches(images)  # (batch, patches, hidden)
    else:
        x = images
        for conv in convolutions:
            x = conv(x)  # (batch, h / 4, w / 4, 64) after both
        x = keras.ops.transpose(x, (0, 2, 1, 3))  # (batch, columns, rows, channels)
        # (batch, columns, rows * channels)
        x = keras.ops.reshape(x, (-1, x.shape[1], x.shape[2] * x.shape[3]))
        x = column_positions(column_projection(x))  # (batch, columns, hidden)
    return encoder_block(x, training=training)


def _decode(embedding, blocks, head, caption_ids, features, training):
    """Logits of every caption position; see `Captioner.decode`."""
    y = embedding(caption_ids)  # (batch, t, hidden)
    for block in blocks:
        y = block(y, features, training=training)
    return head(y)  # (batch, t, vocab)


@keras.saving.register_keras_serializable(package="seqmodels")
class Captioner(keras.Model):
    """Describes an image in words: image features attended to by a causal text decoder.

    A functional model with inputs `[images (batch, h, w, c) float in [0, 1], caption_ids
    (batch, t)]` and logits (batch, t, vocab_size), position t predicting caption token t + 1.
    `encoder="cnn"`: two stride-2 convolutions, then each column of the feature map (all rows
    of it) becomes one token, read left to right, with sinusoidal positions; `encoder="vit"`:
    patches (`PatchEncoder`, no class token). One transformer encoder block then mixes the
    tokens, and decoder blocks write the caption with cross-attention over them. `caption`
    decodes greedily or with beam search (`seqmodels.decoding.beam_search`) through the public
    decoding methods the serving signature uses too (`search`): `encode` reads the images once,
    `decode_step` gives the next token's logits, with a key/value cache (`empty_cache`) reading
    only the newest token, as `Translator`'s. Decoding runs TensorFlow ops: it needs the
    TensorFlow backend. As in `Translator`, the blocks' self-attention kernels start at 1/18
    of Glorot's variance (`seqmodels.models.initializers`).

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
    >>> tuple(model([np.zeros((1, 28, 112, 1), "float32"), np.array([[2, 5]])]).shape)
    (1, 2, 16)
    >>> features = model.encode(np.zeros((1, 28, 112, 1), "float32"))
    >>> tuple(features.shape), tuple(model.decode_step(np.array([[2, 5]]), features).shape)
    ((1, 28, 16), (1, 16))
    >>> logits, cache = model.decode_step(np.array([[2]]), features, cache=model.empty_cache(1))
    >>> tuple(logits.shape), tuple(cache.shape)  # (batch, blocks, key/value, length, heads, dim)
    ((1, 16), (1, 1, 2, 8, 2, 8))
    >>> ids = model.caption(np.zeros((1, 28, 112, 1), "float32"), start_id=2, end_id=3)
    >>> ids.shape[0], ids.shape[1] <= 8, int(ids[0, 0])
    (1, True, 2)

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
        caption_embedding = PositionalEmbedding(
            kind="learned", max_length=max_length, vocab_size=vocab_size,
            output_dim=hidden_dim, mask_zero=True, name="caption_embedding")
        encoder_block = TransformerEncoderBlock(
            num_heads, intermediate_dim, dropout=dropout,
            attention_kernel_initializer=small_attention_initializer(), name="image_encoder_block")
        decoder_blocks = [TransformerDecoderBlock(
            num_heads, intermediate_dim, dropout=dropout,
            attention_kernel_initializer=small_attention_initializer(), name=f"decoder_block_{i}")
            for i in range(num_layers)]
        head = keras.layers.Dense(vocab_size, name="logits")
        patches, convolutions, column_projection, column_positions = None, [], None, None
        if encoder == "cnn":
            convolutions = [
                keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu",
                                    name="conv_0"),
                keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu",
                                    name="conv_1")]
            column_projection = keras.layers.Dense(hidden_dim, name="column_projection")
            column_positions = PositionalEmbedding(kind="sinusoidal", name="column_positions")
        else:
            patches = PatchEncoder(patch_size, hidden_dim, use_class_token=False,
                                   name="patch_encoder")
        features = _encode(images, patches, convolutions, column_projection, column_positions,
                           encoder_block, training=None)
        logits = _decode(caption_embedding, decoder_blocks, head, captions, features,
                         training=None)
        super().__init__(inputs=[images, captions], outputs=logits, **kwargs)
        # Set after the graph is built, so that the weights keep the graph's order. A ViT
        # captioner has no convolutions, a CNN one no patch encoder.
        self.patches, self.convolutions = patches, convolutions
        self.column_projection, self.column_positions = column_projection, column_positions
        self.encoder_block, self.caption_embedding = encoder_block, caption_embedding
        self.decoder_blocks, self.head = decoder_blocks, head
        self.encoder = encoder
        self.image_shape = image_shape
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout

    def encode(self, images, training=False):
        """Reads the images once: the tokens every decoding step attends to.

        Args:
            images: (batch, h, w, c) floats in [0, 1].
            training: whether dropout is active.

        Returns:
            (batch, tokens, hidden) image features.
        """
        return _encode(images, self.patches, self.convolutions, self.column_projection,
                       self.column_positions, self.encoder_block, training)

    def decode(self, caption_ids, features, training=False):
        """Logits of every caption position, given `encode`'s features (teacher forcing).

        Args:
            caption_ids: (batch, t) int ids the decoder reads (start token first).
            features: `encode`'s outputs for the same batch.
            training: whether dropout is active.

        Returns:
            (batch, t, vocab) logits, position t predicting token t + 1.
        """
        return _decode(self.caption_embedding, self.decoder_blocks, self.head, caption_ids,
                       features, training)

    def empty_cache(self, batch_size, max_length=None):
        """Zeroed decoder keys and values: (batch, num_layers, 2, max_length, heads, head_dim).

        Args:
            batch_size: rows (an int or an int32 scalar tensor).
            max_length: the longest prefix it will hold (default the model's `max_length`).
        """
        return empty_decoder_cache(self.decoder_blocks, batch_size,
                                   max_length or self.max_length, self.compute_dtype)

    def decode_step(self, caption_ids, features, cache=None):
        """Logits of the token after each prefix `caption_ids` (batch, t): (batch, vocab).

        Without a cache the decoder re-reads the whole prefix; with `cache` (`empty_cache`,
        holding `caption_ids[:, :-1]`) it reads the last token only and returns `(logits,
        new_cache)`, the same logits, as `Translator.decode_step`.
        """
        if cache is None:
            return self.decode(caption_ids, features)[:, -1, :]
        return cached_decoder_step(self.caption_embedding, self.decoder_blocks, self.head,
                                   caption_ids, features, None, cache,
                                   lambda ids: self.decode(ids, features))

    def search(self, images, start_id, end_id, max_length=None, beam_size=1, use_cache=True,
               beam_widths=None):
        """`caption`'s search as TensorFlow ops, the images encoded once (the serving
        signatures run it): (batch, <= max_length) int32 ids. `beam_widths` (batch,) gives
        each example its own width up to `beam_size` (`serving_beam`). See
        `seqmodels.decoding.encoder_decoder_search`."""
        return encoder_decoder_search(self.decode_step, (self.encode(images),),
                                      self.empty_cache, start_id, end_id,
                                      max_length or self.max_length, beam_size, use_cache,
                                      beam_widths)

    def caption(self, images, start_id, end_id, beam_size=1, use_cache=True):
        """Caption ids for `images`: greedy (beam_size=1) or beam search, image encoded once.

        `search`, compiled as one TensorFlow graph, the one the serving signatures run:
        traced once per setting, greedy apart and every `beam_size` >= 2 in one trace (the
        width a tensor input, `seqmodels.decoding.compiled_search`). `use_cache=False`
        re-reads every prefix at every step (the same tokens, slower).

        Returns:
            (batch, <= max_length) int64 ids starting with `start_id`, `end_id`-padded.
        """
        ids = compiled_search(
            self, ("caption", int(start_id), int(end_id), bool(use_cache)),
            lambda images, beam_size: self.search(images, start_id, end_id,
                                                  beam_size=beam_size, use_cache=use_cache),
            tf.TensorSpec([None, *self.image_shape], tf.float32),
            np.asarray(images, np.float32), beam_size)
        return np.asarray(ids, np.int64)

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
