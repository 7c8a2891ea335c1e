"""The time loop of every recurrent layer, written once: `RNN` runs any cell over a sequence."""

import inspect

import keras
from keras import ops

# The most steps unrolled in one iteration of the loop (see `RNN._time_loop`).
MAX_CHUNK = 10


def _scan_unroll():
    """`unroll` for `keras.ops.scan`: on TensorFlow it is the while loop's `parallel_iterations`.

    Measured on 2 CPU cores (LSTM and GRU, T=100, 64 units, forward+backward): 3 lets the
    gradient loop overlap the independent work of adjacent iterations, about 1.2x faster than
    1. On JAX it would unroll iterations (already chunks of steps) in the compiled program.
    """
    return 3 if keras.backend.backend() == "tensorflow" else 1


def _as_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


def _is_fused(cell):
    """Whether `cell` splits its step into `project_inputs` and `step` (see `RNN`)."""
    return callable(getattr(cell, "project_inputs", None)) and callable(getattr(cell, "step", None))


def chunk_size(time_steps, max_chunk=MAX_CHUNK):
    """Steps per loop iteration: a divisor of `time_steps` in [max_chunk / 2, max_chunk] if any.

    A divisor leaves no remainder steps to run after the loop (measured: a remainder costs more
    than its share).

    Example:

    >>> chunk_size(100), chunk_size(7), chunk_size(97), chunk_size(98)
    (10, 7, 10, 7)
    """
    if time_steps <= max_chunk:
        return max(time_steps, 1)
    for size in range(max_chunk, (max_chunk + 1) // 2 - 1, -1):
        if time_steps % size == 0:
            return size
    return max_chunk


@keras.saving.register_keras_serializable(package="seqmodels")
class RNN(keras.layers.Layer):
    """Runs a recurrent cell over the time axis; backpropagation through time is autodiff.

    The loop is one `keras.ops.scan` over time (a `tf.while_loop` on TensorFlow, `lax.scan` on
    JAX), so gradients flow through the real recurrence (backpropagation through time, unrolled
    by the framework, not by Python). Each iteration of the scan runs a chunk of up to
    `MAX_CHUNK` steps written out in its body: the scan's own bookkeeping per iteration (on
    TensorFlow its carry and outputs live in `TensorArray`s) is then paid once per chunk.

    Any Keras-style cell works: a layer with `state_size` (an int or a list of ints) and
    `call(x_t, states, training=None) -> (y_t, new_states)`, `x_t` (batch, features), each state
    (batch, size); `keras.layers.LSTMCell` and friends included. A cell that also has
    `project_inputs(x)` (`x @ kernel (+ input bias)` for inputs of any leading shape) and
    `step(projected_t, states)` (the recurrent part), as the cells of `SimpleRNN`, `LSTM` and
    `GRU` have, runs faster: the input projection of a whole chunk of steps is one matrix
    product and the step does only `h @ recurrent_kernel` and the gates. Such a cell's output
    must be its first state (h_t). Its `dropout` and `recurrent_dropout` are applied here, one
    mask per sequence as in Keras: `dropout_mask(x_t)` multiplies the inputs before the
    projection and `recurrent_dropout_mask(h)` goes to `step(projected_t, states,
    recurrent_mask)`.

    Masking follows Keras exactly: at a masked step the states carry over unchanged and the
    output repeats the previous output (zeros before the first real step), or is zero when
    `zero_output_for_mask=True` (which `keras.layers.Bidirectional` sets when it returns
    sequences). With `return_sequences` the output mask is the input mask, otherwise None.

    On TensorFlow the layer sets `supports_jit = False`: the gradient of `keras.ops.scan` does
    not compile under XLA there (its `tf.while_loop` has no `maximum_iterations`), so Keras'
    `jit_compile="auto"` leaves XLA off for models that contain it.

    Args:
        cell: a cell layer (see above).
        return_sequences: return the output at every step (batch, time, units) rather than the
            last one (batch, units).
        return_state: also return the final states, after the output.
        go_backwards: process the sequence in reverse; the returned sequence is in processing
            order (reversed), as in Keras.
        zero_output_for_mask: output zeros at masked steps instead of repeating the last output.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: float tensor (batch, time, features).
        initial_state: optional list of state tensors, one (batch, size) per entry of
            `cell.state_size`; zeros by default.
        mask: optional bool tensor (batch, time); True marks real steps.
        training: whether dropout is active.

    Example:

    >>> cell = SimpleRNNCell(8)
    >>> RNN(cell, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 8)

    References:
        Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors",
        Nature, 1986.
        Werbos, "Backpropagation through time: what it does and how to do it", Proc. IEEE, 1990.
    """

    # Constructor arguments that subclasses forward to the cell they build (see `get_config`).
    cell_arguments = ()

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
        # The gradient of `keras.ops.scan` does not compile with XLA on TensorFlow.
        self.supports_jit = keras.backend.backend() != "tensorflow"
        # Attributes `keras.layers.Bidirectional` reads; statefulness and unrolling are not offered.
        self.stateful = False
        self.unroll = False
        self.states = None
        # Subclasses that build their cell expose its arguments (`layer.units`, ...).
        for key in self.cell_arguments:
            setattr(self, key, getattr(cell, key))
        self._cell_takes_training = "training" in inspect.signature(cell.call).parameters

    @property
    def state_size(self):
        return _as_list(self.cell.state_size)

    @property
    def output_size(self):
        return getattr(self.cell, "output_size", self.state_size[0])

    def reset_state(self):
        """No-op: these layers are not stateful (kept for `Bidirectional`)."""

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_shape(sequences_shape)
        if not self.cell.built:
            self.cell.build((sequences_shape[0], sequences_shape[-1]))

    def _check_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (batch, time, features). "
                f"Received: inputs.shape={tuple(shape)}")
        if shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} expects at least one time step. "
                f"Received: inputs.shape={tuple(shape)}")

    def get_initial_state(self, batch_size):
        """Zero states, one (batch, size) tensor per entry of `state_size`."""
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def _initial_states(self, sequences, initial_state):
        if initial_state is None:
            return self.get_initial_state(ops.shape(sequences)[0])
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
        self._check_shape(sequences.shape)
        states = self._initial_states(sequences, initial_state)
        xs = ops.transpose(sequences, (1, 0, 2))  # (time, batch, features)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]  # the sequences' mask (the initial states have none)
        if mask is not None:
            mask = ops.transpose(ops.cast(mask, "bool"), (1, 0))  # (time, batch)
            mask = ops.expand_dims(mask, -1)  # (time, batch, 1)
        if self.go_backwards:
            xs = ops.flip(xs, axis=0)
            mask = None if mask is None else ops.flip(mask, axis=0)

        if _is_fused(self.cell):
            output, final_states = self._fused_loop(xs, states, mask, training)
        else:
            output, final_states = self._cell_loop(xs, states, mask, training)
        if self.return_state:
            return [output] + final_states
        return output

    def _time_loop(self, step, states, xs, mask, collect, prepare=None):
        """Runs `step(x_t, mask_t, states) -> (y_t, new_states)` over the time axis.

        One `keras.ops.scan` over chunks of `chunk_size(time)` steps, the steps of a chunk
        written out in the loop body; steps left after the last whole chunk run after the loop.
        With an unknown number of steps, one scan iteration per step.

        Args:
            step: the step function; `mask_t` is a (batch, 1) bool tensor or None.
            states: list of initial state tensors.
            xs: (time, batch, features) inputs.
            mask: (time, batch, 1) bool tensor or None.
            collect: whether to stack the per-step outputs.
            prepare: optional function applied to a block of inputs (steps, batch, features)
                before it is split into steps (the input projection of a fused cell).

        Returns:
            `(ys, final_states)`: `ys` the (time, batch, output) stacked outputs (None unless
            `collect`), `final_states` a list.
        """
        prepare = prepare or (lambda block: block)
        inputs = [xs] if mask is None else [xs, mask]
        time_steps = xs.shape[0]
        if not isinstance(time_steps, int):
            return self._scan_steps(step, states, inputs, collect, prepare)
        chunk = chunk_size(time_steps)
        num_chunks, rest = divmod(time_steps, chunk)

        def run(states, blocks, steps):
            """The steps of one block, written out; returns their outputs and the states."""
            blocks = [prepare(blocks[0])] + blocks[1:]
            per_step = [ops.unstack(block, steps, axis=0) for block in blocks]  # steps x (batch, .)
            ys = []
            for tensors in zip(*per_step):
                x_t, mask_t = tensors if mask is not None else (tensors[0], None)
                y_t, states = step(x_t, mask_t, states)
                ys.append(y_t)
            return ys, states

        ys_parts = []
        if num_chunks:
            def body(carry, chunk_inputs):
                ys, new_states = run(list(carry[0]), list(chunk_inputs), chunk)
                new_carry = (tuple(new_states),)
                if collect:
                    new_carry += (ops.stack(ys, axis=0),)  # (chunk, batch, output)
                # `keras.ops.scan` wants the per-iteration output to mirror the carry.
                return new_carry, new_carry

            init = (tuple(states),)
            if collect:
                init += (ops.zeros((chunk, ops.shape(xs)[1], self.output_size),
                                   dtype=self.compute_dtype),)
            main = [t[:num_chunks * chunk] if rest else t for t in inputs]
            # (num_chunks, chunk, batch, features)
            main = [ops.reshape(t, (num_chunks, chunk, -1, t.shape[-1])) for t in main]
            final, stacked = ops.scan(body, init, main, length=num_chunks,
                                      unroll=_scan_unroll())
            states = list(final[0])
            if collect:
                # (num_chunks, chunk, batch, output) -> (time, batch, output)
                ys_parts.append(ops.reshape(stacked[1],
                                            (num_chunks * chunk, -1, self.output_size)))
        if rest:
            ys, states = run(states, [t[num_chunks * chunk:] for t in inputs], rest)
            if collect:
                ys_parts.append(ops.stack(ys, axis=0))  # (rest, batch, output)
        if not collect:
            return None, states
        ys = ys_parts[0] if len(ys_parts) == 1 else ops.concatenate(ys_parts, axis=0)
        return ys, states

    def _scan_steps(self, step, states, inputs, collect, prepare):
        """One scan iteration per step, for a time axis of unknown length."""
        xs, mask = inputs if len(inputs) == 2 else (inputs[0], None)
        batch = ops.shape(xs)[1]
        scanned = xs
        if mask is not None:
            # One scanned tensor: with several, the TensorFlow `keras.ops.scan` fails on an
            # unknown length (Keras 3.15). The mask rides as a last feature.
            # (time, batch, features + 1)
            scanned = ops.concatenate([xs, ops.cast(mask, xs.dtype)], axis=-1)

        def body(carry, step_inputs):
            x_t, mask_t = step_inputs, None
            if mask is not None:
                x_t = step_inputs[:, :-1]  # (batch, features)
                mask_t = step_inputs[:, -1:] > 0.5  # (batch, 1)
            y_t, new_states = step(prepare(x_t), mask_t, list(carry[0]))
            new_carry = (tuple(new_states),) + ((y_t,) if collect else ())
            return new_carry, new_carry

        init = (tuple(states),)
        if collect:
            init += (ops.zeros((batch, self.output_size), dtype=self.compute_dtype),)
        final, stacked = ops.scan(body, init, scanned, unroll=_scan_unroll())
        return (stacked[1] if collect else None), list(final[0])

    def _fused_loop(self, xs, states, mask, training):
        """The loop of a cell with `project_inputs`/`step`, whose output is its first state.

        A masked step's h is the last real step's, which is what Keras outputs there, except
        before the first real step, where Keras outputs zeros (and `zero_output_for_mask`
        outputs zeros at every masked step): the outputs are fixed after the loop.
        """
        cell = self.cell
        if training and getattr(cell, "dropout", 0) > 0:
            # One input-dropout mask per sequence, shared by all steps.
            xs = xs * cell.dropout_mask(xs[0])  # (time, batch, features) * (batch, features)
        extra = ()
        if training and getattr(cell, "recurrent_dropout", 0) > 0:
            extra = (cell.recurrent_dropout_mask(states[0]),)  # (batch, units)

        def step(projected_t, mask_t, step_states):
            _, new_states = cell.step(projected_t, step_states, *extra)
            if mask_t is not None:
                # Masked step: the states carry over unchanged.
                new_states = [ops.where(mask_t, n, s) for n, s in zip(new_states, step_states)]
            return new_states[0], list(new_states)

        # Measured on CPU (TensorFlow, LSTM): projecting each chunk inside the loop (one matmul
        # per chunk) beats projecting the whole sequence before it, whose
        # (time, batch, gates * units) tensor and its gradient go through the loop's arrays.
        outputs, final_states = self._time_loop(step, states, xs, mask,
                                                collect=self.return_sequences,
                                                prepare=cell.project_inputs)
        if self.return_sequences:
            if mask is not None:
                if self.zero_output_for_mask:
                    keep = mask
                else:
                    keep = ops.cumsum(ops.cast(mask, "int32"), axis=0) > 0  # a real step seen
                outputs = ops.where(keep, outputs, ops.zeros_like(outputs))
            return ops.transpose(outputs, (1, 0, 2)), final_states  # (batch, time, units)
        output = final_states[0]
        if mask is not None:
            keep = mask[-1] if self.zero_output_for_mask else ops.any(mask, axis=0)  # (batch, 1)
            output = ops.where(keep, output, ops.zeros_like(output))
        return output, final_states

    def _cell_loop(self, xs, states, mask, training):
        """The general loop: the cell's `__call__` per step, its previous output carried."""
        cell = self.cell
        kwargs = {"training": training} if self._cell_takes_training else {}
        # Keras cells with dropout (`keras.layers.LSTMCell`, ...) cache one mask per sequence:
        # draw it before the loop, forget it after, as `keras.layers.RNN` does.
        cached = all(hasattr(cell, name) for name in (
            "get_dropout_mask", "get_recurrent_dropout_mask", "reset_dropout_mask",
            "reset_recurrent_dropout_mask"))
        if cached:
            cell.get_dropout_mask(xs[0])
            cell.get_recurrent_dropout_mask(states[0])
        num_states = len(states)
        zero_output = ops.zeros((ops.shape(xs)[1], self.output_size), dtype=self.compute_dtype)

        def step(x_t, mask_t, step_states):
            step_states, previous_output = step_states[:num_states], step_states[num_states]
            output, new_states = cell(x_t, step_states, **kwargs)
            output = ops.cast(output, self.compute_dtype)
            new_states = [ops.cast(s, self.compute_dtype) for s in _as_list(new_states)]
            if mask_t is not None:
                # Masked step: keep the states, repeat (or zero) the output, as Keras does.
                new_states = [ops.where(mask_t, n, s) for n, s in zip(new_states, step_states)]
                output = ops.where(mask_t, output, zero_output if self.zero_output_for_mask
                                   else previous_output)
            return output, new_states + [output]

        outputs, final = self._time_loop(step, list(states) + [zero_output], xs, mask,
                                         collect=self.return_sequences)
        if cached:
            cell.reset_dropout_mask()
            cell.reset_recurrent_dropout_mask()
        if self.return_sequences:
            return ops.transpose(outputs, (1, 0, 2)), final[:num_states]  # (batch, time, output)
        return final[num_states], final[:num_states]

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        self._check_shape(sequences_shape)
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
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "zero_output_for_mask": self.zero_output_for_mask,
            "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
        })
        if self.cell_arguments:
            # A layer that builds its own cell: its flat arguments, as the Keras built-ins.
            cell_config = self.cell.get_config()
            config.update({key: cell_config[key] for key in self.cell_arguments})
        else:
            config["cell"] = keras.saving.serialize_keras_object(self.cell)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "cell" in config:
            config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)
