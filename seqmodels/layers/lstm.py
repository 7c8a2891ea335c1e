"""Long Short-Term Memory: gated memory, the lecture's fix for vanishing gradients."""

import keras
from keras import ops

from seqmodels.layers.recurrent_cell import RecurrentCell, check_implementation
from seqmodels.layers.rnn import RNN
from seqmodels.layers.simple_rnn import CELL_ARGUMENTS as SIMPLE_CELL_ARGUMENTS
from seqmodels.layers.time_loop import check_use_cudnn

CELL_ARGUMENTS = SIMPLE_CELL_ARGUMENTS + ("recurrent_activation", "unit_forget_bias",
                                          "implementation")


@keras.saving.register_keras_serializable(package="seqmodels")
class LSTMCell(RecurrentCell):
    """One LSTM step: input, forget, candidate and output gates over a cell state.

    `z = x_t W + h_{t-1} U + b` split into `(i, f, g, o)`; `c_t = σ(f) c_{t-1} + σ(i) tanh(g)`;
    `h_t = σ(o) tanh(c_t)`. Weights as in `keras.layers.LSTMCell`: `kernel` (features, 4u),
    `recurrent_kernel` (u, 4u), `bias` (4u,), gates in the order i, f, c, o. The step does one
    matrix product, `h_{t-1} U` for all four gates; `x_t W + b` comes from `project_inputs`.

    Args:
        units: size of the hidden and cell states, a positive integer.
        recurrent_activation: activation of the gates (default sigmoid).
        unit_forget_bias: initialise the forget-gate bias to 1 (Jozefowicz et al., 2015).
        activation, use_bias, initializers, regularizers, constraints, dropout,
            recurrent_dropout, seed: as in `SimpleRNNCell` (`activation` is the candidate's
            and the cell output's).
        implementation: 1 or 2, accepted as by `keras.layers.LSTMCell`: both compute the
            same function (see `check_implementation`).
        **kwargs: base layer arguments.

    The arguments come in `keras.layers.LSTMCell`'s order.

    Call arguments:
        inputs: (batch, features) float tensor, one time step.
        states: `[h_{t-1}, c_{t-1}]`, each (batch, units).
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> cell = LSTMCell(4)
    >>> h, [h, c] = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")] * 2)
    >>> tuple(h.shape), tuple(c.shape)
    ((2, 4), (2, 4))

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation, 1997.
    """

    num_gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, implementation=2, **kwargs):
        super().__init__(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            seed=seed, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias
        self.implementation = check_implementation(implementation)

    @property
    def state_size(self):
        return [self.units, self.units]

    def build_bias(self):
        initializer = self.bias_initializer
        if self.unit_forget_bias:
            base = self.bias_initializer

            def initializer(shape, dtype=None):
                # (4u,): i from the initializer, f ones, c and o from the initializer.
                return ops.concatenate([
                    base((self.units,), dtype=dtype),
                    ops.ones((self.units,), dtype=dtype),
                    base((self.units * 2,), dtype=dtype),
                ])
        return self.add_weight(
            shape=(4 * self.units,), name="bias", initializer=initializer,
            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def get_initial_state(self, batch_size):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype) for _ in range(2)]

    def step(self, projected, states, recurrent_mask=None):
        h_previous, c_previous = states
        if recurrent_mask is not None:
            h_previous = h_previous * recurrent_mask
        z = projected + ops.matmul(h_previous, self.recurrent_kernel)  # (batch, 4u)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)  # 4 x (batch, u)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_previous + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update({
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
            "implementation": self.implementation,
        })
        return config


@keras.saving.register_keras_serializable(package="seqmodels")
class LSTM(RNN):
    """Long Short-Term Memory layer, weight-compatible with `keras.layers.LSTM`.

    The gates let gradients flow through the cell state over long spans, the fix for the simple
    RNN's vanishing gradients. `layer.set_weights(keras_layer.get_weights())` gives the outputs
    and gradients of `keras.layers.LSTM`. At a masked step both states carry over unchanged and
    the output repeats the last real one (zeros before the first); with `return_sequences` the
    input mask passes through. On a GPU, `use_cudnn` runs the sequence in cuDNN as Keras does;
    on CPUs "auto" runs the `RNN` loop (see `seqmodels.layers.time_loop.cudnn_kernel`).

    Args:
        units: size of the hidden and cell states, a positive integer.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer,
            recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
            bias_constraint, dropout, recurrent_dropout, seed, implementation: as in
            `keras.layers.LSTM` (see `LSTMCell`).
        activity_regularizer: regularizer of the layer's outputs (each returned tensor).
        return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask:
            see `RNN`.
        use_cudnn: "auto" (cuDNN where the backend offers it for these arguments: a GPU,
            tanh and sigmoid, a bias, no recurrent dropout, no unrolling), True (cuDNN or, as
            in Keras, an error where the backend has none) or False (always the `RNN` loop).
        **kwargs: base layer arguments.

    The arguments come in `keras.layers.LSTM`'s order.

    Call arguments:
        sequences: (batch, time, features) floats.
        initial_state: optional `[h_0, c_0]`, each (batch, units); zeros by default.
        mask: optional (batch, time) bool; True marks real steps.
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> output, h, c = LSTM(8, return_state=True)(np.zeros((2, 5, 3), "float32"))
    >>> tuple(c.shape)
    (2, 8)

    References:
        Hochreiter & Schmidhuber, "Long Short-Term Memory", Neural Computation, 1997.
    """

    cell_arguments = CELL_ARGUMENTS
    takes_use_cudnn = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", zero_output_for_mask=False, implementation=2, **kwargs):
        cell = LSTMCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            seed=seed, implementation=implementation, dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True), name="lstm_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.use_cudnn = check_use_cudnn(use_cudnn)
