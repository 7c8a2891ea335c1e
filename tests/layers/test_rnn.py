"""RNN, the shared time loop: parity helpers for every recurrent layer, user cells, Keras cells.

The helpers at the top (`paired`, `check_parity`, `check_bidirectional_parity`, ...) are used by
the SimpleRNN, LSTM and GRU tests too. The loop's own arguments, which every layer takes as its
Keras built-in does (`stateful`, `unroll`, `activity_regularizer`, `use_cudnn`,
`implementation`), are tested at the end on all three layers against their built-ins. Inputs
have 23 steps: the loop runs them as two chunks of 10 steps and a remainder of 3 (see
`seqmodels.layers.time_loop.chunk_size`); tests whose property does not depend on the chunks
run `SHORT_TIME` steps.
"""

import inspect
import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.layers.gru import GRU, GRUCell
from seqmodels.layers.lstm import LSTM, LSTMCell
from seqmodels.layers.rnn import RNN
from seqmodels.layers.time_loop import chunk_size
from seqmodels.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from tests.layer_test_case import run_layer_test

BATCH, TIME, FEATURES, UNITS = 5, 23, 3, 4
TOLERANCE = 1e-5
# The layer contract (`run_layer_test`) runs on sequences this long: one loop iteration of 4
# written-out steps. Its `fit` step traces the loop and its gradient, which costs per step
# written out (23 steps: two chunks of 10 and a remainder of 3); chunks and remainders are
# the parity tests' business.
CONTRACT_TIME = 4
# Tests whose property does not depend on how the steps split into chunks (stateful runs, the
# written-out path against the loop) run this many steps: two loop iterations of 6
# (`chunk_size(12)`), about half the eager ops and traced steps of 23.
SHORT_TIME = 12


def inputs(time=TIME, seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, time, FEATURES)).astype("float32")


def make_mask(kind, time=TIME, seed=0):
    """None, right padding (random lengths), or an arbitrary mask with edge cases."""
    rng = np.random.default_rng(seed)
    if kind is None:
        return None
    if kind == "right":
        lengths = rng.integers(1, time + 1, size=BATCH)
        lengths[0] = time  # one full row
        return np.arange(time)[None, :] < lengths[:, None]
    mask = rng.random((BATCH, time)) < 0.6
    mask[0] = False           # a row with no real step at all
    if time > 2:
        mask[1, :2] = False   # masked steps before the first real one
        mask[1, 2] = True
        mask[2, -1] = False   # a masked last step
    return mask


def random_weights(layer, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=w.shape).astype("float32") * 0.5 for w in layer.get_weights()]


def paired(ours_class, keras_class, units=UNITS, **kwargs):
    """Our layer and the Keras built-in with the same random weights (the built-in's layout)."""
    reference, ours = keras_class(units, **kwargs), ours_class(units, **kwargs)
    x = inputs(time=2)
    reference(x)
    ours(x)
    weights = random_weights(reference)
    reference.set_weights(weights)
    ours.set_weights(weights)
    return ours, reference


def initial_states(layer, seed=2):
    rng = np.random.default_rng(seed)
    sizes = layer.cell.state_size if isinstance(layer.cell.state_size, (list, tuple)) \
        else [layer.cell.state_size]
    return [rng.normal(size=(BATCH, size)).astype("float32") for size in sizes]


def outputs_and_gradients(layer, x, mask=None, initial_state=None, training=False):
    """Flat outputs, and the gradients of a fixed scalar of them with respect to the inputs,
    the initial states (if given) and every trainable weight of `layer`."""
    x = tf.constant(x)
    states = None if initial_state is None else [tf.constant(s) for s in initial_state]
    with tf.GradientTape() as tape:
        tape.watch(x)
        if states is not None:
            tape.watch(states)
        kwargs = {} if states is None else {"initial_state": states}
        outputs = keras.tree.flatten(layer(x, mask=mask, training=training, **kwargs))
        # A fixed random weighting of every output element, averaged: gradients of order one.
        loss = sum(tf.reduce_mean(tf.sin(o) * np.random.default_rng(i).normal(size=o.shape))
                   for i, o in enumerate(outputs))
    watched = [x] + (states or []) + list(layer.trainable_weights)
    gradients = tape.gradient(loss, watched, unconnected_gradients="zero")
    return [np.asarray(o) for o in outputs], [np.asarray(g) for g in gradients]


