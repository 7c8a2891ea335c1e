"""Pipelines: vocabulary from the training split only, saved with the model; padding, buckets,
image scaling and augmentation, deterministic shuffles."""

import keras
import numpy as np
import tensorflow as tf

from seqmodels.data import pipelines

TRAIN = tf.data.Dataset.from_tensor_slices((
    ["a good film", "a bad film", "good good acting", "bad plot and bad acting here"],
    np.array([1, 0, 1, 0], np.int64)))


def test_vocabulary_comes_from_the_training_split_only():
    vectorizer = pipelines.text_vectorizer(TRAIN.map(lambda t, l: t), vocab_size=50)
    vocab = vectorizer.get_vocabulary()
    assert "good" in vocab and "marvellous" not in vocab
    ids = vectorizer(["marvellous film"]).numpy()[0]
    assert ids[0] == 1  # out of vocabulary


def test_vectorizer_travels_with_a_saved_model(tmp_path):
    vectorizer = pipelines.text_vectorizer(TRAIN.map(lambda t, l: t), vocab_size=50,
                                           sequence_length=6)
    text = keras.Input((), dtype="string")
    model = keras.Model(text, vectorizer(text))
    model.save(tmp_path / "v.keras")
    loaded = keras.saving.load_model(tmp_path / "v.keras")
    np.testing.assert_array_equal(loaded(tf.constant(["a good plot"])),
                                  model(tf.constant(["a good plot"])))


def test_batches_pad_with_zero_and_buckets_group_lengths():
    vectorizer = pipelines.text_vectorizer(TRAIN.map(lambda t, l: t), vocab_size=50)
    batch = next(iter(pipelines.text_classification_pipeline(TRAIN, vectorizer, 4)))
    ids, labels = batch
    assert ids.shape == (4, 6) and labels.shape == (4,)
    assert ids.numpy()[0, 3:].tolist() == [0, 0, 0]
    buckets = list(pipelines.text_classification_pipeline(TRAIN, vectorizer, 2,
                                                          bucket_boundaries=[4]))
    lengths = sorted(tuple(b[0].shape) for b in buckets)
    assert lengths == [(1, 6), (2, 3), (1, 3)] or all(s[1] <= 6 for s in lengths)
    assert sum(s[0] for s in lengths) == 4
    for ids, _ in buckets:
        assert ids.shape[1] < 4 or ids.shape[0] == 1  # short texts are not padded to 6


def test_shuffles_are_deterministic_under_a_seed():
    images = tf.data.Dataset.from_tensor_slices((np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1),
                                                 np.arange(20, dtype=np.int64)))
    first = [b[1].numpy().tolist() for b in pipelines.image_pipeline(images, 5, shuffle=True, seed=3)]
    again = [b[1].numpy().tolist() for b in pipelines.image_pipeline(images, 5, shuffle=True, seed=3)]
    assert first == again and sorted(sum(first, [])) == list(range(20))
    assert first != [list(range(i, i + 5)) for i in range(0, 20, 5)]


def test_image_scaling_and_augmentation():
    image = np.full((1, 8, 8, 1), 255, np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices((image, np.array([3], np.int64)))
    x, y = next(iter(pipelines.image_pipeline(dataset, 1)))
    assert x.dtype == tf.float32 and float(tf.reduce_max(x)) == 1.0 and y.numpy()[0] == 3
    shifted, _ = next(iter(pipelines.image_pipeline(dataset, 1, augment=True, seed=1)))
    assert shifted.shape == (1, 8, 8, 1)


def test_forecasting_pipeline_batches():
    windows = tf.data.Dataset.from_tensor_slices((np.zeros((10, 4, 2), np.float32),
                                                  np.zeros((10, 1, 2), np.float32)))
    shapes = [tuple(x.shape) for x, _ in pipelines.forecasting_pipeline(windows, 4)]
    assert shapes == [(4, 4, 2), (4, 4, 2), (2, 4, 2)]
