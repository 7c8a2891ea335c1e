"""What every recurrent cell shares: arguments, weights, dropout masks and the one-step call."""

import keras
from keras import ops


def check_implementation(implementation):
    """Keras' legacy `implementation` of the LSTM and GRU: 1 or 2; a ValueError otherwise.

    In Keras, 1 computes each gate with its own matrix products (and, in training, its own
    dropout mask) and 2 all gates in one product. Both compute the same function; our cells
    always run the one-product form (one dropout mask for all gates), so the value only
    round-trips through the config.
    """
    if implementation not in (1, 2) or isinstance(implementation, bool):
        raise ValueError("`implementation` must be 1 or 2. "
                         f"Received: implementation={implementation!r}")
    return int(implementation)


@keras.saving.register_keras_serializable(package="seqmodels")
class RecurrentCell(keras.layers.Layer):
    """Base of `SimpleRNNCell`, `LSTMCell` and `GRUCell`: one time step, split in two parts.

    The output of every step is the new first state, h_t (the `RNN` loop relies on it and
    carries only the states). `project_inputs(x_t)` computes `x_t @ kernel (+ bias)`;
    `step(projected_t, states, recurrent_mask)` does the recurrent part. `call(x_t, states)` is
    both, so a cell also runs on its own. A subclass sets `num_gates`, builds its bias in
    `build_bias` and implements `step`.

    Args:
        units: size of the hidden state, a positive integer.
        activation: activation of the candidate state (default tanh).
        use_bias: whether to add biases.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers of the input
            kernel, the recurrent kernel and the bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: their regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: their constraints.
        dropout: fraction of the inputs dropped in training, in [0, 1).
        recurrent_dropout: fraction of the previous state dropped in training, in [0, 1).
        seed: seed of the dropout masks.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: (batch, features) float tensor: one time step.
        states: list of (batch, units) state tensors.
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> from seqmodels.layers.simple_rnn import SimpleRNNCell
    >>> cell = SimpleRNNCell(4)
    >>> output, states = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(output.shape), [tuple(state.shape) for state in states]
    ((2, 4), [(2, 4)])

    References:
        Elman, "Finding Structure in Time", 1990.
    """

    num_gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(f"`units` must be a positive integer. Received: units={units!r}")
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={rate!r}")
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        width = self.num_gates * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width), name="kernel", initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.bias = self.build_bias() if self.use_bias else None

    def build_bias(self):
        """Creates the bias weight; the default is one (num_gates * units,) vector."""
        return self.add_weight(
            shape=(self.num_gates * self.units,), name="bias", initializer=self.bias_initializer,
            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def input_bias(self):
        """The bias added to the input projection (None when there is none)."""
        return self.bias

    def project_inputs(self, inputs):
        """`inputs @ kernel + input_bias`: (batch, features) -> (batch, num_gates * units)."""
        projected = ops.matmul(inputs, self.kernel)  # (..., num_gates * units)
        bias = self.input_bias()
        return projected if bias is None else projected + bias

    def step(self, projected, states, recurrent_mask=None):
        """One recurrent step from the projected input; returns `(output, new_states)`."""
        raise NotImplementedError

    def dropout_mask(self, inputs):
        """A (batch, features) mask that drops `dropout` of the inputs and rescales the rest."""
        return keras.random.dropout(ops.ones_like(inputs), self.dropout,
                                    seed=self.seed_generator)

    def recurrent_dropout_mask(self, state):
        """A (batch, units) mask that drops `recurrent_dropout` of the previous state."""
        return keras.random.dropout(ops.ones_like(state), self.recurrent_dropout,
                                    seed=self.seed_generator)

    def get_initial_state(self, batch_size):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def call(self, inputs, states, training=None):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if training and self.dropout > 0:
            inputs = inputs * self.dropout_mask(inputs)
        recurrent_mask = (self.recurrent_dropout_mask(states[0])
                          if training and self.recurrent_dropout > 0 else None)
        return self.step(self.project_inputs(inputs), states, recurrent_mask)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return config
