"""Run under another Keras backend: reload models saved on TensorFlow, compare, train two steps.

Usage: KERAS_BACKEND=torch python backend_check.py DIR  (or KERAS_BACKEND=jax)
DIR holds `<name>.keras` and `<name>.npz` (`x` inputs, `y` TensorFlow outputs, and for a
stateful model `y2`, the outputs of a second call, which starts from the states the first one
left) per model. Prints one line per model, then one per `use_cudnn=True` check, and exits
non-zero on the first mismatch.
"""

import glob
import os
import sys

import keras
import numpy as np

from seqmodels import layers

TOLERANCE = 1e-4


def check_saved_models(directory):
    """Each saved model reloads, matches TensorFlow's outputs and trains two steps."""
    for path in sorted(glob.glob(os.path.join(directory, "*.keras"))):
        name = os.path.basename(path)[:-len(".keras")]
        data = np.load(os.path.join(directory, name + ".npz"))
        model = keras.saving.load_model(path)
        x = data["x"]
        y = keras.ops.convert_to_numpy(model(x, training=False))
        error = float(np.abs(y - data["y"]).max())
        if "y2" in data:  # stateful: the second call continues from the first one's states
            second = keras.ops.convert_to_numpy(model(x, training=False))
            error = max(error, float(np.abs(second - data["y2"]).max()))
        model.compile(optimizer="sgd", loss="mse")
        for _ in range(2):  # two steps: a stateful layer's second starts from the first's states
            loss = model.train_on_batch(x, np.zeros_like(y))
        print(f"{name} {keras.backend.backend()} max_error={error:.2e} loss={float(loss):.4f}")
        if not (error <= TOLERANCE and np.isfinite(loss)):
            sys.exit(f"{name}: error {error} or loss {loss} out of bounds")


def check_use_cudnn():
    """`use_cudnn=True` does what it does in Keras on this backend: both layers run the
    backend's kernel (equal outputs and states, equal to our own loop's), or both raise."""
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    for ours_class, keras_class in ((layers.LSTM, keras.layers.LSTM),
                                    (layers.GRU, keras.layers.GRU)):
        name = f"{ours_class.__name__.lower()}_use_cudnn"
        kwargs = dict(return_sequences=True, return_state=True)
        loop = ours_class(3, use_cudnn=False, **kwargs)
        expected = [keras.ops.convert_to_numpy(t) for t in loop(x)]
        results = []
        for layer in (ours_class(3, use_cudnn=True, **kwargs),
                      keras_class(3, use_cudnn=True, **kwargs)):
            layer.build(x.shape)
            layer.set_weights(loop.get_weights())
            try:
                results.append([keras.ops.convert_to_numpy(t) for t in layer(x)])
            except ValueError as error:
                if "use_cudnn=True" not in str(error):
                    raise
                results.append(None)
        backend = keras.backend.backend()
        if results == [None, None]:
            print(f"{name} {backend} no kernel: ValueError, as Keras")
            continue
        if None in results:
            sys.exit(f"{name}: ours raised and Keras did not, or the reverse: {results}")
        error = max(float(np.abs(a - b).max()) for result in results[1:] + [expected]
                    for a, b in zip(results[0], result))
        print(f"{name} {backend} kernel max_error={error:.2e}")
        if not error <= TOLERANCE:
            sys.exit(f"{name}: error {error} out of bounds")


if __name__ == "__main__":
    assert keras.backend.backend() != "tensorflow", keras.backend.backend()
    check_saved_models(sys.argv[1])
    check_use_cudnn()