def max_error(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert p.shape == q.shape, (p.shape, q.shape)
    return max(float(np.abs(p - q).max()) for p, q in zip(a, b))


def parity_errors(ours, reference, x, mask=None, initial_state=None):
    """(output error, gradient error): max absolute differences, ours vs the reference."""
    ours_out, ours_grads = outputs_and_gradients(ours, x, mask, initial_state)
    ref_out, ref_grads = outputs_and_gradients(reference, x, mask, initial_state)
    return max_error(ours_out, ref_out), max_error(ours_grads, ref_grads)


def check_parity(ours_class, keras_class, kwargs, mask_kind=None, with_initial_state=False,
                 time=TIME):
    ours, reference = paired(ours_class, keras_class, **kwargs)
    x, mask = inputs(time), make_mask(mask_kind, time)
    states = initial_states(reference) if with_initial_state else None
    output_error, gradient_error = parity_errors(ours, reference, x, mask, states)
    assert output_error <= TOLERANCE, output_error
    assert gradient_error <= TOLERANCE, gradient_error


# The configurations every layer is checked on against its Keras built-in:
# (layer kwargs, mask kind, with initial state, number of steps).
PARITY_CASES = [
    (dict(), None, False, TIME),
    (dict(return_sequences=True), "right", False, TIME),
    (dict(return_sequences=True, return_state=True, go_backwards=True), "arbitrary", False, TIME),
    (dict(return_state=True), "arbitrary", True, TIME),
    (dict(go_backwards=True), "right", True, TIME),
    (dict(return_sequences=True, go_backwards=True), None, True, 20),  # whole chunks only
    (dict(return_sequences=True, return_state=True), "arbitrary", False, 7),  # one chunk
    (dict(return_sequences=True), None, False, 1),
    # Python-unrolled: every step written out, Keras' built-in unrolled too.
    (dict(unroll=True, return_sequences=True, go_backwards=True), "arbitrary", True, TIME),
    (dict(unroll=True, return_state=True), "right", False, 7),
]
PARITY_IDS = ["last", "sequences-right-mask", "backwards-state-mask", "state-initial-mask",
              "backwards-initial-right-mask", "T20-initial", "T7-mask", "T1",
              "unroll-backwards-initial-mask", "unroll-T7-state-right-mask"]


def check_dynamic_time_parity(ours_class, keras_class, **kwargs):
    """Inside a tf.function whose time axis is unknown (one loop iteration per step)."""
    ours, reference = paired(ours_class, keras_class, return_sequences=True, **kwargs)
    sequences_spec = tf.TensorSpec((None, None, FEATURES))
    for mask in (None, make_mask("arbitrary")):
        spec = [sequences_spec] if mask is None else [sequences_spec,
                                                      tf.TensorSpec((None, None), tf.bool)]
        results = []
        for layer in (ours, reference):
            @tf.function(input_signature=spec)
            def run(x, mask=None, layer=layer):
                assert x.shape[1] is None
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = layer(x, mask=mask)
                    loss = tf.reduce_sum(tf.sin(y))
                return [y] + tape.gradient(loss, [x] + layer.trainable_weights)
            args = [inputs()] + ([] if mask is None else [mask])
            results.append([np.asarray(t) for t in run(*args)])
        assert max_error(*results) <= TOLERANCE


def check_bidirectional_parity(ours_class, keras_class, **kwargs):
    """`keras.layers.Bidirectional` around ours equals it around the built-in, with a mask
    (`SHORT_TIME` steps: the wrapper's reversing of inputs, mask and outputs is the same at any
    length)."""
    ours = keras.layers.Bidirectional(ours_class(UNITS, return_sequences=True, **kwargs))
    reference = keras.layers.Bidirectional(keras_class(UNITS, return_sequences=True, **kwargs))
    x, mask = inputs(SHORT_TIME), make_mask("arbitrary", SHORT_TIME)
    reference(x)
    ours(x)
    assert ours.forward_layer.zero_output_for_mask  # set by Bidirectional
    weights = random_weights(reference)
    reference.set_weights(weights)
    ours.set_weights(weights)
    output_error, gradient_error = parity_errors(ours, reference, x, mask)
    assert output_error <= TOLERANCE and gradient_error <= TOLERANCE, (output_error,
                                                                       gradient_error)


def check_masking_from_upstream(layer_class):
    """Masks from `Embedding(mask_zero=True)` and `Masking` reach the layer and pass through."""
    ids = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, FEATURES, mask_zero=True)(ids)
    sequence_layer = layer_class(UNITS, return_sequences=True)
    sequences = sequence_layer(embedded)
    assert sequence_layer.compute_mask(embedded, embedded._keras_mask) is embedded._keras_mask
    assert layer_class(UNITS).compute_mask(embedded, embedded._keras_mask) is None
    model = keras.Model(ids, [layer_class(UNITS)(embedded), sequences])
    padded_last, padded_sequences = model(np.array([[1, 2, 3, 0, 0]]))
    last, sequences_unpadded = model(np.array([[1, 2, 3]]))
    np.testing.assert_allclose(padded_last, last, atol=1e-6)
    np.testing.assert_allclose(np.asarray(padded_sequences)[:, :3], sequences_unpadded, atol=1e-6)
    # Padded steps repeat the last real output (Keras' convention without Bidirectional).
    np.testing.assert_allclose(np.asarray(padded_sequences)[0, 3:],
                               np.repeat(np.asarray(padded_sequences)[0, 2:3], 2, 0), atol=1e-6)

    # keras.layers.Masking: the same as passing the mask by hand.
    x = inputs()
    lengths = np.array([TIME, 5, 1, 12, 20])
    x[np.arange(TIME)[None, :] >= lengths[:, None]] = 0.0
    layer = layer_class(UNITS, return_sequences=True)
    masked = keras.Sequential([keras.Input((TIME, FEATURES)), keras.layers.Masking(0.0), layer])
    expected = layer(x, mask=np.arange(TIME)[None, :] < lengths[:, None])
    np.testing.assert_allclose(masked(x), expected, atol=1e-6)


