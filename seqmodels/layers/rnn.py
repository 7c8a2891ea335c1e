"""The time loop of every recurrent layer, written once: `RNN` runs any cell over a sequence."""

import inspect

import keras
from keras import ops

from seqmodels.layers.time_loop import as_list, cudnn_kernel, is_fused, time_loop


@keras.saving.register_keras_serializable(package="seqmodels")
class RNN(keras.layers.Layer):
    """Runs a recurrent cell over the time axis; backpropagation through time is autodiff.

    The loop is one `keras.ops.scan` over time (a `tf.while_loop` on TensorFlow, `lax.scan` on
    JAX), so gradients flow through the real recurrence (backpropagation through time, unrolled
    by the framework, not by Python). Each iteration of the scan runs a chunk of up to
    `MAX_CHUNK` steps written out in its body: the scan's own bookkeeping per iteration (on
    TensorFlow its carry and outputs live in `TensorArray`s) is then paid once per chunk (see
    `seqmodels.layers.time_loop`). `unroll=True` writes every step out instead (no loop op):
    the same outputs, for short sequences of known length; more memory and a bigger graph. On
    TensorFlow a sequence of known length up to `time_loop.AUTO_UNROLL_STEPS` (100) steps is
    written out even without it, as measured faster there (see `time_loop.writes_out`); `unroll`
    keeps its meaning for `supports_jit` and the config.

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

    Statefulness follows Keras too: with `stateful=True` the final states of a call start the
    next one, sample i of a batch continuing sample i of the previous batch (feed the batches
    in order: `fit(..., shuffle=False)`). The batch size must be fixed, by
    `keras.Input(shape, batch_size=...)` or by the first batch the layer is built on or called
    with; building on an unknown batch size raises, and so does a batch of another size. The
    states are non-trainable variables in `layer.states`, created at build time and, as in
    Keras, neither weights nor saved; `reset_states()` (or `reset_state()`) sets them to zeros,
    and an `initial_state` passed to a call replaces them for that call. On JAX, as with Keras'
    own layers, they carry over between eager calls but not between the compiled steps of
    `fit` and `predict`, which write back only tracked variables.

    XLA: on TensorFlow the layer sets `supports_jit = False` unless `unroll=True`: the gradient
    of `keras.ops.scan` does not compile there ("XLA compilation requires a fixed tensor list
    size": its `tf.while_loop` has no `maximum_iterations`), so `compile(jit_compile=True)`
    falls back to graph execution with a warning and `jit_compile="auto"` leaves XLA off.
    Unrolled layers have no loop and compile. On JAX the scan always compiles.

    Args:
        cell: a cell layer (see above).
        return_sequences: return the output at every step (batch, time, units) rather than the
            last one (batch, units).
        return_state: also return the final states, after the output.
        go_backwards: process the sequence in reverse; the returned sequence is in processing
            order (reversed), as in Keras.
        stateful: keep the final states across calls (see above).
        unroll: write every step out in Python instead of a loop (the time axis must be known).
        zero_output_for_mask: output zeros at masked steps instead of repeating the last output.
        **kwargs: base layer arguments (`name`, `dtype`, `activity_regularizer`, ...).

    Call arguments:
        sequences: float tensor (batch, time, features).
        initial_state: optional list of state tensors, one (batch, size) per entry of
            `cell.state_size`; zeros (or a stateful layer's states) by default.
        mask: optional bool tensor (batch, time); True marks real steps.
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> from seqmodels.layers import SimpleRNNCell
    >>> layer = RNN(SimpleRNNCell(8), return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3), "float32")).shape)
    (2, 5, 8)
    >>> stateful = RNN(SimpleRNNCell(8), stateful=True)
    >>> first = stateful(np.ones((2, 5, 3), "float32"))  # its final states are kept...
    >>> bool(np.allclose(stateful(np.ones((2, 5, 3), "float32")), first))  # ...and go on
    False
    >>> stateful.reset_states()
    >>> bool(np.allclose(stateful(np.ones((2, 5, 3), "float32")), first))
    True

    References:
        Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors",
        Nature, 1986.
        Werbos, "Backpropagation through time: what it does and how to do it", Proc. IEEE, 1990.
    """

    # Constructor arguments that subclasses forward to the cell they build (see `get_config`).
    cell_arguments = ()
    # Whether the layer takes `use_cudnn` (`LSTM`, `GRU`; their constructors set it): Keras'
    # fused kernel for the whole sequence, where it asks for one (see `time_loop.cudnn_kernel`).
    takes_use_cudnn = False

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if not isinstance(cell, keras.layers.Layer) or not hasattr(cell, "state_size"):
            raise ValueError("`cell` must be a Keras layer with a `state_size` attribute and "
                             "`call(inputs, states)`. Received: cell=" + repr(cell))
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        # The gradient of `keras.ops.scan` does not compile with XLA on TensorFlow; an unrolled
        # loop has no scan.
        self.supports_jit = keras.backend.backend() != "tensorflow" or self.unroll
        # The state variables of a stateful layer, created by `build`.
        self.states = None
        # Subclasses that build their cell expose its arguments (`layer.units`, ...).
        for key in self.cell_arguments:
            setattr(self, key, getattr(cell, key))
        self._cell_takes_training = "training" in inspect.signature(cell.call).parameters

    @property
    def state_size(self):
        return as_list(self.cell.state_size)

    @property
    def output_size(self):
        return getattr(self.cell, "output_size", self.state_size[0])

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_shape(sequences_shape)
        if not self.cell.built:
            self.cell.build((sequences_shape[0], sequences_shape[-1]))
        if not self.stateful:
            return
        if self.states is not None:
            self.reset_state()
            return
        batch_size = sequences_shape[0]
        if batch_size is None:
            raise ValueError(
                f"{type(self).__name__} with stateful=True needs a fixed batch size: pass "
                "`batch_size=` to `keras.Input`, or call the layer on a batch first. "
                f"Received: inputs.shape={tuple(sequences_shape)}")
        with keras.name_scope(self.name, caller=self):
            states = [keras.Variable(state, trainable=False, dtype=self.variable_dtype,
                                     name="rnn_state")
                      for state in self.get_initial_state(batch_size)]
        # Untracked, as in `keras.layers.RNN`: the states are not weights, so `get_weights()`
        # and `set_weights()` interchange with the Keras built-ins, stateful or not.
        object.__setattr__(self, "states", states)

    def reset_state(self):
        """Sets a stateful layer's states to zeros (a no-op for a layer that is not stateful)."""
        if self.states is not None:
            for state in self.states:
                state.assign(ops.zeros(state.shape, dtype=state.dtype))

    def reset_states(self):
        """The same as `reset_state()` (Keras keeps both names)."""
        self.reset_state()

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
        if self.stateful:
            batch_size, expected = sequences.shape[0], self.states[0].shape[0]
            if batch_size is not None and batch_size != expected:
                raise ValueError(
                    f"{type(self).__name__} is stateful with a batch size of {expected}: every "
                    f"batch must have {expected} sequences. "
                    f"Received: inputs.shape={tuple(sequences.shape)}")
            if initial_state is None:
                # Copies: on torch the states are assigned in place after the loop, which must
                # not change a tensor that the backward pass reads.
                return [ops.cast(ops.copy(state), self.compute_dtype) for state in self.states]
        if initial_state is None:
            return self.get_initial_state(ops.shape(sequences)[0])
        states = as_list(initial_state)
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
        if self.unroll and not isinstance(sequences.shape[1], int):
            raise ValueError(
                f"{type(self).__name__} with unroll=True needs a known number of time steps "
                "(pass `shape=(time, features)` to `keras.Input`). "
                f"Received: inputs.shape={tuple(sequences.shape)}")
        states = self._initial_states(sequences, initial_state)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]  # the sequences' mask (the initial states have none)
        result = None
        if self.takes_use_cudnn:
            result = cudnn_kernel(self, sequences, states, mask, training)
        if result is None:
            xs = ops.transpose(sequences, (1, 0, 2))  # (time, batch, features)
            if mask is not None:
                mask = ops.transpose(ops.cast(mask, "bool"), (1, 0))  # (time, batch)
                mask = ops.expand_dims(mask, -1)  # (time, batch, 1)
            if self.go_backwards:
                xs = ops.flip(xs, axis=0)
                mask = None if mask is None else ops.flip(mask, axis=0)
            loop = self._fused_loop if is_fused(self.cell) else self._cell_loop
            result = loop(xs, states, mask, training)
        output, final_states = result
        if self.stateful:
            for variable, state in zip(self.states, final_states):
                variable.assign(state)
        if self.return_state:
            return [output] + final_states
        return output

    def _loop(self, step, states, xs, mask, collect, prepare=None):
        """`time_loop` with this layer's output size, dtype and `unroll`."""
        return time_loop(step, states, xs, mask, collect, self.output_size, self.compute_dtype,
                         prepare=prepare, unroll=self.unroll)

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
        outputs, final_states = self._loop(step, states, xs, mask, collect=self.return_sequences,
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
            new_states = [ops.cast(s, self.compute_dtype) for s in as_list(new_states)]
            if mask_t is not None:
                # Masked step: keep the states, repeat (or zero) the output, as Keras does.
                new_states = [ops.where(mask_t, n, s) for n, s in zip(new_states, step_states)]
                output = ops.where(mask_t, output, zero_output if self.zero_output_for_mask
                                   else previous_output)
            return output, new_states + [output]

        outputs, final = self._loop(step, list(states) + [zero_output], xs, mask,
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
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
        })
        if self.takes_use_cudnn:
            config["use_cudnn"] = self.use_cudnn
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
