"""Real datasets for every task (offline from the package registries, or TFDS) and pipelines.

`load(name, split, **options)` returns an unbatched `tf.data.Dataset`, `info(name)` a
`DatasetInfo`, `list_datasets()` the names; `tfds:<name>` reaches TensorFlow Datasets (never
downloading unless `download=True`). The pipelines turn a loaded split into batches for a
model: text (tokenizers learned on the training split, padding, buckets, masks), time-series
windows (training-range statistics, chronological splits) and images (scaling, augmentation).
A missing source raises `DataNotFoundError` naming the command that fetches it (`make data`).

Example:

>>> from seqmodels import data
>>> data.list_datasets()  # doctest: +SKIP
['bouncing_ball', 'co2', 'digits', 'en_es_verses', 'fashion_mnist', 'mnist', ...]
>>> train = data.load("rotten_tomatoes", "train")  # doctest: +SKIP
>>> vectorizer = data.text_vectorizer(train.map(lambda text, label: text), 20000)  # doctest: +SKIP
>>> batches = data.text_classification_pipeline(train, vectorizer, 32, shuffle=True)  # doctest: +SKIP
"""

from seqmodels.data import timeseries
from seqmodels.data.catalog import info, list_datasets, load, normalization
from seqmodels.data.dataset_info import DataNotFoundError, DatasetInfo
from seqmodels.data.pipelines import (forecasting_pipeline, image_pipeline, padding_mask,
                                      split_punctuation, text_classification_pipeline,
                                      text_vectorizer, windows_from_array, word_piece_tokenizer)

__all__ = ["DataNotFoundError", "DatasetInfo", "forecasting_pipeline", "image_pipeline", "info",
           "list_datasets", "load", "normalization", "padding_mask", "split_punctuation",
           "text_classification_pipeline", "text_vectorizer", "timeseries", "windows_from_array",
           "word_piece_tokenizer"]
