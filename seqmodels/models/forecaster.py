"""A forecaster over windows: "where does the ball go next", sunspots, stock prices."""

import keras

from seqmodels.layers.lstm import LSTM
from seqmodels.layers.positional_embedding import PositionalEmbedding
from seqmodels.layers.simple_rnn import SimpleRNN
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from seqmodels.models.arguments import check_positive_integers
from seqmodels.models.initializers import small_attention_initializer

ENCODERS = ("rnn", "lstm", "transformer")


@keras.saving.register_keras_serializable(package="seqmodels")
class Forecaster(keras.Model):
    """Predicts the next `horizon` steps of a multivariate series from a window of the past.

    A functional model: `window` (batch, window_length, num_features) float →
    `forecast` (batch, horizon, num_targets). The recurrent encoders read the window step by step
    and project their last state; the transformer projects each step to `hidden_dim`, adds
    sinusoidal positions, runs encoder blocks (their self-attention starting at 1/18 of Glorot's
    variance, `seqmodels.models.initializers`) and reads the last step. The output is added to the
    last observed value of the targets (a residual on the persistence forecast), so an untrained
    model starts from "tomorrow equals today".

    Args:
        window_length: past steps in each input window.
        num_features: features per step.
        horizon: future steps to predict.
        num_targets: predicted features per step (the first `num_targets` input features).
        encoder: one of `"rnn"`, `"lstm"`, `"transformer"`.
        hidden_dim: encoder width.
        num_layers: stacked recurrent layers or encoder blocks.
        num_heads: attention heads (transformer only).
        intermediate_dim: feed-forward width (transformer only).
        dropout: dropout rate.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> import numpy as np
    >>> model = Forecaster(window_length=24, num_features=1, horizon=3, encoder="lstm")
    >>> tuple(model(np.zeros((2, 24, 1), "float32")).shape)
    (2, 3, 1)

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997.
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(self, window_length, num_features, horizon=1, num_targets=None, encoder="lstm",
                 hidden_dim=32, num_layers=1, num_heads=2, intermediate_dim=64, dropout=0.0,
                 **kwargs):
        if encoder not in ENCODERS:
            raise ValueError(f"`encoder` must be one of {', '.join(ENCODERS)}. "
                             f"Received: encoder={encoder!r}")
        num_targets = num_features if num_targets is None else num_targets
        check_positive_integers(window_length=window_length, num_features=num_features,
                                horizon=horizon, num_targets=num_targets, hidden_dim=hidden_dim,
                                num_layers=num_layers, num_heads=num_heads,
                                intermediate_dim=intermediate_dim)
        if num_targets > num_features:
            raise ValueError("`num_targets` must be at most `num_features` (targets are the first "
                             f"features). Received: num_targets={num_targets}, "
                             f"num_features={num_features}")
        window = keras.Input(shape=(window_length, num_features), name="window")
        if encoder == "transformer":
            x = keras.layers.Dense(hidden_dim, name="step_projection")(window)
            x = PositionalEmbedding(kind="sinusoidal", name="positions")(x)
            for i in range(num_layers):
                x = TransformerEncoderBlock(
                    num_heads, intermediate_dim, dropout=dropout,
                    attention_kernel_initializer=small_attention_initializer(),
                    name=f"encoder_block_{i}")(x)
            x = x[:, -1, :]  # (batch, hidden): the last step has attended to the whole window
        else:
            rnn_class = SimpleRNN if encoder == "rnn" else LSTM
            x = window
            for i in range(num_layers):
                x = rnn_class(hidden_dim, return_sequences=i < num_layers - 1,
                              dropout=dropout, name=f"{encoder}_{i}")(x)
        x = keras.layers.Dense(horizon * num_targets, name="head")(x)  # (batch, horizon*targets)
        delta = keras.layers.Reshape((horizon, num_targets), name="delta")(x)
        last = window[:, -1:, :num_targets]  # (batch, 1, targets): persistence forecast
        forecast = keras.layers.Add(name="forecast")([last, delta])  # (batch, horizon, targets)
        super().__init__(inputs=window, outputs=forecast, **kwargs)
        self.window_length = window_length
        self.num_features = num_features
        self.horizon = horizon
        self.num_targets = num_targets
        self.encoder = encoder
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout

    def get_config(self):
        # Not chained to super: a functional model's config is its graph, not these arguments.
        return {"name": self.name, "trainable": self.trainable,
                "window_length": self.window_length, "num_features": self.num_features,
                "horizon": self.horizon, "num_targets": self.num_targets,
                "encoder": self.encoder, "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
