"""mnist_sequences: captions match the digits, padding, determinism, disjoint sources, contracts."""

import re

import numpy as np
import pytest
import tensorflow as tf

from seqmodels.data import images, mnist_sequences
from tests.data.fixtures import write_digits_csv


@pytest.fixture()
def digits_dir(tmp_path):
    write_digits_csv(tmp_path, "mnist_5k.csv.gz", 5000, 28)
    images.mnist_arrays.cache_clear()
    yield str(tmp_path)
    images.mnist_arrays.cache_clear()


def test_captions_match_the_digits_drawn_and_padding_stays_empty():
    digits = np.zeros((10, 28, 28, 1), np.uint8)
    for d in range(10):
        digits[d, d, d] = 255  # a marker pixel per digit
    canvases, captions = mnist_sequences.build(digits, np.arange(10), 50, seed=0)
    assert canvases.shape == (50, 28, 112, 1) and canvases.dtype == np.uint8
    lengths = set()
    for canvas, caption in zip(canvases, captions):
        words = caption.split()
        lengths.add(len(words))
        for slot, word in enumerate(words):
            d = mnist_sequences.WORDS.index(word)
            assert canvas[d, 28 * slot + d, 0] == 255
            assert canvas[:, 28 * slot:28 * (slot + 1)].sum() == 255
        assert not canvas[:, 28 * len(words):].any()  # padding stays empty
    assert lengths == {1, 2, 3, 4}


def test_element_contract_and_determinism(digits_dir):
    dataset = mnist_sequences.load("test", digits_dir, num_examples=3)
    assert dataset.element_spec == (tf.TensorSpec((28, 112, 1), tf.uint8),
                                    tf.TensorSpec((), tf.string))
    first = [c.numpy() for _, c in dataset]
    again = [c.numpy() for _, c in mnist_sequences.load("test", digits_dir, num_examples=3)]
    other = [c.numpy() for _, c in mnist_sequences.load("test", digits_dir, num_examples=3,
                                                         seed=1)]
    assert first == again and first != other


def test_splits_draw_from_disjoint_source_digits(monkeypatch):
    # Every source image carries its index in two pixels; canvases are traced back to them.
    index = np.arange(5000)
    source = np.zeros((5000, 28, 28, 1), np.uint8)
    source[:, 0, 0, 0] = index % 256
    source[:, 0, 1, 0] = index // 256 + 1
    monkeypatch.setattr(images, "mnist_arrays", lambda data_dir=None: (source, index % 10))
    used = {}
    for split in mnist_sequences.SIZES:
        canvases, captions = zip(*mnist_sequences.load(split, num_examples=300)
                                 .as_numpy_iterator())
        used[split] = set()
        for canvas, caption in zip(canvases, captions):
            for slot, word in enumerate(caption.decode().split()):
                i = int(canvas[0, 28 * slot, 0]) + 256 * (int(canvas[0, 28 * slot + 1, 0]) - 1)
                assert mnist_sequences.WORDS[i % 10] == word  # caption names the digit drawn
                used[split].add(i)
    assert not used["train"] & used["validation"]
    assert not used["train"] & used["test"]
    assert not used["validation"] & used["test"]


def test_bad_num_examples(digits_dir):
    with pytest.raises(ValueError, match=re.escape(
            "`num_examples` must be a positive integer. Received: num_examples=0")):
        mnist_sequences.load("train", digits_dir, num_examples=0)
