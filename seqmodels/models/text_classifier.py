"""A text classifier (many-to-one: sentiment; one-to-one binary as its degenerate case)."""

import keras

from seqmodels.layers.gru import GRU
from seqmodels.layers.hashed_dropout import HashedDropout
from seqmodels.layers.lstm import LSTM
from seqmodels.layers.positional_embedding import PositionalEmbedding
from seqmodels.layers.simple_rnn import SimpleRNN
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from seqmodels.models.arguments import check_positive_integers
from seqmodels.models.initializers import small_attention_initializer

ENCODERS = ("simple_rnn", "lstm", "gru", "bilstm", "transformer")


def _encode(encoder, token_ids, vocab_size, sequence_length, hidden_dim, num_layers, num_heads,
            intermediate_dim, dropout):
    """Token ids (batch, seq) -> one vector per text (batch, hidden or 2*hidden)."""
    if encoder == "transformer":
        x = PositionalEmbedding(kind="learned", max_length=sequence_length, vocab_size=vocab_size,
                                output_dim=hidden_dim, mask_zero=True,
                                name="token_and_position_embedding")(token_ids)
        x = HashedDropout(dropout)(x)
        for i in range(num_layers):
            x = TransformerEncoderBlock(
                num_heads, intermediate_dim, dropout=dropout,
                attention_kernel_initializer=small_attention_initializer(),
                name=f"encoder_block_{i}")(x)
        # Mean over the real tokens only: the padding mask propagates from the embedding.
        return keras.layers.GlobalAveragePooling1D(name="masked_mean_pool")(x)  # (batch, hidden)
    x = keras.layers.Embedding(vocab_size, hidden_dim, mask_zero=True,
                               name="token_embedding")(token_ids)
    rnn_class = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU, "bilstm": LSTM}[encoder]
    for i in range(num_layers):
        last = i == num_layers - 1
        rnn = rnn_class(hidden_dim, return_sequences=not last, dropout=dropout,
                        name=f"{encoder}_{i}")
        if encoder == "bilstm":
            rnn = keras.layers.Bidirectional(rnn, name=f"bilstm_{i}")
        x = rnn(x)
    return x  # (batch, hidden) or (batch, 2 * hidden) for bilstm


@keras.saving.register_keras_serializable(package="seqmodels")
class TextClassifier(keras.Model):
    """Classifies token-id sequences with a recurrent or transformer encoder.

    A functional model: `token_ids` (batch, seq) int, 0 = padding → logits (batch, num_classes).
    Padding is masked all the way: recurrent encoders skip padded steps; the transformer
    ignores padded keys and averages over real tokens only, its self-attention starting at 1/18
    of Glorot's variance (`seqmodels.models.initializers`). Tokenize text with
    `seqmodels.data` pipelines (a `TextVectorization` learned on the training split).

    Args:
        vocab_size: number of token ids (id 0 is padding).
        num_classes: number of classes (2 for binary sentiment).
        encoder: one of `"simple_rnn"`, `"lstm"`, `"gru"`, `"bilstm"`, `"transformer"`.
        sequence_length: longest input the transformer's learned positions cover.
        hidden_dim: embedding and encoder width (per direction for `bilstm`).
        num_layers: encoder blocks or stacked recurrent layers.
        num_heads: attention heads (transformer only).
        intermediate_dim: feed-forward width (transformer only).
        dropout: dropout rate.
        activation: output activation (`None` gives logits; `"softmax"` probabilities).
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:

    >>> import keras
    >>> import numpy as np
    >>> model = TextClassifier(vocab_size=1000, num_classes=2, encoder="lstm", hidden_dim=16)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> tuple(model(np.array([[5, 8, 2, 0, 0]])).shape)
    (1, 2)

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997.
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(self, vocab_size, num_classes, encoder="transformer", sequence_length=64,
                 hidden_dim=64, num_layers=1, num_heads=2, intermediate_dim=128, dropout=0.1,
                 activation=None, **kwargs):
        if encoder not in ENCODERS:
            raise ValueError(f"`encoder` must be one of {', '.join(ENCODERS)}. "
                             f"Received: encoder={encoder!r}")
        check_positive_integers(vocab_size=vocab_size, num_classes=num_classes,
                                sequence_length=sequence_length, hidden_dim=hidden_dim,
                                num_layers=num_layers, num_heads=num_heads,
                                intermediate_dim=intermediate_dim)
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        features = _encode(encoder, token_ids, vocab_size, sequence_length, hidden_dim,
                           num_layers, num_heads, intermediate_dim, dropout)
        features = keras.layers.Dropout(dropout, name="head_dropout")(features)
        outputs = keras.layers.Dense(num_classes, activation=activation, name="logits")(features)
        super().__init__(inputs=token_ids, outputs=outputs, **kwargs)
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.encoder = encoder
        self.sequence_length = sequence_length
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation

    def get_config(self):
        # Not chained to super: a functional model's config is its graph, not these arguments.
        return {"name": self.name, "trainable": self.trainable, "vocab_size": self.vocab_size,
                "num_classes": self.num_classes, "encoder": self.encoder,
                "sequence_length": self.sequence_length, "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout,
                "activation": self.activation}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
