"""The lecture's recurrent network: `h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)`."""

import keras
from keras import ops

from seqmodels.layers.recurrent_cell import RecurrentCell
from seqmodels.layers.rnn import RNN

CELL_ARGUMENTS = (
    "units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
    "recurrent_dropout", "seed",
)


@keras.saving.register_keras_serializable(package="seqmodels")
class SimpleRNNCell(RecurrentCell):
    """One step of the Elman network: `h_t = activation(x_t W_xh + h_{t-1} W_hh + b)`.

    The output is the new hidden state (`y_t = W_hy h_t` is the Dense layer a model puts on top).
    Weights `kernel` (features, units), `recurrent_kernel` (units, units) and `bias` (units,), as
    in `keras.layers.SimpleRNNCell`. `project_inputs(x)` computes `x W_xh + b` for inputs of any
    leading shape and `step(projected, states)` the recurrent part, so `RNN` projects a block of
    steps in one matrix product.

    Args:
        units: size of the hidden state, a positive integer.
        activation: activation of the state (default tanh).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
            kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint: as in `keras.layers.SimpleRNNCell`.
        dropout: fraction of the inputs dropped in training, in [0, 1).
        recurrent_dropout: fraction of the previous state dropped in training, in [0, 1).
        seed: seed of the dropout masks.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: (batch, features) float tensor, one time step.
        states: `[h_{t-1}]`, (batch, units).
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> cell = SimpleRNNCell(4)
    >>> output, [h] = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(output.shape)
    (2, 4)

    References:
        Elman, "Finding Structure in Time", Cognitive Science, 1990.
    """

    num_gates = 1

    def step(self, projected, states, recurrent_mask=None):
        previous = states[0] if recurrent_mask is None else states[0] * recurrent_mask
        h = self.activation(projected + ops.matmul(previous, self.recurrent_kernel))
        return h, [h]


@keras.saving.register_keras_serializable(package="seqmodels")
class SimpleRNN(RNN):
    """A fully-connected recurrent layer, weight-compatible with `keras.layers.SimpleRNN`.

    Computes the lecture's recurrence `h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)` at every step
    with the `RNN` time loop, and is trained by backpropagation through time: autodiff through
    that loop. `layer.set_weights(keras_layer.get_weights())` gives the outputs and gradients
    of `keras.layers.SimpleRNN`. At a masked step the state carries over unchanged and the
    output repeats the last real one (zeros before the first); with `return_sequences` the
    input mask passes through to the next layer.

    Args:
        units: size of the hidden state, a positive integer.
        activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
            kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed: as in
            `keras.layers.SimpleRNN` (see `SimpleRNNCell`).
        activity_regularizer: regularizer of the layer's outputs (each returned tensor).
        return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask:
            see `RNN`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: (batch, time, features) floats.
        initial_state: optional `[h_0]`, (batch, units); zeros by default.
        mask: optional (batch, time) bool; True marks real steps.
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> layer = SimpleRNN(8, return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3), "float32")).shape)
    (2, 5, 8)

    References:
        Elman, "Finding Structure in Time", Cognitive Science, 1990.
        Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors",
        Nature, 1986.
    """

    cell_arguments = CELL_ARGUMENTS

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None,
                 zero_output_for_mask=False, **kwargs):
        # The argument order is `keras.layers.SimpleRNN`'s.
        cell = SimpleRNNCell(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            seed=seed, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
            name="simple_rnn_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer, **kwargs)
