"""The time loop of every recurrent layer, written once: `RNN` runs any cell over a sequence."""

import keras
from keras import ops

from seqmodels.layers import time_loop
from seqmodels.layers.recurrent_cell import RecurrentCell


def _as_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


@keras.saving.register_keras_serializable(package="seqmodels")
class RNN(keras.layers.Layer):
    """Runs a recurrent cell over the time axis: backpropagation through time by autodiff.

    The loop is one scan over time (`seqmodels.layers.time_loop.scan`: a `tf.while_loop` on
    TensorFlow, `keras.ops.scan` elsewhere), so gradients flow through the real recurrence. The cells of `SimpleRNN`,
    `LSTM` and `GRU` (`RecurrentCell`s) run their `step` with dropout masks drawn once per
    sequence, and carry only their states (their output is their first state); any other
    Keras-style cell (`call(x_t, states) -> (y_t, new_states)` with `state_size`) runs through
    its `__call__`, its output carried beside its states.

    Masking follows Keras: at a masked step the states carry over unchanged and the output repeats
    the previous output (zeros with `zero_output_for_mask=True`, as `Bidirectional` sets when it
    returns sequences). Dropout masks are drawn once per sequence, as in Keras.

    Args:
        cell: a cell layer (see above).
        return_sequences: return the output at every step (batch, time, units) rather than the
            last one (batch, units).
        return_state: also return the final states.
        go_backwards: process the sequence in reverse; the returned sequence is in processing
            order, as in Keras.
        zero_output_for_mask: output zeros at masked steps instead of repeating the last output.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: float tensor (batch, time, features).
        initial_state: optional list of state tensors, one per entry of `cell.state_size`.
        mask: optional bool tensor (batch, time); True marks real steps.
        training: whether dropout is active.

    Example:

    >>> cell = SimpleRNNCell(8)
    >>> RNN(cell, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 8)

    References:
        Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors", 1986.
        Werbos, "Backpropagation through time: what it does and how to do it", 1990.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 zero_output_for_mask=False, **kwargs):
        if not isinstance(cell, keras.layers.Layer) or not hasattr(cell, "state_size"):
            raise ValueError("`cell` must be a Keras layer with a `state_size` attribute and "
                             "`call(inputs, states)`. Received: cell=" + repr(cell))
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        # Attributes `keras.layers.Bidirectional` reads; statefulness and unrolling are not offered.
        self.stateful = False
        self.unroll = False
        self.states = None

    @property
    def state_size(self):
        return _as_list(self.cell.state_size)

    @property
    def output_size(self):
        return getattr(self.cell, "output_size", self.state_size[0])

    def reset_state(self):
        """No-op: these layers are not stateful (kept for `Bidirectional`)."""

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_rank(sequences_shape)
        if not self.cell.built:
            self.cell.build((sequences_shape[0], sequences_shape[-1]))

    def _check_rank(self, shape):
        if len(shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (batch, time, features). "
                f"Received: inputs.shape={tuple(shape)}")

    def get_initial_state(self, batch_size):
        """Zero states, one (batch, size) tensor per entry of `state_size`."""
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def _initial_states(self, sequences, initial_state):
        batch = ops.shape(sequences)[0]
        if initial_state is None:
            return self.get_initial_state(batch)
        states = _as_list(initial_state)
        if len(states) != len(self.state_size):
            raise ValueError(
                f"{type(self).__name__} expects {len(self.state_size)} initial state tensor(s) "
                f"of sizes {self.state_size}. Received: {len(states)} tensor(s).")
        for i, (state, size) in enumerate(zip(states, self.state_size)):
            if len(state.shape) != 2 or state.shape[-1] not in (None, size):
                raise ValueError(
                    f"{type(self).__name__} expects initial_state[{i}] of shape (batch, {size}). "
                    f"Received: initial_state[{i}].shape={tuple(state.shape)}")
        return [ops.cast(s, self.compute_dtype) for s in states]

    def call(self, sequences, initial_state=None, mask=None, training=None):
        self._check_rank(sequences.shape)
        states = self._initial_states(sequences, initial_state)
        cell = self.cell
        dropout = getattr(cell, "dropout", 0.0) if training else 0.0
        recurrent_dropout = getattr(cell, "recurrent_dropout", 0.0) if training else 0.0
        if dropout > 0:
            # One input-dropout mask per sequence, shared by all steps: (batch, 1, features).
            sequences = sequences * ops.expand_dims(cell.dropout_mask(sequences[:, 0]), 1)
        recurrent_mask = cell.recurrent_dropout_mask(states[0]) if recurrent_dropout > 0 else None

        if isinstance(cell, RecurrentCell):
            # Measured on CPU: projecting each step inside the loop beats one projection of the
            # whole sequence before it (whose (time, batch, gates * units) gradient costs more).
            def step(x_t, step_states):
                return cell.step(cell.project_inputs(x_t), step_states, recurrent_mask)
        else:
            def step(x_t, step_states):
                output, new_states = cell(x_t, step_states, training=training)
                return output, _as_list(new_states)

        xs = ops.transpose(sequences, (1, 0, 2))  # (time, batch, features)
        if mask is not None:
            mask = ops.expand_dims(ops.transpose(ops.cast(mask, "bool"), (1, 0)), -1)  # (time, batch, 1)
        if self.go_backwards:
            xs = ops.flip(xs, axis=0)
            mask = None if mask is None else ops.flip(mask, axis=0)

        if isinstance(cell, RecurrentCell):
            outputs, final_states = self._scan_states(step, states, xs, mask)
        else:
            outputs, final_states = self._scan_with_outputs(step, states, xs, mask)
        if self.return_sequences:
            output = ops.transpose(outputs, (1, 0, 2))  # (batch, time, units)
        else:
            output = outputs[-1]
        if self.return_state:
            return [output] + final_states
        return output

    def _scan(self, body, init, xs, mask):
        time_steps = xs.shape[0]
        return time_loop.scan(body, init, (xs, mask) if mask is not None else xs,
                              length=time_steps if isinstance(time_steps, int) else None)

    def _scan_states(self, step, states, xs, mask):
        """The loop for cells whose output is their first state (h): only states are carried.

        Outputs come from the stacked h afterwards: a masked step's state is the last real step's,
        which is what Keras outputs there, except before the first real step, where Keras outputs
        zeros (and so does `zero_output_for_mask` at every masked step).
        """
        def body(carry, inputs):
            x_t, mask_t = inputs if mask is not None else (inputs, None)
            _, new_states = step(x_t, list(carry))
            if mask_t is not None:
                # Masked step: the states carry over unchanged.
                new_states = [ops.where(mask_t, n, s) for n, s in zip(new_states, carry)]
            return tuple(new_states), new_states[0]

        final, outputs = self._scan(body, tuple(states), xs, mask)  # outputs (time, batch, units)
        if mask is not None:
            if self.zero_output_for_mask:
                keep = mask
            else:
                keep = ops.cumsum(ops.cast(mask, "int32"), axis=0) > 0  # a real step seen yet
            outputs = ops.where(keep, outputs, ops.zeros_like(outputs))
        return outputs, list(final)

    def _scan_with_outputs(self, step, states, xs, mask):
        """The general loop: the previous output is carried beside the states."""
        batch = ops.shape(xs)[1]
        zero_output = ops.zeros((batch, self.output_size), dtype=self.compute_dtype)
        num_states = len(states)

        def body(carry, inputs):
            step_states, previous_output = list(carry[:num_states]), carry[num_states]
            x_t, mask_t = inputs if mask is not None else (inputs, None)
            output, new_states = step(x_t, step_states)
            if mask_t is not None:
                # Masked step: keep the states, repeat (or zero) the output, as Keras does.
                new_states = [ops.where(mask_t, n, s) for n, s in zip(new_states, step_states)]
                output = ops.where(mask_t, output, zero_output if self.zero_output_for_mask
                                   else previous_output)
            return tuple(new_states) + (output,), output

        final, outputs = self._scan(body, tuple(states) + (zero_output,), xs, mask)
        return outputs, list(final[:num_states])

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        self._check_rank(sequences_shape)
        batch, time = sequences_shape[0], sequences_shape[1]
        output_shape = ((batch, time, self.output_size) if self.return_sequences
                        else (batch, self.output_size))
        if self.return_state:
            return [output_shape] + [(batch, size) for size in self.state_size]
        return output_shape

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def get_config(self):
        config = super().get_config()
        config.update({
            "cell": keras.saving.serialize_keras_object(self.cell),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "zero_output_for_mask": self.zero_output_for_mask,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


class CellRNN(RNN):
    """An `RNN` that builds its own cell from flat constructor arguments (SimpleRNN, LSTM, GRU).

    Its config is the flat argument list (as for the Keras built-ins), not a nested cell, and
    every cell argument is also a public attribute of the layer (`layer.units`, ...).
    """

    cell_arguments = ()

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 zero_output_for_mask=False, **kwargs):
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask,
                         **kwargs)
        for key in self.cell_arguments:
            setattr(self, key, getattr(cell, key))

    def get_config(self):
        config = super().get_config()
        cell_config = config.pop("cell")["config"]
        config.update({key: cell_config[key] for key in self.cell_arguments})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