def check_dropout(layer_class, **kwargs):
    """Dropout only in training, and the same masks at every step (one per sequence)."""
    layer = layer_class(UNITS, dropout=0.5, recurrent_dropout=0.5, seed=1, **kwargs)
    x = inputs()
    inference = np.asarray(layer(x))
    np.testing.assert_array_equal(inference, np.asarray(layer(x, training=False)))
    trained = np.asarray(layer(x, training=True))
    assert not np.allclose(trained, inference)
    assert not np.allclose(trained, np.asarray(layer(x, training=True)))  # new masks per call
    no_dropout = layer_class(UNITS, **kwargs)
    no_dropout(x)
    no_dropout.set_weights(layer.get_weights())
    np.testing.assert_allclose(no_dropout(x, training=True), inference, atol=1e-6)

# RNN with our cells, user cells and Keras cells. -----------------------------------------------

@keras.saving.register_keras_serializable(package="seqmodels_tests")
class TwoStateCell(keras.layers.Layer):
    """A user cell: states of sizes 3 and 2, an output (size 5) that is not a state."""

    state_size = [3, 2]
    output_size = 5

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], 5), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight((3, 3), initializer="orthogonal")

    def call(self, inputs, states):
        h, s = states
        z = keras.ops.matmul(inputs, self.kernel)  # (batch, 5)
        h = keras.ops.tanh(z[:, :3] + keras.ops.matmul(h, self.recurrent_kernel))
        s = s + z[:, 3:]
        return keras.ops.concatenate([h, 2.0 * s], axis=-1), [h, s]


@keras.saving.register_keras_serializable(package="seqmodels_tests")
class FusedUserCell(keras.layers.Layer):
    """A user cell with the fused protocol: `project_inputs` and `step(projected, states)`."""

    state_size = 3

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], 3), initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight((3, 3), initializer="orthogonal")

    def project_inputs(self, inputs):
        return keras.ops.matmul(inputs, self.kernel)

    def step(self, projected, states):
        h = keras.ops.sigmoid(projected + keras.ops.matmul(states[0], self.recurrent_kernel))
        return h, [h]

    def call(self, inputs, states):
        return self.step(self.project_inputs(inputs), states)


class UnfusedCopy(keras.layers.Layer):
    """Runs a fused cell through its `call` only (hides `project_inputs` and `step`)."""

    def __init__(self, cell):
        super().__init__()
        self.inner = cell
        self.state_size = cell.state_size

    def call(self, inputs, states):
        return self.inner(inputs, states)


