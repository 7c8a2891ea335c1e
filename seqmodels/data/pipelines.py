"""tf.data pipelines: text (vocabulary from the training split), time-series windows, images.

Every pipeline ends with `prefetch(AUTOTUNE)` and shuffles deterministically under a seed.
"""

import keras
import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def text_vectorizer(train_texts, vocab_size, sequence_length=None, standardize="lower_and_strip_punctuation"):
    """A `keras.layers.TextVectorization` whose vocabulary is learned from `train_texts` only.

    The layer maps strings to int token ids (0 = padding, 1 = out of vocabulary). It is a Keras
    layer: put it in a model (or export) and its vocabulary is saved with it.

    Args:
        train_texts: a `tf.data.Dataset` of strings, or a list of strings, from the training
            split (never validation or test: that would leak their words).
        vocab_size: the largest vocabulary, padding and OOV included.
        sequence_length: pad/truncate every text to this many tokens; `None` pads each batch to
            its longest text (use with `bucket_by_length`).
        standardize: TextVectorization's standardisation.

    Example:

    >>> vectorize = text_vectorizer(["a good film", "a bad film"], vocab_size=10)
    >>> vectorize(["good film"]).shape
    TensorShape([1, 2])
    """
    layer = keras.layers.TextVectorization(
        max_tokens=vocab_size, output_sequence_length=sequence_length, standardize=standardize)
    layer.adapt(train_texts.batch(1024) if isinstance(train_texts, tf.data.Dataset) else train_texts)
    return layer


def text_classification_pipeline(dataset, vectorizer, batch_size, shuffle=False, seed=0,
                                 bucket_boundaries=None, drop_remainder=False):
    """Batches `(text, label)` into `(token_ids, label)`, padded with 0 (the mask's zero).

    Args:
        dataset: unbatched `(text, label)` pairs.
        vectorizer: a `TextVectorization` adapted on the training split.
        batch_size: examples per batch.
        shuffle: shuffle every epoch (deterministic under `seed`).
        seed: the shuffle seed.
        bucket_boundaries: token-length boundaries for `bucket_by_sequence_length`, so that a
            batch holds texts of similar length and pads less (`None`: plain batches).
        drop_remainder: drop the last short batch.
    """
    if shuffle:
        dataset = dataset.shuffle(16384, seed=seed, reshuffle_each_iteration=True)
    if bucket_boundaries:
        def tokenize(text, label):
            ids = vectorizer(tf.expand_dims(text, 0))[0]
            return tf.boolean_mask(ids, ids > 0), label  # drop padding; buckets pad again

        dataset = dataset.map(tokenize, num_parallel_calls=AUTOTUNE).bucket_by_sequence_length(
            lambda ids, label: tf.shape(ids)[0], bucket_boundaries,
            [batch_size] * (len(bucket_boundaries) + 1), drop_remainder=drop_remainder)
    else:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).map(
            lambda text, label: (vectorizer(text), label), num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def forecasting_pipeline(dataset, batch_size, shuffle=False, seed=0, drop_remainder=False):
    """Batches `(window, target)` pairs (already normalised by `seqmodels.data.load`)."""
    if shuffle:
        dataset = dataset.shuffle(16384, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)


def windows_from_array(values, window_length, horizon, batch_size, shuffle=False, seed=0):
    """`(window, target)` batches of a (time, features) array via Keras' window utility.

    Each example is `window_length + horizon` consecutive steps: the first `window_length` are
    the input, the last `horizon` the target.

    Example:

    >>> batches = windows_from_array(np.arange(20.0)[:, None], 5, 2, batch_size=4)
    >>> [tuple(t.shape) for t in next(iter(batches))]
    [(4, 5, 1), (4, 2, 1)]
    """
    values = np.asarray(values, np.float32)
    dataset = keras.utils.timeseries_dataset_from_array(
        values, None, sequence_length=window_length + horizon, batch_size=batch_size,
        shuffle=shuffle, seed=seed)
    # (batch, window_length + horizon, features) -> input (.., window_length, ..), target (.., horizon, ..)
    dataset = dataset.map(lambda w: (w[:, :window_length], w[:, window_length:]),
                          num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def image_pipeline(dataset, batch_size, shuffle=False, seed=0, augment=False,
                   drop_remainder=False):
    """Scales `(image uint8, label)` to float32 in [0, 1] and batches; optional augmentation.

    Augmentation (training only): a random shift of up to 2 pixels (pad and crop), seeded.
    """
    if shuffle:
        dataset = dataset.shuffle(16384, seed=seed, reshuffle_each_iteration=True)

    def scale(image, label):
        return tf.cast(image, tf.float32) / 255.0, label

    dataset = dataset.map(scale, num_parallel_calls=AUTOTUNE)
    if augment:
        def shift(image, label):
            shape = tf.shape(image)
            padded = tf.pad(image, [[2, 2], [2, 2], [0, 0]])
            return tf.image.random_crop(padded, shape, seed=seed), label

        dataset = dataset.map(shift, num_parallel_calls=AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)
