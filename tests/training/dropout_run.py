"""A small dropout model trained by `CustomTrainingLoop` on fixed data, for the resume tests."""

import keras
import numpy as np
import tensorflow as tf

from seqmodels.training.custom_loop import CustomTrainingLoop

STEPS = 4  # batches of 8 an epoch


def fit_dropout_model(model_dir, epochs, checkpoint_every=0):
    """Trains (or resumes) the model in `model_dir`; returns its weights and the fit history."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 3, 32)

    def dataset_fn(epoch):
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(32, seed=epoch).batch(8)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(3)])
    loop = CustomTrainingLoop(
        model, keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None),
        tf.distribute.get_strategy(), str(model_dir), 8, checkpoint_every=checkpoint_every,
        verbose=0)
    history = loop.fit(dataset_fn, epochs, STEPS)
    return model.get_weights(), history