@pytest.mark.parametrize("kwargs, mask_kind, with_initial_state", [
    (dict(), None, False),
    (dict(return_sequences=True, return_state=True), "arbitrary", True),
    (dict(return_sequences=True, go_backwards=True), "right", False),
    (dict(return_state=True, go_backwards=True), "arbitrary", True),
    (dict(return_sequences=True, zero_output_for_mask=True), "arbitrary", False),
])
def test_user_cell_parity_with_keras_rnn(kwargs, mask_kind, with_initial_state):
    ours, reference = RNN(TwoStateCell(), **kwargs), keras.layers.RNN(TwoStateCell(), **kwargs)
    x, mask = inputs(), make_mask(mask_kind)
    reference(x)
    ours(x)
    ours.set_weights(reference.get_weights())
    states = initial_states(reference) if with_initial_state else None
    output_error, gradient_error = parity_errors(ours, reference, x, mask, states)
    assert output_error <= TOLERANCE and gradient_error <= TOLERANCE


def test_user_cell_by_hand():
    cell = TwoStateCell()
    layer = RNN(cell, return_sequences=True, return_state=True)
    x = inputs(time=3)
    sequences, h, s = [np.asarray(t) for t in layer(x)]
    kernel, recurrent = [np.asarray(w) for w in cell.weights]
    h_t, s_t = np.zeros((BATCH, 3)), np.zeros((BATCH, 2))
    for t in range(3):
        z = x[:, t] @ kernel
        h_t = np.tanh(z[:, :3] + h_t @ recurrent)
        s_t = s_t + z[:, 3:]
        np.testing.assert_allclose(sequences[:, t], np.concatenate([h_t, 2 * s_t], -1),
                                   atol=1e-5)
    np.testing.assert_allclose(h, h_t, atol=1e-5)
    np.testing.assert_allclose(s, s_t, atol=1e-5)
    assert layer.compute_output_shape(x.shape) == [(BATCH, 3, 5), (BATCH, 3), (BATCH, 2)]


@pytest.mark.parametrize("kwargs, mask_kind", [
    (dict(return_sequences=True, return_state=True), "arbitrary"),
    (dict(go_backwards=True), "right"),
])
def test_fused_user_cell_equals_its_plain_call(kwargs, mask_kind):
    cell = FusedUserCell()
    fused, plain = RNN(cell, **kwargs), RNN(UnfusedCopy(cell), **kwargs)
    x, mask = inputs(), make_mask(mask_kind)
    output_error, gradient_error = parity_errors(fused, plain, x, mask)
    assert output_error <= TOLERANCE and gradient_error <= TOLERANCE


@pytest.mark.parametrize("keras_cell", [keras.layers.LSTMCell, keras.layers.GRUCell])
def test_keras_cells_run_in_our_loop(keras_cell):
    ours = RNN(keras_cell(UNITS), return_sequences=True)
    reference = keras.layers.RNN(keras_cell(UNITS), return_sequences=True)
    x, mask = inputs(), make_mask("arbitrary")
    reference(x)
    ours(x)
    ours.set_weights(random_weights(reference))
    reference.set_weights(ours.get_weights())
    output_error, gradient_error = parity_errors(ours, reference, x, mask)
    assert output_error <= TOLERANCE and gradient_error <= TOLERANCE
    # Their cached dropout masks are drawn once per call and forgotten after it.
    with_dropout = RNN(keras_cell(UNITS, dropout=0.5, recurrent_dropout=0.5, seed=3))
    inference = np.asarray(with_dropout(x))
    assert not np.allclose(np.asarray(with_dropout(x, training=True)), inference)
    np.testing.assert_array_equal(np.asarray(with_dropout(x)), inference)


def test_rnn_layer_contract(tmp_path):
    x = inputs(time=CONTRACT_TIME)
    run_layer_test(RNN, dict(cell=SimpleRNNCell(UNITS), return_sequences=True), x,
                   (BATCH, CONTRACT_TIME, UNITS), tmp_path=tmp_path)
    run_layer_test(RNN, dict(cell=TwoStateCell(), return_state=True, go_backwards=True),
                   x, [(BATCH, 5), (BATCH, 3), (BATCH, 2)], tmp_path=tmp_path)


def test_config_holds_the_cell():
    layer = RNN(SimpleRNNCell(UNITS, activation="relu"), go_backwards=True)
    config = layer.get_config()
    assert config["cell"]["registered_name"] == "seqmodels>SimpleRNNCell"
    revived = RNN.from_config(config)
    assert isinstance(revived.cell, SimpleRNNCell) and revived.cell.units == UNITS
    assert revived.go_backwards and revived.cell.activation is keras.activations.relu


