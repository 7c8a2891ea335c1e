"""Converter of `nn.RNN`, `nn.LSTM` and `nn.GRU`: gate order, split biases, stacks, directions.

torch keeps each gate's rows in `weight_ih_l{k}` (gates * hidden, in) and `weight_hh_l{k}`
(gates * hidden, hidden), and two biases, `b_ih` and `b_hh`. Keras cells hold the transposes,
`kernel` (in, gates * hidden) and `recurrent_kernel` (hidden, gates * hidden). The gate orders:
LSTM i, f, g, o in both; GRU r, z, n in torch and z, r, h in Keras. An LSTM or a simple RNN
adds `b_ih + b_hh` into one bias; a GRU keeps both, as our `GRU(reset_after=True)` does
(`bias` (2, 3u): row 0 the input bias, row 1 the recurrent one, which the reset gate
multiplies with the recurrent product, exactly torch's `n = tanh(W_in x + b_in + r * (W_hn h
+ b_hn))`).
"""

import keras
import numpy as np

from seqmodels import layers
from seqmodels.transfer.pytorch.common import assign, require, sequential, to_numpy

# For each torch module, its gate blocks in the order of the Keras cell (torch GRU: r, z, n).
GATE_ORDER = {"RNN": (0,), "LSTM": (0, 1, 2, 3), "GRU": (1, 0, 2)}


def reorder_gates(array, order):
    """The gate blocks of `array` (gates * hidden, ...) along axis 0, rearranged to `order`."""
    blocks = np.split(array, len(order), axis=0)  # gates x (hidden, ...)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _keras_layer(module, kind):
    common = dict(use_bias=module.bias, return_sequences=True)
    if kind == "RNN":
        return layers.SimpleRNN(module.hidden_size, activation=module.nonlinearity, **common)
    if kind == "LSTM":
        return layers.LSTM(module.hidden_size, **common)
    return layers.GRU(module.hidden_size, reset_after=True, **common)


def _set_cell(cell, module, kind, tag):
    """Copies the torch weights of layer and direction `tag` (e.g. `l0_reverse`) into `cell`."""
    order = GATE_ORDER[kind]
    kernel = reorder_gates(to_numpy(getattr(module, f"weight_ih_{tag}")), order)
    recurrent = reorder_gates(to_numpy(getattr(module, f"weight_hh_{tag}")), order)
    assign(cell.kernel, kernel.T)  # (in, gates * hidden)
    assign(cell.recurrent_kernel, recurrent.T)  # (hidden, gates * hidden)
    if not module.bias:
        return
    b_ih = reorder_gates(to_numpy(getattr(module, f"bias_ih_{tag}")), order)
    b_hh = reorder_gates(to_numpy(getattr(module, f"bias_hh_{tag}")), order)
    assign(cell.bias, np.stack([b_ih, b_hh]) if kind == "GRU" else b_ih + b_hh)


def recurrent(module):
    """`nn.RNN` / `nn.LSTM` / `nn.GRU` -> our `SimpleRNN` / `LSTM` / `GRU` with its weights.

    The converted layer takes (batch, time, features), whatever `batch_first` says (Keras is
    batch-major; the weights are the same), and returns torch's `output`, the top layer's
    sequence (batch, time, directions * hidden), not `h_n` / `c_n`. A Keras mask (batch, time)
    plays the part of a packed sequence: the real steps' outputs equal those of
    `pack_padded_sequence` (also backwards: the reverse direction starts at each sequence's
    last real step). `bidirectional=True` becomes `keras.layers.Bidirectional(merge_mode=
    "concat")`, forward first as in torch; `num_layers > 1` a `keras.Sequential` of layers, with
    `keras.layers.Dropout(dropout)` between them (torch's inter-layer dropout). `proj_size`
    does not convert.
    """
    kind = type(module).__name__
    if kind == "LSTM":
        require(module, "proj_size", "proj_size=0", (0,))
    directions = 2 if module.bidirectional else 1
    stack = []
    for index in range(module.num_layers):
        layer = _keras_layer(module, kind)
        if module.bidirectional:
            layer = keras.layers.Bidirectional(layer, merge_mode="concat")
        width = module.input_size if index == 0 else module.hidden_size * directions
        layer.build((None, None, width))
        cells = ([layer.forward_layer.cell, layer.backward_layer.cell] if module.bidirectional
                 else [layer.cell])
        for cell, suffix in zip(cells, ("", "_reverse")):
            _set_cell(cell, module, kind, f"l{index}{suffix}")
        if index and module.dropout:
            stack.append(keras.layers.Dropout(module.dropout))
        stack.append(layer)
    if len(stack) == 1:
        return stack[0]
    return sequential([keras.Input((None, module.input_size))] + stack)
