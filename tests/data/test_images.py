"""Image loaders: IDX and CSV parsing, split sizes, class mixing, contracts."""

import numpy as np
import pytest
import tensorflow as tf

from seqmodels.data import images
from tests.data.fixtures import write_digits_csv, write_fashion_idx


def test_fashion_mnist_idx_parsing_and_validation_carve(tmp_path, monkeypatch):
    write_fashion_idx(tmp_path, train=12, test=4)
    images.fashion_mnist_arrays.cache_clear()
    arrays = images.fashion_mnist_arrays(str(tmp_path))
    x, y = arrays["train"]
    assert x.shape == (12, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x.reshape(-1)[:5], np.arange(5))
    np.testing.assert_array_equal(y, np.arange(12) % 10)
    test_x, _ = images.split_arrays("fashion_mnist", "test", str(tmp_path))
    assert test_x.shape == (4, 28, 28, 1)


@pytest.mark.parametrize("name, side, count", [("mnist", 28, 5000), ("digits", 8, 1797)])
def test_packaged_digits_are_permuted_into_class_mixed_splits(tmp_path, name, side, count):
    filename = "mnist_5k.csv.gz" if name == "mnist" else "digits.csv.gz"
    write_digits_csv(tmp_path, filename, count, side)
    images.mnist_arrays.cache_clear()
    images.digits_arrays.cache_clear()
    info = images.MNIST_INFO if name == "mnist" else images.DIGITS_INFO
    seen = []
    for split in images.SPLITS:
        x, y = images.split_arrays(name, split, str(tmp_path))
        assert len(y) == info.splits[split]
        assert x.shape[1:] == (side, side, 1)
        assert len(set(y.tolist())) == 10, f"{split} misses a class"
        np.testing.assert_array_equal(x[:, 0, 0, 0], y)  # image and label stay paired
        seen.append(x)
    dataset = images.load(name, "validation", str(tmp_path))
    assert dataset.element_spec == (tf.TensorSpec((side, side, 1), tf.uint8),
                                    tf.TensorSpec((), tf.int64))


def test_unknown_split():
    with pytest.raises(ValueError, match=r"`split` must be one of train, validation, test\. "
                                         r"Received: split='dev'"):
        images.split_arrays("mnist", "dev")
