"""One helper that every layer test calls: the Keras contract, checked the same way for all layers.

`run_layer_test` checks, in order: the config round trip (`get_config` / `from_config` and the
registered serialization name), an eager call, a symbolic call on `keras.Input`,
`compute_output_shape` against both, one `fit` step that changes the trainable weights, and a
`.keras` save/load round trip that reproduces the outputs.
"""

import os

import keras
import numpy as np


def _as_tuple(x):
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _shapes(tree):
    return _normalize(keras.tree.map_structure(lambda t: tuple(t.shape), tree))


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in value)


def _normalize(shapes):
    """A shape, or a (nested) list of shapes, as tuples inside lists."""
    if _is_shape(shapes):
        return tuple(shapes)
    if isinstance(shapes, dict):
        return {k: _normalize(v) for k, v in shapes.items()}
    return [_normalize(s) for s in shapes]


def _symbolic_inputs(arrays):
    return tuple(
        keras.Input(shape=a.shape[1:], batch_size=None, dtype=str(a.dtype)) for a in arrays
    )


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape=None,
    call_kwargs=None,
    run_fit=True,
    run_save=True,
    tmp_path=None,
    atol=1e-6,
):
    """Runs the Keras layer contract on `layer_cls(**init_kwargs)`.

    Args:
        layer_cls: the layer class under test.
        init_kwargs: dict of constructor arguments.
        input_data: a numpy array, or a tuple of arrays passed as positional call arguments.
        expected_output_shape: the eager output shape (a tuple, or a structure of tuples).
        call_kwargs: extra keyword arguments for every call (e.g. `{"training": False}`).
        run_fit: whether to run one `fit` step and check that trainable weights move.
        run_save: whether to check the `.keras` save/load round trip (needs `tmp_path`).
        tmp_path: a directory for the saved file (pytest's `tmp_path`).
        atol: tolerance for the save/load output comparison.

    Returns:
        The eager output of a fresh layer on `input_data`.
    """
    call_kwargs = dict(call_kwargs or {})
    inputs = tuple(np.asarray(a) for a in _as_tuple(input_data))

    # Config round trip, both directly and through the registered name.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert key in config, f"get_config() misses constructor argument {key!r}"
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("seqmodels>"), serialized["registered_name"]
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert type(deserialized) is layer_cls

    # Eager call and compute_output_shape.
    output = layer(*inputs, **call_kwargs)
    output_shape = _shapes(output)
    if expected_output_shape is not None:
        assert output_shape == _normalize(expected_output_shape), (
            output_shape, expected_output_shape)
    computed = layer.compute_output_shape(*[a.shape for a in inputs])
    assert _normalize(computed) == output_shape, (computed, output_shape)

    # Symbolic call: the batch dimension stays unknown, the rest matches the eager shapes.
    symbolic_in = _symbolic_inputs(inputs)
    symbolic_layer = layer_cls(**init_kwargs)
    symbolic_out = symbolic_layer(*symbolic_in, **call_kwargs)
    def unbatched(shapes):
        if _is_shape(shapes):
            return (None,) + tuple(shapes[1:])
        if isinstance(shapes, dict):
            return {k: unbatched(v) for k, v in shapes.items()}
        return [unbatched(s) for s in shapes]

    expected_symbolic = unbatched(output_shape)
    assert _shapes(symbolic_out) == expected_symbolic, (_shapes(symbolic_out), expected_symbolic)

    model = keras.Model(symbolic_in if len(symbolic_in) > 1 else symbolic_in[0], symbolic_out)
    if run_fit and symbolic_layer.trainable_weights:
        before = [np.array(w) for w in symbolic_layer.trainable_weights]
        outputs = keras.tree.flatten(symbolic_out)
        targets = [np.ones((len(inputs[0]),) + tuple(o.shape[1:]), "float32") for o in outputs]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=["mse"] * len(outputs))
        x = list(inputs) if len(inputs) > 1 else inputs[0]
        y = targets if len(targets) > 1 else targets[0]
        history = model.fit(x, y, batch_size=len(inputs[0]), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        after = [np.array(w) for w in symbolic_layer.trainable_weights]
        assert any(not np.allclose(b, a) for b, a in zip(before, after)), "fit changed no weight"

    if run_save:
        assert tmp_path is not None, "run_save needs tmp_path"
        path = os.path.join(str(tmp_path), f"{layer_cls.__name__}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        x = list(inputs) if len(inputs) > 1 else inputs[0]
        expected = keras.tree.flatten(model(x, training=False))
        actual = keras.tree.flatten(loaded(x, training=False))
        for e, a in zip(expected, actual):
            np.testing.assert_allclose(np.array(e), np.array(a), atol=atol)
    return output
