"""Gated Recurrent Unit: update and reset gates, one state, fewer weights than the LSTM."""

import keras
from keras import ops

from seqmodels.layers.recurrent_cell import RecurrentCell, check_implementation
from seqmodels.layers.rnn import RNN
from seqmodels.layers.simple_rnn import CELL_ARGUMENTS as SIMPLE_CELL_ARGUMENTS
from seqmodels.layers.time_loop import check_use_cudnn

CELL_ARGUMENTS = SIMPLE_CELL_ARGUMENTS + ("recurrent_activation", "reset_after",
                                          "implementation")


@keras.saving.register_keras_serializable(package="seqmodels")
class GRUCell(RecurrentCell):
    """One GRU step: `h_t = z h_{t-1} + (1 - z) tanh(x W_h + r ⊙ (h_{t-1} U_h))`.

    Gates in the order z (update), r (reset), h (candidate), as in `keras.layers.GRUCell`:
    `kernel` (features, 3u), `recurrent_kernel` (u, 3u). With `reset_after=True` (the default,
    cuDNN's convention) the reset gate multiplies the recurrent projection after the matrix
    product, so a step does one matrix product, and there are two biases, `bias` (2, 3u): row 0
    for the input projection, row 1 for the recurrent one. With `reset_after=False` (the
    original formulation) the reset gate multiplies `h_{t-1}` before its product with `U_h`
    and `bias` is (3u,).

    Args:
        units: size of the hidden state, a positive integer.
        recurrent_activation: activation of the gates (default sigmoid).
        reset_after: where the reset gate applies (see above).
        activation, use_bias, initializers, regularizers, constraints, dropout,
            recurrent_dropout, seed: as in `SimpleRNNCell` (`activation` is the candidate's).
        implementation: 1 or 2, accepted as by `keras.layers.GRUCell`: both compute the same
            function (see `check_implementation`).
        **kwargs: base layer arguments.

    The arguments come in `keras.layers.GRUCell`'s order.

    Call arguments:
        inputs: (batch, features) float tensor, one time step.
        states: `[h_{t-1}]`, (batch, units).
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> cell = GRUCell(4)
    >>> h, [h] = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(h.shape), tuple(cell.bias.shape)  # two biases (reset_after=True)
    ((2, 4), (2, 12))

    References:
        Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
        Machine Translation", EMNLP 2014.
    """

    num_gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, reset_after=True,
                 seed=None, implementation=2, **kwargs):
        super().__init__(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            seed=seed, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.reset_after = reset_after
        self.implementation = check_implementation(implementation)

    def build_bias(self):
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        return self.add_weight(
            shape=shape, name="bias", initializer=self.bias_initializer,
            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def input_bias(self):
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def step(self, projected, states, recurrent_mask=None):
        h_previous = states[0]
        # Recurrent dropout drops the inputs of the recurrent products, not the carried state.
        h_dropped = h_previous if recurrent_mask is None else h_previous * recurrent_mask
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)  # 3 x (batch, u)
        units = self.units
        if self.reset_after:
            inner = ops.matmul(h_dropped, self.recurrent_kernel)  # (batch, 3u)
            if self.bias is not None:
                inner = inner + self.bias[1]
            r_z, r_r, r_h = ops.split(inner, 3, axis=-1)  # 3 x (batch, u)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            inner = ops.matmul(h_dropped, self.recurrent_kernel[:, :2 * units])  # (batch, 2u)
            r_z, r_r = ops.split(inner, 2, axis=-1)  # 2 x (batch, u)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            candidate = self.activation(
                x_h + ops.matmul(r * h_dropped, self.recurrent_kernel[:, 2 * units:]))
        h = z * h_previous + (1.0 - z) * candidate
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update({
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
            "implementation": self.implementation,
        })
        return config


@keras.saving.register_keras_serializable(package="seqmodels")
class GRU(RNN):
    """Gated Recurrent Unit layer, weight-compatible with `keras.layers.GRU`.

    Like the LSTM it gates what the state keeps, with one state instead of two and three gates
    instead of four. `layer.set_weights(keras_layer.get_weights())` gives the outputs and
    gradients of `keras.layers.GRU` (with the same `reset_after`). At a masked step the state
    carries over unchanged and the output repeats the last real one (zeros before the first);
    with `return_sequences` the input mask passes through. On a GPU, `use_cudnn` runs the
    sequence in cuDNN as Keras does (TensorFlow: with `reset_after=True` only; torch and JAX:
    without a mask); on CPUs "auto" runs the `RNN` loop (see `seqmodels.layers.time_loop`).

    Args:
        units: size of the hidden state, a positive integer.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
            bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, seed, reset_after, implementation: as in `keras.layers.GRU` (see
            `GRUCell`).
        activity_regularizer: regularizer of the layer's outputs (each returned tensor).
        return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask:
            see `RNN`.
        use_cudnn: "auto", True or False, as for `LSTM`.
        **kwargs: base layer arguments.

    The arguments come in `keras.layers.GRU`'s order.

    Call arguments:
        sequences: (batch, time, features) floats.
        initial_state: optional `[h_0]`, (batch, units); zeros by default.
        mask: optional (batch, time) bool; True marks real steps.
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> tuple(GRU(8)(np.zeros((2, 5, 3), "float32")).shape)
    (2, 8)

    References:
        Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
        Machine Translation", EMNLP 2014.
    """

    cell_arguments = CELL_ARGUMENTS
    takes_use_cudnn = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 use_cudnn="auto", zero_output_for_mask=False, implementation=2, **kwargs):
        cell = GRUCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            reset_after=reset_after, implementation=implementation, dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True), name="gru_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.use_cudnn = check_use_cudnn(use_cudnn)
