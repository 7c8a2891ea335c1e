"""How `RNN` runs over time: a chunked scan, a Python-unrolled loop, or the backend's cuDNN kernel.

`time_loop` runs a step function over the time axis, either as one `keras.ops.scan` over chunks
of steps or with every step written out (`unroll=True`, and on TensorFlow any sequence of known
length up to `AUTO_UNROLL_STEPS` steps: see `writes_out`). `cudnn_kernel` hands a
whole `LSTM` or `GRU` sequence to the fused kernel Keras' own layers dispatch to (cuDNN on a
GPU), where the layer's `use_cudnn` asks for it.

Example:

>>> from keras import ops
>>> def step(x_t, mask_t, states):  # a running sum
...     total = states[0] + x_t
...     return total, [total]
>>> xs = ops.ones((23, 2, 1))  # (time, batch, features)
>>> ys, [total] = time_loop(step, [ops.zeros((2, 1))], xs, None, True, 1, "float32")
>>> tuple(ys.shape), ops.convert_to_numpy(total)[:, 0].tolist()
((23, 2, 1), [23.0, 23.0])
"""

import inspect

import keras
from keras import ops
# Keras' own entry points to the fused recurrent kernels (`backend.lstm`, `backend.gru`,
# `backend.cudnn_ok`), which `keras.layers.LSTM` and `GRU` call; no public API reaches them.
from keras.src import backend as keras_backend

# The most steps unrolled in one iteration of the loop (see `time_loop`).
MAX_CHUNK = 10
# On TensorFlow, sequences of known length up to this many steps are written out without a loop
# (see `writes_out`).
AUTO_UNROLL_STEPS = 100


def scan_unroll():
    """`unroll` for `keras.ops.scan`: on TensorFlow it is the while loop's `parallel_iterations`.

    Measured on 2 CPU cores (LSTM and GRU, T=100, 64 units, forward+backward): 3 lets the
    gradient loop overlap the independent work of adjacent iterations, about 1.2x faster than
    1. On JAX it would unroll iterations (already chunks of steps) in the compiled program.
    """
    return 3 if keras.backend.backend() == "tensorflow" else 1


def as_list(states):
    """A state or a list of states, as a list."""
    return list(states) if isinstance(states, (list, tuple)) else [states]


def is_fused(cell):
    """Whether `cell` splits its step into `project_inputs` and `step` (see `RNN`)."""
    return callable(getattr(cell, "project_inputs", None)) and callable(getattr(cell, "step", None))


def writes_out(time_steps, unroll):
    """Whether `time_loop` writes every step out: `unroll`, or a short sequence on TensorFlow.

    On TensorFlow a sequence whose length is known when the graph is built and at most
    `AUTO_UNROLL_STEPS` runs without a loop even when `unroll` is False: the same steps and the
    same outputs (tested), without the `tf.while_loop`, whose bookkeeping and its gradient's (a
    second loop that reads the forward intermediates back from `TensorList` accumulators) cost
    more at these lengths than a longer graph. Measured forward+backward on 2 CPU cores (64
    units, batch 64, one thread, in one process, alternating): the LSTM 1.43x faster at 50
    steps, 1.3-1.5x at 100, 1.18x at 200 and 1.07x at 300; SimpleRNN 1.6x, GRU 1.1x at 100.
    Tracing grows with the length (at 200 steps about 4x the loop's), hence the bound. XLA is
    not used either way (`RNN.supports_jit`). On JAX and torch the loop stays (`lax.scan`
    compiles well; torch's scan is a Python loop already).

    Example:

    >>> writes_out(20, False), writes_out(None, False), writes_out(AUTO_UNROLL_STEPS + 1, False)
    (True, False, False)
    >>> writes_out(AUTO_UNROLL_STEPS + 1, True)
    True
    """
    if unroll:
        return True
    return (keras.backend.backend() == "tensorflow" and isinstance(time_steps, int)
            and time_steps <= AUTO_UNROLL_STEPS)


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


def time_loop(step, states, xs, mask, collect, output_size, dtype, prepare=None, unroll=False):
    """Runs `step(x_t, mask_t, states) -> (y_t, new_states)` over the time axis.

    One `keras.ops.scan` over chunks of `chunk_size(time)` steps, the steps of a chunk written
    out in the loop body; steps left after the last whole chunk run after the loop. With an
    unknown number of steps, one scan iteration per step. With `unroll`, and for short
    sequences on TensorFlow (`writes_out`), no loop: every step written out (the number of
    steps must be known).

    Args:
        step: the step function; `mask_t` is a (batch, 1) bool tensor or None.
        states: list of initial state tensors.
        xs: (time, batch, features) inputs.
        mask: (time, batch, 1) bool tensor or None.
        collect: whether to stack the per-step outputs.
        output_size: the size of `y_t` (the last axis of the stacked outputs).
        dtype: the dtype of `y_t`.
        prepare: optional function applied to a block of inputs (steps, batch, features)
            before it is split into steps (the input projection of a fused cell).
        unroll: write every step out instead of looping (whatever the length).

    Returns:
        `(ys, final_states)`: `ys` the (time, batch, output) stacked outputs (None unless
        `collect`), `final_states` a list.
    """
    prepare = prepare or (lambda block: block)
    inputs = [xs] if mask is None else [xs, mask]
    time_steps = xs.shape[0]
    if not isinstance(time_steps, int):
        return scan_steps(step, states, inputs, collect, output_size, dtype, prepare)

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

    if writes_out(time_steps, unroll):
        ys, states = run(list(states), inputs, time_steps)
        return (ops.stack(ys, axis=0) if collect else None), states  # (time, batch, output)
    chunk = chunk_size(time_steps)
    num_chunks, rest = divmod(time_steps, chunk)
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
            init += (ops.zeros((chunk, ops.shape(xs)[1], output_size), dtype=dtype),)
        main = [t[:num_chunks * chunk] if rest else t for t in inputs]
        # (num_chunks, chunk, batch, features)
        main = [ops.reshape(t, (num_chunks, chunk, -1, t.shape[-1])) for t in main]
        final, stacked = ops.scan(body, init, main, length=num_chunks, unroll=scan_unroll())
        states = list(final[0])
        if collect:
            # (num_chunks, chunk, batch, output) -> (time, batch, output)
            ys_parts.append(ops.reshape(stacked[1], (num_chunks * chunk, -1, output_size)))
    if rest:
        ys, states = run(states, [t[num_chunks * chunk:] for t in inputs], rest)
        if collect:
            ys_parts.append(ops.stack(ys, axis=0))  # (rest, batch, output)
    if not collect:
        return None, states
    ys = ys_parts[0] if len(ys_parts) == 1 else ops.concatenate(ys_parts, axis=0)
    return ys, states