def test_compute_mask():
    mask = make_mask("right")
    assert RNN(SimpleRNNCell(2), return_sequences=True).compute_mask(inputs(), mask) is mask
    assert RNN(SimpleRNNCell(2)).compute_mask(inputs(), mask) is None
    assert RNN(SimpleRNNCell(2), return_sequences=True, return_state=True).compute_mask(
        inputs(), mask) == [mask, None]
    assert RNN(TwoStateCell(), return_state=True).compute_mask(inputs(), mask) == [None] * 3


def test_encoder_decoder_with_symbolic_initial_state():
    """The functional encoder-decoder pattern: one layer's final states start another."""
    def model(layer_class):
        source, target = keras.Input((TIME, FEATURES)), keras.Input((7, FEATURES))
        _, h = layer_class(UNITS, return_state=True)(source)
        decoded = layer_class(UNITS, return_sequences=True)(target, initial_state=[h])
        return keras.Model([source, target], decoded)

    ours, reference = model(SimpleRNN), model(keras.layers.SimpleRNN)
    reference.set_weights(random_weights(reference))
    ours.set_weights(reference.get_weights())
    data = [inputs(), inputs(time=7, seed=5)]
    np.testing.assert_allclose(ours(data), reference(data), atol=TOLERANCE)
    # A list of masks (the sequences' first) reaches `call` as Keras passes it.
    layer = SimpleRNN(UNITS, return_sequences=True)
    mask = make_mask("arbitrary")
    np.testing.assert_array_equal(layer(inputs(), mask=[mask, None]), layer(inputs(), mask=mask))


@pytest.mark.parametrize("time, expected", [(100, 10), (7, 7), (1, 1), (97, 10), (98, 7),
                                            (23, 10), (36, 9)])
def test_chunk_size(time, expected):
    assert chunk_size(time) == expected


def test_dynamic_time_parity():
    check_dynamic_time_parity(SimpleRNN, keras.layers.SimpleRNN, go_backwards=True)


