"""Run under another Keras backend: reload models saved on TensorFlow, compare, train a step.

Usage: KERAS_BACKEND=torch python backend_check.py DIR
DIR holds `<name>.keras` and `<name>.npz` (`x` inputs, `y` TensorFlow outputs) per model.
Prints one line per model and exits non-zero on the first mismatch.
"""

import glob
import os
import sys

import keras
import numpy as np

import seqmodels.layers  # noqa: F401  (registers the layers)


def main(directory):
    assert keras.backend.backend() != "tensorflow", keras.backend.backend()
    for path in sorted(glob.glob(os.path.join(directory, "*.keras"))):
        name = os.path.basename(path)[:-len(".keras")]
        data = np.load(os.path.join(directory, name + ".npz"))
        model = keras.saving.load_model(path)
        x = data["x"]
        y = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
        error = float(np.abs(y - data["y"]).max())
        model.compile(optimizer="sgd", loss="mse")
        loss = model.train_on_batch(x, np.zeros_like(y))
        print(f"{name} {keras.backend.backend()} max_error={error:.2e} loss={float(loss):.4f}")
        if not (error <= 1e-4 and np.isfinite(loss)):
            sys.exit(f"{name}: error {error} or loss {loss} out of bounds")


if __name__ == "__main__":
    main(sys.argv[1])
