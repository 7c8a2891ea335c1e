"""Pipelines: vocabulary from the training split only, saved with the model; padding, buckets,
image scaling and augmentation, deterministic shuffles."""

import re

import keras
import numpy as np
import pytest
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
    ids, labels = next(iter(pipelines.text_classification_pipeline(TRAIN, vectorizer, 4)))
    assert ids.shape == (4, 6) and labels.shape == (4,)
    assert ids.numpy()[0, 3:].tolist() == [0, 0, 0]  # "a good film" padded to the longest
    buckets = list(pipelines.text_classification_pipeline(TRAIN, vectorizer, 2,
                                                          bucket_boundaries=[4]))
    # Three 3-token texts share the short bucket (a full batch and a remainder), the 6-token
    # text is alone: nothing is padded beyond its own bucket's longest text.
    assert sorted(tuple(ids.shape) for ids, _ in buckets) == [(1, 3), (1, 6), (2, 3)]
    assert all((ids.numpy() > 0).all() for ids, _ in buckets)


def test_padding_mask_marks_the_tokens():
    vectorizer = pipelines.text_vectorizer(TRAIN.map(lambda t, l: t), vocab_size=50)
    inputs, labels = next(iter(pipelines.text_classification_pipeline(
        TRAIN, vectorizer, 4, return_padding_mask=True)))
    assert set(inputs) == {"token_ids", "padding_mask"} and inputs["padding_mask"].dtype == tf.bool
    assert inputs["padding_mask"].numpy().sum(axis=1).tolist() == [3, 3, 3, 6]
    embedded = keras.layers.Embedding(50, 4, mask_zero=True)
    np.testing.assert_array_equal(embedded.compute_mask(inputs["token_ids"]),
                                  inputs["padding_mask"])


def test_bucket_boundaries_must_increase():
    vectorizer = pipelines.text_vectorizer(TRAIN.map(lambda t, l: t), vocab_size=50)
    with pytest.raises(ValueError, match=re.escape(
            "`bucket_boundaries` must be strictly increasing positive integers. "
            "Received: bucket_boundaries=[8, 4]")):
        pipelines.text_classification_pipeline(TRAIN, vectorizer, 2, bucket_boundaries=[8, 4])


def test_word_piece_vocabulary_from_training_split_travels_with_the_model(tmp_path):
    # WordPiece keeps a whole word only when it is frequent: repeat the tiny training split.
    tokenizer = pipelines.word_piece_tokenizer(TRAIN.map(lambda t, l: t).repeat(30),
                                               vocab_size=60)
    vocabulary = tokenizer.get_vocabulary()
    assert vocabulary[:4] == ["[PAD]", "[UNK]", "[START]", "[END]"]
    assert "good" in vocabulary and "marvellous" not in vocabulary  # a validation-only word
    # Without a sequence length the ids are ragged; the pipeline pads them with 0.
    ids, _ = next(iter(pipelines.text_classification_pipeline(TRAIN, tokenizer, 4)))
    assert ids.shape[0] == 4 and (ids.numpy()[0, -1] == 0)
    fixed = pipelines.word_piece_tokenizer(["a good film", "a bad film"], vocab_size=40,
                                           sequence_length=8)
    text = keras.Input((), dtype="string")
    model = keras.Model(text, fixed(text))
    model.save(tmp_path / "w.keras")
    loaded = keras.saving.load_model(tmp_path / "w.keras")
    np.testing.assert_array_equal(loaded(tf.constant(["a good plot"])),
                                  model(tf.constant(["a good plot"])))


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
    images = np.zeros((6, 8, 8, 1), np.uint8)
    images[:, 3:5, 3:5] = 255  # a square in the middle: a shift moves it, never crops it
    dataset = tf.data.Dataset.from_tensor_slices((images, np.arange(6)))
    pipeline = pipelines.image_pipeline(dataset, 6, augment=True, seed=1)
    shifted, _ = next(iter(pipeline))
    assert shifted.shape == (6, 8, 8, 1)
    assert not np.array_equal(shifted, next(iter(pipeline))[0])  # new shifts each epoch
    assert np.all(shifted.numpy().sum(axis=(1, 2, 3)) == 4.0)  # the square is moved whole
    assert any(not np.array_equal(s, images[0] / 255) for s in shifted.numpy())
    again, _ = next(iter(pipelines.image_pipeline(dataset, 6, augment=True, seed=1)))
    np.testing.assert_array_equal(shifted, again)  # the same seed, the same shifts


def test_forecasting_pipeline_batches():
    windows = tf.data.Dataset.from_tensor_slices((np.zeros((10, 4, 2), np.float32),
                                                  np.zeros((10, 1, 2), np.float32)))
    shapes = [tuple(x.shape) for x, _ in pipelines.forecasting_pipeline(windows, 4)]
    assert shapes == [(4, 4, 2), (4, 4, 2), (2, 4, 2)]


def test_split_punctuation_keeps_accented_words_whole():
    text = tf.constant(["¿Dónde está la CANCIÓN, Señor?", "Él dijo: «ñandú»."])
    tokens = [t.decode().split() for t in pipelines.split_punctuation(text).numpy()]
    assert tokens == [["¿", "dónde", "está", "la", "canción", ",", "señor", "?"],
                      ["él", "dijo", ":", "«", "ñandú", "»", "."]]
    vectorizer = pipelines.text_vectorizer(["la canción del señor"], 10,
                                           standardize=pipelines.split_punctuation)
    assert "canción" in vectorizer.get_vocabulary()


def test_flip_mirrors_some_images_and_needs_augment():
    image = np.zeros((8, 8, 1), np.uint8)
    image[:, :2] = 255  # a bar on the left
    dataset = tf.data.Dataset.from_tensor_slices((np.stack([image] * 64), np.zeros(64)))
    images, _ = next(iter(pipelines.image_pipeline(dataset, 64, augment=True, flip=True)))
    # A shift moves the bar by at most 2 pixels: a bar in the right half was mirrored.
    right = images.numpy()[:, :, 4:, 0].sum(axis=(1, 2)) > images.numpy()[:, :, :4, 0].sum(
        axis=(1, 2))
    assert 10 < right.sum() < 54
    with pytest.raises(ValueError, match=re.escape(
            "`flip=True` is part of the augmentation: pass `augment=True` too.")):
        pipelines.image_pipeline(dataset, 64, flip=True)