def test_not_jit_compiled_on_tensorflow():
    # The gradient of keras.ops.scan does not compile with XLA on TensorFlow: the layer says so,
    # and Keras falls back to plain graph execution (with a warning) instead of failing.
    model = keras.Sequential([keras.Input((SHORT_TIME, FEATURES)), SimpleRNN(UNITS),
                              keras.layers.Dense(1)])
    assert not model.layers[0].supports_jit
    with pytest.warns(UserWarning, match=re.escape("Model doesn't support `jit_compile=True`")):
        model.compile("sgd", "mse", jit_compile=True)
    history = model.fit(inputs(SHORT_TIME), np.ones((BATCH, 1)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_bad_cell():
    with pytest.raises(ValueError, match=re.escape(
            "`cell` must be a Keras layer with a `state_size` attribute and "
            "`call(inputs, states)`. Received: cell='lstm'")):
        RNN(cell="lstm")
    with pytest.raises(ValueError, match=re.escape("Received: cell=<Dense")):
        RNN(keras.layers.Dense(3))


def test_bad_inputs():
    layer = RNN(TwoStateCell())
    with pytest.raises(ValueError, match=re.escape(
            "RNN expects inputs of shape (batch, time, features). "
            "Received: inputs.shape=(5, 2, 3, 1)")):
        layer(np.zeros((5, 2, 3, 1), "float32"))
    with pytest.raises(ValueError, match=re.escape(
            "RNN expects at least one time step. Received: inputs.shape=(5, 0, 3)")):
        layer(np.zeros((5, 0, 3), "float32"))
    with pytest.raises(ValueError, match=re.escape(
            "RNN expects 2 initial state tensor(s) of sizes [3, 2]. Received: 1 tensor(s).")):
        layer(inputs(), initial_state=np.zeros((BATCH, 3), "float32"))
    with pytest.raises(ValueError, match=re.escape(
            "RNN expects initial_state[1] of shape (batch, 2). "
            "Received: initial_state[1].shape=(5, 3)")):
        layer(inputs(), initial_state=[np.zeros((BATCH, 3), "float32")] * 2)


def test_user_cell_stateful_parity():
    ours = RNN(TwoStateCell(), stateful=True, return_sequences=True)
    reference = keras.layers.RNN(TwoStateCell(), stateful=True, return_sequences=True)
    reference(inputs(SHORT_TIME))
    ours(inputs(SHORT_TIME))
    ours.set_weights(reference.get_weights())
    for layer in (ours, reference):
        layer.reset_states()
    for seed, kind in enumerate([None, "arbitrary", "right"]):
        output_error, gradient_error = parity_errors(ours, reference, inputs(SHORT_TIME, seed),
                                                     make_mask(kind, SHORT_TIME, seed))
        assert output_error <= TOLERANCE and gradient_error <= TOLERANCE
    assert max_error([np.asarray(s) for s in ours.states],
                     [np.asarray(s) for s in reference.states]) <= TOLERANCE
    assert RNN.from_config(ours.get_config()).stateful


def test_not_stateful_has_no_states():
    layer = SimpleRNN(UNITS)
    layer(inputs())
    layer.reset_states()  # a no-op, as in Keras
    assert layer.states is None and not layer.non_trainable_weights


def test_unroll_needs_a_known_time_axis():
    layer = SimpleRNN(UNITS, unroll=True)
    layer(inputs())

    @tf.function(input_signature=[tf.TensorSpec((None, None, FEATURES))])
    def run(x):
        return layer(x)

    with pytest.raises(ValueError, match=re.escape(
            "SimpleRNN with unroll=True needs a known number of time steps (pass "
            "`shape=(time, features)` to `keras.Input`). Received: inputs.shape=(None, None, 3)")):
        run(inputs())


# Keras' arguments (stateful, unroll, activity_regularizer, use_cudnn, implementation) on every
# layer, against its built-in. -------------------------------------------------------------------

LAYERS = [(SimpleRNN, keras.layers.SimpleRNN), (LSTM, keras.layers.LSTM), (GRU, keras.layers.GRU)]
CELLS = [(SimpleRNNCell, keras.layers.SimpleRNNCell), (LSTMCell, keras.layers.LSTMCell),
         (GRUCell, keras.layers.GRUCell)]
LAYER_IDS, CELL_IDS = ["SimpleRNN", "LSTM", "GRU"], ["SimpleRNNCell", "LSTMCell", "GRUCell"]


@pytest.mark.parametrize("ours_class, keras_class", LAYERS, ids=LAYER_IDS)
def test_stateful_parity(ours_class, keras_class):
    """Stateful runs over several batches, `reset_states` between runs: ours equals the built-in
    (outputs, gradients and the kept states), alone and inside `Bidirectional`."""
    ours, reference = paired(ours_class, keras_class, stateful=True, return_state=True,
                             return_sequences=True)
    assert len(ours.weights) == len(reference.weights)  # the states are no weights
    batches = [(inputs(SHORT_TIME, seed), make_mask(kind, SHORT_TIME, seed))
               for seed, kind in enumerate([None, "right", "arbitrary"])]
    runs = []
    for _ in range(2):
        for layer in (ours, reference):
            layer.reset_states()
            assert not any(np.asarray(state).any() for state in layer.states)
        for x, mask in batches:
            output_error, gradient_error = parity_errors(ours, reference, x, mask)
            assert output_error <= TOLERANCE and gradient_error <= TOLERANCE
            states = [np.asarray(state) for state in ours.states]
            assert max_error(states, [np.asarray(s) for s in reference.states]) <= TOLERANCE
        runs.append(states)
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)  # a reset starts over

    ours, reference = (keras.layers.Bidirectional(layer_class(UNITS, stateful=True))
                       for layer_class in (ours_class, keras_class))
    reference(inputs(SHORT_TIME))
    ours(inputs(SHORT_TIME))
    weights = random_weights(reference)
    reference.set_weights(weights)
    ours.set_weights(weights)
    for layer in (ours, reference):
        layer.reset_states()
    for seed in range(2):
        np.testing.assert_allclose(ours(inputs(SHORT_TIME, seed)),
                                   reference(inputs(SHORT_TIME, seed)), atol=TOLERANCE)


@pytest.mark.parametrize("layer_class", [layer for layer, _ in LAYERS], ids=LAYER_IDS)
def test_stateful_errors(layer_class):
    """No fixed batch size, or a batch of another size: a ValueError that says so."""
    name = layer_class.__name__
    with pytest.raises(ValueError, match=re.escape(
            f"{name} with stateful=True needs a fixed batch size: pass `batch_size=` to "
            "`keras.Input`, or call the layer on a batch first. "
            f"Received: inputs.shape=(None, {TIME}, {FEATURES})")):
        layer_class(UNITS, stateful=True)(keras.Input((TIME, FEATURES)))
    layer = layer_class(UNITS, stateful=True)
    symbolic = layer(keras.Input((TIME, FEATURES), batch_size=BATCH))  # the batch from the input
    assert tuple(symbolic.shape) == (BATCH, UNITS)
    assert [tuple(state.shape) for state in layer.states][0] == (BATCH, UNITS)
    with pytest.raises(ValueError, match=re.escape(
            f"{name} is stateful with a batch size of {BATCH}: every batch must have {BATCH} "
            f"sequences. Received: inputs.shape=(2, {TIME}, {FEATURES})")):
        layer(inputs()[:2])


@pytest.mark.parametrize("ours_class, keras_class", LAYERS, ids=LAYER_IDS)
def test_activity_regularizer(ours_class, keras_class):
    """Every returned tensor is regularized (Keras divides by the batch size), by hand and as
    by the built-in. Keras 3.15's SimpleRNN never hands its `activity_regularizer` to the base
    layer, which so adds no loss; ours applies it, as Keras' LSTM and GRU do."""
    keras_applies_it = ours_class is not SimpleRNN
    ours, reference = paired(ours_class, keras_class, activity_regularizer="l2",
                             return_state=True)
    returned = ours(inputs())
    by_hand = [float(keras.regularizers.L2()(tensor)) / BATCH for tensor in returned]
    assert len(by_hand) == 1 + len(ours.state_size)
    np.testing.assert_allclose([float(loss) for loss in ours.losses], by_hand, rtol=1e-6)
    if keras_applies_it:
        reference(inputs())
        np.testing.assert_allclose([float(loss) for loss in reference.losses], by_hand,
                                   rtol=1e-5)


@pytest.mark.parametrize("ours_class, keras_class, kwargs", [
    (SimpleRNN, keras.layers.SimpleRNN, dict(activation="relu")),
    (LSTM, keras.layers.LSTM, dict(unit_forget_bias=False)),
    (GRU, keras.layers.GRU, dict(reset_after=False)),
], ids=LAYER_IDS)
def test_keras_config(ours_class, keras_class, kwargs):
    """A config of the Keras built-in builds ours, and ours writes back the same values."""
    reference = keras_class(UNITS, stateful=True, unroll=True, go_backwards=True,
                            activity_regularizer="l1", dropout=0.25, seed=7, **kwargs)
    config = reference.get_config()
    ours = ours_class.from_config(config)
    ours_config = ours.get_config()
    assert {key: ours_config[key] for key in config} == config
    assert ours_class.from_config(ours_config).get_config() == ours_config
    # (Keras' SimpleRNN leaves `seed` out of its config.)
    assert (ours.stateful, ours.unroll, ours.dropout) == (True, True, 0.25)
    assert ours.seed == config.get("seed")


@pytest.mark.parametrize("ours_class, keras_class", LAYERS[1:], ids=LAYER_IDS[1:])
def test_use_cudnn(ours_class, keras_class):
    """`use_cudnn`: "auto" runs our loop on CPU, False always does, True raises as Keras does
    where the backend (TensorFlow without a GPU here) has no cuDNN kernel."""
    check_parity(ours_class, keras_class, dict(use_cudnn=False, return_sequences=True),
                 "arbitrary")
    auto = ours_class(UNITS, return_sequences=True)
    never = ours_class(UNITS, return_sequences=True, use_cudnn=False)
    for layer in (auto, never):
        layer(inputs())
    never.set_weights(auto.get_weights())
    np.testing.assert_array_equal(auto(inputs()), never(inputs()))
    for layer_class, message in ((ours_class, "use_cudnn=True was passed"),
                                 (keras_class, "use_cudnn=True was specified")):
        with pytest.raises(ValueError, match=re.escape(message)):
            layer_class(UNITS, use_cudnn=True)(inputs())
    assert ours_class.from_config(
        ours_class(UNITS, use_cudnn=False).get_config()).use_cudnn is False
    with pytest.raises(ValueError, match=re.escape(
            '`use_cudnn` must be one of "auto", True or False. Received: use_cudnn=\'yes\'')):
        ours_class(UNITS, use_cudnn="yes")


@pytest.mark.parametrize("ours_class, keras_class", LAYERS[1:], ids=LAYER_IDS[1:])
def test_implementation(ours_class, keras_class):
    """`implementation=1` (Keras: per-gate products) computes what 2 does, dropout included."""
    check_parity(ours_class, keras_class, dict(implementation=1, return_sequences=True),
                 "arbitrary")
    layer = ours_class(UNITS, implementation=1, dropout=0.5, recurrent_dropout=0.5, seed=3)
    other = ours_class(UNITS, dropout=0.5, recurrent_dropout=0.5, seed=3)
    other(inputs())
    layer(inputs())
    layer.set_weights(other.get_weights())
    np.testing.assert_array_equal(layer(inputs(), training=True), other(inputs(), training=True))
    revived = ours_class.from_config(layer.get_config())
    assert revived.implementation == revived.cell.implementation == 1
    with pytest.raises(ValueError, match=re.escape(
            "`implementation` must be 1 or 2. Received: implementation=3")):
        ours_class(UNITS, implementation=3)


@pytest.mark.parametrize("layer_class", [layer for layer, _ in LAYERS], ids=LAYER_IDS)
def test_unrolled_compiles_with_xla(layer_class):
    """Unrolled (no scan), the layer compiles under XLA on TensorFlow, trains, and agrees."""
    def model(**kwargs):
        return keras.Sequential([keras.Input((3, FEATURES)), layer_class(UNITS, **kwargs),
                                 keras.layers.Dense(1)])

    unrolled, looped = model(unroll=True), model()
    looped.set_weights(unrolled.get_weights())
    assert unrolled.layers[0].supports_jit and not looped.layers[0].supports_jit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        unrolled.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=True)
    assert unrolled.jit_compile, [str(w.message) for w in caught]
    looped.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=False)
    x, y = inputs(time=3), np.ones((BATCH, 1))
    for model_ in (unrolled, looped):
        model_.fit(x, y, epochs=2, batch_size=BATCH, verbose=0)
    np.testing.assert_allclose(unrolled.predict(x, verbose=0), looped.predict(x, verbose=0),
                               atol=1e-5)


