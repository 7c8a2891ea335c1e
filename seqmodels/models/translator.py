"""An encoder-decoder transformer for machine translation (many-to-many)."""

import keras
import numpy as np

from seqmodels.layers.positional_embedding import PositionalEmbedding
from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from seqmodels.models.arguments import check_positive_integers
from seqmodels.models.beam_search import beam_search


@keras.saving.register_keras_serializable(package="seqmodels")
class Translator(keras.Model):
    """Reads a source sentence with encoder blocks and writes the target with decoder blocks.

    A functional model with inputs `[source_ids (batch, src), target_ids (batch, tgt)]` (0 =
    padding) and output logits (batch, tgt, target_vocab_size), position t predicting target
    token t + 1 (teacher forcing: train with `target_ids = sequence[:, :-1]`, labels
    `sequence[:, 1:]`). The decoder attends causally to the target and, through cross-attention,
    to the real source tokens. `translate` decodes greedily or with beam search.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (id 0 is padding).
        max_source_length, max_target_length: longest sequences the positions cover.
        hidden_dim: model width.
        num_layers: encoder blocks and decoder blocks (each).
        num_heads: attention heads.
        intermediate_dim: feed-forward width.
        dropout: dropout rate.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> model = Translator(100, 120, hidden_dim=16, num_heads=2, intermediate_dim=32)
    >>> model([np.array([[5, 6, 0]]), np.array([[1, 7]])]).shape
    (1, 2, 120)

    References:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(self, source_vocab_size, target_vocab_size, max_source_length=64,
                 max_target_length=64, hidden_dim=128, num_layers=2, num_heads=4,
                 intermediate_dim=256, dropout=0.1, **kwargs):
        check_positive_integers(source_vocab_size=source_vocab_size,
                                target_vocab_size=target_vocab_size,
                                max_source_length=max_source_length,
                                max_target_length=max_target_length, hidden_dim=hidden_dim,
                                num_layers=num_layers, num_heads=num_heads,
                                intermediate_dim=intermediate_dim)
        source = keras.Input(shape=(None,), dtype="int32", name="source_ids")
        target = keras.Input(shape=(None,), dtype="int32", name="target_ids")
        self_layers = dict(
            source_embedding=PositionalEmbedding(
                kind="learned", max_length=max_source_length, vocab_size=source_vocab_size,
                output_dim=hidden_dim, mask_zero=True, name="source_embedding"),
            target_embedding=PositionalEmbedding(
                kind="learned", max_length=max_target_length, vocab_size=target_vocab_size,
                output_dim=hidden_dim, mask_zero=True, name="target_embedding"),
            encoder_blocks=[TransformerEncoderBlock(num_heads, intermediate_dim, dropout=dropout,
                                                    name=f"encoder_block_{i}")
                            for i in range(num_layers)],
            decoder_blocks=[TransformerDecoderBlock(num_heads, intermediate_dim, dropout=dropout,
                                                    name=f"decoder_block_{i}")
                            for i in range(num_layers)],
            head=keras.layers.Dense(target_vocab_size, name="logits"))
        encoded, source_mask = self._encode(self_layers, source)
        logits = self._decode(self_layers, target, encoded, source_mask)
        super().__init__(inputs=[source, target], outputs=logits, **kwargs)
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.parts = self_layers

    @staticmethod
    def _encode(parts, source_ids, training=None):
        x = parts["source_embedding"](source_ids)  # (batch, src, hidden), padding masked
        for block in parts["encoder_blocks"]:
            x = block(x, training=training)
        return x, keras.ops.not_equal(source_ids, 0)

    @staticmethod
    def _decode(parts, target_ids, encoded, source_mask, training=None):
        y = parts["target_embedding"](target_ids)  # (batch, tgt, hidden)
        for block in parts["decoder_blocks"]:
            y = block(y, encoded, encoder_mask=source_mask, training=training)
        return parts["head"](y)  # (batch, tgt, target_vocab)

    def translate(self, source_ids, start_id, end_id, max_length=None, beam_size=1):
        """Decodes target ids for `source_ids` (batch, src): greedy (beam_size=1) or beam search.

        The source is encoded once; each step re-runs the decoder over the prefix.

        Returns:
            (batch, <= max_length) int64 ids starting with `start_id`, `end_id`-padded.
        """
        source_ids = np.asarray(source_ids)
        encoded, source_mask = self._encode(self.parts, source_ids, training=False)
        encoded, source_mask = np.asarray(encoded), np.asarray(source_mask)

        def log_probs(prefixes, rows):
            logits = self._decode(self.parts, prefixes, encoded[rows], source_mask[rows],
                                  training=False)
            return np.asarray(keras.ops.log_softmax(logits[:, -1, :], axis=-1))

        return beam_search(log_probs, len(source_ids), start_id, end_id,
                           max_length or self.max_target_length, beam_size)

    def get_config(self):
        # Not chained to super: a functional model's config is its graph, not these arguments.
        return {"name": self.name, "trainable": self.trainable,
                "source_vocab_size": self.source_vocab_size,
                "target_vocab_size": self.target_vocab_size,
                "max_source_length": self.max_source_length,
                "max_target_length": self.max_target_length, "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