def scan_steps(step, states, inputs, collect, output_size, dtype, prepare):
    """One scan iteration per step, for a time axis of unknown length (see `time_loop`)."""
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
        init += (ops.zeros((batch, output_size), dtype=dtype),)
    final, stacked = ops.scan(body, init, scanned, unroll=scan_unroll())
    return (stacked[1] if collect else None), list(final[0])


def check_use_cudnn(use_cudnn):
    """`use_cudnn` as "auto", True or False; a ValueError naming the choices for anything else."""
    if isinstance(use_cudnn, str) and use_cudnn == "auto":
        return use_cudnn
    if use_cudnn not in (True, False):
        raise ValueError('`use_cudnn` must be one of "auto", True or False. '
                         f"Received: use_cudnn={use_cudnn!r}")
    return bool(use_cudnn)


def cudnn_usable(layer):
    """Whether the backend's `cudnn_ok` accepts the layer's arguments (it also needs a GPU)."""
    cell = layer.cell
    args = (cell.activation, cell.recurrent_activation, layer.unroll, cell.bias is not None)
    parameters = inspect.signature(keras_backend.cudnn_ok).parameters
    if hasattr(cell, "reset_after") and "reset_after" in parameters:  # TensorFlow's GRU check
        return keras_backend.cudnn_ok(*args, reset_after=cell.reset_after)
    return keras_backend.cudnn_ok(*args)


def cudnn_kernel(layer, sequences, states, mask, training):
    """Runs an `LSTM` or `GRU` over its whole sequence in Keras' backend kernel, or returns None.

    The same call as `keras.layers.LSTM` and `GRU` make (`keras.src.backend.lstm` / `gru`), with
    the same input dropout (one mask per sequence) and none with recurrent dropout. With
    `use_cudnn="auto"` only where the backend reports cuDNN usable (`cudnn_ok`: a GPU, tanh and
    sigmoid, a bias, no unrolling, and for the GRU `reset_after` on TensorFlow); elsewhere,
    CPUs included, None: `RNN` runs its own loop, since no CPU kernel measured here is both
    numerically equal and faster (TensorFlow's `BlockLSTM` is slower than the chunked scan).
    With `use_cudnn=True` the kernel is called wherever Keras calls it, and Keras' error is
    raised where the backend has none; with False, None.

    Returns:
        `(output, final_states)`, as `RNN.call` returns them before `return_state`, or None.
    """
    cell = layer.cell
    if layer.use_cudnn is False:
        return None
    if layer.use_cudnn == "auto" and (cell.recurrent_dropout or not cudnn_usable(layer)):
        return None
    arguments = dict(kernel=cell.kernel, recurrent_kernel=cell.recurrent_kernel, bias=cell.bias,
                     activation=cell.activation, recurrent_activation=cell.recurrent_activation,
                     return_sequences=layer.return_sequences, go_backwards=layer.go_backwards,
                     unroll=layer.unroll)
    if training and cell.dropout:
        # (batch, time, features) * (batch, 1, features): one mask for every step.
        sequences = sequences * ops.expand_dims(cell.dropout_mask(sequences[:, 0]), 1)
    try:
        if cell.recurrent_dropout:
            raise NotImplementedError("no fused kernel has recurrent dropout")
        if hasattr(cell, "reset_after"):  # the GRU
            last, outputs, final = keras_backend.gru(sequences, states[0], mask,
                                                     reset_after=cell.reset_after, **arguments)
        else:  # the LSTM: h and c
            last, outputs, final = keras_backend.lstm(sequences, states[0], states[1], mask,
                                                      **arguments)
    except NotImplementedError:
        if layer.use_cudnn is True:
            raise ValueError(
                f"{type(layer).__name__}: use_cudnn=True was passed, but the "
                f"{keras.backend.backend()} backend has no cuDNN kernel for this configuration "
                "(it needs a GPU, tanh and sigmoid activations, a bias, no recurrent dropout and "
                "no unrolling; on torch and JAX no mask either). Pass use_cudnn='auto' to run "
                "the layer's own loop instead.") from None
        return None
    output = outputs if layer.return_sequences else last
    return (ops.cast(output, layer.compute_dtype),
            [ops.cast(state, layer.compute_dtype) for state in as_list(final)])