@pytest.mark.parametrize("ours_class, keras_class", LAYERS + CELLS, ids=LAYER_IDS + CELL_IDS)
def test_argument_order_is_keras(ours_class, keras_class):
    """Positional arguments mean what they mean to the built-in (ours adds some after)."""
    keras_order = [name for name in inspect.signature(keras_class).parameters if name != "kwargs"]
    assert list(inspect.signature(ours_class).parameters)[:len(keras_order)] == keras_order


def while_loops(layer, time):
    """The number of while-loop ops in the graph of the layer's forward+backward pass."""
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.add_n([tf.reduce_sum(o) for o in keras.tree.flatten(layer(x))])
        return tape.gradient(loss, x)

    graph = step.get_concrete_function(tf.TensorSpec((BATCH, time, FEATURES))).graph
    return sum(op.type in ("While", "StatelessWhile") for op in graph.get_operations())


@pytest.mark.parametrize("layer_class", [layer for layer, _ in LAYERS], ids=LAYER_IDS)
def test_short_sequences_are_written_out(layer_class, monkeypatch):
    """On TensorFlow a known length up to AUTO_UNROLL_STEPS runs without a loop, with the
    loop's outputs and gradients (masked, backwards, from initial states); longer, the loop."""
    from seqmodels.layers import time_loop

    layer = layer_class(UNITS, return_sequences=True, return_state=True, go_backwards=True)
    x, mask = inputs(SHORT_TIME), make_mask("arbitrary", SHORT_TIME)
    states = initial_states(layer)
    looped = outputs_and_gradients(layer, x, mask, states)  # the conftest's bound: 0
    assert while_loops(layer, SHORT_TIME) > 0
    monkeypatch.setattr(time_loop, "AUTO_UNROLL_STEPS", SHORT_TIME)
    written = outputs_and_gradients(layer, x, mask, states)
    assert max_error(written[0], looped[0]) <= 1e-6
    assert max_error(written[1], looped[1]) <= 1e-6
    assert while_loops(layer, SHORT_TIME) == 0
    assert while_loops(layer, SHORT_TIME + 1) > 0
    assert not layer.supports_jit  # XLA still left off, as before
